package main

// End-to-end tests: the real vmspop binary, started with TCPIP$POP_*
// variables on 127.0.0.1, driven by real clients (curl, Python's poplib,
// fetchmail, openssl) and by scripted transcripts.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/internal/poptest"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
	"golang.org/x/crypto/bcrypt"
)

// vmspopBinary builds the command (with the race detector) once per test
// run; TestMain removes it.
func vmspopBinary(t testing.TB) string {
	t.Helper()
	return poptest.Build(t, "github.com/vmspop/vmspop/cmd/vmspop")
}

// TestMain removes the commands the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	poptest.RemoveBuilt()
	os.Exit(code)
}

// e2eAccount is a demo account: password "demo", APOP secret "apop-demo"
// unless Secret says otherwise.
type e2eAccount struct {
	Name, Password, Secret string
	Flags                  uaf.Flags
	Expires                time.Time
}

var defaultAccounts = []e2eAccount{
	{Name: "SMITH", Password: "demo", Secret: "apop-demo"},
	{Name: "JONES", Password: "demo", Secret: "apop-demo"},
}

func writeUAF(t testing.TB, path string, accounts []e2eAccount) {
	t.Helper()
	db := uaf.NewDB()
	for _, a := range accounts {
		h, err := bcrypt.GenerateFromPassword([]byte(a.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		acc := &uaf.Account{Name: a.Name, Hash: h, Flags: a.Flags, Expires: a.Expires}
		if a.Secret != "" {
			acc.Secret = []byte(a.Secret)
		}
		db.Put(acc)
	}
	if err := db.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

// fixtureMessages are MAIL-11 messages of each From: form, with awkward
// bodies: they are what the e2e spool holds for SMITH.
var fixtureMessages = []struct {
	text, from string // stored text; From: address a client should see
}{
	{"From:\tVAXA::JONES \"Jim Jones\"  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tLunch on Friday?\n\nShall we meet at noon?\n.\n..\nFrom the office\n>From quoted\n>>From twice\n", "jones@vaxa.example.com"},
	{"From:\tSMTP%\"james.jones@federation.gov\" \"James Jones\"  25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\tFederation news\n\nFrom: James Jones <james.jones@federation.gov>\nTo: smith@vms.example\nSubject: Federation news\n\nNews body.\n", "james.jones@federation.gov"},
	{"From:\tWILSON  3-JAN-2001 08:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tLocal note\n\nNo final newline", "wilson@vms.example"},
	{"From:\tABCDEF::SMTP%\"james.jones@federation.gov\"  4-FEB-2002 09:09:09.09\nTo:\tSMITH\nCC:\t\nSubj:\tForwarded\n\nCluster forwarding.\n", "james.jones@federation.gov"},
	{"From:\tSMTP%\"\xa2ABCMTS::MRGATE::\\\xa2ABCDEF::VIVALDI \\\xa2\xa2@xyz.org\"  5-MAR-2003 10:10:10.10\nTo:\tSMITH\nCC:\t\nSubj:\tCent signs \xa2\n\nCaf\xe9 cr\xe8me, 8-bit Latin-1.\n", `"ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org`},
	{"From:\tUNKNWN::OPERATOR  6-APR-2004 11:11:11.11\nTo:\tSMITH\nCC:\tJONES\nSubj:\tUnknown node\n\nBody\n\n\n", `"UNKNWN::OPERATOR"@vms.example`},
}

func writeFixtureSpool(t testing.TB, root string) {
	t.Helper()
	s := spool.New(root)
	var msgs []spool.NewMessage
	for i, m := range fixtureMessages {
		msgs = append(msgs, spool.NewMessage{Envelope: "sender@example.org", Date: time.Date(2026, 11, 25, 10, 0, i, 0, time.UTC), Text: strings.NewReader(m.text)})
	}
	if err := s.Append(context.Background(), "SMITH", spool.NewMail, msgs); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "JONES"), 0o700); err != nil {
		t.Fatal(err)
	}
}

type e2eServer struct {
	Bin           string   // the binary to run; "" = vmspopBinary (race-enabled)
	Args          []string // arguments after "serve"
	Addr, TLSAddr string
	Spool, UAF    string
	Log           string
	Dir           string
	cmd           *exec.Cmd
	exited        chan struct{} // closed when cmd has exited
	stderr        *bytes.Buffer
}

// exitCode runs cmd and returns its exit status; a failure to run it at
// all ends the test.
func exitCode(t testing.TB, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", cmd.Path, err)
	return -1
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs `vmspop serve` with a fixture spool and accounts and the
// given extra logicals ("TCPIP$POP_X=v"); it is stopped when the test ends.
func startServer(t testing.TB, env ...string) *e2eServer {
	t.Helper()
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log")}
	writeFixtureSpool(t, s.Spool)
	writeUAF(t, s.UAF, defaultAccounts)
	nodes := filepath.Join(dir, "nodes")
	os.WriteFile(nodes, []byte("! DECnet node table\nVAXA   vaxa.example.com\n"), 0o644)
	s.start(t, append([]string{"TCPIP$POP_DECNET_NODES=" + nodes}, env...)...)
	return s
}

func (s *e2eServer) start(t testing.TB, env ...string) {
	t.Helper()
	bin := s.Bin
	if bin == "" {
		bin = vmspopBinary(t)
	}
	// Without an address the server listens on port 0 and the test reads
	// the address from its log; a restarted server keeps its address.
	// At LOG_LEVEL=ERROR there is no `listening` line: then a free port is
	// picked beforehand.
	port0 := s.Addr == "" && !slices.ContainsFunc(env, func(e string) bool {
		return strings.EqualFold(e, "TCPIP$POP_LOG_LEVEL=ERROR")
	})
	switch {
	case port0:
		s.Addr = "127.0.0.1:0"
	case s.Addr == "":
		s.Addr = freePort(t)
	}
	cmd := exec.Command(bin, append([]string{"serve"}, s.Args...)...)
	// The test's own TCPIP$POP_* settings must not leak into the server.
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TCPIP$POP_") && !strings.HasPrefix(kv, "TCPIP_POP_") {
			environ = append(environ, kv)
		}
	}
	cmd.Env = append(environ,
		"TCPIP$POP_LISTEN="+s.Addr, "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF,
		"TCPIP$POP_HOSTNAME=vms.example", "TCPIP$POP_LOG="+s.Log, "TCPIP$POP_TRACE=1",
		"GORACE=atexit_sleep_ms=0") // the race runtime would wait 1 s at every exit
	cmd.Env = append(cmd.Env, env...)
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "TCPIP$POP_TLS_LISTEN="); ok {
			s.TLSAddr = v
		}
	}
	s.stderr = new(bytes.Buffer)
	cmd.Stderr = s.stderr
	var logSize int64
	if fi, err := os.Stat(s.Log); err == nil {
		logSize = fi.Size()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop() })
	if port0 {
		// The addresses come from the `listening` log lines.
		plain, tls := poptest.Listening(t, s.Log, logSize, s.TLSAddr == "127.0.0.1:0", s.exited)
		s.Addr = plain
		if s.TLSAddr == "127.0.0.1:0" {
			s.TLSAddr = tls
		}
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", s.Addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v\n%s", err, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *e2eServer) stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// popClient is the shared POP3 test client (poptest.Client) with the
// method names the tests of this package use. Tests may replace conn and r
// (after STLS, or to build one around their own connection): each method
// works on the current ones.
type popClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// dialPOP connects to addr and reads the greeting, which must be "+OK".
func dialPOP(t testing.TB, addr string) *popClient {
	t.Helper()
	c := poptest.Dial(t, addr)
	return &popClient{t: t, conn: c.Conn, r: c.R}
}

