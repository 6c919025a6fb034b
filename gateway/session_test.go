package gateway_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/internal/poptest"
)

// rawSession sends each command and collects every reply octet up to the
// server's close; the greeting's timestamp is cut out.
func rawSession(t *testing.T, addr string, cmds ...string) string {
	t.Helper()
	c := dial(t, addr)
	var b strings.Builder
	b.WriteString(timestampRE.ReplaceAllString(c.line(), "<>") + "\n")
	for _, cmd := range cmds {
		c.send(cmd)
		l, err := readOrEOF(c)
		if err != nil {
			b.WriteString("[closed]\n")
			return b.String()
		}
		b.WriteString(l + "\n")
	}
	if _, err := readOrEOF(c); err == nil {
		t.Fatalf("connection still open after %q", cmds)
	}
	b.WriteString("[closed]\n")
	return b.String()
}

func readOrEOF(c *client) (string, error) {
	c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c.ReadLine()
}

// TestSecureIdentical: in SECURE mode an unknown user and a wrong password
// give byte-identical answers apart from the echoed name, and take at
// least FailureDelay.
func TestSecureIdentical(t *testing.T) {
	const delay = 50 * time.Millisecond
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.Security = gateway.Secure
		s.FailureDelay = delay
	})
	start := time.Now()
	unknown := rawSession(t, env.addr, "USER jonesx", "PASS wrongpw", "USER jonesx", "PASS wrongpw")
	if el := time.Since(start); el < 2*delay {
		t.Errorf("two failures took %v, want at least %v", el, 2*delay)
	}
	wrong := rawSession(t, env.addr, "USER alice", "PASS wrongpw", "USER alice", "PASS wrongpw")
	if got := strings.ReplaceAll(unknown, "jonesx", "alice"); got != wrong {
		t.Errorf("unknown user transcript\n%s\ndiffers from wrong password transcript\n%s", got, wrong)
	}
	if !strings.Contains(wrong, `-ERR [AUTH] access to user account "alice" denied`) {
		t.Errorf("transcript lacks the SECURE denial:\n%s", wrong)
	}
	// The log still has the FRIENDLY reasons.
	var reasons []string
	for _, e := range env.entries("login failed") {
		reasons = append(reasons, fmt.Sprint(e.Data["reason"]))
	}
	joined := strings.Join(reasons, "|")
	if !strings.Contains(joined, `user "jonesx" is unknown`) || !strings.Contains(joined, `password supplied for "alice" is incorrect`) {
		t.Errorf("login failed reasons = %q, want the FRIENDLY causes", joined)
	}
}

// TestPipelining: 1,000 commands in one write get 1,000 answers in order.
func TestPipelining(t *testing.T) {
	env := startServer(t)
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	const n = 1000
	cmds := make([]string, 0, n)
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0:
			cmds = append(cmds, "STAT")
		case 1:
			cmds = append(cmds, fmt.Sprintf("LIST %d", i%3+1))
		case 2:
			cmds = append(cmds, "NOOP")
		case 3:
			cmds = append(cmds, fmt.Sprintf("UIDL %d", i%3+1))
		}
	}
	go c.send(cmds...)
	sizes := []int{68, 67, 25}
	for i := 0; i < n; i++ {
		var want string
		switch i % 4 {
		case 0:
			want = "+OK 3 160"
		case 1:
			want = fmt.Sprintf("+OK %d %d", i%3+1, sizes[i%3])
		case 2:
			want = "+OK"
		case 3:
			want = fmt.Sprintf("+OK %d ALICE.%d", i%3+1, i%3+1)
		}
		if got := c.line(); got != want {
			t.Fatalf("answer %d = %q, want %q", i, got, want)
		}
	}
}

// TestSTLSInjection: plaintext pipelined after STLS is discarded, never
// run as a command (CVE-2011-0411).
func TestSTLSInjection(t *testing.T) {
	var clientCfg *tls.Config
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) { s.TLSConfig, clientCfg = testTLSConfig(t) })
	c := dial(t, env.addr)
	c.expect("+OK POP server ready")
	c.send("STLS", "USER alice", "PASS wonderland", "CAPA")
	c.expect("+OK Begin TLS negotiation")
	c.startTLS(clientCfg)
	c.send("STAT")
	if got := c.line(); got != "-ERR command not valid in this state" {
		t.Fatalf("after STLS got %q: injected commands were run", got)
	}
	c.send("QUIT")
	c.expect("+OK vmspop signing off")
	if len(env.entries("discarded plaintext pipelined after STLS")) != 1 {
		t.Errorf("discard not logged")
	}
}

