package spool

import (
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// auxOf is the aux data the tests derive from a message's disk text.
func auxOf(text []byte) []byte { return fmt.Appendf(nil, "%08x", crc32.ChecksumIEEE(text)) }

type visits struct{ n int }

func (v *visits) visit(i int, m *Message, text []byte, prev *MessageList, _ any) ([]byte, error) {
	if prev.Len() != i {
		return nil, fmt.Errorf("visit %d got %d earlier aux", i, prev.Len())
	}
	v.n++
	m.Tag = m.Sum ^ 0x5a5a5a5a // kept in the entry and the index: compared like the rest
	return auxOf(text), nil
}

func openWith(t *testing.T, s *Spool, key string, noIndex bool) (*Box, int) {
	t.Helper()
	v := &visits{}
	b, err := s.OpenBox(context.Background(), "SMITH", NewMail, OpenOptions{Visit: v.visit, IndexKey: key, NoIndex: noIndex})
	if err != nil {
		t.Fatal(err)
	}
	return b, v.n
}

// checkAgainstScan opens the folder through its index and without it, and
// requires the same messages and aux data.
func checkAgainstScan(t *testing.T, s *Spool, key string) (visited int) {
	t.Helper()
	// A new Spool has no index decoded in memory: this reads the file.
	b, n := openWith(t, New(s.Root), key, false)
	b.Close()
	// And the same Spool again, which may use its memory copy: it must
	// agree too.
	b, _ = openWith(t, s, key, false)
	b.Close()
	want, _ := openWith(t, s, key, true)
	want.Close()
	if b.Len() != want.Len() {
		t.Fatalf("index gives %d messages, a scan %d", b.Len(), want.Len())
	}
	for i := range want.Len() {
		got, w := b.Message(i), want.Message(i)
		got.Envelope, w.Envelope = "", ""
		if got != w {
			t.Fatalf("message %d: index %+v, scan %+v", i, got, w)
		}
		if string(b.Aux(i)) != string(want.Aux(i)) {
			t.Fatalf("message %d: aux %q from the index, %q from a scan", i, b.Aux(i), want.Aux(i))
		}
	}
	return n
}

func TestIndexReuseAppendDamage(t *testing.T) {
	s := New(t.TempDir())
	appendN(t, s, "SMITH", NewMail, 0, 50)
	if n := checkAgainstScan(t, s, "k1"); n != 50 {
		t.Fatalf("first open visited %d messages, want 50", n)
	}
	if n := checkAgainstScan(t, s, "k1"); n != 0 {
		t.Fatalf("warm open visited %d messages, want 0", n)
	}
	appendN(t, s, "SMITH", NewMail, 50, 3)
	if n := checkAgainstScan(t, s, "k1"); n != 4 {
		t.Fatalf("after an append, open visited %d messages, want 4 (last indexed + 3 new)", n)
	}
	if n := checkAgainstScan(t, s, "k2"); n != 53 {
		t.Fatalf("another key visited %d messages, want 53", n)
	}
	// Damage the index: it is detected and rebuilt.
	p := indexPath(filepath.Join(s.Root, "SMITH"), NewMail)
	data, _ := os.ReadFile(p)
	for _, at := range []int{10, len(data) / 2, len(data) - 1} {
		bad := append([]byte(nil), data...)
		bad[at] ^= 0x55
		os.WriteFile(p, bad, 0o600)
		if n := checkAgainstScan(t, s, "k2"); n != 53 {
			t.Fatalf("damaged index at %d: visited %d, want a full rescan", at, n)
		}
	}
	os.WriteFile(p, data[:len(data)/3], 0o600)
	if n := checkAgainstScan(t, s, "k2"); n != 53 {
		t.Fatalf("truncated index: visited %d, want a full rescan", n)
	}
	os.Remove(p)
	if n := checkAgainstScan(t, s, "k2"); n != 53 {
		t.Fatalf("no index: visited %d", n)
	}
}

// TestIndexNeverWrong applies random appends, deletes and moves and checks
// after each step that the index gives exactly what a scan gives: on a
// folder that starts empty, and on one that starts with 6 MB of mail, so
// that its scans run in a goroutine of their own.
func TestIndexNeverWrong(t *testing.T) {
	t.Run("small", func(t *testing.T) { indexNeverWrong(t, nil) })
	t.Run("pipelined", func(t *testing.T) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
		data := benchFolder(t, 3000, 2000, false)
		if !pipelineWorth(len(data)) {
			t.Fatalf("a folder of %d octets would not be scanned in a goroutine of its own", len(data))
		}
		indexNeverWrong(t, data)
	})
}

// indexNeverWrong is TestIndexNeverWrong on a folder that starts as data.
func indexNeverWrong(t *testing.T, data []byte) {
	s := New(t.TempDir())
	if data != nil {
		if err := os.MkdirAll(filepath.Join(s.Root, "SMITH"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.Root, "SMITH", NewMail), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	for step := 0; step < 40; step++ {
		switch rng.IntN(3) {
		case 0:
			k := 1 + rng.IntN(5)
			appendN(t, s, "SMITH", NewMail, next, k)
			next += k
		default:
			b, _ := openWith(t, s, "k", false)
			var del, move []int
			for i := range b.Len() {
				switch rng.IntN(6) {
				case 0:
					del = append(del, i)
				case 1:
					move = append(move, i)
				}
			}
			// Mail arriving during the session.
			if rng.IntN(2) == 0 {
				appendN(t, s, "SMITH", NewMail, next, 1)
				next++
			}
			if err := b.Commit(context.Background(), del, move, rng.IntN(2) == 0); err != nil {
				t.Fatal(err)
			}
			b.Close()
		}
		checkAgainstScan(t, s, "k")
	}
}

func TestIndexCarriedOverCommit(t *testing.T) {
	s := New(t.TempDir())
	appendN(t, s, "SMITH", NewMail, 0, 20)
	b, _ := openWith(t, s, "k", false)
	if err := b.Commit(context.Background(), []int{0, 5}, []int{7}, false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if n := checkAgainstScan(t, s, "k"); n != 0 {
		t.Fatalf("after a commit the next open visited %d messages, want 0", n)
	}
}

// TestIndexMemoryCache: a Spool keeps a folder's decoded index and uses it
// again only while it matches the folder.
func TestIndexMemoryCache(t *testing.T) {
	s := New(t.TempDir())
	appendN(t, s, "SMITH", NewMail, 0, 20)
	b, n := openWith(t, s, "k", false)
	b.Close()
	if n != 20 {
		t.Fatalf("first open visited %d", n)
	}
	// Remove the index file: the memory copy still serves, unchanged.
	os.Remove(indexPath(filepath.Join(s.Root, "SMITH"), NewMail))
	b, n = openWith(t, s, "k", false)
	b.Close()
	if n != 0 {
		t.Fatalf("open with the index in memory visited %d", n)
	}
	// Mail arrives: the memory copy no longer matches.
	appendN(t, s, "SMITH", NewMail, 20, 1)
	if n := checkAgainstScan(t, s, "k"); n != 21 {
		t.Fatalf("after an append (no index file) visited %d, want 21", n)
	}
}
