package rpop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
)

func msg(i int) string {
	return fmt.Sprintf("From: a%d@example.org\nSubject: m%d\n\nbody %d\n.dot\n", i, i, i)
}

func testOpts() *Options {
	return &Options{Timeout: 2 * time.Second, UseAPOP: true, MaxSize: 1 << 20}
}

func pollOnce(t *testing.T, f *fakePOP, rec *Record, dir string, sink Sink, opts *Options) (Result, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	rec.Host = f.Addr()
	if rec.ID == "" {
		rec.ID = "r1"
	}
	if rec.User == "" {
		rec.User = "ALICE"
	}
	if rec.Account == "" {
		rec.Account = "alice"
	}
	return Poll(context.Background(), rec, dir, sink, opts, log), hook
}

// TestLyingRemote: a remote that lies or stalls fails the record; nothing
// half-fetched is stored and nothing is deleted.
func TestLyingRemote(t *testing.T) {
	big := "From: x@y\n\n" + strings.Repeat("y", 100<<10) + "\n"
	cases := []struct {
		name    string
		fake    *fakePOP
		rec     Record
		opts    func(*Options)
		wantErr string // "" = success
		stored  int
		deleted int
		noPass  bool // the password must not have been sent
	}{
		{name: "list sizes lie", fake: &fakePOP{Msgs: []string{msg(1), msg(2)}, ListSize: func(i, n int) int { return 3 }},
			stored: 2, deleted: 2},
		{name: "stall mid-RETR", fake: &fakePOP{Msgs: []string{msg(1), msg(2)}, Retr: func(w *bufio.Writer, i int) bool {
			w.WriteString("From: half@example.org\r\n\r\nhalf a bo")
			w.Flush()
			return false
		}}, opts: func(o *Options) { o.Timeout = 300 * time.Millisecond }, wantErr: "timeout"},
		{name: "no APOP timestamp", fake: &fakePOP{Greeting: "no timestamp here", Msgs: []string{msg(1)}},
			rec: Record{APOP: true}, wantErr: "no timestamp", noPass: true},
		{name: "APOP off module-wide", fake: &fakePOP{Greeting: "no timestamp here", Msgs: []string{msg(1)}},
			rec: Record{APOP: true}, opts: func(o *Options) { o.UseAPOP = false }, stored: 1, deleted: 1},
		{name: "over-long line", fake: &fakePOP{Msgs: []string{msg(1), big}}, wantErr: "over-long line"},
		{name: "too large stays", fake: &fakePOP{Msgs: []string{msg(1), "From: x@y\n\n" + strings.Repeat("z\n", 5000), msg(3)}},
			opts: func(o *Options) { o.MaxSize = 4096 }, wantErr: "left on the server", stored: 2, deleted: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tc.fake)
			sink := &memSink{}
			opts := testOpts()
			if tc.opts != nil {
				tc.opts(opts)
			}
			dir := t.TempDir()
			res, _ := pollOnce(t, f, &tc.rec, dir, sink, opts)
			switch {
			case tc.wantErr == "" && res.Err != nil:
				t.Fatalf("poll: %v", res.Err)
			case tc.wantErr != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr)):
				t.Fatalf("poll error %v; want one containing %q", res.Err, tc.wantErr)
			}
			got := sink.messages("ALICE")
			if len(got) != tc.stored {
				t.Errorf("stored %d messages; want %d", len(got), tc.stored)
			}
			for _, m := range got {
				if !strings.HasSuffix(m, "\n") || strings.Contains(m, "half") {
					t.Errorf("half-stored message %.100q", m)
				}
			}
			if tc.name == "list sizes lie" && len(got) == 2 && !strings.HasSuffix(got[1], "body 2\n.dot\n") {
				t.Errorf("message cut at the lying size: %q", got[1])
			}
			if n := f.Deleted(); n != tc.deleted {
				t.Errorf("deleted %d remote messages; want %d", n, tc.deleted)
			}
			if tc.noPass {
				for _, c := range f.Cmds() {
					if strings.HasPrefix(c, "PASS") || strings.HasPrefix(c, "APOP") {
						t.Errorf("sent %q to a server without APOP timestamp", c)
					}
				}
			}
			st := ReadStatus(dir, tc.rec.ID)
			if st.OK != (tc.wantErr == "") {
				t.Errorf("Last status %v; want ok=%v", st, tc.wantErr == "")
			}
		})
	}
}

