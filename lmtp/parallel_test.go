package lmtp_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmspop/vmspop/lmtp"
)

// barrier is a Deliverer whose Deliver returns only once n calls are under
// way at the same time (or fails after a generous timeout).
type barrier struct {
	n    int
	mu   sync.Mutex
	in   int
	full chan struct{}
}

func (b *barrier) Check(string) error { return nil }

func (b *barrier) Deliver(ctx context.Context, user, sender string, msg io.ReaderAt, size int64) error {
	b.mu.Lock()
	b.in++
	if b.in == b.n {
		close(b.full)
	}
	b.mu.Unlock()
	select {
	case <-b.full:
		return nil
	case <-time.After(20 * time.Second):
		return errors.New("copies made one after the other")
	}
}

func (b *barrier) Class(error) lmtp.Class { return lmtp.Temporary }

// TestRecipientsInParallel: the copies of one message for several
// recipients are made at the same time, and each recipient still gets its
// own reply.
func TestRecipientsInParallel(t *testing.T) {
	b := &barrier{n: 3, full: make(chan struct{})}
	addr := startWith(t, b)
	got := session(t, addr, "LHLO mta.example\nMAIL FROM:<a@b.example>\nRCPT TO:<smith@vms.example>\nRCPT TO:<jones@vms.example>\nRCPT TO:<field@vms.example>\nDATA\nSubject: x\n\nbody\n.\nQUIT\n", 10)
	replies := strings.Join(got[len(got)-4:], "\n")
	if strings.Count(replies, "250 2.0.0") != 3 {
		t.Fatalf("replies after DATA:\n%s\nwant three 250s", replies)
	}
}

// TestBuffersReused: messages of one connection, a long one then a short
// one, arrive as sent although the server reuses its buffers.
func TestBuffersReused(t *testing.T) {
	st := &store{users: map[string]bool{"SMITH": true}, got: map[string][]string{}}
	addr := start(t, st, 0)
	long := "Subject: long\n\n" + strings.Repeat("a long line of text\n", 2000)
	short := "Subject: short\n\nhi\n"
	session(t, addr, "LHLO mta.example\nMAIL FROM:<a@b.example>\nRCPT TO:<smith@vms.example>\nDATA\n"+long+".\nMAIL FROM:<c@d.example>\nRCPT TO:<smith@vms.example>\nDATA\n"+short+".\nQUIT\n", 10)
	got := st.got["SMITH"]
	if len(got) != 2 || got[0] != "a@b.example|"+long || got[1] != "c@d.example|"+short {
		t.Fatalf("stored %d messages: %.80q...", len(got), got)
	}
}
