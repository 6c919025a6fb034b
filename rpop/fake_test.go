package rpop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSink is an in-memory Sink for the package tests (the real one, over
// the spool, is tested end to end in cmd/vmspop).
type memSink struct {
	mu  sync.Mutex
	got map[string][]string
}

func (s *memSink) Deliver(ctx context.Context, ds []*Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[string][]string{}
	}
	for _, d := range ds {
		b, err := io.ReadAll(io.NewSectionReader(d.Msg, 0, d.Size))
		if err != nil {
			return err
		}
		for _, u := range d.Users {
			s.got[u] = append(s.got[u], string(b))
		}
	}
	return nil
}

func (s *memSink) Delivered(ctx context.Context, user string, keys []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, m := range s.got[user] {
		for _, k := range keys {
			if strings.HasPrefix(m, KeyField+": "+k+"\n") {
				out[k] = true
			}
		}
	}
	return out, nil
}

func (s *memSink) messages(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got[user]...)
}

// fakePOP is a scripted POP3 server that can lie: it is the remote of the
// tests of hostile behaviour, which no real server shows on demand.
type fakePOP struct {
	Greeting string                            // after "+OK "
	Msgs     []string                          // CRLF-free texts, LF line ends
	UIDLs    []string                          // UIDL of each of Msgs; nil = uid-1, uid-2 ...
	ListSize func(i int, real int) int         // LIST's size; nil = the real size
	Retr     func(w *bufio.Writer, i int) bool // custom RETR body; false = hang up
	ln       net.Listener
	mu       sync.Mutex
	conns    int
	cmds     []string
	deleted  map[int]bool
	stall    chan struct{} // closed at Close: stalled handlers return
}

func startFake(t *testing.T, f *fakePOP) *fakePOP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.ln, f.stall, f.deleted = ln, make(chan struct{}), map[int]bool{}
	if f.Greeting == "" {
		f.Greeting = "fake ready"
	}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); close(f.stall); wg.Wait() })
	return f
}

func (f *fakePOP) Addr() string { return f.ln.Addr().String() }

func (f *fakePOP) Conns() int { f.mu.Lock(); defer f.mu.Unlock(); return f.conns }

func (f *fakePOP) Cmds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakePOP) serve(c net.Conn) {
	defer c.Close()
	f.mu.Lock()
	f.conns++
	msgs, uidls := f.Msgs, f.UIDLs // what setMsgs last set: this session's maildrop
	f.mu.Unlock()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	out := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	out("+OK " + f.Greeting)
	dele := map[int]bool{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f.mu.Lock()
		f.cmds = append(f.cmds, line)
		f.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		var n int
		fmt.Sscan(arg, &n)
		switch strings.ToUpper(verb) {
		case "USER", "PASS", "APOP":
			out("+OK")
		case "LIST":
			out("+OK")
			for i, m := range msgs {
				size := len(strings.ReplaceAll(m, "\n", "\r\n"))
				if f.ListSize != nil {
					size = f.ListSize(i, size)
				}
				out(fmt.Sprintf("%d %d", i+1, size))
			}
			out(".")
		case "UIDL":
			out("+OK")
			for i := range msgs {
				u := fmt.Sprintf("uid-%d", i+1)
				if uidls != nil {
					u = uidls[i]
				}
				out(fmt.Sprintf("%d %s", i+1, u))
			}
			out(".")
		case "RETR":
			if n < 1 || n > len(msgs) {
				out("-ERR no such message")
				continue
			}
			out("+OK")
			if f.Retr != nil {
				if !f.Retr(w, n-1) {
					<-f.stall
					return
				}
				w.Flush()
				continue
			}
			for _, l := range strings.Split(strings.TrimSuffix(msgs[n-1], "\n"), "\n") {
				if strings.HasPrefix(l, ".") {
					l = "." + l
				}
				w.WriteString(l + "\r\n")
			}
			out(".")
		case "DELE":
			dele[n] = true
			out("+OK")
		case "QUIT":
			f.mu.Lock()
			for k := range dele {
				f.deleted[k] = true
			}
			f.mu.Unlock()
			out("+OK bye")
			return
		default:
			out("-ERR unknown")
		}
	}
}

// setMsgs replaces the maildrop (and its UIDLs) for the sessions that
// start from now on.
func (f *fakePOP) setMsgs(msgs, uidls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Msgs, f.UIDLs = msgs, uidls
}

func (f *fakePOP) Deleted() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.deleted) }

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
