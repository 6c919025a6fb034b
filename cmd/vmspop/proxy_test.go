package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// dialFrom connects to addr from the local address src (any 127/8 address
// works on Linux loopback).
func dialFrom(t testing.TB, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// waitLog polls the server log until it holds want.
func waitLog(t testing.TB, path, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log has no %q:\n%s", want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// popLogin reads the greeting on c, logs in as SMITH and QUITs; it returns
// the first error reply or read error.
func popLogin(c net.Conn) error {
	r := bufio.NewReader(c)
	for _, cmd := range []string{"", "USER SMITH", "PASS demo", "QUIT"} {
		if cmd != "" {
			fmt.Fprintf(c, "%s\r\n", cmd)
		}
		l, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(l, "+OK") {
			return fmt.Errorf("%s: %s", cmd, l)
		}
	}
	return nil
}

// TestProxyProtocol: with TCPIP$POP_PROXY_TRUSTED=127.0.0.1, a connection
// from 127.0.0.1 must start with a PROXY header (v1 or v2), whose source
// address the server logs; without one it is refused. A connection from
// another address (127.0.0.2) is served at once as it is, and refused if
// it sends a PROXY header.
func TestProxyProtocol(t *testing.T) {
	s := startServerAt(t, "127.0.0.1:0", "TCPIP$POP_PROXY_TRUSTED=127.0.0.1")
	for _, v := range []byte{1, 2} {
		src := fmt.Sprintf("203.0.113.%d", v)
		c := dialFrom(t, "127.0.0.1", s.Addr)
		h := proxyproto.HeaderProxyFromAddrs(v, &net.TCPAddr{IP: net.ParseIP(src), Port: 4242}, c.RemoteAddr())
		if _, err := h.WriteTo(c); err != nil {
			t.Fatal(err)
		}
		if err := popLogin(c); err != nil {
			t.Fatalf("PROXY v%d: %v", v, err)
		}
		waitLog(t, s.Log, src+":4242")
	}
	// Trusted, no header: refused.
	c := dialFrom(t, "127.0.0.1", s.Addr)
	fmt.Fprintf(c, "USER SMITH\r\n")
	if l, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Errorf("trusted peer without a PROXY header got %q, want the connection closed", l)
	}
	// Untrusted: served at once, its own address logged.
	c = dialFrom(t, "127.0.0.2", s.Addr)
	if err := popLogin(c); err != nil {
		t.Fatalf("untrusted client without header: %v", err)
	}
	waitLog(t, s.Log, "127.0.0.2:")
	// Untrusted with a header: refused after the greeting.
	c = dialFrom(t, "127.0.0.2", s.Addr)
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q %v", l, err)
	}
	h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP("198.51.100.66"), Port: 1}, c.RemoteAddr())
	h.WriteTo(c)
	fmt.Fprintf(c, "USER SMITH\r\n")
	if l, err := r.ReadString('\n'); err == nil {
		t.Errorf("untrusted peer's PROXY header answered %q, want the connection closed", l)
	}
	if b, _ := os.ReadFile(s.Log); strings.Contains(string(b), "198.51.100.66") {
		t.Error("an untrusted peer's PROXY address reached the log")
	}
}

// startServerAt is startServer with the POP listener on addr's host (a
// free port is picked when addr ends in :0).
func startServerAt(t testing.TB, addr string, env ...string) *e2eServer {
	t.Helper()
	dir := t.TempDir()
	host, _, _ := net.SplitHostPort(addr)
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().String()
	l.Close()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: port}
	writeFixtureSpool(t, s.Spool)
	writeUAF(t, s.UAF, defaultAccounts)
	s.start(t, env...)
	return s
}

// startHAProxy runs a private HAProxy in dir balancing 127.0.0.1:listen
// over the servers with send-proxy-v2; it is stopped when the test ends.
func startHAProxy(t testing.TB, dir, listen string, servers ...string) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is not installed (CI installs it in .ci/run)")
		}
		t.Skip("haproxy is not installed")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 2000
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch
frontend pop
    bind %s
    default_backend pop
backend pop
    balance leastconn
`, listen)
	for i, s := range servers {
		fmt.Fprintf(&b, "    server pop%d %s send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1\n", i+1, s)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not start: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHAProxySendProxyV2: behind a real HAProxy (send-proxy-v2), the server
// logs the client's address (127.0.0.3 here), not HAProxy's.
func TestHAProxySendProxyV2(t *testing.T) {
	s := startServerAt(t, "127.0.0.1:0", "TCPIP$POP_PROXY_TRUSTED=127.0.0.1/32")
	front := freePort(t)
	startHAProxy(t, t.TempDir(), front, s.Addr)
	c := dialFrom(t, "127.0.0.3", front)
	if err := popLogin(c); err != nil {
		t.Fatal(err)
	}
	waitLog(t, s.Log, "127.0.0.3:"+fmt.Sprint(c.LocalAddr().(*net.TCPAddr).Port))
}
