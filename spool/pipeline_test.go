package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// checkScanAndVisit requires scanAndVisit, with each of pipes (without or
// with its scanning goroutine), from the start of data and from a message
// boundary after known messages, to give Scan's messages (want) and to
// visit each new one once, in order, with the aux data of all before it.
func checkScanAndVisit(t *testing.T, data []byte, want []Message, pipes ...bool) {
	t.Helper()
	for _, pipe := range pipes {
		for _, k := range []int{0, len(want) / 2} {
			for _, withPrep := range []bool{false, true} {
				from := int64(0)
				if k > 0 {
					from = want[k].Start
				}
				wantAux := make([][]byte, len(want))
				for i, m := range want {
					wantAux[i] = auxOf(data[m.Text:m.End])
				}
				known := &MessageList{}
				for i := range k {
					if err := known.add(&want[i], wantAux[i]); err != nil {
						t.Fatal(err)
					}
				}
				next := k
				var prepare Preparer
				if withPrep {
					prepare = func(i int, m *Message, text []byte) any { return fmt.Sprintf("%d %d %x", i, m.Start, auxOf(text)) }
				}
				visit := func(i int, m *Message, text []byte, prev *MessageList, prep any) ([]byte, error) {
					if want := fmt.Sprintf("%d %d %x", i, m.Start, auxOf(text)); withPrep && prep != want {
						return nil, fmt.Errorf("visit of message %d: prepared %v, want %s", i, prep, want)
					}
					if i != next || prev.Len() != i {
						return nil, fmt.Errorf("visit of message %d with %d earlier aux, want message %d", i, prev.Len(), next)
					}
					if i >= len(want) || *m != want[i] || !bytes.Equal(text, data[want[i].Text:want[i].End]) {
						return nil, fmt.Errorf("visit of message %d: %+v, not Scan's", i, *m)
					}
					// Each aux is checked when it is the newest.
					if i > 0 && !bytes.Equal(prev.Aux(i-1), wantAux[i-1]) {
						return nil, fmt.Errorf("visit of message %d: aux %d is %q", i, i-1, prev.Aux(i-1))
					}
					next++
					return auxOf(text), nil
				}
				l, err := scanAndVisit(context.Background(), data, from, known, visit, prepare, pipe)
				if err != nil {
					t.Fatalf("pipe %v, from message %d of %q: %v", pipe, k, data, err)
				}
				if next != len(want) || l.Len() != len(want) {
					t.Fatalf("pipe %v, from message %d of %q: visited up to %d, %d messages; want %d",
						pipe, k, data, next, l.Len(), len(want))
				}
				for i := range want {
					w := want[i]
					w.Envelope = ""
					if l.At(i) != w || !bytes.Equal(l.Aux(i), wantAux[i]) {
						t.Fatalf("pipe %v, from message %d of %q: message %d is %+v (aux %q), Scan's %+v", pipe, k, data, i, l.At(i), l.Aux(i), want[i])
					}
				}
			}
		}
	}
}

// More messages than a batch of the scanning goroutine, a few batches and
// a part of one: each in its place, visited once and in order.
func TestScanAndVisitBatches(t *testing.T) {
	for _, n := range []int{1, scanBatch - 1, scanBatch, scanBatch + 1, 5*scanBatch + 17} {
		data := benchFolder(t, n, 300, false)
		want, err := Scan(context.Background(), data)
		if err != nil || len(want) != n {
			t.Fatalf("Scan: %d messages, %v; want %d", len(want), err, n)
		}
		checkScanAndVisit(t, data, want, false, true)
	}
}

// waitGoroutines waits for the goroutines to fall back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want %d: the scanning goroutine did not end", runtime.NumGoroutine(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A visitor's error, a cancelled context and a folder that is not mbox
// each end scanAndVisit with their error, and its goroutine with it.
func TestScanAndVisitStops(t *testing.T) {
	for _, prepare := range []Preparer{nil, func(_ int, m *Message, _ []byte) any { return m.Start }} {
		scanAndVisitStops(t, prepare)
	}
}

