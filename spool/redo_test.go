package spool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// redoEntries returns the data entries of dir's redo log.
func redoEntries(t testing.TB, dir string) []redoData {
	t.Helper()
	l, err := openRedo(dir, 0)
	if err != nil || l == nil {
		t.Fatalf("redo log of %s: %v", dir, err)
	}
	defer l.close()
	_, ents, ok := l.entries()
	if !ok {
		t.Fatalf("redo log of %s has no start entry", dir)
	}
	return ents
}

// editHint rewrites the hint of dir's redo log after edit has changed it:
// how the tests fake another boot or an older log.
func editHint(t *testing.T, dir string, edit func(*redoHint)) {
	t.Helper()
	l, err := openRedo(dir, 0)
	if err != nil || l == nil {
		t.Fatal(err)
	}
	defer l.close()
	h, ok := l.hint()
	if !ok {
		t.Fatal("no hint")
	}
	edit(&h)
	if err := l.writeHint(h); err != nil {
		t.Fatal(err)
	}
}

// TestRedoRecovery: recovery from hand-made logs (entries of a real
// delivery, then the folder and the log damaged as a crash or a power loss
// would leave them): every whole entry ends up in the folder exactly once,
// a torn one is not written, entries already applied are left alone, and
// the log is empty afterwards.
func TestRedoRecovery(t *testing.T) {
	ctx := context.Background()
	tmpl := t.TempDir()
	s := New(tmpl)
	deliverN(t, s, "SMITH", NewMail, 0, 3)
	if err := s.Recover(ctx, "SMITH"); err != nil {
		t.Fatal(err)
	}
	// Three entries, 3, 4 and 5, after a checkpoint.
	dir := filepath.Join(tmpl, "SMITH")
	l, _ := openRedo(dir, 0)
	h, _ := l.hint()
	if err := l.checkpoint(h); err != nil {
		t.Fatal(err)
	}
	l.close()
	for i := 3; i < 6; i++ {
		deliverN(t, s, "SMITH", NewMail, i, 1)
	}
	ents := redoEntries(t, dir)
	if len(ents) != 3 {
		t.Fatalf("%d entries, want 3", len(ents))
	}
	full := mustRead(t, filepath.Join(dir, NewMail))
	logBytes := mustRead(t, filepath.Join(dir, redoLogName))
	e2off := int64(nextEntry(redoStart, 0))
	e2off = nextEntry(e2off, ents[0].to-ents[0].from) // the second entry's offset
	e3off := nextEntry(e2off, ents[1].to-ents[1].from)

	cases := []struct {
		name   string
		folder []byte           // what the folder holds at the crash
		damage func(log []byte) // what happens to the log
		boot   string           // the hint's boot ("": this one)
		want   []int            // messages after recovery
		same   bool             // the folder file must not be written to
		swap   bool             // the folder is another file (inode)
	}{
		{name: "power loss before any folder write", folder: full[:ents[0].from], boot: "other", want: []int{0, 1, 2, 3, 4, 5}},
		{name: "power loss mid second entry", folder: full[:ents[1].from+10], boot: "other", want: []int{0, 1, 2, 3, 4, 5}},
		{name: "all applied, other boot", folder: full, boot: "other", want: []int{0, 1, 2, 3, 4, 5}, same: true},
		{name: "all applied, this boot", folder: full, want: []int{0, 1, 2, 3, 4, 5}, same: true},
		{name: "garbage in an entry's range", folder: append(append(append([]byte{}, full[:ents[1].from]...), bytes.Repeat([]byte("x"), int(ents[1].to-ents[1].from))...), full[ents[1].to:]...), boot: "other", want: []int{0, 1, 2, 3, 4, 5}},
		{name: "torn last entry (data)", folder: full[:ents[0].from], boot: "other", want: []int{0, 1, 2, 3, 4},
			damage: func(b []byte) { b[e3off+redoEntry+5] ^= 1 }},
		{name: "torn last entry (header)", folder: full[:ents[0].from], boot: "other", want: []int{0, 1, 2, 3, 4},
			damage: func(b []byte) { copy(b[e3off+40:], "XXXX") }},
		{name: "torn middle entry ends the log", folder: full[:ents[0].from], boot: "other", want: []int{0, 1, 2, 3},
			damage: func(b []byte) { b[e2off+redoEntry+1] ^= 1 }},
		{name: "torn hint", folder: full[:ents[2].from], want: []int{0, 1, 2, 3, 4, 5},
			damage: func(b []byte) { b[3] ^= 1 }},
		{name: "killed after the log's sync (this boot)", folder: full[:ents[2].from], want: []int{0, 1, 2, 3, 4, 5},
			damage: func(b []byte) {
				// The hint as the writer left it before the entry.
				h, _ := decodeHint(b[:redoEntry])
				h.seq, h.tail = 3, e3off
				copy(b, h.encode())
			}},
		{name: "folder replaced (other inode)", folder: full[:ents[0].from], boot: "other", want: []int{0, 1, 2}, swap: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			d := filepath.Join(root, "SMITH")
			os.MkdirAll(d, 0o700)
			path := filepath.Join(d, NewMail)
			if err := os.WriteFile(path, c.folder, 0o600); err != nil {
				t.Fatal(err)
			}
			lb := append([]byte{}, logBytes...)
			h, _ := decodeHint(lb[:redoEntry])
			if c.boot != "" {
				h.boot = c.boot
				copy(lb, h.encode())
			} else {
				h.boot = bootID()
				copy(lb, h.encode())
			}
			if c.damage != nil {
				c.damage(lb)
			}
			if err := os.WriteFile(filepath.Join(d, redoLogName), lb, 0o600); err != nil {
				t.Fatal(err)
			}
			if !c.swap {
				// The entries name the template's folder inode: give them
				// this one's.
				fi, _ := os.Stat(path)
				rewriteInodes(t, d, fi.Sys().(*syscall.Stat_t).Ino)
			}
			before, _ := os.Stat(path)
			rs := New(root)
			for range 2 { // idempotent: a second recovery changes nothing
				if err := rs.Recover(ctx, "SMITH"); err != nil {
					t.Fatal(err)
				}
			}
			got := ids(t, rs, "SMITH", NewMail)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("messages %v after recovery, want %v", got, c.want)
			}
			after, _ := os.Stat(path)
			if c.same && !after.ModTime().Equal(before.ModTime()) {
				t.Errorf("the folder was written to, though every entry was in it")
			}
			if ents := redoEntries(t, d); len(ents) != 0 && c.boot != "" {
				t.Errorf("%d entries left after a replay", len(ents))
			}
			// Delivery goes on from there.
			deliverN(t, rs, "SMITH", NewMail, 10, 1)
			if got := ids(t, rs, "SMITH", NewMail); got[len(got)-1] != 10 || len(got) != len(c.want)+1 {
				t.Errorf("after another delivery: %v", got)
			}
		})
	}
}

