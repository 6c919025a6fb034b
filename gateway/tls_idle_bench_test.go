//go:build bench

package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/gateway"
)

// idleClientEnv makes the test binary an idle client (TestTLSIdleClient):
// "ADDR N HOW" opens N logged-in sessions to ADDR (HOW "0": implicit
// TLS, "1": STLS, "plain": in clear), prints "ready", and holds them until its standard
// input closes.
const idleClientEnv = "GATEWAY_TEST_IDLE_CLIENT"

// TestTLSIdleClient is the client process of TestTLSIdleServerMemory; it
// does nothing unless run as that.
func TestTLSIdleClient(t *testing.T) {
	arg := os.Getenv(idleClientEnv)
	if arg == "" {
		t.Skip("the client process of TestTLSIdleServerMemory")
	}
	f := strings.Fields(arg)
	n, _ := strconv.Atoi(f[1])
	cfg := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	conns := make([]net.Conn, 0, n)
	for i := range n {
		nc, err := net.Dial("tcp", f[0])
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(60 * time.Second))
		var r *bufio.Reader
		switch f[2] {
		case "1":
			r = bufio.NewReaderSize(nc, 512)
			popDialog(t, r, nc, "", "+OK POP server ready")
			popDialog(t, r, nc, "STLS\r\n", "+OK")
			nc = tls.Client(nc, cfg)
			r = bufio.NewReaderSize(nc, 512)
		case "0":
			nc = tls.Client(nc, cfg)
			r = bufio.NewReaderSize(nc, 512)
			popDialog(t, r, nc, "", "+OK POP server ready")
		default:
			r = bufio.NewReaderSize(nc, 512)
			popDialog(t, r, nc, "", "+OK POP server ready")
		}
		popDialog(t, r, nc, fmt.Sprintf("USER U%d\r\nPASS pw\r\nSTAT\r\n", i), "+OK", "+OK maildrop has", "+OK 3 160")
		nc.SetDeadline(time.Time{})
		conns = append(conns, nc)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// TestTLSIdleServerMemory measures what an idle logged-in session holds on
// the server alone (the clients are another process): live heap and
// goroutine stacks per session, over implicit TLS, STLS and in clear,
// with the stacks as they are (the real server between two GCs) and after
// a GC (which shrinks them; none runs while the sessions start).
// GATEWAY_IDLE_HEAPPROFILE=FILE writes a heap
// profile of every allocation held by the implicit-TLS sessions.
func TestTLSIdleServerMemory(t *testing.T) {
	srvCfg, _ := testTLSConfig(t)
	env := startServer(t, func(s *gateway.Server, be *fakeBackend) {
		s.Logger.SetOutput(io.Discard)
		s.Logger.SetLevel(0)
		s.Logger.ReplaceHooks(nil)
		for i := 0; i < 2000; i++ {
			be.boxes[fmt.Sprintf("U%d", i)] = aliceMessages
		}
		s.Auth = multiAuth{newFakeAuth()}
		s.TLSConfig = srvCfg
		s.AuthTLSOnly = []string{}
		s.IdleTimeout = time.Hour
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	go env.srv.ServeTLS(l)
	const n = 500
	type memory struct{ heap, stack, stackGC int64 }
	measure := func(addr, stls string, n int, profile string) memory {
		var m0, m1, m2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		if profile != "" {
			runtime.MemProfileRate = 1
			defer func() { runtime.MemProfileRate = 512 * 1024 }()
		}
		// No GC while the sessions start: the stacks are measured as the
		// handshakes left them, before a GC would shrink them.
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		cmd := exec.Command(os.Args[0], "-test.run=^TestTLSIdleClient$", "-test.count=1")
		cmd.Env = append(os.Environ(), idleClientEnv+"="+addr+" "+strconv.Itoa(n)+" "+stls)
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && sc.Text() != "ready" {
		}
		// Every session has answered STAT; wait until each is back in its
		// read (nothing left to do) before measuring.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if len(env.srv.Sessions()) >= n || time.Now().After(deadline) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
		runtime.ReadMemStats(&m1) // stacks as the handshakes left them
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m2)
		if profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				t.Fatal(err)
			}
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		in.Close()
		cmd.Wait()
		for deadline := time.Now().Add(30 * time.Second); len(env.srv.Sessions()) > 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions still open 30 s after their clients left", len(env.srv.Sessions()))
			}
		}
		if got := len(env.srv.Sessions()); got != 0 {
			t.Fatalf("%d sessions left", got)
		}
		return memory{
			heap:    (int64(m2.HeapAlloc) - int64(m0.HeapAlloc)) / int64(n),
			stack:   (int64(m1.StackInuse) - int64(m0.StackInuse)) / int64(n),
			stackGC: (int64(m2.StackInuse) - int64(m0.StackInuse)) / int64(n),
		}
	}
	measure(l.Addr().String(), "0", 10, "") // one-off allocations (the ticket keys) are not counted
	for _, c := range []struct{ name, addr, stls, profile string }{
		{"in clear", env.addr, "-", ""},
		{"implicit TLS", l.Addr().String(), "0", os.Getenv("GATEWAY_IDLE_HEAPPROFILE")},
		{"STLS", env.addr, "1", ""},
	} {
		if c.stls == "-" {
			// a plain client: STLS never sent
			c.stls = "plain"
		}
		m := measure(c.addr, c.stls, n, c.profile)
		t.Logf("%-12s per idle session: heap %5d B, stack %5d B (%5d B after GC), total %5d B (%d B after GC)",
			c.name, m.heap, m.stack, m.stackGC, m.heap+m.stack, m.heap+m.stackGC)
		// A handshake on the session's own stack left it at 16 KiB until a
		// GC; the 1 KiB reader parked while idle (idlereader.go) and
		// crypto/tls's own 7 KiB make the heap.
		if m.stack > 10*1024 || m.heap > 12*1024 {
			t.Errorf("%s: %d B of stack, %d B of heap per idle session; want at most 10 KiB and 12 KiB", c.name, m.stack, m.heap)
		}
	}
}
