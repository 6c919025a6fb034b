//go:build bench

// Busy-poll session tests: whether a poll catches the next command depends
// on scheduling, so they run with the benchmarks (make bench, go test
// -tags bench) on a machine that is not shared. TestPollGate and
// TestMaxFetching (busypoll_internal_test.go) and TestPollReadable stay in
// make test: they are deterministic.

package gateway_test

import (
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"github.com/vmspop/vmspop/gateway"
)

// retr sends RETR n and reads the reply to its final dot.
func (c *client) retr(n string) {
	c.T.Helper()
	c.send("RETR " + n)
	c.expect("+OK")
	for c.line() != "." {
	}
}

// waitPolls waits until cond holds for the server's poll counters.
func waitPolls(t *testing.T, srv *gateway.Server, what string, cond func(data, timeout, stopped uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, to, st, _, _ := srv.PollStats()
		if cond(d, to, st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: polls ended by data %d, timeout %d, giving way %d", what, d, to, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// A fetching session watches for the next command, finds it, and answers
// it; the counts of busy and fetching sessions return to zero.
func TestBusyPollCatchesNextCommand(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.BusyPoll = 2 * time.Second
		s.SetMaxFetching(1) // a session may poll even on a one-CPU machine
	})
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	c.send("LIST")
	c.expect("+OK")
	for c.line() != "." {
	}
	c.retr("1") // the session now polls
	time.Sleep(20 * time.Millisecond)
	c.retr("2") // found by the poll
	c.send("DELE 3")
	c.expect("+OK")
	c.send("QUIT")
	c.expect("+OK")
	c.expectClosed()
	waitPolls(t, env.srv, "after RETR, RETR, DELE", func(d, to, st uint64) bool { return d == 3 })
	if d, to, st, busy, fetching := env.srv.PollStats(); d != 3 || to != 0 || st != 0 || busy != 0 || fetching != 0 {
		t.Errorf("polls by data %d (want 3: after RETR 1, RETR 2, DELE 3), timeout %d, giving way %d; busy %d, fetching %d (want 0)",
			d, to, st, busy, fetching)
	}
}

// A client slower than the window makes the session give up polling.
func TestBusyPollSlowClient(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.BusyPoll = time.Millisecond
		s.SetMaxFetching(1) // a session may poll even on a one-CPU machine
	})
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	for i, n := range []string{"1", "2", "3", "1", "2", "3"} {
		c.retr(n)
		if i < 2 { // these two poll: wait for each to time out
			want := uint64(i + 1)
			waitPolls(t, env.srv, "a slow client", func(d, to, st uint64) bool { return to+d >= want })
		}
		time.Sleep(30 * time.Millisecond)
	}
	c.send("QUIT")
	c.expect("+OK")
	c.expectClosed()
	// Credit 4, 2 per timeout: two polls, then none.
	if d, to, st, _, _ := env.srv.PollStats(); d != 0 || to != 2 || st != 0 {
		t.Errorf("polls by data %d, timeout %d (want 2), giving way %d", d, to, st)
	}
}

// A polling session gives way while another session has work.
func TestBusyPollGivesWay(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	env := startServer(t, func(s *gateway.Server, be *fakeBackend) {
		s.BusyPoll = time.Minute
		s.SetMaxFetching(1)
		be.commitFn = func(u gateway.Update) error {
			once.Do(func() { close(entered) })
			<-release
			return nil
		}
	})
	busy := dial(t, env.addr)
	busy.login("erin", "erin pw")
	busy.send("QUIT") // held in Commit: a session with a command in hand
	<-entered
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	c.retr("1")
	waitPolls(t, env.srv, "poll beside a busy session", func(d, to, st uint64) bool { return st == 1 })
	close(release)
	busy.expect("+OK")
	c.retr("2") // polls again, alone now
	time.Sleep(10 * time.Millisecond)
	c.send("QUIT")
	c.expect("+OK")
	waitPolls(t, env.srv, "poll after the other session ended", func(d, to, st uint64) bool { return d == 1 })
}

// With more sessions fetching than the limit, none polls: their clients
// need the CPU. Alone again, a fetching session polls.
func TestBusyPollSeveralFetches(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, be *fakeBackend) {
		s.BusyPoll = time.Millisecond
		s.SetMaxFetching(1)
		be.boxes["ERIN"] = aliceMessages
	})
	polls := func(user string) []any {
		t.Helper()
		var out []any
		for _, e := range env.entries("session end") {
			if e.Data["user"] == user {
				out = append(out, e.Data["polls"])
			}
		}
		return out
	}
	a := dial(t, env.addr)
	a.login("alice", "wonderland")
	a.retr("1") // alone: polls, and times out
	// Wait for that poll to end before erin fetches: a session counts the
	// fetching sessions only when it comes to poll, after its reply has
	// gone, and a loaded machine may run erin's RETR first.
	waitPolls(t, env.srv, "alice's poll", func(d, to, st uint64) bool { return to == 1 })
	b := dial(t, env.addr)
	b.login("erin", "erin pw")
	for _, n := range []string{"1", "2", "3", "1", "2", "3"} {
		b.retr(n) // beside alice's fetch: no polling
	}
	b.send("QUIT")
	b.expect("+OK")
	b.expectClosed()
	a.send("QUIT")
	a.expect("+OK")
	a.expectClosed()
	waitFor := time.Now().Add(5 * time.Second)
	for len(polls("ERIN")) < 1 && time.Now().Before(waitFor) { // summaries in order
		time.Sleep(time.Millisecond)
	}
	c := dial(t, env.addr)
	c.login("erin", "erin pw")
	c.retr("1") // alone again
	c.send("QUIT")
	c.expect("+OK")
	c.expectClosed()
	waitFor = time.Now().Add(5 * time.Second)
	for len(polls("ERIN")) < 2 && time.Now().Before(waitFor) {
		time.Sleep(time.Millisecond)
	}
	if p := polls("ALICE"); len(p) != 1 || p[0] == nil {
		t.Errorf("alice's session: polls %v, want it to have polled", p)
	}
	if p := polls("ERIN"); len(p) != 2 || p[0] != nil || p[1] == nil {
		t.Errorf("erin's sessions: polls %v, want none beside alice's fetch, then some alone", p)
	}
}

// Under TLS (here after STLS) a session polls the socket under the TLS
// layer, and finds the next command as in clear.
func TestBusyPollUnderTLS(t *testing.T) {
	var clientCfg *tls.Config
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.BusyPoll = 2 * time.Second
		s.SetMaxFetching(1) // a session may poll even on a one-CPU machine
		s.TLSConfig, clientCfg = testTLSConfig(t)
	})
	c := dial(t, env.addr)
	c.expect("+OK POP server ready")
	c.send("STLS")
	c.expect("+OK Begin TLS negotiation")
	c.startTLS(clientCfg)
	c.send("USER alice", "PASS wonderland")
	c.expect("+OK")
	c.expect("+OK maildrop has")
	c.retr("1") // the session now polls
	time.Sleep(20 * time.Millisecond)
	c.retr("2") // found by the poll
	c.send("QUIT")
	c.expect("+OK")
	c.expectClosed()
	waitPolls(t, env.srv, "after RETR, RETR under TLS", func(d, to, st uint64) bool { return d == 2 })
	if d, to, st, busy, fetching := env.srv.PollStats(); d != 2 || to != 0 || st != 0 || busy != 0 || fetching != 0 {
		t.Errorf("polls under TLS by data %d (want 2), timeout %d, giving way %d; busy %d, fetching %d (want 0)",
			d, to, st, busy, fetching)
	}
}