// rewriteInodes gives every data entry of dir's log the inode ino.
func rewriteInodes(t *testing.T, dir string, ino uint64) {
	t.Helper()
	l, err := openRedo(dir, 0)
	if err != nil || l == nil {
		t.Fatal(err)
	}
	defer l.close()
	off := nextEntry(redoStart, 0)
	for {
		e, ok := l.head(off)
		if !ok || e.kind != "data" {
			return
		}
		e.ino = ino
		b := make([]byte, redoEntry)
		e.sealInto(b)
		l.f.WriteAt(b, off)
		off = nextEntry(off, e.to-e.from)
	}
}

// TestRedoCheckpoints: with a small log, deliveries fill it and each full
// log is checkpointed; the log never outgrows its size, a message too big
// for it takes the commit record's path, a delivery to another folder
// checkpoints first, and every message arrives once.
func TestRedoCheckpoints(t *testing.T) {
	s := New(t.TempDir())
	s.RedoLog = 8 << 10
	dir := filepath.Join(s.Root, "SMITH")
	var gens = map[uint64]bool{}
	for i := range 60 {
		deliverN(t, s, "SMITH", NewMail, i, 1)
		l, _ := openRedo(dir, 0)
		h, ok := l.hint()
		if !ok || l.size > 8<<10 {
			t.Fatalf("after %d: hint %v %+v, log of %d bytes", i, ok, h, l.size)
		}
		gens[h.gen] = true
		l.close()
	}
	if len(gens) < 5 {
		t.Errorf("%d generations over 60 deliveries in an 8 KiB log", len(gens))
	}
	big := bytes.Repeat([]byte("a line of a big message\n"), 1000)
	err := s.Deliver(context.Background(), "SMITH", NewMail, []Delivery{{Envelope: "x@y", Date: time.Now(), Open: func() io.Reader { return bytes.NewReader(big) }}})
	if err != nil {
		t.Fatal(err)
	}
	if r := readRecord(t, dir); r.state != "done" {
		t.Errorf("commit record after a big message: %+v", r)
	}
	deliverN(t, s, "SMITH", NewMail, 60, 1)
	deliverN(t, s, "SMITH", Mail, 61, 1)
	if ents := redoEntries(t, dir); len(ents) != 1 || ents[0].folder != Mail {
		t.Errorf("entries after a delivery to MAIL: %+v", ents)
	}
	got, _ := s.ReadFolder(context.Background(), "SMITH", NewMail)
	if len(got) != 62 {
		t.Errorf("%d messages in NEWMAIL, want 62", len(got))
	}
	if got := ids(t, s, "SMITH", Mail); len(got) != 1 || got[0] != 61 {
		t.Errorf("MAIL: %v", got)
	}
}

