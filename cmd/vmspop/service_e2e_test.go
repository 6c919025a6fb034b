package main

// serve as a service: systemd socket activation (systemd-socket-activate),
// a restart that refuses no connection, sd_notify, inetd mode (socat and
// systemd-socket-activate --inetd), SIGHUP reload, and the unit files
// (systemd-analyze verify).

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// svcEnv is the environment of a server on the fixture spool of s.
func svcEnv(s *e2eServer, extra ...string) []string {
	// The TCPIP_POP_ spelling: sh drops names with a "$" from the
	// environment it passes on.
	return append([]string{"TCPIP_POP_SPOOL=" + s.Spool, "TCPIP_POP_UAF=" + s.UAF, "TCPIP_POP_HOSTNAME=vms.example",
		"TCPIP_POP_LOG=" + s.Log, "GORACE=atexit_sleep_ms=0", "PATH=" + os.Getenv("PATH")}, extra...)
}

// svcSetEnv turns an environment into systemd-socket-activate -E flags.
func svcSetEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		out = append(out, "-E", kv)
	}
	return out
}

// svcWait runs cmd in the background; it is killed when the test ends.
func svcWait(t *testing.T, cmd *exec.Cmd) *bytes.Buffer {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return &out
}

// TestSocketActivation: systemd-socket-activate binds a plain and a POP3S
// socket (named pop3 and pop3s) and starts serve on the first connection;
// serve uses them instead of binding its own.
func TestSocketActivation(t *testing.T) {
	requireTool(t, "systemd-socket-activate")
	s := lgPrepare(t)
	c := cliWriteCert(t, filepath.Join(s.Dir, "cert.pem"), filepath.Join(s.Dir, "key.pem"), "vmspop sd", 4001)
	plain, secure := freePort(t), freePort(t)
	// TCPIP$POP_LISTEN names a port nobody may use: the passed sockets
	// must be used instead.
	env := svcEnv(s, "TCPIP_POP_LISTEN=192.0.2.1:1", "TCPIP_POP_CERT="+c.CertFile, "TCPIP_POP_KEY="+c.KeyFile, "TCPIP_POP_AUTH_TLS_ONLY=-")
	args := append([]string{"-l", plain, "-l", secure, "--fdname=pop3:pop3s"}, svcSetEnv(env)...)
	out := svcWait(t, exec.Command("systemd-socket-activate", append(args, vmspopBinary(t), "serve")...))

	svcListening(t, plain)
	p := dialPOP(t, plain) // starts the server
	p.login("smith", "demo")
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 6 ") {
		t.Fatalf("STAT on the passed plain socket: %s\n%s", r, out)
	}
	p.cmd("QUIT")
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", secure, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("POP3S on the passed socket: %v\n%s", err, out)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if l, _ := bufio.NewReader(tc).ReadString('\n'); !strings.HasPrefix(l, "+OK") {
		t.Errorf("POP3S greeting %q", l)
	}
	if got := tc.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(c.Serial) != 0 {
		t.Errorf("certificate serial %v, want %v", got, c.Serial)
	}
	log, _ := os.ReadFile(s.Log)
	if !strings.Contains(string(log), "socket activation") {
		t.Errorf("no socket activation in the log:\n%s", log)
	}
}

