//go:build bench

package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/vmspop/vmspop/gateway"
)

// TestTLSSessionMemory is TestSessionMemory over implicit TLS: the memory
// of an idle logged-in session, client side included, against the same
// sessions in clear. A waiting session holds no output buffer
// (idlewriter.go); TLS adds its record buffers and ciphers, on both ends.
func TestTLSSessionMemory(t *testing.T) {
	srvCfg, clientCfg := testTLSConfig(t)
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	env := startServer(t, func(s *gateway.Server, be *fakeBackend) {
		s.Logger.SetOutput(io.Discard)
		s.Logger.SetLevel(0)
		s.Logger.ReplaceHooks(nil)
		for i := 0; i < 500; i++ {
			be.boxes[fmt.Sprintf("U%d", i)] = aliceMessages
		}
		s.Auth = multiAuth{newFakeAuth()}
		s.TLSConfig = srvCfg
		s.AuthTLSOnly = []string{}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	go env.srv.ServeTLS(l)
	const n = 200
	open := func(i int, tlsOn bool) net.Conn {
		addr := env.addr
		if tlsOn {
			addr = l.Addr().String()
		}
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("net.Dial() = %v", err)
		}
		if tlsOn {
			nc = tls.Client(nc, clientCfg)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReaderSize(nc, 512)
		popDialog(t, r, nc, "", "+OK POP server ready")
		popDialog(t, r, nc, fmt.Sprintf("USER U%d\r\nPASS pw\r\nSTAT\r\n", i), "+OK", "+OK maildrop has", "+OK 3 160")
		return nc
	}
	perSession := func(tlsOn bool, base int) int64 {
		open(base+n, tlsOn).Close() // one-off allocations (and the TLS ticket) are not counted
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, n)
		for i := range conns {
			conns[i] = open(base+i, tlsOn)
		}
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		for _, c := range conns {
			c.Close()
		}
		// The sessions' memory is free before the next measurement starts.
		for deadline := time.Now().Add(10 * time.Second); len(env.srv.Sessions()) > 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions still open 10 s after their clients left", len(env.srv.Sessions()))
			}
		}
		return (int64(after.HeapAlloc+after.StackInuse) - int64(before.HeapAlloc+before.StackInuse)) / n
	}
	plain := perSession(false, 0)
	overTLS := perSession(true, 201)
	t.Logf("about %d octets per idle logged-in session in clear, %d over TLS (client side included)", plain, overTLS)
	if overTLS > 40*1024 {
		t.Errorf("%d octets per TLS session, want at most 40 KiB (client side included)", overTLS)
	}
}