// TestPollerDelaysFailed: a failing record (a remote that stalls
// mid-RETR, one whose greeting has no APOP timestamp, one with an
// over-long line) is polled once, marked failed and then waits Delay
// Failed Accounts, storing nothing, while a good record on another server
// keeps its period; an unreachable host waits Delay Failed Hosts.
func TestPollerDelaysFailed(t *testing.T) {
	good := startFake(t, &fakePOP{Msgs: nil})
	bad := startFake(t, &fakePOP{Msgs: []string{msg(1)}, Retr: func(w *bufio.Writer, i int) bool { return false }})
	// Lying remotes: no APOP timestamp for an APOP record, an over-long
	// line in a message.
	noTS := startFake(t, &fakePOP{Greeting: "no timestamp", Msgs: []string{msg(1)}})
	long := startFake(t, &fakePOP{Msgs: []string{msg(1), "From: x@y\n\n" + strings.Repeat("y", 100<<10) + "\n"}})
	// A port nobody listens on: connection refused.
	down := startFake(t, &fakePOP{})
	downAddr := down.Addr()
	down.ln.Close()
	dir := t.TempDir()
	file := &File{Path: filepath.Join(dir, "rpop")}
	err := file.Update(func([]Record) ([]Record, error) {
		return []Record{
			{ID: "good", User: "ALICE", Host: good.Addr(), Account: "a", Period: Duration(50 * time.Millisecond)},
			{ID: "bad", User: "BOB", Host: bad.Addr(), Account: "b", Period: Duration(50 * time.Millisecond)},
			{ID: "down", User: "CAROL", Host: downAddr, Account: "c", Period: Duration(50 * time.Millisecond)},
			{ID: "off", User: "DAVE", Host: good.Addr(), Account: "d", Disabled: true},
			{ID: "nots", User: "ERIN", Host: noTS.Addr(), Account: "e", APOP: true, Period: Duration(50 * time.Millisecond)},
			{ID: "long", User: "FRANK", Host: long.Addr(), Account: "f", Period: Duration(50 * time.Millisecond)},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	log, _ := logtest.NewNullLogger()
	sink := &memSink{}
	p := &Poller{File: file, Sink: sink, Logger: log, Processes: 2,
		Options:          Options{Timeout: 200 * time.Millisecond, UseAPOP: true, MaxSize: 1 << 20},
		DelayFailedHosts: time.Hour, DelayFailedAccounts: time.Hour, Tick: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "the good record to be polled 5 times", func() bool { return good.Conns() >= 5 })
	waitFor(t, "the down record to fail", func() bool { return !ReadStatus(file.StateDir(), "down").When.IsZero() })
	waitFor(t, "the lying records to fail", func() bool {
		return !ReadStatus(file.StateDir(), "nots").When.IsZero() && !ReadStatus(file.StateDir(), "long").When.IsZero()
	})
	// The good record keeps its period after the others failed.
	n := good.Conns()
	waitFor(t, "the good record to be polled again", func() bool { return good.Conns() >= n+3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := bad.Conns(); n != 1 {
		t.Errorf("failed record polled %d times; want 1 (delayed)", n)
	}
	if st := ReadStatus(file.StateDir(), "bad"); st.OK || st.Err == "" {
		t.Errorf("bad record status %v; want failed", st)
	}
	if st := ReadStatus(file.StateDir(), "down"); st.OK {
		t.Errorf("down record status %v; want failed", st)
	}
	for _, c := range []struct {
		id, err string
		f       *fakePOP
	}{{"nots", "no timestamp", noTS}, {"long", "over-long line", long}} {
		if n := c.f.Conns(); n != 1 {
			t.Errorf("%s: polled %d times; want 1 (delayed)", c.id, n)
		}
		if st := ReadStatus(file.StateDir(), c.id); st.OK || !strings.Contains(st.Err, c.err) {
			t.Errorf("%s: status %v; want failed with %q", c.id, st, c.err)
		}
	}
	if got := len(sink.messages("ERIN")) + len(sink.messages("FRANK")) + len(sink.messages("BOB")); got != 0 {
		t.Errorf("failed records stored %d messages; want none (not a half)", got)
	}
	if st := ReadStatus(file.StateDir(), "off"); !st.When.IsZero() {
		t.Errorf("disabled record was polled: %v", st)
	}
}

// TestSelfPoll: a remote that is one of our own listeners is refused
// unless Allow Self-Poll.
func TestSelfPoll(t *testing.T) {
	f := startFake(t, &fakePOP{Msgs: []string{msg(1)}})
	opts := testOpts()
	opts.Self = func() []net.Addr { return []net.Addr{f.ln.Addr()} }
	res, _ := pollOnce(t, f, &Record{}, t.TempDir(), &memSink{}, opts)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "this server") || f.Conns() != 0 {
		t.Fatalf("self-poll: %v, %d connections; want refused before connecting", res.Err, f.Conns())
	}
	opts.AllowSelfPoll = true
	if res, _ := pollOnce(t, f, &Record{}, t.TempDir(), &memSink{}, opts); res.Err != nil {
		t.Fatalf("self-poll allowed: %v", res.Err)
	}
}

// TestRecoverPending: an intent logged before a crash is honoured: a
// message already stored is not stored again, one not stored is.
func TestRecoverPending(t *testing.T) {
	f := startFake(t, &fakePOP{Msgs: []string{msg(1), msg(2)}})
	dir := t.TempDir()
	sink := &memSink{}
	// First poll with a sink that fails after storing: the messages are
	// stored but the remote keeps them (no QUIT).
	res, _ := pollOnce(t, f, &Record{ID: "r"}, dir, &failAfter{Sink: sink}, testOpts())
	if res.Err == nil || f.Deleted() != 0 {
		t.Fatalf("first poll: %v, %d deleted", res.Err, f.Deleted())
	}
	if len(sink.messages("ALICE")) != 2 {
		t.Fatalf("stored %d", len(sink.messages("ALICE")))
	}
	res, _ = pollOnce(t, f, &Record{ID: "r"}, dir, sink, testOpts())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := len(sink.messages("ALICE")); n != 2 || f.Deleted() != 2 {
		t.Fatalf("after recovery: %d stored, %d deleted; want 2, 2", n, f.Deleted())
	}
}

// failAfter stores, then reports a failure (as a crash after the append
// would leave things).
type failAfter struct{ Sink }

func (f *failAfter) Deliver(ctx context.Context, ds []*Delivery) error {
	if err := f.Sink.Deliver(ctx, ds); err != nil {
		return err
	}
	return errors.New("simulated crash after the append")
}

// TestLeaveForgetsVanished: with Leave, a UIDL that vanished from the
// remote is forgotten (its "seen" entry dropped from the state), so a
// server that later reuses it for a new message has that message
// fetched; UIDLs still there stay seen and are not fetched again.
func TestLeaveForgetsVanished(t *testing.T) {
	f := startFake(t, &fakePOP{Msgs: []string{msg(1), msg(2)}, UIDLs: []string{"a", "b"}})
	dir := t.TempDir()
	sink := &memSink{}
	poll := func(want int) {
		t.Helper()
		before := len(sink.messages("ALICE"))
		if res, _ := pollOnce(t, f, &Record{ID: "r", Leave: true}, dir, sink, testOpts()); res.Err != nil {
			t.Fatal(res.Err)
		}
		if got := len(sink.messages("ALICE")) - before; got != want {
			t.Fatalf("poll stored %d messages; want %d", got, want)
		}
	}
	seen := func() []string {
		t.Helper()
		st, err := readState(stateLog(dir, "r"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range []string{"a", "b", "c"} {
			if st.Seen[u] {
				out = append(out, u)
			}
		}
		return out
	}
	poll(2)
	if got := seen(); len(got) != 2 {
		t.Fatalf("seen %v after the first poll; want [a b]", got)
	}
	poll(0) // both still there: nothing fetched again
	f.setMsgs([]string{msg(2)}, []string{"b"})
	poll(0)
	if got := seen(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("seen %v after a vanished; want [b]", got)
	}
	// The server reuses "a" for a new message: it is fetched.
	f.setMsgs([]string{msg(2), msg(3)}, []string{"b", "a"})
	poll(1)
	if got := sink.messages("ALICE"); !strings.Contains(got[len(got)-1], "body 3") {
		t.Errorf("last stored %q; want message 3", got[len(got)-1])
	}
	if f.Deleted() != 0 {
		t.Errorf("Leave deleted %d messages", f.Deleted())
	}
}

// TestPollerUserLimits: the poller applies Minimum Poll Period and Maximum
// Accounts per User to user-set records (even ones written to the records
// file by hand, past the checks of add and modify), and not to the
// administrator's records.
func TestPollerUserLimits(t *testing.T) {
	srv := startFake(t, &fakePOP{})
	dir := t.TempDir()
	file := &File{Path: filepath.Join(dir, "rpop")}
	fast := Duration(30 * time.Millisecond)
	err := file.Update(func([]Record) ([]Record, error) {
		return []Record{
			{ID: "admin", User: "ALICE", Host: srv.Addr(), Account: "admin", Period: fast},
			{ID: "u1", User: "BOB", Host: srv.Addr(), Account: "u1", Period: fast, UserSet: true},
			{ID: "u2", User: "BOB", Host: srv.Addr(), Account: "u2", Period: fast, UserSet: true},
			{ID: "u3", User: "BOB", Host: srv.Addr(), Account: "u3", Period: fast, UserSet: true},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	log, _ := logtest.NewNullLogger()
	p := &Poller{File: file, Sink: &memSink{}, Logger: log, Processes: 2, Options: Options{Timeout: time.Second},
		MinUserPeriod: time.Hour, MaxUserAccounts: 2, Tick: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	logins := func(account string) int {
		n := 0
		for _, c := range srv.Cmds() {
			if c == "USER "+account {
				n++
			}
		}
		return n
	}
	waitFor(t, "the administrator's record to be polled 5 times", func() bool { return logins("admin") >= 5 })
	waitFor(t, "the user-set records to be polled", func() bool { return logins("u1") >= 1 && logins("u2") >= 1 })
	n := logins("admin")
	waitFor(t, "5 more polls of the administrator's record", func() bool { return logins("admin") >= n+5 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a, b := logins("u1"), logins("u2"); a != 1 || b != 1 {
		t.Errorf("user-set records polled %d and %d times; want once each (their period raised to the 1 h minimum)", a, b)
	}
	if c := logins("u3"); c != 0 {
		t.Errorf("BOB's third user-set record polled %d times; want 0 (Maximum Accounts per User 2)", c)
	}
}
