package spool

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEventsAndStats: one record of each lock taken and each folder open
// reaches both the spool's Events (metrics) and the operation's Stats
// (DEBUG log); a lock another holder kept busy adds to Stats.LockWait.
func TestEventsAndStats(t *testing.T) {
	s := New(t.TempDir())
	var mu sync.Mutex
	locks := map[string]int{}
	var hits []bool
	s.Events = &Events{
		LockWait: func(kind string, d time.Duration) { mu.Lock(); locks[kind]++; mu.Unlock() },
		Index:    func(hit bool) { mu.Lock(); hits = append(hits, hit); mu.Unlock() },
	}
	ctx := context.Background()
	if err := s.Append(ctx, "SMITH", NewMail, []NewMessage{{Envelope: "a@example.org", Date: time.Now(), Text: strings.NewReader("Subject: x\n\nbody\n")}}); err != nil {
		t.Fatal(err)
	}
	open := func() *Stats {
		t.Helper()
		var st Stats
		b, err := s.OpenBox(WithStats(ctx, &st), "SMITH", NewMail, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		return &st
	}
	if st := open(); st.Index != "rebuilt" || st.Scanned != 1 || st.LockWait != 0 {
		t.Errorf("first open: %+v", st)
	}
	if st := open(); st.Index != "memory" || st.Scanned != 0 {
		t.Errorf("second open: %+v", st)
	}
	mu.Lock()
	if locks[LockSession] != 2 || locks[LockFolder] < 3 || len(hits) != 2 || hits[0] || !hits[1] {
		t.Errorf("events: locks %v, index hits %v", locks, hits)
	}
	mu.Unlock()

	// A session lock held by another session for 200 ms: the second open
	// waits, and its Stats say for how long, at least from its start to
	// the release (measured here, so that a loaded machine that starts the
	// open late does not fail the test).
	b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan time.Time, 1)
	go func() { time.Sleep(200 * time.Millisecond); released <- time.Now(); b.Close() }()
	start := time.Now()
	st := open()
	waited := (<-released).Sub(start)
	if waited > 0 && st.LockWait < waited-5*time.Millisecond {
		t.Errorf("open behind a session lock held %v more: LockWait %v", waited, st.LockWait)
	}
}
