package spool

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func deliverN(t testing.TB, s *Spool, user, folder string, from, n int) {
	t.Helper()
	var msgs []Delivery
	for i := from; i < from+n; i++ {
		text := testMsg(i)
		msgs = append(msgs, Delivery{Envelope: "user@example.org", Date: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Open: func() io.Reader { return bytes.NewReader(text) }})
	}
	if err := s.Deliver(context.Background(), user, folder, msgs); err != nil {
		t.Fatal(err)
	}
}

func readRecord(t *testing.T, dir string) appendRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, appendLogName))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := decodeRecord(b)
	if !ok {
		t.Fatalf("commit record %q does not decode", b)
	}
	return r
}

// TestDeliverWritesAsAppend: Deliver leaves the folder byte for byte as
// Append does, including after a folder that lacks its final newline, and
// its record "done".
func TestDeliverWritesAsAppend(t *testing.T) {
	a, d, r := New(t.TempDir()), New(t.TempDir()), New(t.TempDir())
	d.RedoLog = -1 // the two-flush path; r takes the redo log's
	appendN(t, a, "SMITH", NewMail, 0, 2)
	deliverN(t, d, "SMITH", NewMail, 0, 2)
	deliverN(t, r, "SMITH", NewMail, 0, 2)
	for _, s := range []*Spool{a, d, r} {
		f, err := os.OpenFile(filepath.Join(s.Root, "SMITH", NewMail), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("no final newline")
		f.Close()
	}
	appendN(t, a, "SMITH", NewMail, 2, 3)
	deliverN(t, d, "SMITH", NewMail, 2, 3)
	deliverN(t, r, "SMITH", NewMail, 2, 3)
	want, _ := os.ReadFile(filepath.Join(a.Root, "SMITH", NewMail))
	for _, s := range []*Spool{d, r} {
		got, _ := os.ReadFile(filepath.Join(s.Root, "SMITH", NewMail))
		if !bytes.Equal(got, want) {
			t.Fatalf("Deliver (redo log %d) wrote\n%q\nAppend wrote\n%q", s.RedoLog, got, want)
		}
	}
	if rec := readRecord(t, filepath.Join(d.Root, "SMITH")); rec.state != "done" {
		t.Errorf("record after Deliver: %+v, want done", rec)
	}
	// The redo log holds both deliveries, and no commit record was made.
	if ents := redoEntries(t, filepath.Join(r.Root, "SMITH")); len(ents) != 2 {
		t.Errorf("%d redo log entries after 2 deliveries, want 2", len(ents))
	}
	if _, err := os.Stat(filepath.Join(r.Root, "SMITH", appendLogName)); err == nil {
		t.Errorf("the redo log path made a commit record")
	}
}

// TestDeliverRecovery: a "pending" record is resolved by the next operation
// on the user's folders: an append that finished stays, one that did not
// is cut back, a torn record is ignored.
func TestDeliverRecovery(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	s.RedoLog = -1 // the commit record's path
	deliverN(t, s, "SMITH", NewMail, 0, 3)
	dir := filepath.Join(s.Root, "SMITH")
	path := filepath.Join(dir, NewMail)
	base, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	ino := fi.Sys().(*syscall.Stat_t).Ino

	// The bytes the next append writes (taken from a second spool).
	s2 := New(t.TempDir())
	s2.RedoLog = -1
	deliverN(t, s2, "SMITH", NewMail, 0, 3)
	deliverN(t, s2, "SMITH", NewMail, 3, 1)
	full, _ := os.ReadFile(filepath.Join(s2.Root, "SMITH", NewMail))
	tail := full[len(base):]
	pending := readRecord(t, filepath.Join(s2.Root, "SMITH"))
	if pending.state != "done" {
		t.Fatalf("record %+v", pending)
	}
	rec := func(crc uint32) appendRecord {
		return appendRecord{state: "pending", folder: NewMail, ino: ino, from: int64(len(base)), to: int64(len(full)), crc: crc}
	}
	sum := &crcCounter{h: crc32.New(castagnoli)}
	sum.Write(tail)
	good := rec(sum.h.Sum32())

	cases := []struct {
		name    string
		written []byte // what reached the folder
		record  []byte
		want    []int
	}{
		{"finished", tail, good.encode(), []int{0, 1, 2, 3}},
		{"half written", tail[:len(tail)/2], good.encode(), []int{0, 1, 2}},
		{"nothing written", nil, good.encode(), []int{0, 1, 2}},
		{"other bytes", bytes.Repeat([]byte("x"), len(tail)), good.encode(), []int{0, 1, 2}},
		{"torn record", nil, append(good.encode()[:100], make([]byte, recordSize-100)...), []int{0, 1, 2}},
	}
	for _, c := range cases {
		if err := os.WriteFile(path, append(append([]byte{}, base...), c.written...), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, appendLogName), c.record, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Recover(ctx, "SMITH"); err != nil {
			t.Fatalf("%s: Recover: %v", c.name, err)
		}
		got := ids(t, s, "SMITH", NewMail)
		if len(got) != len(c.want) {
			t.Errorf("%s: messages %v after recovery, want %v", c.name, got, c.want)
		}
		if r, ok := decodeRecord(mustRead(t, filepath.Join(dir, appendLogName))); ok && r.state == "pending" {
			t.Errorf("%s: record still pending after recovery", c.name)
		}
		// Appending goes on from there.
		deliverN(t, s, "SMITH", NewMail, 10, 1)
		if got := ids(t, s, "SMITH", NewMail); got[len(got)-1] != 10 || len(got) != len(c.want)+1 {
			t.Errorf("%s: after another delivery: %v", c.name, got)
		}
		os.WriteFile(path, base, 0o600)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeliverSettledByUpdate: an update that replaces a folder first makes
// the record "clear" on disk, so that a record can never be checked
// against another file that reuses the inode number.
func TestDeliverSettledByUpdate(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	deliverN(t, s, "SMITH", NewMail, 0, 4)
	dir := filepath.Join(s.Root, "SMITH")
	// As if the "done" had not reached the disk before a crash.
	fi, _ := os.Stat(filepath.Join(dir, NewMail))
	os.WriteFile(filepath.Join(dir, appendLogName), appendRecord{state: "pending", folder: NewMail, ino: fi.Sys().(*syscall.Stat_t).Ino, from: 0, to: fi.Size(), crc: 1}.encode(), 0o600)
	b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The record was resolved at OpenBox: the CRC 1 does not match, so
	// the folder was cut back to 0 bytes, as a half-done append would be.
	if b.Len() != 0 {
		t.Fatalf("%d messages after a bad pending record, want 0", b.Len())
	}
	b.Close()
	deliverN(t, s, "SMITH", NewMail, 0, 4)
	b, err = s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, []int{0}, []int{1}, false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if r := readRecord(t, dir); r.state != "clear" {
		t.Errorf("record after an update: %+v, want clear", r)
	}
	if ents := redoEntries(t, dir); len(ents) != 0 {
		t.Errorf("%d redo log entries after an update, want none", len(ents))
	}
	if got := ids(t, s, "SMITH", NewMail); len(got) != 2 {
		t.Errorf("NEWMAIL after the update: %v", got)
	}
}

// deliverChild is the "deliver" crash child: it delivers ids from start on,
// one message per Deliver, printing each acknowledged id, and every fifth
// delivery moves NEWMAIL's first message to MAIL (an update, which settles
// the commit record).
func deliverChild(s *Spool, start int) {
	ctx := context.Background()
	for i := start; ; i++ {
		deliverN(nopTB{}, s, "SMITH", NewMail, i, 1)
		fmt.Println(i)
		if i%5 == 0 {
			b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
			if err != nil {
				panic(err)
			}
			if err := b.Commit(ctx, nil, []int{0}, false); err != nil {
				panic(err)
			}
			b.Close()
		}
	}
}

// TestCrashDuringDeliver kills deliveries (and the updates between them)
// at many instants: every acknowledged message survives, exactly once, and
// whole.
func TestCrashDuringDeliver(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	root := t.TempDir()
	deliverN(t, New(root), "SMITH", NewMail, 0, 10)
	acked := map[int]bool{}
	pending := 0
	for i := 0; i < 50; i++ {
		_, out := runChild(t, "deliver", root, time.Duration(10+3*i)*time.Millisecond, fmt.Sprintf("VMSPOP_CRASH_START=%d", 10000+1000*i))
		if b, err := os.ReadFile(filepath.Join(root, "SMITH", appendLogName)); err == nil {
			if r, ok := decodeRecord(b); ok && r.state == "pending" {
				pending++ // killed between the record and "done": recovery's case
			}
		}
		var id int
		for _, line := range splitLines(out) {
			if _, err := fmt.Sscanf(line, "%d", &id); err == nil {
				acked[id] = true
			}
		}
		checkCensus(t, root, acked, fmt.Sprintf("kill %d", i), NewMail, Mail)
	}
	t.Logf("%d deliveries acknowledged across 50 kills, %d of which left a pending record", len(acked), pending)
}