// TestServeTLS: implicit TLS (RFC 8314) gives the greeting over TLS and
// CAPA does not offer STLS.
func TestServeTLS(t *testing.T) {
	srvCfg, clientCfg := testTLSConfig(t)
	env := &testEnv{}
	logger, hook := newLogger()
	env.log = hook
	srv := &gateway.Server{Hostname: "host.example", Backend: newFakeBackend(), Auth: newFakeAuth(),
		Classify: classify, Logger: logger, TLSConfig: srvCfg}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(l) }()
	defer func() {
		srv.Close()
		if err := <-errc; !errors.Is(err, gateway.ErrServerClosed) {
			t.Errorf("ServeTLS() = %v, want ErrServerClosed", err)
		}
	}()
	tc, err := tls.Dial("tcp", l.Addr().String(), clientCfg)
	if err != nil {
		t.Fatalf("tls.Dial() = %v", err)
	}
	defer tc.Close()
	c := &client{poptest.NewClient(t, tc)}
	c.expect("+OK POP server ready vmspop V0.1 [host.example, 127.0.0.1] <")
	c.send("CAPA")
	c.expect("+OK")
	for l := c.line(); l != "."; l = c.line() {
		if l == "STLS" {
			t.Errorf("CAPA offers STLS under implicit TLS")
		}
	}
	c.send("STLS")
	c.expect("-ERR TLS is already active")
	c.login2("alice", "wonderland")
	c.send("QUIT")
	c.expect("+OK vmspop signing off (3 messages left)")
}

// login2 logs in after the greeting has been read.
func (c *client) login2(user, pass string) {
	c.T.Helper()
	c.send("USER "+user, "PASS "+pass)
	c.expect("+OK")
	c.expect("+OK maildrop has")
}

func newLogger() (*logrus.Logger, *hookAlias) {
	l, h := newNullLogger()
	l.SetLevel(logrus.DebugLevel)
	return l, h
}

// TestDroppedSessionNoCommit: a client that goes away after DELE and RETR
// never gets a Commit; the maildrop is closed and "client gone" logged.
func TestDroppedSessionNoCommit(t *testing.T) {
	env := startServer(t)
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	c.send("DELE 1", "RETR 2")
	c.expect("+OK message 1 deleted")
	c.expect("+OK 67 octets")
	c.Conn.Close()
	env.shutdown(t)
	if got := env.be.committed(); len(got) != 0 {
		t.Errorf("Commit called: %+v", got)
	}
	if env.be.closes != 1 {
		t.Errorf("Maildrop.Close called %d times, want 1", env.be.closes)
	}
	assertEnd(t, env, "client gone")
}

// assertEnd checks that exactly one session ended, with reason end.
func assertEnd(t *testing.T, env *testEnv, end string) *logrus.Entry {
	t.Helper()
	ends := env.entries("session end")
	if len(ends) != 1 {
		t.Fatalf("%d session end entries, want 1", len(ends))
	}
	if got := ends[0].Data["end"]; got != end {
		t.Errorf("session end: end = %v, want %q", got, end)
	}
	return ends[0]
}

// TestShutdown: Shutdown with a logged-in session that has deleted
// messages waits, then closes it without Commit, logged "server shutdown";
// a second Shutdown returns ErrServerClosed.
func TestShutdown(t *testing.T) {
	env := startServer(t)
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	c.send("DELE 1", "DELE 2")
	c.expect("+OK message 1 deleted")
	c.expect("+OK message 2 deleted")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := env.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown() = %v, want DeadlineExceeded", err)
	}
	if err := <-env.errc; !errors.Is(err, gateway.ErrServerClosed) {
		t.Errorf("Serve() = %v, want ErrServerClosed", err)
	}
	env.errc <- nil
	c.expectClosed()
	if got := env.be.committed(); len(got) != 0 {
		t.Errorf("Commit called: %+v", got)
	}
	assertEnd(t, env, "server shutdown")
	if err := env.srv.Shutdown(context.Background()); !errors.Is(err, gateway.ErrServerClosed) {
		t.Errorf("second Shutdown() = %v, want ErrServerClosed", err)
	}
	if err := env.srv.Serve(nil); !errors.Is(err, gateway.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if err := env.srv.ListenAndServe(); !errors.Is(err, gateway.ErrServerClosed) {
		t.Errorf("ListenAndServe after Shutdown = %v, want ErrServerClosed", err)
	}
}

