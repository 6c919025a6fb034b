package main

// End-to-end session tests against the real binary: golden transcripts
// (testdata/transcripts/e2e), the trace log and `vmspop trace`, shutdown,
// and crash survival of UPDATE.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/internal/poptest"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

// sessAccounts are the accounts of the transcript server: the default ones
// and one of each kind that may not log in (password "demo", APOP secret
// "apop-demo").
var sessAccounts = append(append([]e2eAccount(nil), defaultAccounts...),
	e2eAccount{Name: "BROWN", Password: "demo", Secret: "apop-demo", Flags: uaf.DisUser},
	e2eAccount{Name: "GREEN", Password: "demo", Secret: "apop-demo", Flags: uaf.DisMail},
	e2eAccount{Name: "WHITE", Password: "demo", Secret: "apop-demo", Expires: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)},
	e2eAccount{Name: "BLACK", Password: "demo"}, // no APOP secret
)

// sessNewServer prepares (without starting) a server with the fixture
// spool, the given accounts and the DECnet node table of startServer.
func sessNewServer(t testing.TB, accounts []e2eAccount) (*e2eServer, []string) {
	t.Helper()
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log")}
	writeFixtureSpool(t, s.Spool)
	writeUAF(t, s.UAF, accounts)
	nodes := filepath.Join(dir, "nodes")
	if err := os.WriteFile(nodes, []byte("! DECnet node table\nVAXA   vaxa.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, []string{"TCPIP$POP_DECNET_NODES=" + nodes}
}

// sessStep is one S:, C: or X: line of a transcript.
type sessStep struct {
	kind byte
	text string
	line int
}

// sessTranscript is a parsed testdata/transcripts/e2e file.
type sessTranscript struct {
	env   []string
	after map[string]int // folder -> message count after the session
	hold  []string       // user, password of a second session held open
	steps []sessStep
}

func sessParseTranscript(t *testing.T, file string) *sessTranscript {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tr := &sessTranscript{}
	for n, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		n++
		switch {
		case strings.TrimSpace(l) == "":
		case strings.HasPrefix(l, "# env: "):
			tr.env = append(tr.env, strings.Fields(strings.TrimPrefix(l, "# env: "))...)
		case strings.HasPrefix(l, "# after: "):
			tr.after = map[string]int{}
			for _, kv := range strings.Fields(strings.TrimPrefix(l, "# after: ")) {
				k, v, _ := strings.Cut(kv, "=")
				c, err := strconv.Atoi(v)
				if err != nil || (k != spool.NewMail && k != spool.Mail && k != spool.Wastebasket) {
					t.Fatalf("%s:%d: bad after %q", file, n, kv)
				}
				tr.after[k] = c
			}
		case strings.HasPrefix(l, "# hold: "):
			tr.hold = strings.Fields(strings.TrimPrefix(l, "# hold: "))
			if len(tr.hold) != 2 {
				t.Fatalf("%s:%d: hold wants USER PASSWORD", file, n)
			}
		case strings.HasPrefix(l, "#"):
		case len(l) >= 3 && strings.ContainsRune("SCX", rune(l[0])) && l[1:3] == ": ":
			tr.steps = append(tr.steps, sessStep{l[0], l[3:], n})
		case l == "S:" || l == "C:":
			tr.steps = append(tr.steps, sessStep{l[0], "", n})
		default:
			t.Fatalf("%s:%d: bad line %q", file, n, l)
		}
	}
	return tr
}

// sessMatch compares a server line with an expected one: '*' matches any
// run of characters (path.Match), nothing else is special.
func sessMatch(want, got string) bool {
	if !strings.Contains(want, "*") {
		return want == got
	}
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `?`, `\?`)
	ok, err := path.Match(r.Replace(want), got)
	return err == nil && ok
}

// sessAPOP is the APOP digest of timestamp and secret (RFC 1939 §7).
func sessAPOP(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

var (
	sessTemplateRE  = regexp.MustCompile(`\{(apop|b64)[ :]([^}]*)\}`)
	sessTimestampRE = regexp.MustCompile(`<[^<>]*>$`)
)

// sessExpand replaces {apop SECRET} (the digest over the greeting's
// timestamp) and {b64 TEXT} (base64 of TEXT, "\0" for NUL) in a C: line.
func sessExpand(s, timestamp string) string {
	return sessTemplateRE.ReplaceAllStringFunc(s, func(m string) string {
		p := sessTemplateRE.FindStringSubmatch(m)
		if p[1] == "apop" {
			return sessAPOP(timestamp, p[2])
		}
		return base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(p[2], `\0`, "\x00")))
	})
}

