package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTLSResumesSessions: vmspop serve (the certificate of CERT/KEY
// through its reloader) lets a client that keeps its session cache resume
// on the next connection, over implicit TLS and over STLS: a reconnecting
// client costs no certificate signature.
func TestTLSResumesSessions(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := lgCert(t, t.TempDir())
	tlsAddr := freePort(t)
	s := lgServer(t, "TCPIP$POP_TLS_LISTEN="+tlsAddr, "TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(8)}

	session := func(stls bool) bool {
		t.Helper()
		if stls {
			return tlsLoginSession(t, s.Addr, true, cfg)
		}
		return tlsLoginSession(t, tlsAddr, false, cfg)
	}
	if session(false) {
		t.Fatal("the first connection resumed a session")
	}
	if !session(false) {
		t.Error("a second implicit-TLS connection did not resume the session")
	}
	if !session(true) {
		t.Error("an STLS connection did not resume the session")
	}
	if !session(true) {
		t.Error("a second STLS connection did not resume the session")
	}
}

// tlsLoginSession runs greeting, login as smith, STAT and QUIT against
// addr, over implicit TLS or after STLS, and reports whether the handshake
// resumed a session.
func tlsLoginSession(t *testing.T, addr string, stls bool, cfg *tls.Config) bool {
	t.Helper()
	var nc net.Conn
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if nc, err = net.DialTimeout("tcp", addr, 5*time.Second); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	if stls {
		r := bufio.NewReader(nc)
		tlsDialog(t, r, nc, "", "+OK POP server ready")
		tlsDialog(t, r, nc, "STLS\r\n", "+OK")
		if r.Buffered() > 0 {
			t.Fatalf("%d octets after the reply to STLS", r.Buffered())
		}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake (STLS %v): %v", stls, err)
	}
	r := bufio.NewReader(tc)
	if !stls {
		tlsDialog(t, r, tc, "", "+OK POP server ready")
	}
	tlsDialog(t, r, tc, "USER smith\r\nPASS demo\r\nSTAT\r\nQUIT\r\n", "+OK", "+OK", "+OK 6 ", "+OK")
	return tc.ConnectionState().DidResume
}

// tlsDialog sends cmds ("" for none) and reads one line per prefix in
// want, each of which must start with it.
func tlsDialog(t *testing.T, r *bufio.Reader, w io.Writer, cmds string, want ...string) {
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