// TestShutdownWaits: Shutdown lets a session finish with QUIT and Commit.
func TestShutdownWaits(t *testing.T) {
	env := startServer(t)
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	done := make(chan error, 1)
	go func() { done <- env.srv.Shutdown(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	c.send("DELE 3", "QUIT")
	c.expect("+OK message 3 deleted")
	c.expect("+OK vmspop signing off (2 messages left)")
	if err := <-done; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
	if got := env.be.committed(); len(got) != 1 || len(got[0].u.Deleted) != 1 || got[0].u.Deleted[0] != 2 {
		t.Errorf("commits = %+v, want one deleting index 2", got)
	}
	// New connections are refused.
	if nc, err := net.DialTimeout("tcp", env.addr, time.Second); err == nil {
		nc.SetReadDeadline(time.Now().Add(time.Second))
		if n, _ := nc.Read(make([]byte, 10)); n > 0 {
			t.Errorf("server still greets after Shutdown")
		}
		nc.Close()
	}
}

// TestBlockedClient: a client that never reads while a big message is
// sent is disconnected after the back-off schedule and logged.
func TestBlockedClient(t *testing.T) {
	big := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678\r\n", 1<<17) // 9.5 MB
	env := startServer(t, func(s *gateway.Server, be *fakeBackend) {
		s.BlockedRetry = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
		s.SndBuf = 4096
		be.boxes["BIG"] = []string{"Subject: big\r\n\r\n" + big}
	})
	c := dial(t, env.addr)
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	c.login("big", "bigpw")
	start := time.Now()
	c.send("RETR 1", "DELE 1", "QUIT")
	deadline := time.Now().Add(10 * time.Second)
	for len(env.entries("session end")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("blocked client not disconnected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if el := time.Since(start); el < 70*time.Millisecond {
		t.Errorf("disconnected after %v, before the schedule ran out", el)
	}
	assertEnd(t, env, "blocked client")
	if len(env.entries("client blocked, closing connection")) != 1 {
		t.Errorf("no error entry for the blocked client")
	}
	if got := env.be.committed(); len(got) != 0 {
		t.Errorf("Commit called: %+v", got)
	}
}

// TestIdleTimeout: an idle session is closed without a reply or Commit.
// The timeout must leave the login time to finish on a loaded machine
// (at 50 ms the full suite failed at a load average of 35: the session
// was closed between USER and PASS).
func TestIdleTimeout(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) { s.IdleTimeout = time.Second })
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	c.send("DELE 1")
	c.expect("+OK message 1 deleted")
	c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Conn.Read(make([]byte, 100))
	if n != 0 || err == nil {
		t.Errorf("idle close: read %d octets, %v; want EOF and nothing", n, err)
	}
	env.shutdown(t)
	if got := env.be.committed(); len(got) != 0 {
		t.Errorf("Commit called: %+v", got)
	}
	assertEnd(t, env, "idle timeout")
}

// TestLogging: trace lines at Info with Trace set, redaction, the RETR
// summary, and the session fields.
func TestLogging(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.Trace = true
		s.Logger.SetLevel(logrus.InfoLevel)
	})
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	c.send("RETR 1", "TOP 2 1", "LIST", "QUIT")
	for l := c.line(); l != "+OK vmspop signing off (2 messages left)"; l = c.line() {
	}
	env.shutdown(t)
	var trace []string
	session := ""
	for _, e := range env.log.AllEntries() {
		id, _ := e.Data["session"].(string)
		if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(id) {
			t.Errorf("entry %q: session = %q", e.Message, id)
		}
		if session == "" {
			session = id
		} else if id != session {
			t.Errorf("entry %q: session changed to %q", e.Message, id)
		}
		if r, _ := e.Data["remote"].(string); !strings.HasPrefix(r, "127.0.0.1:") {
			t.Errorf("entry %q: remote = %q", e.Message, r)
		}
		if strings.HasPrefix(e.Message, "C: ") || strings.HasPrefix(e.Message, "S: ") {
			if e.Level != logrus.InfoLevel {
				t.Errorf("trace %q at %v, want info", e.Message, e.Level)
			}
			trace = append(trace, e.Message)
		}
	}
	want := []string{
		"S: +OK POP server ready *",
		"C: USER alice", `S: +OK password required for "alice"`,
		"C: PASS ***", "S: +OK maildrop has 3 messages (160 octets)",
		"C: RETR 1", "S: +OK 68 octets", "S: [RETR 1: 68 octets]",
		"C: TOP 2 1", "S: +OK top of message follows", "S: [TOP 2 1: 51 octets]",
		"C: LIST", "S: +OK 3 messages (160 octets)", "S: 1 68", "S: 2 67", "S: 3 25", "S: .",
		"C: QUIT", "S: +OK vmspop signing off (2 messages left)",
	}
	if len(trace) != len(want) {
		t.Fatalf("trace =\n%s\nwant\n%s", strings.Join(trace, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !match(want[i], trace[i]) {
			t.Errorf("trace[%d] = %q, want %q", i, trace[i], want[i])
		}
	}
	if l := env.entries("login"); len(l) != 1 || l[0].Data["method"] != "USER" || l[0].Data["user"] != "ALICE" {
		t.Errorf("login entries = %v", l)
	}
	end := assertEnd(t, env, "QUIT")
	for k, v := range map[string]any{"user": "ALICE", "listed": int64(3), "retrieved": int64(1), "deleted": 0, "moved": 1, "octets": int64(119)} {
		if end.Data[k] != v {
			t.Errorf("session end %s = %v (%T), want %v", k, end.Data[k], end.Data[k], v)
		}
	}
	if _, ok := end.Data["duration_ms"].(int64); !ok {
		t.Errorf("session end duration_ms = %v", end.Data["duration_ms"])
	}
}

// TestLoggingRedaction: APOP, AUTH and SASL lines are redacted and no
// secret reaches the log, at Debug level with Trace off.
func TestLoggingRedaction(t *testing.T) {
	env := startServer(t)
	c := dial(t, env.addr)
	greet := c.line()
	ts := timestampRE.FindString(greet)
	digest := apopDigest(ts, "alicesecret")
	c.send("APOP alice " + digest)
	c.expect("+OK maildrop")
	c.send("QUIT")
	c.expect("+OK")
	c = dial(t, env.addr)
	c.line()
	plain := expand(t, "{plain::alice:wonderland}", "", "")
	c.send("AUTH PLAIN", plain)
	c.expect("+ ")
	c.expect("+OK maildrop")
	c.send("QUIT")
	c.expect("+OK")
	c = dial(t, env.addr)
	c.line()
	c.send("AUTH PLAIN " + expand(t, "{plain::alice:wrongpw}", "", ""))
	c.expect("-ERR [AUTH]")
	c.send("PASS wonderland")
	c.expect("-ERR")
	c.send("PASS sec\x01ret")
	c.expect("-ERR")
	c.Conn.Close()
	env.shutdown(t)
	var lines []string
	for _, e := range env.log.AllEntries() {
		s, _ := e.String()
		for _, secret := range []string{digest, plain, "wonderland", "wrongpw", "sec\x01ret", "sec\\x01ret"} {
			if strings.Contains(s, secret) {
				t.Errorf("log entry %q contains %q", s, secret)
			}
		}
		if e.Level == logrus.DebugLevel {
			lines = append(lines, e.Message)
		}
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"C: APOP alice ***", "C: AUTH PLAIN\n", "C: ***", "C: AUTH PLAIN ***", "C: PASS ***"} {
		if !strings.Contains(all+"\n", want) {
			t.Errorf("debug trace lacks %q:\n%s", want, all)
		}
	}
}

// panicBackend panics on OpenMaildrop.
type panicBackend struct{}

func (panicBackend) OpenMaildrop(context.Context, string) (gateway.Maildrop, error) {
	panic("backend exploded")
}

// TestPanicRecovered: a panic in a handler gives [SYS/TEMP] internal
// error, closes the connection, logs the stack, and the server goes on.
func TestPanicRecovered(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) { s.Backend = panicBackend{} })
	c := dial(t, env.addr)
	c.expect("+OK")
	c.send("USER alice", "PASS wonderland")
	c.expect("+OK")
	c.expect("-ERR [SYS/TEMP] internal error")
	c.expectClosed()
	c2 := dial(t, env.addr)
	c2.expect("+OK POP server ready")
	c2.Conn.Close()
	env.shutdown(t)
	found := false
	for _, e := range env.log.AllEntries() {
		if e.Level == logrus.ErrorLevel && strings.Contains(e.Message, "backend exploded") && strings.Contains(fmt.Sprint(e.Data["stack"]), "goroutine") {
			found = true
		}
	}
	if !found {
		t.Error("panic not logged with its stack")
	}
}