// svcActivated starts serve on the listening socket f the way systemd
// does (LISTEN_FDS=1, LISTEN_PID the server's own pid, which sh's exec
// keeps), and returns once the process runs.
func svcActivated(t *testing.T, s *e2eServer, f *os.File, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" serve`, vmspopBinary(t))
	cmd.Env = append(svcEnv(s, extra...), "LISTEN_FDS=1", "LISTEN_FDNAMES=pop3")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestRestartRefusesNoConnection: the socket stays open across restarts
// (as vmspop.socket keeps it), so clients that connect while no server
// runs wait in the backlog and are served by the next one: a client loop
// that keeps connecting sees no refusal and no failed session.
func TestRestartRefusesNoConnection(t *testing.T) {
	s := lgPrepare(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // f still holds the socket
	defer f.Close()
	addr := ln.Addr().String()

	load := startSessionLoad(addr, 2)
	for i := range 3 {
		cmd := svcActivated(t, s, f)
		// Let each server serve a few sessions, then restart it.
		want := load.ok.Load() + 5
		deadline := time.Now().Add(60 * time.Second)
		for load.ok.Load() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if load.ok.Load() < want {
			t.Fatalf("server %d served no sessions", i)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	cmd := svcActivated(t, s, f) // serves the clients waiting since the last stop
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	want := load.ok.Load() + 2
	for deadline := time.Now().Add(60 * time.Second); load.ok.Load() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	load.stop()
	load.check(t, "across 3 restarts")
	t.Logf("%d sessions across 3 restarts, none refused", load.ok.Load())
}

// sessionLoad keeps POP sessions (svcSession) going against an address
// from several clients at once until stop, counting those that succeed
// and those that fail: the load across a restart.
type sessionLoad struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	done       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
}

func startSessionLoad(addr string, clients int) *sessionLoad {
	l := &sessionLoad{done: make(chan struct{})}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				if err := svcSession(addr); err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
					time.Sleep(10 * time.Millisecond) // no busy loop once the test has failed
				} else {
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

// stop ends the load and waits for its clients.
func (l *sessionLoad) stop() {
	l.stopOnce.Do(func() { close(l.done) })
	l.wg.Wait()
}

// check fails t if any session failed.
func (l *sessionLoad) check(t *testing.T, when string) {
	t.Helper()
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d of %d sessions failed %s; first: %v", n, n+l.ok.Load(), when, l.firstErr.Load())
	}
}

// svcListening waits until something listens on addr, without
// connecting to it (a connection would start the server): it binds the
// address until that fails.
func svcListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		l.Close()
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// svcSession is a short session: greeting, login, STAT, QUIT.
func svcSession(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	for _, cmd := range []string{"", "USER jones", "PASS demo", "STAT", "QUIT"} {
		if cmd != "" {
			fmt.Fprintf(c, "%s\r\n", cmd)
		}
		l, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%q: %v", cmd, err)
		}
		if !strings.HasPrefix(l, "+OK") {
			return fmt.Errorf("%q: %s", cmd, l)
		}
	}
	return nil
}

// svcNotifySocket listens where serve sends its sd_notify datagrams.
func svcNotifySocket(t *testing.T) (string, func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return path, func() string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
}

// TestNotify: READY=1 once serving, RELOADING=1 then READY=1 around a
// SIGHUP, STOPPING=1 at SIGTERM (Type=notify).
func TestNotify(t *testing.T) {
	s := lgPrepare(t)
	path, next := svcNotifySocket(t)
	s.start(t, lgRace, "NOTIFY_SOCKET="+path)
	if m := next(); !strings.HasPrefix(m, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", m)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	if m := next(); !strings.HasPrefix(m, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("after SIGHUP %q, want RELOADING=1", m)
	}
	if m := next(); !strings.HasPrefix(m, "READY=1") {
		t.Fatalf("after the reload %q, want READY=1", m)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if m := next(); m != "STOPPING=1" {
		t.Fatalf("after SIGTERM %q, want STOPPING=1", m)
	}
}

// svcInetdSession logs in to addr, deletes message 1 and quits; the
// session's UPDATE must have moved it to WASTEBASKET when QUIT is answered.
func svcInetdSession(t *testing.T, s *e2eServer, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { c.Close() })
	p := &popClient{t: t, conn: c, r: bufio.NewReader(c)}
	if l := p.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q", l)
	}
	p.login("smith", "demo")
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 6 ") {
		t.Fatalf("STAT: %s", r)
	}
	p.cmd("DELE 1")
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	if _, err := p.r.ReadString('\n'); err == nil {
		t.Error("the connection stayed open after QUIT")
	}
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); len(got) != 1 {
		t.Errorf("WASTEBASKET after the inetd session = %q", got)
	}
}

// TestInetdSocat: socat accepts and runs `vmspop serve --inetd` per
// connection with the socket as standard input and output.
func TestInetdSocat(t *testing.T) {
	requireTool(t, "socat")
	s := lgPrepare(t)
	addr := freePort(t)
	cmd := exec.Command("socat", "TCP-LISTEN:"+strings.TrimPrefix(addr, "127.0.0.1:")+",bind=127.0.0.1,reuseaddr,fork",
		"EXEC:"+vmspopBinary(t)+" serve --inetd")
	cmd.Env = svcEnv(s)
	svcWait(t, cmd)
	svcListening(t, addr)
	svcInetdSession(t, s, addr)
}

// TestInetdSystemd: systemd-socket-activate --inetd --accept (systemd
// Accept=yes) gives each connection to a new serve, which finds the
// socket on standard input without --inetd.
func TestInetdSystemd(t *testing.T) {
	requireTool(t, "systemd-socket-activate")
	s := lgPrepare(t)
	addr := freePort(t)
	args := append([]string{"--inetd", "--accept", "-l", addr}, svcSetEnv(svcEnv(s))...)
	svcWait(t, exec.Command("systemd-socket-activate", append(args, vmspopBinary(t), "serve")...))
	svcListening(t, addr)
	svcInetdSession(t, s, addr)
	log, _ := os.ReadFile(s.Log)
	if !strings.Contains(string(log), "session end") {
		t.Errorf("the log file lacks the session:\n%s", log)
	}
}

// TestUnitsVerify runs systemd-analyze verify on the unit files, with
// ExecStart pointing at a built binary.
func TestUnitsVerify(t *testing.T) {
	requireTool(t, "systemd-analyze")
	dir := t.TempDir()
	units := []string{"vmspop.service", "vmspop.socket", "vmspop-ticketkeys.service", "vmspop-ticketkeys.timer"}
	for _, name := range units {
		b, err := os.ReadFile(filepath.Join("../../dist/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/usr/local/bin/vmspop", vmspopBinary(t))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"verify", "--man=no"}
	for _, name := range units {
		args = append(args, filepath.Join(dir, name))
	}
	cmd := exec.Command("systemd-analyze", args...)
	out, err := cmd.CombinedOutput()
	if err != nil && (strings.Contains(string(out), "Failed to") && strings.Contains(string(out), "bus")) {
		t.Skipf("systemd-analyze cannot run here: %s", out)
	}
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
