package gateway_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/internal/poptest"
)

// waitClosed reads until the server closes c, and returns how long that
// took and the lines read.
func waitClosed(t *testing.T, nc net.Conn, within time.Duration) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	nc.SetReadDeadline(start.Add(within))
	b, err := io.ReadAll(nc)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("connection not closed within %v: %v (read %q)", within, err, b)
	}
	return time.Since(start), string(b)
}

// TestLoginCommandBudget: a CAPA or NOOP loop before login is cut off
// with one reply after MaxLoginCommands commands.
func TestLoginCommandBudget(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) { s.MaxLoginCommands = 5 })
	for _, cmd := range []string{"CAPA", "NOOP"} {
		c := dial(t, env.addr)
		c.expect("+OK POP server ready")
		for i := 0; i < 5; i++ {
			c.send(cmd)
			if cmd == "CAPA" {
				c.expect("+OK")
				for c.line() != "." {
				}
			} else {
				c.expect("-ERR")
			}
		}
		c.send(cmd)
		c.expect("-ERR too many commands before login, closing connection")
		c.expectClosed()
	}
	// The budget is for the AUTHORIZATION state only.
	c := dial(t, env.addr)
	c.login("alice", "wonderland")
	for i := 0; i < 10; i++ {
		c.send("NOOP")
		c.expect("+OK")
	}
	if n := len(env.entries("too many commands before login, closing connection")); n != 2 {
		t.Errorf("%d budget log lines, want 2", n)
	}
}

// TestLoginTimeout: a client that keeps sending CAPA but never logs in is
// closed at the login deadline, well before the idle timeout.
func TestLoginTimeout(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.LoginTimeout = 300 * time.Millisecond
		s.IdleTimeout = time.Minute
		s.MaxLoginCommands = 1000
	})
	c := dial(t, env.addr)
	c.expect("+OK POP server ready")
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for time.Since(start) < 20*time.Second {
			if _, err := c.Conn.Write([]byte("CAPA\r\n")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	d, _ := waitClosed(t, c.Conn, 20*time.Second)
	<-done
	if d > 10*time.Second {
		t.Errorf("closed after %v, want about 300 ms", d)
	}
	env.shutdown(t)
	assertEnd(t, env, "login timeout")
}

// TestSilentTLSLimit: on the implicit-TLS port the session limit is
// checked before the handshake: a connection over it is closed at once,
// silent connections are closed at the handshake timeout, and then new
// clients get in: the limit holds and frees.
func TestSilentTLSLimit(t *testing.T) {
	srvTLS, cliTLS := testTLSConfig(t)
	logger, hook := newNullLogger()
	srv := &gateway.Server{
		Hostname: "host.example", Backend: newFakeBackend(), Auth: newFakeAuth(), Classify: classify,
		Logger: logger, TLSConfig: srvTLS, MaxSessions: 3, TLSHandshakeTimeout: 500 * time.Millisecond,
		IdleTimeout: time.Minute,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(l) }()
	t.Cleanup(func() { srv.Close(); <-errc })
	addr := l.Addr().String()
	var silent []net.Conn
	for i := 0; i < 3; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		silent = append(silent, nc)
	}
	// Wait until the server has all three, then one more is refused.
	deadline := time.Now().Add(10 * time.Second)
	for countMsg(hook.AllEntries(), "session start") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if d, b := waitClosed(t, over, 5*time.Second); d > 400*time.Millisecond || b != "" {
		t.Errorf("over the limit: closed after %v with %q, want at once, before any handshake", d, b)
	}
	for _, nc := range silent {
		if d, _ := waitClosed(t, nc, 10*time.Second); d > 5*time.Second {
			t.Errorf("silent connection closed after %v, want the 500 ms handshake timeout", d)
		}
	}
	// The slots are free again (poll: a session's end is logged after
	// its socket closes).
	for countMsg(hook.AllEntries(), "session end") < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	tc, err := tls.Dial("tcp", addr, cliTLS)
	if err != nil {
		t.Fatalf("after the silent ones: %v", err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if l, err := (&poptest.Client{T: t, Conn: tc, R: bufio.NewReader(tc)}).ReadLine(); err != nil || !strings.HasPrefix(l, "+OK POP server ready") {
		t.Errorf("greeting %q, %v", l, err)
	}
	ends := map[string]int{}
	for _, e := range hook.AllEntries() {
		if e.Message == "session end" {
			ends[e.Data["end"].(string)]++
		}
	}
	if ends["TLS handshake timeout"] != 3 || ends["too many sessions"] != 1 {
		t.Errorf("session ends %v, want 3 TLS handshake timeouts and 1 too many sessions", ends)
	}
}

// countMsg counts entries with message msg.
func countMsg(entries []*logrus.Entry, msg string) int {
	n := 0
	for _, e := range entries {
		if e.Message == msg {
			n++
		}
	}
	return n
}

// TestMaxPerAddress: a client address over its cap is refused at once;
// another address still gets in.
func TestMaxPerAddress(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) { s.MaxPerAddress = 2 })
	for i := 0; i < 2; i++ {
		dialFrom(t, "127.0.0.5", env.addr).expect("+OK POP server ready")
	}
	c := dialFrom(t, "127.0.0.5", env.addr)
	c.expect("-ERR [SYS/TEMP] too many sessions from your address, try later")
	c.expectClosed()
	dialFrom(t, "127.0.0.6", env.addr).expect("+OK POP server ready")
}

// TestSilentSTLS: a client that sends STLS and then no ClientHello is
// closed at the TLS handshake timeout, not the idle timeout.
func TestSilentSTLS(t *testing.T) {
	srvTLS, _ := testTLSConfig(t)
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.TLSConfig = srvTLS
		s.TLSHandshakeTimeout = 300 * time.Millisecond
		s.IdleTimeout = time.Minute
		s.LoginTimeout = time.Minute
	})
	c := dial(t, env.addr)
	c.expect("+OK POP server ready")
	c.send("STLS")
	c.expect("+OK")
	if d, _ := waitClosed(t, c.Conn, 30*time.Second); d > 10*time.Second {
		t.Errorf("silent after STLS: closed after %v, want the 300 ms handshake timeout", d)
	}
	env.shutdown(t)
	assertEnd(t, env, "TLS handshake timeout")
}