// dialPOPFrom connects to addr from the local address ip (any of
// 127.0.0.0/8 on Linux, so that a test can be several clients) and reads
// the greeting. The connection is closed when the test ends.
func dialPOPFrom(t testing.TB, addr string, ip net.IP) *popClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: poptest.Timeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(2 * poptest.Timeout))
	p := &popClient{t: t, conn: nc, r: bufio.NewReader(nc)}
	p.line()
	return p
}

// dialPOPRaw connects to addr and reads nothing.
func dialPOPRaw(t testing.TB, addr string) *popClient {
	t.Helper()
	c := poptest.DialNoGreeting(t, addr)
	return &popClient{t: t, conn: c.Conn, r: c.R}
}

// c returns the shared client over p's current connection.
func (p *popClient) c() *poptest.Client { return &poptest.Client{T: p.t, Conn: p.conn, R: p.r} }

func (p *popClient) line() string { p.t.Helper(); return p.c().Line() }

// cmd sends a command and returns the first response line.
func (p *popClient) cmd(format string, args ...any) string {
	p.t.Helper()
	return p.c().Cmd(format, args...)
}

// multi reads the rest of a multi-line response, dot-unstuffed.
func (p *popClient) multi() []string { p.t.Helper(); return p.c().Multi() }

func (p *popClient) login(user, pass string) { p.t.Helper(); p.c().Login(user, pass) }