// redoChild is the "redo" crash child: deliverChild through a small redo
// log (a checkpoint every few deliveries), killing itself at the at-th time
// it reaches point.
func redoChild(s *Spool, start int, point, at string) {
	n, _ := strconv.Atoi(at)
	hits := 0
	crashPoint = func(p string) {
		if p != point {
			return
		}
		if hits++; hits == n {
			fmt.Println("crash " + p)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	s.RedoLog = 8 << 10
	deliverChild(s, start)
}

// TestCrashDuringRedo kills deliveries through the redo log at chosen
// instants: after the entry's sync and before the folder write, after the
// folder write and before the hint, after a checkpoint's folder sync and
// before the log is emptied, and in the middle of a replay (after a power
// loss, emulated by cutting the folder back to what the last checkpoint
// synced and marking the hint as of another boot; before it, two
// deliveries by the test make sure there are entries to replay). Every acknowledged
// message is then in the folders exactly once and whole; no other message
// is partial (ids checks every message's text).
func TestCrashDuringRedo(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "SMITH")
	deliverN(t, New(root), "SMITH", NewMail, 0, 10)
	acked := map[int]bool{}
	crashes := map[string]int{}
	points := []string{"logged", "written", "folders synced", "replayed"}
	for i := range 48 {
		point := points[i%len(points)]
		if point == "replayed" || i%3 == 0 {
			if point == "replayed" {
				// Entries to replay: two more deliveries.
				ps := New(root)
				ps.RedoLog = 8 << 10
				for k := range 2 {
					deliverN(t, ps, "SMITH", NewMail, 900000+10*i+k, 1)
					acked[900000+10*i+k] = true
				}
			}
			// A power loss: what was not synced is gone.
			l, err := openRedo(dir, 0)
			if err != nil || l == nil {
				t.Fatal(err)
			}
			_, ents, _ := l.entries()
			l.close()
			if len(ents) > 0 {
				if err := os.Truncate(filepath.Join(dir, ents[0].folder), ents[0].from); err != nil {
					t.Fatal(err)
				}
			}
			// The hint as a power loss leaves it: written in another boot.
			editHint(t, dir, func(h *redoHint) { h.boot = "lost" })
		}
		at := 1 + i/len(points)%4
		if point == "replayed" {
			at = 1 + i/len(points)%2 // within the entries a full log leaves
		}
		// The timer only stops a child that never reached its point.
		_, out := runChild(t, "redo", root, 5*time.Second, fmt.Sprintf("VMSPOP_CRASH_START=%d", 10000+1000*i),
			"VMSPOP_CRASH_POINT="+point, fmt.Sprintf("VMSPOP_CRASH_AT=%d", at))
		var id int
		for _, line := range splitLines(out) {
			if p, ok := strings.CutPrefix(line, "crash "); ok {
				crashes[p]++
			} else if _, err := fmt.Sscanf(line, "%d", &id); err == nil {
				acked[id] = true
			}
		}
		checkCensus(t, root, acked, fmt.Sprintf("kill %d (%s)", i, point), NewMail, Mail)
	}
	for _, p := range points {
		if crashes[p] == 0 {
			t.Errorf("no child was killed at %q", p)
		}
	}
	t.Logf("%d deliveries acknowledged; kills at each point: %v", len(acked), crashes)
}

// TestRedoMaxAge: entries older than redoMaxAge do not stay in the log:
// the next lock of the user (a login's, here Recover) checkpoints them, as
// does the next delivery, which then logs only its own entry.
func TestRedoMaxAge(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	dir := filepath.Join(s.Root, "SMITH")
	age := func(d time.Duration) {
		t.Helper()
		editHint(t, dir, func(h *redoHint) { h.since = time.Now().Add(-d).Unix() })
	}

	deliverN(t, s, "SMITH", NewMail, 0, 1)
	deliverN(t, s, "SMITH", NewMail, 1, 1)
	if n := len(redoEntries(t, dir)); n != 2 {
		t.Fatalf("%d entries after 2 deliveries, want 2", n)
	}
	age(redoMaxAge / 2)
	if err := s.Recover(ctx, "SMITH"); err != nil {
		t.Fatal(err)
	}
	if n := len(redoEntries(t, dir)); n != 2 {
		t.Fatalf("%d entries after a lock within the bound, want 2", n)
	}
	age(2 * redoMaxAge)
	if err := s.Recover(ctx, "SMITH"); err != nil {
		t.Fatal(err)
	}
	if n := len(redoEntries(t, dir)); n != 0 {
		t.Fatalf("%d entries after a lock past the bound, want 0", n)
	}

	deliverN(t, s, "SMITH", NewMail, 2, 1)
	deliverN(t, s, "SMITH", NewMail, 3, 1)
	age(2 * redoMaxAge)
	deliverN(t, s, "SMITH", NewMail, 4, 1)
	if n := len(redoEntries(t, dir)); n != 1 {
		t.Fatalf("%d entries after a delivery past the bound, want 1 (its own)", n)
	}
	if got := ids(t, s, "SMITH", NewMail); fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Fatalf("messages %v, want [0 1 2 3 4]", got)
	}
}
