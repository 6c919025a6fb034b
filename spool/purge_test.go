package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// purgeBefore splits the messages appendDated writes: even ids arrived
// before it, odd ids after.
var purgeBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// appendDated appends messages from..from+n-1 to user's WASTEBASKET, the
// even ones dated 2020, the odd ones 2026.
func appendDated(t testing.TB, s *Spool, user string, from, n int) {
	t.Helper()
	var msgs []NewMessage
	for i := from; i < from+n; i++ {
		date := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC) // a one-digit day: ANSIC pads it
		if i%2 == 0 {
			date = time.Date(2020, 2, 29, 23, 59, 59, 0, time.UTC)
		}
		msgs = append(msgs, NewMessage{Envelope: "user@example.org", Date: date, Text: bytes.NewReader(testMsg(i))})
	}
	if err := s.Append(context.Background(), user, Wastebasket, msgs); err != nil {
		t.Fatal(err)
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	appendDated(t, s, "SMITH", 0, 10)
	path := filepath.Join(s.Root, "SMITH", Wastebasket)
	// A message whose From_ line has no date is never purged by age.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	undated := writeFolder(t, testMsg(10))
	f.Write(append([]byte("From someone\n"), undated[bytes.IndexByte(undated, '\n')+1:]...))
	f.Close()
	before, _ := os.Stat(path)

	res, err := s.Purge(ctx, "smith", purgeBefore)
	if err != nil || res.Purged != 5 || res.Kept != 6 {
		t.Fatalf("Purge(older) = %+v, %v; want 5 purged, 6 kept", res, err)
	}
	if got := ids(t, s, "SMITH", Wastebasket); !slices.Equal(got, []int{1, 3, 5, 7, 9, 10}) {
		t.Fatalf("WASTEBASKET after purging old mail: %v", got)
	}
	after, _ := os.Stat(path)
	if res.Freed != before.Size()-after.Size() || res.Freed <= 0 || os.SameFile(before, after) {
		t.Fatalf("freed %d; file %d -> %d bytes, same file %v", res.Freed, before.Size(), after.Size(), os.SameFile(before, after))
	}
	// Nothing older left: nothing done, the file is the same.
	if res, err := s.Purge(ctx, "SMITH", purgeBefore); err != nil || res.Purged != 0 || res.Kept != 6 {
		t.Fatalf("second Purge(older) = %+v, %v", res, err)
	}
	if again, _ := os.Stat(path); !os.SameFile(after, again) {
		t.Fatal("a purge with nothing to purge replaced the file")
	}
	// Everything.
	res, err = s.Purge(ctx, "SMITH", time.Time{})
	if err != nil || res.Purged != 6 || res.Kept != 0 || res.Freed != after.Size() {
		t.Fatalf("Purge(all) = %+v, %v; want 6 purged, %d bytes", res, err, after.Size())
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("WASTEBASKET after purge: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "SMITH", ".journal")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal left behind: %v", err)
	}
	// No WASTEBASKET: nothing to do. No mail directory: ErrNoMailbox.
	os.MkdirAll(filepath.Join(s.Root, "JONES"), 0o700)
	if res, err := s.Purge(ctx, "JONES", time.Time{}); err != nil || res != (PurgeResult{}) {
		t.Fatalf("Purge without WASTEBASKET = %+v, %v", res, err)
	}
	if _, err := s.Purge(ctx, "NOBODY", time.Time{}); !errors.Is(err, ErrNoMailbox) {
		t.Fatalf("Purge of a user without a directory: %v", err)
	}
	if _, err := s.Purge(ctx, "../x", time.Time{}); !errors.Is(err, ErrBadUser) {
		t.Fatalf("Purge of a bad name: %v", err)
	}
}

// TestCrashDuringPurge kills a purge at many instants: WASTEBASKET is
// always the old one or the new one, every message whole.
func TestCrashDuringPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const n = 4000
	tmpl := t.TempDir()
	appendDated(t, New(tmpl), "SMITH", 0, n)
	full := filepath.Join(t.TempDir(), "full")
	copyTree(t, tmpl, full)
	took, _ := runChild(t, "purge", full, 0)
	var all, kept []int
	for i := 0; i < n; i++ {
		all = append(all, i)
		if i%2 == 1 {
			kept = append(kept, i)
		}
	}
	if got := ids(t, New(full), "SMITH", Wastebasket); !slices.Equal(got, kept) {
		t.Fatalf("uninterrupted purge left %d messages", len(got))
	}
	const tries = 16
	states := map[bool]int{}
	for i := 0; i < tries; i++ {
		root := filepath.Join(t.TempDir(), strconv.Itoa(i))
		copyTree(t, tmpl, root)
		runChild(t, "purge", root, time.Duration(int64(took)*int64(i)/(tries-4))+time.Microsecond)
		got := ids(t, New(root), "SMITH", Wastebasket) // recovers first
		switch {
		case slices.Equal(got, all):
			states[false]++
		case slices.Equal(got, kept):
			states[true]++
		default:
			t.Fatalf("kill %d: WASTEBASKET holds %d messages, want %d or %d", i, len(got), n, len(kept))
		}
	}
	t.Logf("a purge of %d messages takes %v; killed %d times: %d before, %d after", n, took, tries, states[false], states[true])
}