// folderIDs returns the Subj: of each message of a folder, in order.
func folderSubjects(t testing.TB, root, user, folder string) []string {
	t.Helper()
	msgs, err := spool.New(root).ReadFolder(context.Background(), user, folder)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		i := bytes.Index(m, []byte("Subj:\t"))
		j := bytes.IndexByte(m[i:], '\n')
		out = append(out, string(m[i+6:i+j]))
	}
	return out
}

// wantBody is the body of fixture message i as RETR sends it.
func wantBody(i int) string {
	text := fixtureMessages[i].text
	body := text[strings.Index(text, "\n\n")+2:]
	out := strings.ReplaceAll(body, "\n", "\r\n")
	if !strings.HasSuffix(out, "\r\n") {
		out += "\r\n"
	}
	return out
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it in .ci/run)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func TestE2ECurl(t *testing.T) {
	requireTool(t, "curl")
	s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	curl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "20", "-u", "smith:demo"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s\n%s", args, err, out, s.stderr)
		}
		return string(out)
	}
	list := curl("pop3://" + s.Addr + "/")
	if n := strings.Count(list, "\n"); n != len(fixtureMessages) {
		t.Fatalf("curl LIST gave %d lines:\n%s", n, list)
	}
	for i := range fixtureMessages {
		msg := curl(fmt.Sprintf("pop3://%s/%d", s.Addr, i+1))
		body := msg[strings.Index(msg, "\r\n\r\n")+4:]
		if body != wantBody(i) {
			t.Errorf("message %d body = %q, want %q", i+1, body, wantBody(i))
		}
	}
	// Delete message 1 (curl sends DELE and QUIT).
	curl("-X", "DELE", "-I", fmt.Sprintf("pop3://%s/1", s.Addr))
	got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket)
	if len(got) != 1 || got[0] != "Lunch on Friday?" {
		t.Fatalf("WASTEBASKET after curl DELE = %q", got)
	}
	// TCPIP$POP_LEAVE_IN_NEWMAIL: read messages stay in NEWMAIL.
	if n := len(folderSubjects(t, s.Spool, "SMITH", spool.NewMail)); n != len(fixtureMessages)-1 {
		t.Errorf("NEWMAIL holds %d messages, want %d", n, len(fixtureMessages)-1)
	}
}

func runPopcheck(t *testing.T, addr, user, pass, out string, extra ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	args := append([]string{"../../testdata/clients/popcheck.py", host, port, user, pass, out}, extra...)
	b, err := exec.Command("python3", args...).CombinedOutput()
	return string(b), err
}

func TestE2EPoplib(t *testing.T) {
	requireTool(t, "python3")
	s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	out := t.TempDir()
	if b, err := runPopcheck(t, s.Addr, "smith", "demo", out); err != nil {
		t.Fatalf("poplib user/pass: %v\n%s", err, b)
	}
	froms, _ := os.ReadFile(filepath.Join(out, "from.txt"))
	gotFroms := strings.Split(strings.TrimSpace(string(froms)), "\n")
	for i, m := range fixtureMessages {
		data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("%d.eml", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		body := string(data[bytes.Index(data, []byte("\r\n\r\n"))+4:])
		if body != wantBody(i) {
			t.Errorf("poplib message %d body = %q, want %q", i+1, body, wantBody(i))
		}
		if i < len(gotFroms) && gotFroms[i] != m.from && m.from != "" {
			t.Errorf("message %d: email.message_from_bytes From = %q, want %q", i+1, gotFroms[i], m.from)
		}
	}
	uidl1, _ := os.ReadFile(filepath.Join(out, "uidl.txt"))
	// APOP login, and the same UIDs in a second session.
	out2 := t.TempDir()
	if b, err := runPopcheck(t, s.Addr, "smith", "", out2, "--apop", "apop-demo"); err != nil {
		t.Fatalf("poplib apop: %v\n%s", err, b)
	}
	uidl2, _ := os.ReadFile(filepath.Join(out2, "uidl.txt"))
	if !bytes.Equal(uidl1, uidl2) || len(uidl1) < 10 {
		t.Errorf("UIDL differs between sessions:\n%s\n%s", uidl1, uidl2)
	}
	// A wrong password makes poplib raise error_proto.
	b, err := runPopcheck(t, s.Addr, "smith", "wrong", t.TempDir())
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(b, "error_proto") {
		t.Fatalf("wrong password: %v\n%s", err, b)
	}
}