// sessConn is the shared POP3 test client (poptest.Client) as the
// transcript tests use it: lines must end in CRLF, errors are returned.
type sessConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func sessDial(t testing.TB, addr string) *sessConn {
	t.Helper()
	c := poptest.DialNoGreeting(t, addr) // deadline: poptest.Timeout
	return &sessConn{t: t, conn: c.Conn, r: c.R}
}

func (c *sessConn) c() *poptest.Client { return &poptest.Client{T: c.t, Conn: c.conn, R: c.r} }

// line reads one line without its CRLF.
func (c *sessConn) line() (string, error) { return c.c().ReadLine() }

func (c *sessConn) send(lines ...string) { c.t.Helper(); c.c().Send(lines...) }

// expectClosed waits for the server to close the connection.
func (c *sessConn) expectClosed() error { return c.c().ExpectClosed() }

// TestSessionTranscripts replays testdata/transcripts/e2e/*.txt against the
// real binary with the fixture spool (see the README there).
func TestSessionTranscripts(t *testing.T) {
	files, err := filepath.Glob("../../testdata/transcripts/e2e/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	vmspopBinary(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			tr := sessParseTranscript(t, file)
			s, env := sessNewServer(t, sessAccounts)
			s.start(t, append(env, tr.env...)...)
			if tr.hold != nil {
				h := dialPOP(t, s.Addr)
				h.login(tr.hold[0], tr.hold[1])
				defer h.conn.Close()
			}
			sessRun(t, s, tr)
			if tr.after != nil {
				sessCheckAfter(t, s, tr.after)
			}
		})
	}
}

// sessRun plays a transcript's steps; consecutive C: lines go in one write.
func sessRun(t *testing.T, s *e2eServer, tr *sessTranscript) {
	c := sessDial(t, s.Addr)
	var timestamp string
	var pending []string
	flush := func() {
		if len(pending) > 0 {
			c.send(pending...)
			pending = nil
		}
	}
	for _, st := range tr.steps {
		switch st.kind {
		case 'C':
			pending = append(pending, sessExpand(st.text, timestamp))
		case 'S':
			flush()
			got, err := c.line()
			if err != nil {
				t.Fatalf("line %d: read: %v (want %q)\n%s", st.line, err, st.text, s.stderr)
			}
			if !sessMatch(st.text, got) {
				t.Fatalf("line %d:\n got  %q\n want %q", st.line, got, st.text)
			}
			if timestamp == "" && strings.HasPrefix(got, "+OK ") {
				timestamp = sessTimestampRE.FindString(got)
			}
		case 'X':
			flush()
			if st.text != "close" {
				t.Fatalf("line %d: unknown action %q", st.line, st.text)
			}
			if err := c.expectClosed(); err != nil {
				t.Fatalf("line %d: %v", st.line, err)
			}
		}
	}
	flush()
}