// failingListener fails Accept with temporary errors, then a permanent one.
type failingListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

type tempErr struct{}

func (tempErr) Error() string   { return "temporary failure" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails++
	if l.fails <= 3 {
		return nil, tempErr{}
	}
	return nil, errors.New("permanent failure")
}

// TestAcceptErrors: temporary accept errors are retried with back-off,
// a permanent one ends Serve.
func TestAcceptErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: l}
	srv := &gateway.Server{Backend: newFakeBackend(), Auth: newFakeAuth()}
	start := time.Now()
	err = srv.Serve(fl)
	if err == nil || err.Error() != "permanent failure" {
		t.Errorf("Serve() = %v, want the permanent failure", err)
	}
	if fl.fails != 4 {
		t.Errorf("Accept called %d times, want 4", fl.fails)
	}
	if el := time.Since(start); el < 35*time.Millisecond {
		t.Errorf("back-off took %v, want at least 5+10+20 ms", el)
	}
}

// TestMaxSessionsLogged: the refused client is logged.
func TestMaxSessionsLogged(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) { s.MaxSessions = 1 })
	c1 := dial(t, env.addr)
	c1.expect("+OK")
	c2 := dial(t, env.addr)
	c2.expect("-ERR [SYS/TEMP] too many sessions, try later")
	c2.expectClosed()
	c1.Conn.Close()
	env.shutdown(t)
	if len(env.entries("too many sessions")) != 1 {
		t.Error("refusal not logged")
	}
	n := 0
	for _, e := range env.entries("session end") {
		if e.Data["end"] == "too many sessions" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d sessions ended with too many sessions, want 1", n)
	}
}

