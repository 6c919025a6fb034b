// Package poptest holds what the tests of several packages share: a
// line-level POP3 client, building a command once per test run, and
// running `vmspop serve` on port 0 with its address read from the
// `listening` log line. It is imported by tests only.
package poptest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds every read and write of a Client and every wait here:
// generous, so that a loaded machine does not fail a test.
const Timeout = 30 * time.Second

// Client is a minimal line-level POP3 client for scripted sessions.
type Client struct {
	T    testing.TB
	Conn net.Conn
	R    *bufio.Reader
}

// Dial connects to addr and reads the greeting, which must be "+OK".
// The connection is closed when the test ends.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	c := DialNoGreeting(t, addr)
	if l := c.Line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q", l)
	}
	return c
}

// DialNoGreeting connects to addr and reads nothing.
func DialNoGreeting(t testing.TB, addr string) *Client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("net.Dial(%s) = %v", addr, err)
	}
	nc.SetDeadline(time.Now().Add(Timeout))
	t.Cleanup(func() { nc.Close() })
	return &Client{T: t, Conn: nc, R: bufio.NewReader(nc)}
}

// Send writes lines, each ended by CRLF, in one write.
func (c *Client) Send(lines ...string) {
	c.T.Helper()
	if _, err := c.Conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		c.T.Fatalf("write: %v", err)
	}
}

// ReadLine reads one line and returns it without its CRLF; a line that
// does not end in CRLF is an error.
func (c *Client) ReadLine() (string, error) {
	l, err := c.R.ReadString('\n')
	if err != nil {
		return l, err
	}
	if !strings.HasSuffix(l, "\r\n") {
		return l, fmt.Errorf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n"), nil
}

// Line reads one line, without its CRLF; an error fails the test.
func (c *Client) Line() string {
	c.T.Helper()
	l, err := c.ReadLine()
	if err != nil {
		c.T.Fatalf("read: %v (got %q)", err, l)
	}
	return l
}

// ExpectClosed waits (up to 5 s) for the server to close the connection;
// a reset counts as closed.
func (c *Client) ExpectClosed() error {
	c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.R.ReadString('\n')
	if errors.Is(err, io.EOF) && l == "" {
		return nil
	}
	if err == nil {
		return fmt.Errorf("got %q, want the connection closed", l)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("the connection is still open")
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	return err
}

// Cmd sends a command and returns the first response line.
func (c *Client) Cmd(format string, args ...any) string {
	c.T.Helper()
	c.Send(fmt.Sprintf(format, args...))
	return c.Line()
}

// Expect reads a line and checks its prefix.
func (c *Client) Expect(prefix string) string {
	c.T.Helper()
	l := c.Line()
	if !strings.HasPrefix(l, prefix) {
		c.T.Fatalf("got %q, want prefix %q", l, prefix)
	}
	return l
}

// Multi reads the rest of a multi-line response, dot-unstuffed.
func (c *Client) Multi() []string {
	c.T.Helper()
	var out []string
	for {
		l := c.Line()
		if l == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
}

// Login logs in with USER and PASS; both must succeed.
func (c *Client) Login(user, pass string) {
	c.T.Helper()
	if r := c.Cmd("USER %s", user); !strings.HasPrefix(r, "+OK") {
		c.T.Fatalf("USER: %s", r)
	}
	if r := c.Cmd("PASS %s", pass); !strings.HasPrefix(r, "+OK") {
		c.T.Fatalf("PASS: %s", r)
	}
}

var (
	buildMu sync.Mutex
	built   = map[string]string{} // "pkg flags" -> executable
	dirs    []string
)

// Build builds the command in package directory pkg (e.g.
// "github.com/vmspop/vmspop/cmd/vmspop"), with the race detector, once per
// test binary, and returns the path of the executable.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	return build(t, pkg, "-race")
}

// BuildPlain is Build without the race detector: for a binary whose speed
// or memory a test measures, or that a test runs many times.
func BuildPlain(t testing.TB, pkg string) string {
	t.Helper()
	return build(t, pkg)
}

func build(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := strings.Join(append([]string{pkg}, flags...), " ")
	if p, ok := built[key]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "vmspop-bin")
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, dir)
	// Every account may run it: tests run it as the spool owner, and
	// Postfix's pipe transport as its user= account.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(pkg))
	args := append(append([]string{"build"}, flags...), "-o", p, pkg)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built[key] = p
	return p
}