// sessCheckAfter checks SMITH's folder counts, waiting a little for the
// server to finish the UPDATE.
func sessCheckAfter(t *testing.T, s *e2eServer, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := map[string]int{}
		for f := range want {
			got[f] = len(folderSubjects(t, s.Spool, "SMITH", f))
		}
		ok := true
		for f, n := range want {
			ok = ok && got[f] == n
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("folders after the session: %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sessRecorder is a client that records the transcript as it saw it, in
// the form `vmspop trace` prints it: passwords and digests as the server
// redacts them, RETR data as its summary line.
type sessRecorder struct {
	*sessConn
	lines []string
}

func sessRecord(t testing.TB, addr string) *sessRecorder {
	t.Helper()
	r := &sessRecorder{sessConn: sessDial(t, addr)}
	if l := r.read(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q", l)
	}
	return r
}

// read reads and records one server line.
func (r *sessRecorder) read() string {
	r.t.Helper()
	l, err := r.line()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	r.lines = append(r.lines, "S: "+l)
	return l
}

// cmd sends a command, records it as the server logs it (logged), and
// returns the first reply line.
func (r *sessRecorder) cmd(line, logged string) string {
	r.t.Helper()
	r.send(line)
	if logged == "" {
		logged = line
	}
	r.lines = append(r.lines, "C: "+logged)
	return r.read()
}

// multi records a multi-line reply.
func (r *sessRecorder) multi() {
	r.t.Helper()
	for r.read() != "." {
	}
}

// retr sends RETR n and records the data as the trace summarises it.
func (r *sessRecorder) retr(n int) { r.data(fmt.Sprintf("RETR %d", n)) }

// top sends TOP n lines and records the data as the trace summarises it.
func (r *sessRecorder) top(n, lines int) { r.data(fmt.Sprintf("TOP %d %d", n, lines)) }

// data sends RETR or TOP and records the reply.
func (r *sessRecorder) data(cmd string) {
	r.t.Helper()
	if l := r.cmd(cmd, ""); !strings.HasPrefix(l, "+OK") {
		r.t.Fatalf("%s: %s", cmd, l)
	}
	size := 0
	for {
		l, err := r.line()
		if err != nil {
			r.t.Fatal(err)
		}
		if l == "." {
			break
		}
		size += len(strings.TrimPrefix(l, ".")) + 2
	}
	r.lines = append(r.lines, fmt.Sprintf("S: [%s: %s octets]", cmd, sessThousands(size)))
}

// sessThousands formats n with commas every three digits.
func sessThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

var sessIDRE = regexp.MustCompile(`session(?:=|":")"?([0-9a-f]{12})`)

// sessID finds the session id of the connection from local address addr in
// the log, waiting until its `session end` is written.
func sessID(t testing.TB, logFile, addr string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(logFile)
		var id string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, `"`+addr+`"`) || strings.Contains(l, "remote="+addr+" ") {
				if m := sessIDRE.FindStringSubmatch(l); m != nil {
					id = m[1]
					break
				}
			}
		}
		if id != "" {
			for _, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, id) && strings.Contains(l, "session end") {
					return id
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ended session from %s in %s:\n%s", addr, logFile, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sessTrace runs `vmspop trace args...` and returns its output.
func sessTrace(t testing.TB, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(vmspopBinary(t), append([]string{"trace"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := exitCode(t, cmd)
	if errb.Len() > 0 {
		t.Logf("vmspop trace stderr: %s", errb.String())
	}
	return out.String(), code
}

// sessCompareTrace checks that `vmspop trace --session` prints exactly the
// transcript the client recorded.
func sessCompareTrace(t *testing.T, r *sessRecorder, logFiles ...string) string {
	t.Helper()
	id := sessID(t, logFiles[0], r.conn.LocalAddr().String())
	out, code := sessTrace(t, append([]string{"--session", id}, logFiles...)...)
	if code != 0 {
		t.Fatalf("vmspop trace --session %s: exit %d\n%s", id, code, out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# session "+id) {
		t.Fatalf("trace output does not start with the session header:\n%s", out)
	}
	got := lines[1:]
	for i := 0; i < len(got) || i < len(r.lines); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(r.lines) {
			w = r.lines[i]
		}
		if g != w {
			t.Fatalf("trace line %d:\n got  %q\n want %q\nwhole trace:\n%s", i+2, g, w, out)
		}
	}
	return id
}

// sessScript runs a typical session: login, STAT, LIST, UIDL, TOP, two
// RETRs (one with dot-stuffed lines), DELE, QUIT.
func sessScript(t *testing.T, addr string) *sessRecorder {
	r := sessRecord(t, addr)
	r.cmd("CAPA", "")
	r.multi()
	r.cmd("USER smith", "")
	if l := r.cmd("PASS demo", "PASS ***"); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("PASS: %s", l)
	}
	r.cmd("STAT", "")
	r.cmd("LIST", "")
	r.multi()
	r.cmd("UIDL 2", "")
	r.top(1, 1)
	r.retr(1)
	r.retr(5)
	r.cmd("DELE 3", "")
	r.cmd("NOOP", "")
	r.cmd("QUIT", "")
	return r
}

func TestSessionTrace(t *testing.T) {
	for _, format := range []string{"TEXT", "JSON"} {
		t.Run(format, func(t *testing.T) {
			s := startServer(t, "TCPIP$POP_LOG_FORMAT="+format)
			r := sessScript(t, s.Addr)
			sessCompareTrace(t, r, s.Log)
			data, _ := os.ReadFile(s.Log)
			if first := strings.SplitN(string(data), "\n", 2)[0]; (format == "JSON") != strings.HasPrefix(first, "{") {
				t.Errorf("%s log starts %q", format, first)
			}
		})
	}
}

func TestSessionTraceFailed(t *testing.T) {
	s := startServer(t)
	good := sessRecord(t, s.Addr)
	good.cmd("USER smith", "")
	good.cmd("PASS demo", "PASS ***")
	good.cmd("QUIT", "")
	bad := sessRecord(t, s.Addr)
	bad.cmd("USER jones", "")
	if l := bad.cmd("PASS wrong", "PASS ***"); !strings.HasPrefix(l, "-ERR [AUTH]") {
		t.Fatalf("bad password: %s", l)
	}
	bad.cmd("QUIT", "")
	goodID := sessID(t, s.Log, good.conn.LocalAddr().String())
	badID := sessCompareTrace(t, bad, s.Log)
	out, code := sessTrace(t, "--failed", s.Log)
	if code != 0 || !strings.Contains(out, "# session "+badID) || strings.Contains(out, goodID) {
		t.Fatalf("trace --failed (exit %d) should list %s and not %s:\n%s", code, badID, goodID, out)
	}
	out, _ = sessTrace(t, "--failed", "--summary", s.Log)
	if !strings.Contains(out, badID) || strings.Contains(out, goodID) {
		t.Errorf("trace --failed --summary:\n%s", out)
	}
}

func TestSessionTraceNoSecrets(t *testing.T) {
	const pass, secret, wrong = "Xyzzy-Plugh-42", "Apop-S3cret-77", "Wr0ng-Guess-13"
	s, env := sessNewServer(t, []e2eAccount{{Name: "SMITH", Password: pass, Secret: secret}})
	s.start(t, env...)
	var forbidden []string
	// USER/PASS, with a wrong password first.
	r := sessRecord(t, s.Addr)
	r.cmd("USER smith", "")
	r.cmd("PASS "+wrong, "PASS ***")
	r.cmd("USER smith", "")
	if l := r.cmd("PASS "+pass, "PASS ***"); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("PASS: %s", l)
	}
	r.cmd("QUIT", "")
	sessCompareTrace(t, r, s.Log)
	// APOP.
	a := sessDial(t, s.Addr)
	greet, _ := a.line()
	digest := sessAPOP(sessTimestampRE.FindString(greet), secret)
	forbidden = append(forbidden, digest)
	a.send("APOP smith " + digest)
	if l, _ := a.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("APOP: %s", l)
	}
	a.send("QUIT")
	a.line()
	// AUTH PLAIN with an initial response, and with a continuation.
	plain := base64.StdEncoding.EncodeToString([]byte("\x00smith\x00" + pass))
	plainAuthz := base64.StdEncoding.EncodeToString([]byte("smith\x00smith\x00" + pass))
	forbidden = append(forbidden, plain, plainAuthz)
	for _, cmds := range [][]string{{"AUTH PLAIN " + plain}, {"AUTH PLAIN", plainAuthz}} {
		c := sessDial(t, s.Addr)
		c.line()
		for _, cmd := range cmds {
			c.send(cmd)
			l, _ := c.line()
			if strings.HasPrefix(l, "-ERR") {
				t.Fatalf("%s: %s", cmd, l)
			}
		}
		c.send("QUIT")
		c.line()
	}
	s.stop()
	data, err := os.ReadFile(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "msg=login "); n != 4 {
		t.Errorf("log shows %d logins, want 4:\n%s", n, data)
	}
	for _, f := range append(forbidden, pass, secret, wrong) {
		if strings.Contains(string(data), f) {
			t.Errorf("the log contains the secret %q", f)
		}
	}
}

func TestSessionLogRotation(t *testing.T) {
	s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	before := sessScript(t, s.Addr)
	beforeID := sessID(t, s.Log, before.conn.LocalAddr().String())
	rotated := s.Log + ".1"
	if err := os.Rename(s.Log, rotated); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(s.Log); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new log file after SIGHUP:\n%s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := sessScript(t, s.Addr)
	afterID := sessCompareTrace(t, after, s.Log)
	old, _ := os.ReadFile(rotated)
	cur, _ := os.ReadFile(s.Log)
	if !bytes.Contains(old, []byte(beforeID)) || bytes.Contains(old, []byte(afterID)) {
		t.Errorf("rotated log: has %s %v, has %s %v (want true, false)", beforeID, bytes.Contains(old, []byte(beforeID)), afterID, bytes.Contains(old, []byte(afterID)))
	}
	if bytes.Contains(cur, []byte(beforeID)) {
		t.Errorf("new log has lines of the session before rotation")
	}
	// The rotated set read together still gives both sessions.
	out, code := sessTrace(t, "--summary", s.Log, rotated)
	if code != 0 || !strings.Contains(out, beforeID) || !strings.Contains(out, afterID) {
		t.Errorf("trace of the rotated set (exit %d):\n%s", code, out)
	}
}

// sessWaitExit waits for the server process to exit.
func sessWaitExit(t *testing.T, s *e2eServer, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { <-s.exited; done <- nil }()
	select {
	case <-done:
	case <-time.After(d):
		s.cmd.Process.Kill()
		<-done
		t.Fatalf("server did not exit within %v:\n%s", d, s.stderr)
	}
}

// sessWaitRefused waits until addr refuses connections.
func sessWaitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sessStartArgs is e2eServer.start with arguments for `vmspop serve`.
func sessStartArgs(t testing.TB, s *e2eServer, args []string, env ...string) {
	t.Helper()
	s.Args = args
	s.start(t, env...)
}

// TestSessionShutdown: SIGTERM while sessions have DELEs pending. A session
// that the client closes during the grace period, and one that the server
// closes when the grace period (serve --grace 1s) is over, both end
// without UPDATE: nothing is deleted.
func TestSessionShutdown(t *testing.T) {
	s, env := sessNewServer(t, defaultAccounts)
	sessStartArgs(t, s, []string{"--grace", "1s"}, env...)
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	q := dialPOP(t, s.Addr)
	q.login("jones", "demo")
	for _, n := range []int{1, 2} {
		if r := p.cmd("DELE %d", n); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("DELE %d: %s", n, r)
		}
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sessWaitRefused(t, s.Addr)
	// The open session is still served during the grace period...
	if r := p.cmd("STAT"); r != "+OK 4 1136" {
		t.Errorf("STAT during shutdown = %q", r)
	}
	// ...until the server closes it, with no reply.
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := p.r.ReadString('\n'); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("session not closed at the end of the grace period: %q, %v", l, err)
	}
	q.conn.Close()
	sessWaitExit(t, s, 10*time.Second)
	if got := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); len(got) != len(fixtureMessages) {
		t.Errorf("NEWMAIL after shutdown = %q, want all %d messages", got, len(fixtureMessages))
	}
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); len(got) != 0 {
		t.Errorf("WASTEBASKET after shutdown = %q, want empty", got)
	}
	log, _ := os.ReadFile(s.Log)
	for _, want := range []string{"shutting down", `end="server shutdown"`, "grace period over", "server stopped"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "session end") && strings.Contains(l, "user=SMITH") && !strings.Contains(l, "deleted=0 ") {
			t.Errorf("SMITH's session deleted messages: %s", l)
		}
	}
}