var _ io.Closer = (*gateway.Server)(nil)

// writeCounter counts the server's writes on the connections it accepts.
type writeCounter struct {
	net.Listener
	n *atomic.Int64
}

func (l writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countedConn{c, l.n}, nil
}

type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countedConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// TestOneWritePerResponse: each answer leaves in one write, RETR's +OK
// line, message and final dot included; a pipelined batch of commands,
// RETRs among them, is answered with one write in all.
func TestOneWritePerResponse(t *testing.T) {
	var writes atomic.Int64
	env := startServerOn(t, func(l net.Listener) net.Listener { return writeCounter{l, &writes} })
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	readMulti := func() {
		t.Helper()
		c.expect("+OK")
		for c.line() != "." {
		}
	}
	for _, cmd := range []string{"STAT", "RETR 1", "LIST", "RETR 2", "NOOP"} {
		before := writes.Load()
		c.send(cmd)
		if cmd == "STAT" || cmd == "NOOP" {
			c.expect("+OK")
		} else {
			readMulti()
		}
		if n := writes.Load() - before; n != 1 {
			t.Errorf("%s: answered in %d writes, want 1", cmd, n)
		}
	}
	before := writes.Load()
	c.send("STAT", "LIST", "RETR 1", "UIDL", "RETR 3", "RETR 2", "NOOP")
	c.expect("+OK 3")
	readMulti()
	readMulti()
	readMulti()
	readMulti()
	readMulti()
	c.expect("+OK")
	if n := writes.Load() - before; n != 1 {
		t.Errorf("pipelined batch answered in %d writes, want 1", n)
	}
}
