package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmspop/vmspop/gateway"
)

// tlsClock is a settable clock for tls.Config.Time on both ends.
type tlsClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tlsClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *tlsClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// startTLSServer serves implicit TLS on one listener and plain POP (STLS)
// on another, with srvCfg; it returns both addresses.
func startTLSServer(t *testing.T, srvCfg *tls.Config) (tlsAddr, plainAddr string) {
	t.Helper()
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) { s.TLSConfig = srvCfg })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	go env.srv.ServeTLS(l) // closed by the server's cleanup
	return l.Addr().String(), env.addr
}

// tlsSession runs one implicit-TLS session (greeting, login, STAT, QUIT)
// and reports whether its handshake resumed a session.
func tlsSession(t *testing.T, addr string, cfg *tls.Config) bool {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("net.Dial() = %v", err)
	}
	defer nc.Close()
	tc := tls.Client(nc, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	r := bufio.NewReader(tc)
	popDialog(t, r, tc, "", "+OK POP server ready") // the first read takes the session ticket
	popDialog(t, r, tc, "USER alice\r\nPASS wonderland\r\nSTAT\r\nQUIT\r\n", "+OK", "+OK maildrop has", "+OK 3 ", "+OK")
	return tc.ConnectionState().DidResume
}

// stlsSession is tlsSession over STLS on the plain port.
func stlsSession(t *testing.T, addr string, cfg *tls.Config) bool {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("net.Dial() = %v", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	popDialog(t, r, nc, "", "+OK POP server ready")
	popDialog(t, r, nc, "STLS\r\n", "+OK Begin TLS negotiation")
	if r.Buffered() > 0 {
		t.Fatalf("%d octets after the reply to STLS", r.Buffered())
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake after STLS: %v", err)
	}
	popDialog(t, bufio.NewReader(tc), tc, "USER alice\r\nPASS wonderland\r\nSTAT\r\nQUIT\r\n", "+OK", "+OK maildrop has", "+OK 3 ", "+OK")
	return tc.ConnectionState().DidResume
}

// popDialog sends cmds (CRLF lines, "" for none) and reads one line per
// prefix in want, each of which must start with it.
func popDialog(t *testing.T, r *bufio.Reader, w io.Writer, cmds string, want ...string) {
	t.Helper()
	if cmds != "" {
		if _, err := io.WriteString(w, cmds); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	for _, p := range want {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read (want %q): %v", p, err)
		}
		if !strings.HasPrefix(l, p) {
			t.Fatalf("got %q, want prefix %q", l, p)
		}
	}
}

// A client that keeps its session cache resumes its TLS session on the
// next connection (TLS 1.3 session tickets), over implicit TLS and over
// STLS alike, and with a ticket of either kind of connection: a polling
// client reconnecting every few minutes pays for no certificate signature.
func TestTLSResumption(t *testing.T) {
	srvCfg, clientCfg := testTLSConfig(t)
	tlsAddr, plainAddr := startTLSServer(t, srvCfg)
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)

	if tlsSession(t, tlsAddr, clientCfg) {
		t.Fatal("first connection resumed a session")
	}
	if !tlsSession(t, tlsAddr, clientCfg) {
		t.Error("second implicit-TLS connection did not resume the session")
	}
	if !stlsSession(t, plainAddr, clientCfg) {
		t.Error("STLS connection after an implicit-TLS one did not resume the session")
	}
	if !stlsSession(t, plainAddr, clientCfg) {
		t.Error("second STLS connection did not resume the session")
	}

	// A client without a cache gets full handshakes, every time.
	_, fresh := testTLSConfig(t)
	fresh.RootCAs = clientCfg.RootCAs
	if tlsSession(t, tlsAddr, fresh) || stlsSession(t, plainAddr, fresh) {
		t.Error("a client without a session cache resumed a session")
	}
}

// The ticket keys rotate (crypto/tls rotates them every 24 hours and
// accepts tickets under the previous keys for 7 days, as long as the
// server's tls.Config sets no fixed key): a client whose ticket was sealed
// under the previous key still resumes after a rotation, and a session of
// a day later is sealed under the new key.
func TestTLSTicketKeyRotation(t *testing.T) {
	clock := &tlsClock{t: time.Now()}
	srvCfg, clientCfg := testTLSConfig(t)
	srvCfg.Time, clientCfg.Time = clock.now, clock.now // within the certificate's 30 days
	tlsAddr, plainAddr := startTLSServer(t, srvCfg)
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)

	if tlsSession(t, tlsAddr, clientCfg) {
		t.Fatal("first connection resumed a session")
	}
	clock.advance(25 * time.Hour) // past one rotation; the ticket is 25 hours old
	if !tlsSession(t, tlsAddr, clientCfg) {
		t.Error("no resumption after a ticket key rotation with a ticket under the previous key")
	}
	clock.advance(25 * time.Hour) // another rotation; this ticket came under the last key
	if !stlsSession(t, plainAddr, clientCfg) {
		t.Error("no resumption over STLS after a second rotation")
	}
	// Tickets live 7 days at most: a client back after 8 days starts afresh.
	clock.advance(8 * 24 * time.Hour)
	if tlsSession(t, tlsAddr, clientCfg) {
		t.Error("a ticket older than 7 days resumed a session")
	}
	if !tlsSession(t, tlsAddr, clientCfg) {
		t.Error("no resumption with the ticket of the session that started afresh")
	}
}

// countListener counts the Write calls on the connections it accepts.
type countListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countConn{c, l.writes}, nil
}

type countConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// A large RETR over TLS arrives intact, and its TLS records leave
// gathered: a few writes per 128 KiB flush of the send writer, not one
// per 16 KiB record (tlswrite.go).
func TestTLSLargeRetrGathersRecords(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "line %d of a large message over TLS\r\n", i)
		if i%100 == 0 {
			b.WriteString(".a line that starts with a dot\r\n")
		}
	}
	msg := b.String()
	writes := new(atomic.Int64)
	var clientCfg *tls.Config
	env := startServerOn(t, func(l net.Listener) net.Listener { return countListener{l, writes} },
		func(s *gateway.Server, be *fakeBackend) {
			s.TLSConfig, clientCfg = testTLSConfig(t)
			be.boxes["BIG"] = []string{msg}
		})
	nc, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatalf("net.Dial() = %v", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(nc)
	popDialog(t, r, nc, "", "+OK POP server ready")
	popDialog(t, r, nc, "STLS\r\n", "+OK Begin TLS negotiation")
	tc := tls.Client(nc, clientCfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	r = bufio.NewReader(tc)
	popDialog(t, r, tc, "USER big\r\nPASS bigpw\r\n", "+OK", "+OK maildrop has 1 ")
	before := writes.Load()
	popDialog(t, r, tc, "RETR 1\r\n", fmt.Sprintf("+OK %d octets", len(msg)))
	var got strings.Builder
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the message: %v", err)
		}
		if l == ".\r\n" {
			break
		}
		got.WriteString(strings.TrimPrefix(l, "."))
	}
	n := writes.Load() - before
	if got.String() != msg {
		t.Errorf("RETR over TLS delivered %d octets that differ from the %d of the message", got.Len(), len(msg))
	}
	// 1 MiB is 64 records, 8 flushes of the 128 KiB send writer.
	if n > 16 {
		t.Errorf("RETR of 1 MiB over TLS took %d writes, want at most 16 (records gathered per flush)", n)
	}
	t.Logf("RETR of 1 MiB over TLS: %d writes", n)
	popDialog(t, r, tc, "QUIT\r\n", "+OK")
}