func TestSessionAppendSurvivesUpdate(t *testing.T) {
	s := startServer(t)
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	late := spool.NewMessage{Envelope: "x@example.org", Date: time.Now(), Text: strings.NewReader("From:\tVAXA::JONES  7-MAY-2026 12:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tLate arrival\n\nHello.\n")}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := spool.New(s.Spool).Append(ctx, "SMITH", spool.NewMail, []spool.NewMessage{late}); err != nil {
		t.Fatalf("Append during a session: %v", err)
	}
	if r := p.cmd("STAT"); r != "+OK 6 1779" {
		t.Errorf("STAT after the append = %q (the session sees its snapshot)", r)
	}
	for i := range fixtureMessages {
		p.cmd("DELE %d", i+1)
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	sessCheckAfter(t, s, map[string]int{spool.NewMail: 1, spool.Wastebasket: len(fixtureMessages)})
	if got := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); got[0] != "Late arrival" {
		t.Errorf("NEWMAIL = %q, want the late message", got)
	}
	// The next session sees it.
	q := dialPOP(t, s.Addr)
	q.login("smith", "demo")
	if r := q.cmd("STAT"); !strings.HasPrefix(r, "+OK 1 ") {
		t.Errorf("next session STAT = %q", r)
	}
}

// TestSessionKillDuringUpdate kills the server (SIGKILL) at instants spread
// over the UPDATE of a 5,000-message NEWMAIL; no message may be lost or
// duplicated.
func TestSessionKillDuringUpdate(t *testing.T) {
	const total = 5000
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log")}
	writeUAF(t, s.UAF, defaultAccounts)
	msgs := make([]spool.NewMessage, total)
	for i := range msgs {
		msgs[i] = spool.NewMessage{Envelope: "x@example.org", Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Text: strings.NewReader(fmt.Sprintf("From:\tVAXA::JONES  1-JAN-2026 00:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tNo. %04d\n\nBody of message %d.\n", i+1, i+1))}
	}
	if err := spool.New(s.Spool).Append(context.Background(), "SMITH", spool.NewMail, msgs); err != nil {
		t.Fatal(err)
	}
	s.start(t)

	// session runs one session that DELEs every 10th message and RETRs
	// another 10th, sends QUIT, and then either waits for the reply
	// (kill < 0; it returns the UPDATE time) or kills the server after
	// kill. It also returns the numbers of DELEs and RETRs.
	session := func(kill time.Duration) (update time.Duration, ndel, nretr int) {
		p := dialPOP(t, s.Addr)
		p.login("smith", "demo")
		var n int
		if _, err := fmt.Sscanf(p.cmd("STAT"), "+OK %d", &n); err != nil {
			t.Fatal(err)
		}
		var cmds []string
		for i := 1; i <= n; i++ {
			switch i % 10 {
			case 1:
				cmds = append(cmds, fmt.Sprintf("DELE %d", i))
				ndel++
			case 6:
				cmds = append(cmds, fmt.Sprintf("RETR %d", i))
				nretr++
			}
		}
		werr := make(chan error, 1)
		go func() {
			_, err := io.WriteString(p.conn, strings.Join(cmds, "\r\n")+"\r\n")
			werr <- err
		}()
		for _, c := range cmds {
			if l := p.line(); !strings.HasPrefix(l, "+OK") {
				t.Fatalf("%s: %s", c, l)
			}
			if strings.HasPrefix(c, "RETR") {
				p.multi()
			}
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(p.conn, "QUIT\r\n")
		start := time.Now()
		if kill < 0 {
			if l := p.line(); !strings.HasPrefix(l, "+OK") {
				t.Fatalf("QUIT: %s", l)
			}
			return time.Since(start), ndel, nretr
		}
		time.Sleep(kill)
		s.cmd.Process.Kill()
		<-s.exited
		return 0, ndel, nretr
	}
	// count checks that every message is in exactly one folder and returns
	// the folder sizes.
	count := func(when string) map[string]int {
		t.Helper()
		seen := map[string]int{}
		sizes := map[string]int{}
		for _, f := range []string{spool.NewMail, spool.Mail, spool.Wastebasket} {
			subjects := folderSubjects(t, s.Spool, "SMITH", f)
			sizes[f] = len(subjects)
			for _, subj := range subjects {
				seen[subj]++
			}
		}
		for i := 1; i <= total; i++ {
			subj := fmt.Sprintf("No. %04d", i)
			if seen[subj] != 1 {
				t.Fatalf("%s: message %q is in %d folders", when, subj, seen[subj])
			}
			delete(seen, subj)
		}
		if len(seen) != 0 {
			t.Fatalf("%s: unexpected messages %v", when, seen)
		}
		return sizes
	}
	update, _, _ := session(-1)
	before := count("after a complete UPDATE")
	t.Logf("UPDATE of %d messages took %v", total, update)
	const runs = 8
	interrupted, applied := 0, 0
	for k := 0; k < runs; k++ {
		kill := update * time.Duration(k) / (runs - 1)
		_, ndel, nretr := session(kill)
		if _, err := os.Stat(filepath.Join(s.Spool, "SMITH", ".journal")); err == nil {
			interrupted++
		}
		when := fmt.Sprintf("after SIGKILL %v after QUIT", kill)
		after := count(when)
		// UPDATE is atomic: all of it happened, or none.
		dw, dm := after[spool.Wastebasket]-before[spool.Wastebasket], after[spool.Mail]-before[spool.Mail]
		switch {
		case dw == 0 && dm == 0:
		case dw == ndel && dm == nretr:
			applied++
		default:
			t.Fatalf("%s: UPDATE half done: %d of %d deletions, %d of %d moves", when, dw, ndel, dm, nretr)
		}
		before = after
		s.start(t)
	}
	t.Logf("%d kills: %d found an update journal, %d after the update had been applied", runs, interrupted, applied)
}

// TestServeCPUProfile: serve --cpuprofile writes a profile that go tool
// pprof reads when the server stops on SIGTERM (the speed work uses it).
func TestServeCPUProfile(t *testing.T) {
	s, env := sessNewServer(t, defaultAccounts)
	prof := filepath.Join(s.Dir, "cpu.pprof")
	sessStartArgs(t, s, []string{"--cpuprofile", prof}, env...)
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	p.cmd("QUIT")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sessWaitExit(t, s, 10*time.Second)
	out, err := exec.Command("go", "tool", "pprof", "-top", prof).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Type: cpu")) {
		t.Fatalf("go tool pprof -top %s: %v\n%s", prof, err, out)
	}
}