func scanAndVisitStops(t *testing.T, prepare Preparer) {
	data := benchFolder(t, 10*scanBatch, 300, false)
	base := runtime.NumGoroutine()
	boom := errors.New("boom")
	visited := 0
	_, err := scanAndVisit(context.Background(), data, 0, nil, func(i int, _ *Message, _ []byte, _ *MessageList, _ any) ([]byte, error) {
		visited++
		if i == scanBatch+3 {
			return nil, boom
		}
		return nil, nil
	}, prepare, true)
	if !errors.Is(err, boom) || visited != scanBatch+4 {
		t.Fatalf("visitor failing at message %d: error %v after %d visits", scanBatch+3, err, visited)
	}
	waitGoroutines(t, base)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = scanAndVisit(ctx, data, 0, nil, func(i int, _ *Message, _ []byte, _ *MessageList, _ any) ([]byte, error) {
		if i == 2*scanBatch {
			cancel()
		}
		return nil, nil
	}, prepare, true)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("context cancelled at message %d: error %v", 2*scanBatch, err)
	}
	waitGoroutines(t, base)

	_, err = scanAndVisit(context.Background(), append([]byte("not mbox\n"), data...), 0, nil, func(int, *Message, []byte, *MessageList, any) ([]byte, error) {
		t.Fatal("a message of a folder that is not mbox was visited")
		return nil, nil
	}, prepare, true)
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("folder with text before its first From_ line: error %v, want ErrFormat", err)
	}
	waitGoroutines(t, base)
}

// A folder big enough to be scanned in a goroutine of its own opens, with
// and without its index, after an append and through a damaged index, to
// the same messages and aux data as a plain scan.
func TestOpenBoxPipelined(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	s := New(t.TempDir())
	dir := filepath.Join(s.Root, "SMITH")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := benchFolder(t, 3000, 2000, false)
	if !pipelineWorth(len(data)) {
		t.Fatalf("a folder of %d octets would not be scanned in a goroutine of its own", len(data))
	}
	if err := os.WriteFile(filepath.Join(dir, NewMail), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := checkAgainstScan(t, s, "k1"); n != 3000 {
		t.Fatalf("first open visited %d messages, want 3000", n)
	}
	// Appended mail: the index covers most of the folder, the rest is
	// scanned; a big enough tail is scanned in its own goroutine.
	appendN(t, s, "SMITH", NewMail, 0, 3)
	tail := benchFolder(t, 2500, 2000, false)
	f, err := os.OpenFile(filepath.Join(dir, NewMail), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(tail); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !pipelineWorth(len(tail)) {
		t.Fatalf("a tail of %d octets would not be scanned in a goroutine of its own", len(tail))
	}
	if n := checkAgainstScan(t, s, "k1"); n != 2504 {
		t.Fatalf("after an append, open visited %d messages, want 2504 (last indexed + 3 + 2500 new)", n)
	}
	// A damaged index is not trusted: a full scan, in its own goroutine.
	idx := indexPath(dir, NewMail)
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(idx, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := checkAgainstScan(t, s, "k1"); n != 5503 {
		t.Fatalf("through a damaged index, open visited %d messages, want 5503", n)
	}
}

// A From_ line longer than go-mbox's 4096-byte buffer after an earlier
// message leaves its tail as the message's first line; an open that scans
// on from the index reads it so too (only a file's first From_ line is
// read whole), and need not rescan the whole folder for it.
func TestIndexLongSeparator(t *testing.T) {
	s := New(t.TempDir())
	dir := filepath.Join(s.Root, "SMITH")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	long := "From " + string(bytes.Repeat([]byte("x"), 5000)) + " Wed Nov 25 10:00:00 2026\n"
	data := "From a Wed Nov 25 10:00:00 2026\nSubj:\tone\n\nfirst\n\n" + long + "Subj:\ttwo\n\nsecond\n\n"
	if err := os.WriteFile(filepath.Join(dir, NewMail), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := checkAgainstScan(t, s, "k1"); n != 2 {
		t.Fatalf("first open visited %d messages, want 2", n)
	}
	appendN(t, s, "SMITH", NewMail, 0, 1)
	if n := checkAgainstScan(t, s, "k1"); n != 2 {
		t.Fatalf("after an append, open visited %d messages, want 2 (last indexed + 1 new)", n)
	}
}