// RemoveBuilt removes what Build and BuildPlain made. A package whose
// tests build commands calls it from TestMain after m.Run: the binaries
// outlive any one test, so no t.Cleanup can remove them.
func RemoveBuilt() {
	buildMu.Lock()
	defer buildMu.Unlock()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	dirs, built = nil, map[string]string{}
}

// listeningRE matches the server's `listening` log entry (text or JSON
// format) and captures its address and whether it is implicit TLS.
var listeningRE = regexp.MustCompile(`(?:msg=listening|"msg":"listening")`)
var addrRE = regexp.MustCompile(`(?:addr=|"addr":)"?([0-9A-Fa-f.:\[\]]+)`)
var tlsRE = regexp.MustCompile(`(?:tls=|"tls":)(true|false)`)

// Listening waits until the log file at path holds, after its first
// offset octets, the server's `listening` entries and returns the plain
// and (if any) implicit-TLS addresses. wantTLS says whether to wait for
// the TLS one too. done, when it is closed, means the server has exited:
// Listening then fails t with the log.
func Listening(t testing.TB, path string, offset int64, wantTLS bool, done <-chan struct{}) (plain, tls string) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		data, _ := os.ReadFile(path)
		data = data[min(offset, int64(len(data))):]
		plain, tls = "", ""
		for _, line := range bytes.Split(data, []byte("\n")) {
			if !listeningRE.Match(line) {
				continue
			}
			a := addrRE.FindSubmatch(line)
			if a == nil {
				continue
			}
			if m := tlsRE.FindSubmatch(line); m != nil && string(m[1]) == "true" {
				tls = string(a[1])
			} else {
				plain = string(a[1])
			}
		}
		if plain != "" && (tls != "" || !wantTLS) {
			return plain, tls
		}
		select {
		case <-done:
			t.Fatalf("server exited before listening; log:\n%s", data)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not listening after %v; log:\n%s", Timeout, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Server is a running `vmspop serve`.
type Server struct {
	Addr    string // the plain listener's address, from the log
	TLSAddr string // the implicit-TLS listener's address, if any
	Log     string // the log file
	Stderr  *bytes.Buffer
	cmd     *exec.Cmd
	done    chan struct{}
}

// Serve runs `bin serve` with env (TCPIP$POP_* settings; the process's own
// TCPIP$POP_* variables are dropped) listening on 127.0.0.1 port 0, logging
// to logPath, and waits for its `listening` log entries. With tls it also
// listens for implicit TLS on port 0 (TCPIP$POP_CERT and TCPIP$POP_KEY
// must be in env). The server gets SIGTERM when the test ends.
func Serve(t testing.TB, bin, logPath string, tls bool, env ...string) *Server {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TCPIP$POP_") && !strings.HasPrefix(kv, "TCPIP_POP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TCPIP$POP_LISTEN=127.0.0.1:0", "TCPIP$POP_LOG="+logPath,
		"GORACE=atexit_sleep_ms=0") // the race runtime would wait 1 s at every exit
	if tls {
		cmd.Env = append(cmd.Env, "TCPIP$POP_TLS_LISTEN=127.0.0.1:0")
	}
	cmd.Env = append(cmd.Env, env...)
	s := &Server{Log: logPath, Stderr: new(bytes.Buffer), cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = s.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	s.Addr, s.TLSAddr = Listening(t, logPath, 0, tls, s.done)
	return s
}

// Stop sends SIGTERM and waits for the server to exit (SIGKILL after
// Timeout).
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(Timeout):
		s.cmd.Process.Kill()
		<-s.done
	}
}
