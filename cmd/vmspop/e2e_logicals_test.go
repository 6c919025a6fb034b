package main

// End-to-end tests of every TCPIP$POP_* logical name (issue #5): each test
// starts the real binary with a name set and observes the effect on the
// wire, on disk (the spool) or in the log. TestLogicalEveryNameCovered
// keeps the list in step with the table in logicals/doc.go.
//
// Helpers here are prefixed "lg" to stay clear of other e2e files.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/vmspop/vmspop/spool"
)

// lgCovered maps every name of the logicals/doc.go table to the test that
// shows its effect end to end.
var lgCovered = map[string]string{
	"SECURITY":              "TestLogicalSecurity",
	"TRACE":                 "TestLogicalTraceAndLogLevel",
	"LOG_LEVEL":             "TestLogicalTraceAndLogLevel",
	"POSTMASTER":            "TestLogicalPostmaster",
	"MESSAGE_MAXIMUM":       "TestLogicalMessageMaximum",
	"LINK_IDLE_TIMEOUT":     "TestLogicalLinkIdleTimeout",
	"PERSONAL_NAME":         "TestLogicalPersonalName",
	"LEAVE_IN_NEWMAIL":      "TestLogicalLeaveInNewmail",
	"IGNORE_MAIL11_HEADERS": "TestLogicalIgnoreMail11Headers",
	"SEND_ID_HEADERS":       "TestLogicalSendIDHeaders",
	"DECNET_REWRITE":        "TestLogicalDECnetRewrite",
	"QUOTED_DECNET_REWRITE": "TestLogicalQuotedDECnetRewrite",
	"SNDBUF":                "TestLogicalSndbuf",
	"DISUSERPASS":           "TestLogicalDisUserPass",
	"PURGE_RECLAIM":         "TestLogicalPurgeReclaim",
	"USE_MAIL_FOLDER":       "TestLogicalUseMailFolder",
	"FAST_SCAN":             "TestLogicalFastScan",
	"MAXIMUM_THREADS":       "TestLogicalMaximumThreads",
	"LISTEN":                "TestLogicalListen",
	"TLS_LISTEN":            "TestLogicalTLS",
	"CERT":                  "TestLogicalTLS",
	"KEY":                   "TestLogicalTLS",
	"TLS_TICKET_KEYS":       "TestTLSTicketKeysShared",
	"AUTH_METHODS":          "TestLogicalAuthMethods",
	"AUTH_TLS_ONLY":         "TestLogicalAuthTLSOnly",
	"EXPIRE":                "TestLogicalExpire",
	"LOGIN_DELAY":           "TestLogicalLoginDelay",
	"BUSY_POLL":             "TestLogicalBusyPoll",
	"SPOOL":                 "TestLogicalSpool",
	"UAF":                   "TestLogicalUAF",
	"HOSTNAME":              "TestLogicalHostname",
	"SUBSTITUTE_DOMAIN":     "TestLogicalSubstituteDomain",
	"LOCAL_NAMES":           "TestLogicalLocalNames",
	"DECNET_NODES":          "TestLogicalDECnetNodes",
	"LOG":                   "TestLogicalLog",
	"LOG_FORMAT":            "TestLogicalLogFormat",
	"STARTUP":               "TestLogicalStartup",
	// e2e_defence_test.go
	"AUTH_PENALTY":          "TestLogicalAuthPenalty",
	"AUTH_CACHE_TTL":        "TestLogicalAuthCacheTTL",
	"MAXIMUM_PER_ADDRESS":   "TestLogicalMaximumPerAddress",
	"LOGIN_TIMEOUT":         "TestLogicalLoginTimeout",
	"TLS_HANDSHAKE_TIMEOUT": "TestLogicalTLSHandshakeTimeout",
	"METRICS_LISTEN":        "TestLogicalMetricsListen",
	"ADMIN_SOCKET":          "TestLogicalAdminSocket",
	// e2e_lmtp_test.go
	"LMTP_LISTEN":       "TestLogicalLMTPListen",
	"LMTP_MAXIMUM_SIZE": "TestLogicalLMTPMaximumSize",
	"PROXY_TRUSTED":     "TestLogicalProxyTrusted",
	// e2e_service_test.go
	"USER":  "TestLogicalUser",
	"GROUP": "TestLogicalGroup",
	// docs/extensions.md: tested in e2e_extensions_test.go, e2e_xmit_test.go.
	"GREETING":        "TestE2EGreetingAndLoginDelay",
	"SMTP_RELAY":      "TestE2EXtndXmitPostfix",
	"CLIENT_CA":       "TestE2ESASLExternal",
	"UNIFIED_DOMAINS": "TestE2EUnifiedViews",
	"VIEW_FIELD":      "TestE2EUnifiedViews",

	// The RPOP poller's names (tests in rpop_*_test.go).
	"RPOP_PROCESSES": "TestRPOPInServe", "RPOP_FILE": "TestRPOPLogicals",
	"RPOP_DELAY_FAILED_HOSTS": "TestRPOPLogicals", "RPOP_DELAY_FAILED_ACCOUNTS": "TestRPOPLogicals",
	"RPOP_MINIMUM_PERIOD": "TestRPOPCLI", "RPOP_MAXIMUM_ACCOUNTS": "TestRPOPCLI",
	"RPOP_USE_APOP": "TestRPOPLogicals", "RPOP_ALLOW_SELF_POLL": "TestRPOPLogicals",
	"RPOP_SOURCE_ADDRESS": "TestRPOPLogicals", "RPOP_TIMEOUT": "TestRPOPLogicals",
	"RPOP_MESSAGE_SIZE_LIMIT": "TestRPOPLogicals",
}

// lgDocNames reads the names of the table in logicals/doc.go.
func lgDocNames(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../../logicals/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^//\t([A-Z][A-Z0-9_]+) {2,}`)
	var names []string
	for _, m := range re.FindAllSubmatch(src, -1) {
		if n := string(m[1]); n != "Name" {
			names = append(names, n)
		}
	}
	if len(names) < 30 {
		t.Fatalf("found only %d names in logicals/doc.go: %q", len(names), names)
	}
	return names
}

func TestLogicalEveryNameCovered(t *testing.T) {
	var self []byte // every test file of the package
	files, _ := filepath.Glob("*_test.go")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		self = append(self, b...)
	}
	doc := lgDocNames(t)
	seen := map[string]bool{}
	for _, n := range doc {
		seen[n] = true
		test, ok := lgCovered[n]
		if !ok {
			t.Errorf("TCPIP$POP_%s (logicals/doc.go) has no end-to-end test in lgCovered", n)
			continue
		}
		if !bytes.Contains(self, []byte("func "+test+"(t *testing.T)")) {
			t.Errorf("TCPIP$POP_%s: test %s does not exist", n, test)
		}
	}
	for n := range lgCovered {
		if !seen[n] {
			t.Errorf("lgCovered names TCPIP$POP_%s, which logicals/doc.go does not list", n)
		}
	}
}

// TestLogicalUser: privilege_e2e_test.go (runs as root).
func TestLogicalUser(t *testing.T) { privServe(t, "") }

// TestLogicalGroup: privilege_e2e_test.go (runs as root).
func TestLogicalGroup(t *testing.T) { privServe(t, "nogroup") }

// ---- helpers ----

// lgRace stops a -race binary from sleeping a second at exit (the race
// runtime's atexit_sleep_ms), which would add a second to every stop.
const lgRace = "GORACE=atexit_sleep_ms=0"

// lgServer is startServer without the race runtime's exit delay.
func lgServer(t *testing.T, env ...string) *e2eServer {
	t.Helper()
	return startServer(t, append([]string{lgRace}, env...)...)
}

// lgPrepare makes a server like startServer's (fixture spool, default
// accounts, DECnet node table) without starting it, so that a test can
// change the spool first. Start it with s.start(t, lgRace, lgNodes(s), ...).
func lgPrepare(t *testing.T) *e2eServer {
	t.Helper()
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: freePort(t)}
	writeFixtureSpool(t, s.Spool)
	writeUAF(t, s.UAF, defaultAccounts)
	lgWrite(t, filepath.Join(dir, "nodes"), "! DECnet node table\nVAXA   vaxa.example.com\n")
	return s
}

// lgNodes is the DECNET_NODES setting of a server made by lgPrepare.
func lgNodes(s *e2eServer) string {
	return "TCPIP$POP_DECNET_NODES=" + filepath.Join(s.Dir, "nodes")
}

func lgWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lgAppend adds MAIL-11 messages to a user's folder.
func lgAppend(t *testing.T, root, user, folder string, texts ...string) {
	t.Helper()
	var msgs []spool.NewMessage
	for i, text := range texts {
		msgs = append(msgs, spool.NewMessage{Envelope: "sender@example.org",
			Date: time.Date(2027, 1, 2, 3, 4, i, 0, time.UTC), Text: strings.NewReader(text)})
	}
	if err := spool.New(root).Append(context.Background(), user, folder, msgs); err != nil {
		t.Fatal(err)
	}
}

// lgStartArgs is e2eServer.start with arguments for `vmspop serve`.
func lgStartArgs(t *testing.T, s *e2eServer, args []string, env ...string) {
	t.Helper()
	s.Args = args
	s.start(t, append([]string{lgRace}, env...)...)
}

// lgEnv is the process environment without any TCPIP$POP_ or TCPIP_POP_
// name, so that a developer's own settings cannot leak into a test.
func lgEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TCPIP$POP_") && !strings.HasPrefix(kv, "TCPIP_POP_") {
			out = append(out, kv)
		}
	}
	return out
}

// lgRun runs the binary to its end (at most 20 s) and returns its standard
// output, standard error and exit status.
func lgRun(t *testing.T, args []string, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, vmspopBinary(t), args...)
	cmd.Env = append(append(lgEnv(), lgRace), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("vmspop %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("vmspop %v did not exit within 20 s\n%s", args, e.String())
	}
	return o.String(), e.String(), code
}

// lgStopLog stops the server and returns its log file (every line is
// written by then).
func lgStopLog(t *testing.T, s *e2eServer) string {
	t.Helper()
	s.stop()
	b, err := os.ReadFile(s.Log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// lgDial connects and returns the client and the greeting line.
func lgDial(t *testing.T, addr string) (*popClient, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return lgClient(t, c)
}

// lgClient wraps a connection (plain or TLS) and reads the greeting.
func lgClient(t *testing.T, c net.Conn) (*popClient, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	p := &popClient{t: t, conn: c, r: bufio.NewReader(c)}
	return p, p.line()
}

// lgAPOP logs in with APOP using the greeting's timestamp; it returns the
// reply.
func lgAPOP(p *popClient, greeting, user, secret string) string {
	p.t.Helper()
	i, j := strings.LastIndexByte(greeting, '<'), strings.LastIndexByte(greeting, '>')
	if i < 0 || j < i {
		p.t.Fatalf("no APOP timestamp in greeting %q", greeting)
	}
	sum := md5.Sum([]byte(greeting[i:j+1] + secret))
	return p.cmd("APOP %s %s", user, hex.EncodeToString(sum[:]))
}

// lgCapa returns the CAPA lines.
func lgCapa(p *popClient) []string {
	p.t.Helper()
	if r := p.cmd("CAPA"); !strings.HasPrefix(r, "+OK") {
		p.t.Fatalf("CAPA: %s", r)
	}
	return p.multi()
}

func lgHas(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// lgRetr retrieves message n and returns its header block and body.
func lgRetr(p *popClient, n int) (header, body string) {
	p.t.Helper()
	if r := p.cmd("RETR %d", n); !strings.HasPrefix(r, "+OK") {
		p.t.Fatalf("RETR %d: %s", n, r)
	}
	msg := strings.Join(p.multi(), "\r\n") + "\r\n"
	h, b, ok := strings.Cut(msg, "\r\n\r\n")
	if !ok {
		p.t.Fatalf("RETR %d: no end of header in %q", n, msg)
	}
	return h + "\r\n", b
}

// lgField returns the (unfolded) value of the first header field name.
func lgField(header, name string) (string, bool) {
	lines := strings.Split(header, "\r\n")
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(k, name) {
			continue
		}
		for _, c := range lines[i+1:] {
			if c == "" || (c[0] != ' ' && c[0] != '\t') {
				break
			}
			v += c
		}
		return strings.TrimSpace(v), true
	}
	return "", false
}

// lgFrom logs in as SMITH on a server started with env and returns the
// From: of message n.
func lgFrom(t *testing.T, s *e2eServer, n int) string {
	t.Helper()
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	h, _ := lgRetr(p, n)
	p.cmd("QUIT")
	from, ok := lgField(h, "From")
	if !ok {
		t.Fatalf("message %d has no From:\n%s", n, h)
	}
	return from
}

// lgStat logs in as SMITH and returns the message count STAT gives.
func lgStat(t *testing.T, addr string) int {
	t.Helper()
	p := dialPOP(t, addr)
	p.login("smith", "demo")
	n := lgStatOf(t, p)
	p.cmd("QUIT")
	return n
}

// lgSet defines TCPIP$POP_<name> as value, or nothing when value is "".
func lgSet(name, value string) []string {
	if value == "" {
		return nil
	}
	return []string{"TCPIP$POP_" + name + "=" + value}
}

// lgStatOf returns the message count STAT gives in a logged-in session.
func lgStatOf(t *testing.T, p *popClient) int {
	t.Helper()
	r := p.cmd("STAT")
	f := strings.Fields(r)
	if len(f) < 3 || f[0] != "+OK" {
		t.Fatalf("STAT: %q", r)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("STAT: %q", r)
	}
	return n
}

// lgLogLines returns the lines of a log that contain every one of subs.
func lgLogLines(log string, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// ---- Table 15-2 ----

func TestLogicalSecurity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value              string
		unknownUSER        string // reply to USER of an unknown name
		unknownPASS        string // reply to its PASS ("" = not reached)
		badPASS            string // reply to a wrong password for SMITH
		minDelay, maxDelay time.Duration
	}{
		{"FRIENDLY", `-ERR [AUTH] user "nosuch" is unknown`, "", `-ERR [AUTH] password supplied for "smith" is incorrect`, 0, 900 * time.Millisecond},
		{"secure", `+OK password required for "nosuch"`, `-ERR [AUTH] access to user account "nosuch" denied`, `-ERR [AUTH] access to user account "smith" denied`, 900 * time.Millisecond, 8 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, "TCPIP$POP_SECURITY="+tc.value)
			p := dialPOP(t, s.Addr)
			if r := p.cmd("USER nosuch"); r != tc.unknownUSER {
				t.Errorf("USER nosuch = %q, want %q", r, tc.unknownUSER)
			}
			if tc.unknownPASS != "" {
				if r := p.cmd("PASS x"); r != tc.unknownPASS {
					t.Errorf("PASS for nosuch = %q, want %q", r, tc.unknownPASS)
				}
			}
			p.conn.Close()
			p = dialPOP(t, s.Addr)
			p.cmd("USER smith")
			start := time.Now()
			r := p.cmd("PASS wrong")
			took := time.Since(start)
			if r != tc.badPASS {
				t.Errorf("wrong PASS = %q, want %q", r, tc.badPASS)
			}
			// SECURE also slows every failure down (1 s by default).
			if took < tc.minDelay || took > tc.maxDelay {
				t.Errorf("failure reply took %v, want %v to %v", took, tc.minDelay, tc.maxDelay)
			}
			// The log always has the FRIENDLY reason.
			p.conn.Close()
			log := lgStopLog(t, s)
			if len(lgLogLines(log, `msg="login failed"`, `password supplied for \"smith\" is incorrect`)) != 1 {
				t.Errorf("log lacks the FRIENDLY reason of the failure:\n%s", log)
			}
		})
	}
}

func TestLogicalTraceAndLogLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          []string
		transcript   string // "" = no C:/S: lines; else their level
		sessionLines bool   // session start / login / session end
	}{
		{"INFORMATIONAL+TRACE", []string{"TCPIP$POP_LOG_LEVEL=INFORMATIONAL", "TCPIP$POP_TRACE=1"}, "info", true},
		{"INFORMATIONAL", []string{"TCPIP$POP_LOG_LEVEL=INFORMATIONAL", "TCPIP$POP_TRACE=0"}, "", true},
		{"TRACE empty value", []string{"TCPIP$POP_TRACE="}, "info", true}, // defined = true (VMS rule)
		{"ERROR", []string{"TCPIP$POP_LOG_LEVEL=ERROR", "TCPIP$POP_TRACE=0"}, "", false},
		{"ERROR+TRACE", []string{"TCPIP$POP_LOG_LEVEL=ERROR", "TCPIP$POP_TRACE=1"}, "info", true}, // TRACE is never silenced
		{"THREAD", []string{"TCPIP$POP_LOG_LEVEL=THREAD", "TCPIP$POP_TRACE=0"}, "debug", true},
		// DEBUG: logrus Trace level: THREAD's output and more
		// (TestLogLevelDebugVsThread).
		{"DEBUG", []string{"TCPIP$POP_LOG_LEVEL=debug", "TCPIP$POP_TRACE=0"}, "debug", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, tc.env...)
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			p.cmd("STAT")
			p.cmd("QUIT")
			log := lgStopLog(t, s)
			c := lgLogLines(log, `msg="C: USER smith"`)
			sl := lgLogLines(log, `msg="S: +OK maildrop has 6 messages`)
			if tc.transcript == "" {
				if len(lgLogLines(log, `msg="C: `))+len(lgLogLines(log, `msg="S: `)) != 0 {
					t.Errorf("transcript lines logged, want none:\n%s", log)
				}
			} else {
				if len(c) != 1 || len(sl) != 1 {
					t.Fatalf("want one C: USER and one S: +OK maildrop line, got %q %q:\n%s", c, sl, log)
				}
				if !strings.Contains(c[0], "level="+tc.transcript) {
					t.Errorf("transcript line %q: want level=%s", c[0], tc.transcript)
				}
				// Passwords never reach the log.
				if len(lgLogLines(log, "PASS demo")) != 0 || len(lgLogLines(log, `msg="C: PASS ***"`)) != 1 {
					t.Errorf("PASS not redacted in the transcript:\n%s", log)
				}
			}
			for _, ev := range []string{`msg="session start"`, `msg=login`, `msg="session end"`} {
				got := len(lgLogLines(log, ev)) > 0
				if got != tc.sessionLines {
					t.Errorf("%s in log = %v, want %v:\n%s", ev, got, tc.sessionLines, log)
				}
			}
		})
	}
}

func TestLogicalPostmaster(t *testing.T) {
	t.Parallel()
	tests := []struct {
		postmaster string
		notified   []string // users whose NEWMAIL gets the failure message
	}{
		{"", nil},
		{"JONES", []string{"JONES"}},
		{"jones, smith", []string{"JONES", "SMITH"}},
	}
	for _, tc := range tests {
		t.Run(tc.postmaster, func(t *testing.T) {
			t.Parallel()
			s := lgPrepare(t)
			// The port is taken by a listener the test holds: the server
			// cannot listen and exits with an error.
			hold, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Close()
			env := []string{"TCPIP$POP_LISTEN=" + hold.Addr().String(), "TCPIP$POP_SPOOL=" + s.Spool,
				"TCPIP$POP_UAF=" + s.UAF, "TCPIP$POP_HOSTNAME=vms.example", "TCPIP$POP_LOG=" + s.Log}
			if tc.postmaster != "" {
				env = append(env, "TCPIP$POP_POSTMASTER="+tc.postmaster)
			}
			_, stderr, code := lgRun(t, []string{"serve"}, env...)
			if code != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "address already in use") {
				t.Errorf("stderr does not name the error:\n%s", stderr)
			}
			before := map[string]int{"SMITH": len(fixtureMessages), "JONES": 0}
			for _, user := range []string{"SMITH", "JONES"} {
				msgs, err := spool.New(s.Spool).ReadFolder(context.Background(), user, spool.NewMail)
				if err != nil {
					t.Fatal(err)
				}
				want := before[user]
				notified := lgHas(tc.notified, user)
				if notified {
					want++
				}
				if len(msgs) != want {
					t.Fatalf("%s NEWMAIL holds %d messages, want %d", user, len(msgs), want)
				}
				if !notified {
					continue
				}
				last := string(msgs[len(msgs)-1])
				for _, w := range []string{"Subj:\tvmspop POP server exited with an error", "To:\t" + user, "address already in use", hold.Addr().String()} {
					if !strings.Contains(last, w) {
						t.Errorf("%s's failure message lacks %q:\n%s", user, w, last)
					}
				}
			}
		})
	}
}

func TestLogicalMessageMaximum(t *testing.T) {
	t.Parallel()
	s := lgServer(t, "TCPIP$POP_MESSAGE_MAXIMUM=2")
	p := dialPOP(t, s.Addr)
	if r := p.cmd("USER smith"); !strings.HasPrefix(r, "+OK") {
		t.Fatal(r)
	}
	if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "+OK maildrop has 2 messages") {
		t.Errorf("PASS = %q, want 2 messages", r)
	}
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 2 ") {
		t.Errorf("STAT = %q, want +OK 2 ...", r)
	}
	if r := p.cmd("RETR 3"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("RETR 3 = %q, want -ERR", r)
	}
	p.cmd("LIST")
	if l := p.multi(); len(l) != 2 {
		t.Errorf("LIST = %q, want 2 lines", l)
	}
	// 0 means no limit.
	s0 := lgServer(t, "TCPIP$POP_MESSAGE_MAXIMUM=0")
	if n := lgStat(t, s0.Addr); n != len(fixtureMessages) {
		t.Errorf("MESSAGE_MAXIMUM=0: STAT gives %d messages, want %d", n, len(fixtureMessages))
	}
}

func TestLogicalLinkIdleTimeout(t *testing.T) {
	t.Parallel()
	s := lgServer(t, `TCPIP$POP_LINK_IDLE_TIMEOUT=0 00:00:01.00`)
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	start := time.Now()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := p.r.Read(make([]byte, 64))
	took := time.Since(start)
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("idle read = %d, %v; want the server to close the connection", n, err)
	}
	if took < 900*time.Millisecond || took > 6*time.Second {
		t.Errorf("idle connection closed after %v, want about 1 s", took)
	}
	// An active session is not cut: commands 0.4 s apart, 1.6 s in all,
	// still get answers (each read has its own timer).
	p2 := dialPOP(t, s.Addr)
	for range 4 {
		time.Sleep(400 * time.Millisecond)
		if r := p2.cmd("CAPA"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("CAPA after 0.4 s = %q", r)
		}
		p2.multi()
	}
	p2.cmd("QUIT")
	log := lgStopLog(t, s)
	if len(lgLogLines(log, `msg="session end"`, `end="idle timeout"`, "user=SMITH")) != 1 {
		t.Errorf("log lacks end=\"idle timeout\" for SMITH:\n%s", log)
	}
	if len(lgLogLines(log, "level=warning", "LINK_IDLE_TIMEOUT", "shorter than the 10 minutes")) != 1 {
		t.Errorf("log lacks the warning about a timeout under 10 minutes:\n%s", log)
	}
}

func TestLogicalPersonalName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  string
		want string // From: of fixture message 1
	}{
		{"TCPIP$POP_PERSONAL_NAME=1", "Jim Jones <jones@vaxa.example.com>"},
		{"TCPIP$POP_PERSONAL_NAME=OFF", "jones@vaxa.example.com"},
		{"", "jones@vaxa.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, tc.env)
			if got := lgFrom(t, s, 1); got != tc.want {
				t.Errorf("From: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogicalLeaveInNewmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env           string
		newmail, mail int
	}{
		{"TCPIP$POP_LEAVE_IN_NEWMAIL=TRUE", len(fixtureMessages), 0},
		{"", len(fixtureMessages) - 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, tc.env)
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			lgRetr(p, 1)
			if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
				t.Fatal(r)
			}
			nm := folderSubjects(t, s.Spool, "SMITH", spool.NewMail)
			m := folderSubjects(t, s.Spool, "SMITH", spool.Mail)
			if len(nm) != tc.newmail || len(m) != tc.mail {
				t.Fatalf("NEWMAIL %q, MAIL %q; want %d and %d messages", nm, m, tc.newmail, tc.mail)
			}
			if tc.mail == 1 && m[0] != "Lunch on Friday?" {
				t.Errorf("MAIL holds %q, want the retrieved message", m)
			}
		})
	}
}

func TestLogicalIgnoreMail11Headers(t *testing.T) {
	t.Parallel()
	smtpHeader := "From: James Jones <james.jones@federation.gov>\r\nTo: smith@vms.example\r\nSubject: Federation news\r\n"
	t.Run("set", func(t *testing.T) {
		t.Parallel()
		s := lgServer(t, "TCPIP$POP_IGNORE_MAIL11_HEADERS=1")
		p := dialPOP(t, s.Addr)
		p.login("smith", "demo")
		h, b := lgRetr(p, 2)
		if h != smtpHeader || b != "News body.\r\n" {
			t.Errorf("message 2 = %q + %q; want the SMTP header block of its body", h, b)
		}
		// DECnet mail keeps its rebuilt header.
		h1, _ := lgRetr(p, 1)
		if _, ok := lgField(h1, "X-VMS-From"); !ok {
			t.Errorf("message 1 lost its rebuilt header:\n%s", h1)
		}
		// LIST gives the size actually sent.
		if r := p.cmd("LIST 2"); r != fmt.Sprintf("+OK 2 %d", len(h)+2+len(b)) {
			t.Errorf("LIST 2 = %q; sent %d octets", r, len(h)+2+len(b))
		}
	})
	t.Run("unset", func(t *testing.T) {
		t.Parallel()
		s := lgServer(t)
		p := dialPOP(t, s.Addr)
		p.login("smith", "demo")
		h, b := lgRetr(p, 2)
		if v, _ := lgField(h, "X-VMS-From"); !strings.Contains(v, `SMTP%"james.jones@federation.gov"`) {
			t.Errorf("message 2 header is not the rebuilt one:\n%s", h)
		}
		if !strings.HasPrefix(b, smtpHeader) {
			t.Errorf("message 2 body = %q, want the SMTP header inside the body", b)
		}
	})
}

func TestLogicalSendIDHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env       string
		smtpHasID bool // X-POP3-ID on message 2 (SMTP mail)
	}{
		{"TCPIP$POP_SEND_ID_HEADERS=yes", true},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, tc.env)
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			p.cmd("UIDL")
			uidl := p.multi()
			for _, n := range []int{1, 2} {
				h, _ := lgRetr(p, n)
				id, ok := lgField(h, "X-POP3-ID")
				_, srv := lgField(h, "X-POP3-Server")
				want := n == 1 || tc.smtpHasID // DECnet mail always has it
				if ok != want || srv != want {
					t.Errorf("message %d: X-POP3-ID %v, X-POP3-Server %v; want %v", n, ok, srv, want)
				}
				if f := strings.Fields(uidl[n-1]); ok && (len(f) != 2 || id != f[1]) {
					t.Errorf("message %d: X-POP3-ID %q, UIDL %q", n, id, uidl[n-1])
				}
			}
		})
	}
}

func TestLogicalDECnetRewrite(t *testing.T) {
	t.Parallel()
	tests := []struct{ value, want string }{
		{"TRANSFORM", "jones@vaxa.example.com"},
		{"generic", `"VAXA::JONES"@vms.example`},
		{"NONE", "VAXA::JONES"},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, "TCPIP$POP_DECNET_REWRITE="+tc.value)
			if got := lgFrom(t, s, 1); got != tc.want {
				t.Errorf("From: of VAXA::JONES = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogicalQuotedDECnetRewrite(t *testing.T) {
	t.Parallel()
	tests := []struct{ value, want string }{
		{"TRANSFORM", "fred@other.example.org"},
		{"GENERIC", `"VAXA::\"fred@other.example.org\""@vms.example`},
		{"none", `VAXA::"fred@other.example.org"`},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			s := lgPrepare(t)
			lgAppend(t, s.Spool, "SMITH", spool.NewMail,
				"From:\tVAXA::\"fred@other.example.org\"  7-MAY-2005 12:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tQuoted\n\nBody\n")
			s.start(t, lgRace, lgNodes(s), "TCPIP$POP_QUOTED_DECNET_REWRITE="+tc.value)
			if got := lgFrom(t, s, len(fixtureMessages)+1); got != tc.want {
				t.Errorf("From: of VAXA::\"fred@other.example.org\" = %q, want %q", got, tc.want)
			}
			// DECNET_REWRITE still governs VAXA::JONES.
			if got := lgFrom(t, s, 1); got != "jones@vaxa.example.com" {
				t.Errorf("From: of VAXA::JONES = %q", got)
			}
		})
	}
}

// lgSendBuffer returns the tb (send buffer) ss reports for the server side
// of the connection from client to server.
func lgSendBuffer(t *testing.T, server, client string) int {
	t.Helper()
	out, err := exec.Command("ss", "-tmnH", "state", "established").CombinedOutput()
	if err != nil {
		t.Skipf("ss -tmn failed (%v): %s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 4 || f[len(f)-2] != server || f[len(f)-1] != client {
			continue
		}
		rest := l
		if i+1 < len(lines) {
			rest += lines[i+1]
		}
		m := regexp.MustCompile(`\btb(\d+)`).FindStringSubmatch(rest)
		if m == nil {
			t.Skipf("ss shows no skmem tb for %s:\n%s", server, out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	t.Fatalf("ss does not list %s <- %s:\n%s", server, client, out)
	return 0
}

func TestLogicalSndbuf(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed: cannot see the server's socket buffer")
	}
	// Linux doubles SO_SNDBUF for its bookkeeping; an odd size makes the
	// value unmistakable.
	const sndbuf = 4608
	s := lgServer(t, "TCPIP$POP_SNDBUF="+strconv.Itoa(sndbuf))
	p := dialPOP(t, s.Addr)
	if tb := lgSendBuffer(t, s.Addr, p.conn.LocalAddr().String()); tb != sndbuf && tb != 2*sndbuf {
		t.Errorf("server socket send buffer = %d, want %d (or %d, Linux doubles it)", tb, sndbuf, 2*sndbuf)
	}
	// Without it the system default applies.
	s0 := lgServer(t)
	p0 := dialPOP(t, s0.Addr)
	if tb := lgSendBuffer(t, s0.Addr, p0.conn.LocalAddr().String()); tb == sndbuf || tb == 2*sndbuf {
		t.Errorf("send buffer without SNDBUF = %d, the SNDBUF value", tb)
	}
}

func TestLogicalDisUserPass(t *testing.T) {
	t.Parallel()
	s := lgServer(t, "TCPIP$POP_DISUSERPASS=1")
	p, greeting := lgDial(t, s.Addr)
	if c := lgCapa(p); lgHas(c, "USER") {
		t.Errorf("CAPA lists USER: %q", c)
	}
	if r := p.cmd("USER smith"); r != "-ERR [AUTH] USER/PASS are disabled on this server, use APOP" {
		t.Errorf("USER = %q", r)
	}
	if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Errorf("PASS = %q", r)
	}
	if r := lgAPOP(p, greeting, "smith", "apop-demo"); !strings.HasPrefix(r, "+OK maildrop has 6 messages") {
		t.Errorf("APOP = %q", r)
	}
	// Without it, USER is offered.
	s0 := lgServer(t, "TCPIP$POP_DISUSERPASS=no")
	p0 := dialPOP(t, s0.Addr)
	if c := lgCapa(p0); !lgHas(c, "USER") {
		t.Errorf("CAPA without DISUSERPASS lacks USER: %q", c)
	}
}

func TestLogicalPurgeReclaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  string
		want []string // WASTEBASKET after DELE 1, QUIT
	}{
		{"TCPIP$POP_PURGE_RECLAIM=1", nil},
		{"", []string{"Lunch on Friday?"}},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, tc.env)
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			if r := p.cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
				t.Fatal(r)
			}
			if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
				t.Fatal(r)
			}
			wb := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket)
			if strings.Join(wb, "|") != strings.Join(tc.want, "|") {
				t.Errorf("WASTEBASKET = %q, want %q", wb, tc.want)
			}
			if nm := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); len(nm) != len(fixtureMessages)-1 || lgHas(nm, "Lunch on Friday?") {
				t.Errorf("NEWMAIL = %q, want message 1 gone", nm)
			}
		})
	}
}

func TestLogicalUseMailFolder(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	lgAppend(t, s.Spool, "SMITH", spool.Mail,
		"From:\tWILSON  1-JAN-2027 09:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tFiled in MAIL\n\nOld mail.\n")
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_USE_MAIL_FOLDER=1")
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 1 ") {
		t.Errorf("STAT = %q, want the one message of MAIL", r)
	}
	h, b := lgRetr(p, 1)
	if subj, _ := lgField(h, "Subject"); subj != "Filed in MAIL" || b != "Old mail.\r\n" {
		t.Errorf("RETR 1 = %q %q", subj, b)
	}
	p.cmd("QUIT")
	// A retrieved message stays in MAIL; NEWMAIL is not touched.
	if m := folderSubjects(t, s.Spool, "SMITH", spool.Mail); len(m) != 1 {
		t.Errorf("MAIL after QUIT = %q", m)
	}
	if nm := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); len(nm) != len(fixtureMessages) {
		t.Errorf("NEWMAIL after QUIT = %q", nm)
	}
}

// TestLogicalFastScan: on VMS, FAST_SCAN let sizes be estimated to save a
// pass over the mail file. vmspop's folder index makes exact sizes as cheap,
// so sizes stay exact: a server with it set serves exactly what one without
// it serves, and says so in its log.
func TestLogicalFastScan(t *testing.T) {
	t.Parallel()
	view := func(env string) (string, string, string) {
		s := lgServer(t, env)
		p := dialPOP(t, s.Addr)
		p.login("smith", "demo")
		p.cmd("UIDL")
		uidl := strings.Join(p.multi(), "\n")
		p.cmd("LIST")
		list := p.multi()
		p.cmd("QUIT")
		return uidl, strings.Join(list, "\n"), lgStopLog(t, s)
	}
	u1, l1, log1 := view("TCPIP$POP_FAST_SCAN=1")
	u0, l0, log0 := view("")
	if u1 != u0 || l1 != l0 || strings.Count(u1, "\n") != len(fixtureMessages)-1 {
		t.Errorf("FAST_SCAN changed UIDL/LIST:\n%s\n%s\nvs\n%s\n%s", u1, l1, u0, l0)
	}
	if !strings.Contains(log1, "FAST_SCAN: sizes are exact") || strings.Contains(log0, "FAST_SCAN") {
		t.Errorf("the log does not say what FAST_SCAN does:\n%s", log1)
	}
	out, stderr, code := lgRun(t, []string{"logicals"}, "TCPIP$POP_FAST_SCAN=1")
	if code != 0 || !strings.Contains(out, `"TCPIP$POP_FAST_SCAN" = "`) || !strings.Contains(out, `FAST_SCAN" = "TRUE" (environment)`) {
		t.Errorf("vmspop logicals (status %d) does not show FAST_SCAN set:\n%s%s", code, out, stderr)
	}
}

// ---- vmspop's own names ----

func TestLogicalMaximumThreads(t *testing.T) {
	t.Parallel()
	s := lgServer(t, "TCPIP$POP_MAXIMUM_THREADS=1")
	// startServer's probe connection may still count for a moment.
	var first *popClient
	for deadline := time.Now().Add(5 * time.Second); ; {
		p, g := lgDial(t, s.Addr)
		if strings.HasPrefix(g, "+OK") {
			first = p
			break
		}
		p.conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("first connection refused: %q", g)
		}
		time.Sleep(50 * time.Millisecond)
	}
	second, g := lgDial(t, s.Addr)
	if g != "-ERR [SYS/TEMP] too many sessions, try later" {
		t.Errorf("second connection greeting = %q", g)
	}
	// The first session is unaffected.
	first.login("smith", "demo")
	first.cmd("QUIT")
	log := lgStopLog(t, s)
	remote := `remote="` + second.conn.LocalAddr().String() + `"`
	if len(lgLogLines(log, "level=warning", `msg="too many sessions"`, remote)) != 1 ||
		len(lgLogLines(log, `msg="session end"`, `end="too many sessions"`, remote)) != 1 {
		t.Errorf("log lacks the refusal of %s:\n%s", remote, log)
	}
}

func TestLogicalListen(t *testing.T) {
	t.Parallel()
	// startServer sets TCPIP$POP_LISTEN to a free 127.0.0.1 port: the
	// server is reachable there, says so in the greeting and the log.
	s := lgServer(t)
	p, g := lgDial(t, s.Addr)
	if !strings.Contains(g, "[vms.example, 127.0.0.1]") {
		t.Errorf("greeting %q lacks the local address", g)
	}
	p.cmd("QUIT")
	log := lgStopLog(t, s)
	if len(lgLogLines(log, "msg=listening", "addr=\""+s.Addr+"\"")) != 1 &&
		len(lgLogLines(log, "msg=listening", "addr="+s.Addr)) != 1 {
		t.Errorf("log lacks listening addr=%s:\n%s", s.Addr, log)
	}
}

// lgCert writes a self-signed certificate for 127.0.0.1 and localhost
// (cliWriteCert) and returns the file names and a pool that trusts it.
func lgCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cliWriteCert(t, certFile, keyFile, "vmspop test", 1)
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", certFile)
	}
	return certFile, keyFile, pool
}

func TestLogicalTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := lgCert(t, dir)
	tlsAddr := freePort(t)
	s := lgServer(t, "TCPIP$POP_TLS_LISTEN="+tlsAddr, "TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile)
	// Implicit TLS on TLS_LISTEN, with the certificate of CERT/KEY.
	var conn *tls.Conn
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsAddr,
			&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("TLS dial %s: %v\n%s", tlsAddr, err, s.stderr)
	}
	p, g := lgClient(t, conn)
	if !strings.HasPrefix(g, "+OK POP server ready") {
		t.Fatalf("TLS greeting %q", g)
	}
	if c := lgCapa(p); lgHas(c, "STLS") {
		t.Errorf("CAPA under implicit TLS offers STLS: %q", c)
	}
	p.login("smith", "demo")
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 6 ") {
		t.Errorf("STAT over TLS = %q", r)
	}
	p.cmd("QUIT")
	// The plain listener offers STLS once a certificate is configured.
	pp := dialPOP(t, s.Addr)
	if c := lgCapa(pp); !lgHas(c, "STLS") {
		t.Errorf("plain CAPA lacks STLS: %q", c)
	}
	// Without CERT/KEY there is no STLS, and TLS_LISTEN alone is refused.
	s0 := lgServer(t)
	if c := lgCapa(dialPOP(t, s0.Addr)); lgHas(c, "STLS") {
		t.Errorf("CAPA without a certificate offers STLS: %q", c)
	}
	_, stderr, code := lgRun(t, []string{"serve"}, "TCPIP$POP_TLS_LISTEN="+tlsAddr, "TCPIP$POP_LISTEN="+freePort(t))
	if code != 2 || !strings.Contains(stderr, "TCPIP$POP_TLS_LISTEN") || !strings.Contains(stderr, "CERT") {
		t.Errorf("TLS_LISTEN without CERT: status %d, stderr:\n%s", code, stderr)
	}
}

func TestLogicalAuthMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value     string
		user      bool   // CAPA USER, and USER accepted
		sasl      string // CAPA SASL line, "" = none
		userReply string // reply to USER when refused
	}{
		{"", true, "SASL PLAIN", ""}, // the default: USER, APOP, PLAIN
		{"ALL", true, "SASL PLAIN CRAM-MD5 LOGIN", ""},
		{"APOP", false, "", "-ERR [AUTH] USER is not allowed"},
		{"apop, cram-md5", false, "SASL CRAM-MD5", "-ERR [AUTH] USER is not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			env := lgSet("AUTH_METHODS", tc.value)
			s := lgServer(t, env...)
			p, g := lgDial(t, s.Addr)
			c := lgCapa(p)
			if lgHas(c, "USER") != tc.user {
				t.Errorf("CAPA USER = %v, want %v: %q", lgHas(c, "USER"), tc.user, c)
			}
			var sasl string
			for _, l := range c {
				if strings.HasPrefix(l, "SASL") {
					sasl = l
				}
			}
			if sasl != tc.sasl {
				t.Errorf("CAPA SASL line = %q, want %q", sasl, tc.sasl)
			}
			if !tc.user {
				if r := p.cmd("USER smith"); r != tc.userReply {
					t.Errorf("USER = %q, want %q", r, tc.userReply)
				}
				if !strings.Contains(tc.sasl, "PLAIN") {
					if r := p.cmd("AUTH PLAIN AHNtaXRoAGRlbW8="); r != "-ERR [AUTH] PLAIN is not allowed" {
						t.Errorf("AUTH PLAIN = %q", r)
					}
				}
			}
			// APOP is in every list here.
			if r := lgAPOP(p, g, "smith", "apop-demo"); !strings.HasPrefix(r, "+OK") {
				t.Errorf("APOP = %q", r)
			}
		})
	}
}

// lgPlaintextRefusedSTLS checks that p, in clear, is refused USER and AUTH
// PLAIN until STLS, then starts TLS (verified with pool) and returns the
// client over it.
func lgPlaintextRefusedSTLS(t *testing.T, p *popClient, pool *x509.CertPool) *popClient {
	t.Helper()
	if r := p.cmd("USER smith"); r != "-ERR [AUTH] USER requires TLS, use STLS first" {
		t.Errorf("USER before STLS = %q", r)
	}
	if r := p.cmd("AUTH PLAIN AHNtaXRoAGRlbW8="); r != "-ERR [AUTH] PLAIN requires TLS, use STLS first" {
		t.Errorf("AUTH PLAIN before STLS = %q", r)
	}
	if r := p.cmd("STLS"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("STLS = %q", r)
	}
	tc := tls.Client(p.conn, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("STLS handshake: %v", err)
	}
	return &popClient{t: t, conn: tc, r: bufio.NewReader(tc)}
}

func TestLogicalAuthTLSOnly(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := lgCert(t, t.TempDir())
	s := lgServer(t, "TCPIP$POP_AUTH_TLS_ONLY=USER,PLAIN", "TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile)
	p := dialPOP(t, s.Addr)
	c := lgCapa(p)
	if lgHas(c, "USER") || !lgHas(c, "STLS") {
		t.Errorf("plain CAPA = %q, want STLS and no USER", c)
	}
	for _, l := range c {
		if strings.HasPrefix(l, "SASL") {
			t.Errorf("plain CAPA offers %q", l)
		}
	}
	tp := lgPlaintextRefusedSTLS(t, p, pool)
	c = lgCapa(tp)
	if !lgHas(c, "USER") || !lgHas(c, "SASL PLAIN") {
		t.Errorf("CAPA under TLS = %q, want USER and SASL PLAIN", c)
	}
	tp.login("smith", "demo")
	tp.cmd("QUIT")
}

func TestLogicalExpire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value       string
		capa        string // "" = no EXPIRE line
		wastebasket int    // after RETR 1, QUIT
	}{
		{"", "", 0},
		{"never", "EXPIRE NEVER", 0},
		{"30", "EXPIRE 30", 0},
		{"0", "EXPIRE 0", 1}, // EXPIRE 0: retrieved mail is deleted at QUIT
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			env := lgSet("EXPIRE", tc.value)
			s := lgServer(t, env...)
			p := dialPOP(t, s.Addr)
			c := lgCapa(p)
			var got string
			for _, l := range c {
				if strings.HasPrefix(l, "EXPIRE") {
					got = l
				}
			}
			if got != tc.capa {
				t.Errorf("CAPA EXPIRE line = %q, want %q", got, tc.capa)
			}
			p.login("smith", "demo")
			lgRetr(p, 1)
			p.cmd("QUIT")
			if wb := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); len(wb) != tc.wastebasket {
				t.Errorf("WASTEBASKET after RETR 1, QUIT = %q, want %d messages", wb, tc.wastebasket)
			}
		})
	}
}

func TestLogicalLoginDelay(t *testing.T) {
	t.Parallel()
	s := lgServer(t, "TCPIP$POP_LOGIN_DELAY=60")
	p := dialPOP(t, s.Addr)
	if c := lgCapa(p); !lgHas(c, "LOGIN-DELAY 60") {
		t.Errorf("CAPA lacks LOGIN-DELAY 60: %q", c)
	}
	p.login("smith", "demo")
	p.cmd("QUIT")
	p2 := dialPOP(t, s.Addr)
	p2.cmd("USER smith")
	if r := p2.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [LOGIN-DELAY] ") {
		t.Errorf("second login within 60 s = %q, want -ERR [LOGIN-DELAY]", r)
	}
	// Another user is not delayed.
	dialPOP(t, s.Addr).login("jones", "demo")
	// Without it, no LOGIN-DELAY and no refusal.
	s0 := lgServer(t)
	if c := lgCapa(dialPOP(t, s0.Addr)); strings.Contains(strings.Join(c, "\n"), "LOGIN-DELAY") {
		t.Errorf("CAPA without LOGIN_DELAY: %q", c)
	}
	lgStat(t, s0.Addr)
	lgStat(t, s0.Addr)
}

// TestLogicalBusyPoll: a session that fetches watches for the next command
// (the summary's polls=found/tried) unless BUSY_POLL is 0; either way the
// messages arrive whole.
func TestLogicalBusyPoll(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		polls bool
	}{{"", true}, {"1000", true}, {"0", false}} {
		// Two Ps, so that one fetching session may poll even where the
		// machine has a single CPU.
		s := lgServer(t, append(lgSet("BUSY_POLL", tc.value), "GOMAXPROCS=2")...)
		p := dialPOP(t, s.Addr)
		p.login("smith", "demo")
		n := lgStatOf(t, p)
		for i := 1; i <= n; i++ {
			size := p.cmd("LIST %d", i)
			if r := p.cmd("RETR %d", i); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("BUSY_POLL=%q: RETR %d = %q", tc.value, i, r)
			}
			got := 0
			for _, l := range p.multi() {
				got += len(l) + 2
			}
			if want := strings.Fields(size); len(want) != 3 || want[2] != strconv.Itoa(got) {
				t.Errorf("BUSY_POLL=%q: RETR %d sent %d octets, LIST says %q", tc.value, i, got, size)
			}
		}
		p.cmd("QUIT")
		lines := lgLogLines(lgStopLog(t, s), `msg="session end"`, "user=SMITH")
		if len(lines) != 1 {
			t.Fatalf("BUSY_POLL=%q: %d session summaries, want 1", tc.value, len(lines))
		}
		if has := regexp.MustCompile(` polls=\d+/[1-9]\d*`).MatchString(lines[0]); has != tc.polls {
			t.Errorf("BUSY_POLL=%q: summary %q, want polls=found/tried: %v", tc.value, lines[0], tc.polls)
		}
	}
}

func TestLogicalSpool(t *testing.T) {
	t.Parallel()
	// A second spool where SMITH has one message.
	s := lgPrepare(t)
	other := filepath.Join(s.Dir, "other-spool")
	lgAppend(t, other, "SMITH", spool.NewMail, "From:\tWILSON  1-JAN-2027 09:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tOther spool\n\nHi.\n")
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_SPOOL="+other)
	if n := lgStat(t, s.Addr); n != 1 {
		t.Errorf("STAT on TCPIP$POP_SPOOL=%s gives %d messages, want 1", other, n)
	}
	// A spool that is not a directory stops the server (status 1).
	missing := filepath.Join(s.Dir, "missing")
	_, stderr, code := lgRun(t, []string{"serve"}, "TCPIP$POP_SPOOL="+missing, "TCPIP$POP_UAF="+s.UAF,
		"TCPIP$POP_LISTEN="+freePort(t), "TCPIP$POP_HOSTNAME=vms.example")
	if code != 1 || !strings.Contains(stderr, "TCPIP$POP_SPOOL "+missing+" is not a directory") {
		t.Errorf("missing spool: status %d, stderr:\n%s", code, stderr)
	}
}

func TestLogicalUAF(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	other := filepath.Join(s.Dir, "other-uaf")
	writeUAF(t, other, []e2eAccount{{Name: "SMITH", Password: "other-pw"}})
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_UAF="+other)
	p := dialPOP(t, s.Addr)
	p.cmd("USER smith")
	if r := p.cmd("PASS demo"); r != `-ERR [AUTH] password supplied for "smith" is incorrect` {
		t.Errorf("PASS demo against the other UAF = %q", r)
	}
	if r := p.cmd("USER jones"); r != `-ERR [AUTH] user "jones" is unknown` {
		t.Errorf("USER jones = %q", r)
	}
	p = dialPOP(t, s.Addr)
	p.login("smith", "other-pw")
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 6 ") {
		t.Errorf("STAT after login with the other UAF's password = %q", r)
	}
	// An accounts file that cannot be read stops the server (status 1).
	_, stderr, code := lgRun(t, []string{"serve"}, "TCPIP$POP_UAF="+filepath.Join(s.Dir, "nope"),
		"TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_LISTEN="+freePort(t), "TCPIP$POP_HOSTNAME=vms.example")
	if code != 1 || !strings.Contains(stderr, "nope") {
		t.Errorf("missing UAF: status %d, stderr:\n%s", code, stderr)
	}
}

func TestLogicalHostname(t *testing.T) {
	t.Parallel()
	s := lgServer(t, "TCPIP$POP_HOSTNAME=mail.test.example")
	p, g := lgDial(t, s.Addr)
	if !strings.Contains(g, "[mail.test.example, 127.0.0.1]") || !strings.HasSuffix(g, "@mail.test.example>") {
		t.Errorf("greeting %q does not use the host name", g)
	}
	p.login("smith", "demo")
	h, _ := lgRetr(p, 3)
	if from, _ := lgField(h, "From"); from != "wilson@mail.test.example" {
		t.Errorf("From: of local user WILSON = %q", from)
	}
	if srv, _ := lgField(h, "X-POP3-Server"); srv != "mail.test.example (vmspop "+Version+")" {
		t.Errorf("X-POP3-Server = %q", srv)
	}
}

func TestLogicalSubstituteDomain(t *testing.T) {
	t.Parallel()
	s := lgServer(t, "TCPIP$POP_SUBSTITUTE_DOMAIN=corp.example")
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	for _, tc := range []struct {
		n    int
		want string
	}{
		{3, "wilson@corp.example"},             // USER only
		{6, `"UNKNWN::OPERATOR"@corp.example`}, // unknown node: Generic fallback
		{1, "jones@vaxa.example.com"},          // known node: unchanged
	} {
		h, _ := lgRetr(p, tc.n)
		if from, _ := lgField(h, "From"); from != tc.want {
			t.Errorf("message %d From: %q, want %q", tc.n, from, tc.want)
		}
	}
}

func TestLogicalLocalNames(t *testing.T) {
	t.Parallel()
	tests := []struct{ value, want string }{
		{"VAXA", "jones@vms.example"},            // VAXA:: is this host: JONES is local
		{"VAXB, VAXC", "jones@vaxa.example.com"}, // not listed: node table
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, "TCPIP$POP_LOCAL_NAMES="+tc.value)
			if got := lgFrom(t, s, 1); got != tc.want {
				t.Errorf("From: of VAXA::JONES = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogicalDECnetNodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, table string // table "" = DECNET_NODES defined empty (none)
		want        string
	}{
		{"fixture", "VAXA vaxa.example.com\n", "jones@vaxa.example.com"},
		{"other", "! moved\nVAXA   mail.vaxa.test\nVAXB vaxb.test\n", "jones@mail.vaxa.test"},
		{"none", "", `"VAXA::JONES"@vms.example`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := lgPrepare(t)
			nodes := ""
			if tc.table != "" {
				nodes = filepath.Join(s.Dir, "nodes-"+tc.name)
				lgWrite(t, nodes, tc.table)
			}
			s.start(t, lgRace, "TCPIP$POP_DECNET_NODES="+nodes)
			if got := lgFrom(t, s, 1); got != tc.want {
				t.Errorf("From: of VAXA::JONES = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		s := lgPrepare(t)
		_, stderr, code := lgRun(t, []string{"serve"}, "TCPIP$POP_DECNET_NODES="+filepath.Join(s.Dir, "nope"),
			"TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF, "TCPIP$POP_LISTEN="+freePort(t), "TCPIP$POP_HOSTNAME=vms.example")
		if code != 1 || !strings.Contains(stderr, "TCPIP$POP_DECNET_NODES") {
			t.Errorf("missing node table: status %d, stderr:\n%s", code, stderr)
		}
	})
}

func TestLogicalLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		toFile bool
	}{{"file", true}, {"stderr", false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := lgPrepare(t)
			env := []string{lgRace, lgNodes(s)}
			if !tc.toFile {
				env = append(env, "TCPIP$POP_LOG=") // defined empty: standard error
			}
			s.start(t, env...)
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			p.cmd("QUIT")
			file := lgStopLog(t, s)
			stderr := s.stderr.String()
			inFile := len(lgLogLines(file, `msg=login`, "user=SMITH")) == 1
			inStderr := len(lgLogLines(stderr, `msg=login`, "user=SMITH")) == 1
			if inFile != tc.toFile || inStderr == tc.toFile {
				t.Errorf("login line in file %v, on stderr %v; want file %v\nfile:\n%s\nstderr:\n%s", inFile, inStderr, tc.toFile, file, stderr)
			}
			if tc.toFile {
				if fi, err := os.Stat(s.Log); err != nil || fi.Mode().Perm() != 0o640 {
					t.Errorf("log file mode: %v %v, want 0640", fi.Mode(), err)
				}
			}
		})
	}
}

func TestLogicalLogFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		json  bool
	}{{"JSON", true}, {"json", true}, {"TEXT", false}, {"", false}}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, lgSet("LOG_FORMAT", tc.value)...)
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			p.cmd("QUIT")
			log := lgStopLog(t, s)
			lines := lgLogLines(log)
			if len(lines) < 5 {
				t.Fatalf("log has %d lines:\n%s", len(lines), log)
			}
			msgs := map[string]bool{}
			for _, l := range lines {
				var v map[string]any
				err := json.Unmarshal([]byte(l), &v)
				if tc.json {
					if err != nil {
						t.Errorf("not JSON: %q: %v", l, err)
						continue
					}
					for _, k := range []string{"time", "level", "msg"} {
						if _, ok := v[k]; !ok {
							t.Errorf("JSON line lacks %q: %s", k, l)
						}
					}
					m, _ := v["msg"].(string)
					msgs[m] = true
				} else if err == nil || !strings.HasPrefix(l, "time=") {
					t.Errorf("TEXT line %q is not logfmt", l)
				}
			}
			if tc.json && (!msgs["session start"] || !msgs["login"] || !msgs["session end"] || !msgs["C: USER smith"]) {
				t.Errorf("JSON log lacks session events: %v", msgs)
			}
		})
	}
}

// lgStartupFile is a DCL startup procedure that sets MESSAGE_MAXIMUM to 2
// and SECURITY to SECURE.
const lgStartupFile = `$! TCPIP$POP_SYSTARTUP.COM for the e2e tests
$ SET NOON
$ DEFINE/SYSTEM/EXECUTIVE_MODE TCPIP$POP_MESSAGE_MAXIMUM 2   ! two a session
$ define /system /nolog -
    tcpip$pop_security "SECURE"
$ EXIT
`

func TestLogicalStartup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string // serve args; "FILE" is replaced by the file
		env      []string
		stat     int
		secure   bool
		showFrom map[string]string // `vmspop logicals` sources
	}{
		{"environment", nil, []string{"TCPIP$POP_STARTUP=FILE"}, 2, true,
			map[string]string{"MESSAGE_MAXIMUM": `"2" (file)`, "SECURITY": `"SECURE" (file)`, "STARTUP": `"FILE" (environment)`}},
		{"command line", []string{"--startup", "FILE"}, nil, 2, true,
			map[string]string{"MESSAGE_MAXIMUM": `"2" (file)`, "STARTUP": `"FILE" (command line)`}},
		{"environment wins", []string{"--startup", "FILE"}, []string{"TCPIP$POP_MESSAGE_MAXIMUM=3"}, 3, true,
			map[string]string{"MESSAGE_MAXIMUM": `"3" (environment)`, "SECURITY": `"SECURE" (file)`}},
		{"none", nil, nil, len(fixtureMessages), false,
			map[string]string{"MESSAGE_MAXIMUM": `"0" (default)`, "STARTUP": `[undefined] (default)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := lgPrepare(t)
			file := filepath.Join(s.Dir, "TCPIP$POP_SYSTARTUP.COM")
			lgWrite(t, file, lgStartupFile)
			repl := func(in []string) []string {
				out := make([]string, len(in))
				for i, a := range in {
					out[i] = strings.ReplaceAll(a, "FILE", file)
				}
				return out
			}
			args, env := repl(tc.args), repl(tc.env)
			lgStartArgs(t, s, args, append([]string{lgNodes(s)}, env...)...)
			if n := lgStat(t, s.Addr); n != tc.stat {
				t.Errorf("STAT gives %d messages, want %d", n, tc.stat)
			}
			want := `-ERR [AUTH] user "nosuch" is unknown`
			if tc.secure {
				want = `+OK password required for "nosuch"`
			}
			if r := dialPOP(t, s.Addr).cmd("USER nosuch"); r != want {
				t.Errorf("USER nosuch = %q, want %q", r, want)
			}
			out, stderr, code := lgRun(t, append([]string{"logicals"}, args...), env...)
			if code != 0 {
				t.Fatalf("vmspop logicals: status %d\n%s", code, stderr)
			}
			for name, v := range tc.showFrom {
				line := `  "TCPIP$POP_` + name + `" = ` + strings.ReplaceAll(v, "FILE", file)
				if !strings.Contains(out, line+"\n") {
					t.Errorf("vmspop logicals lacks %q:\n%s", line, out)
				}
			}
		})
	}
}

// ---- spellings, bad values, vmspop logicals ----

func TestLogicalAltSpelling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		stat int
	}{
		{"TCPIP_POP_", []string{"TCPIP_POP_MESSAGE_MAXIMUM=2"}, 2},
		{"both, equal", []string{"TCPIP_POP_MESSAGE_MAXIMUM=3", "TCPIP$POP_MESSAGE_MAXIMUM=3"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := lgServer(t, tc.env...)
			if n := lgStat(t, s.Addr); n != tc.stat {
				t.Errorf("STAT gives %d messages, want %d", n, tc.stat)
			}
		})
	}
}

func TestLogicalBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  []string
		want []string // in the one stderr line
	}{
		{[]string{"TCPIP$POP_SECURITY=PARANOID"}, []string{"TCPIP$POP_SECURITY", `"PARANOID"`, "FRIENDLY", "SECURE"}},
		{[]string{"TCPIP$POP_MESSAGE_MAXIMUM=70000"}, []string{"TCPIP$POP_MESSAGE_MAXIMUM", `"70000"`, "0 to 65535"}},
		{[]string{"TCPIP$POP_LINK_IDLE_TIMEOUT=0 25:00:00.00"}, []string{"TCPIP$POP_LINK_IDLE_TIMEOUT", `"0 25:00:00.00"`, "dddd hh:mm:ss.cc", "hours 0-23"}},
		{[]string{"TCPIP$POP_LINK_IDLE_TIMEOUT=ten minutes"}, []string{"TCPIP$POP_LINK_IDLE_TIMEOUT", `"ten minutes"`, "dddd hh:mm:ss.cc"}},
		{[]string{"TCPIP_POP_LOG_LEVEL=LOUD"}, []string{"TCPIP_POP_LOG_LEVEL", `"LOUD"`, "ERROR", "INFORMATIONAL", "THREAD", "DEBUG"}},
		{[]string{"TCPIP$POP_LISTEN=localhost"}, []string{"TCPIP$POP_LISTEN", `"localhost"`, "host:port"}},
		{[]string{"TCPIP$POP_SNDBUF=100"}, []string{"TCPIP$POP_SNDBUF", `"100"`, "512 or greater"}},
		{[]string{"TCPIP$POP_MAXIMUM_THREADS=0"}, []string{"TCPIP$POP_MAXIMUM_THREADS", `"0"`, "1 to 100000"}},
		{[]string{"TCPIP$POP_AUTH_METHODS=-"}, []string{"TCPIP$POP_AUTH_METHODS", "no login method left"}},
		{[]string{"TCPIP$POP_TRACE=1", "TCPIP_POP_TRACE=0"}, []string{"TCPIP$POP_TRACE", "TCPIP_POP_TRACE", `"1"`, `"0"`, "both set and differ"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			t.Parallel()
			// LISTEN, if the value is ever accepted, is a free port: the
			// server could start and would be killed after 20 s.
			env := append([]string{"TCPIP$POP_LISTEN=" + freePort(t)}, tc.env...)
			for _, args := range [][]string{{"serve"}, {"logicals"}} {
				stdout, stderr, code := lgRun(t, args, env...)
				if code != 2 {
					t.Errorf("vmspop %s: status %d, want 2; stderr:\n%s", args[0], code, stderr)
				}
				lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
				if len(lines) != 1 {
					t.Errorf("vmspop %s: %d stderr lines, want 1:\n%s", args[0], len(lines), stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(lines[0], w) {
						t.Errorf("vmspop %s: stderr %q lacks %q", args[0], lines[0], w)
					}
				}
				if stdout != "" {
					t.Errorf("vmspop %s: stdout %q, want nothing", args[0], stdout)
				}
			}
		})
	}
	// Two bad values: both reported, one line each.
	_, stderr, code := lgRun(t, []string{"serve"}, "TCPIP$POP_SECURITY=PARANOID", "TCPIP$POP_MESSAGE_MAXIMUM=70000")
	if lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n"); code != 2 || len(lines) != 2 {
		t.Errorf("two bad values: status %d, stderr:\n%s", code, stderr)
	}
}

func TestLogicalShow(t *testing.T) {
	t.Parallel()
	out, stderr, code := lgRun(t, []string{"logicals"},
		"TCPIP$POP_SECURITY=secure", "TCPIP_POP_MESSAGE_MAXIMUM=7", "TCPIP$POP_TRACE=", "TCPIP$POP_LOCAL_NAMES=vaxa vaxb")
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if doc := lgDocNames(t); len(lines) != len(doc) {
		t.Errorf("%d lines for %d names:\n%s", len(lines), len(doc), out)
	}
	for _, want := range []string{
		`  "TCPIP$POP_SECURITY" = "SECURE" (environment)`,
		`  "TCPIP$POP_MESSAGE_MAXIMUM" = "7" (environment)`,
		`  "TCPIP$POP_TRACE" = "TRUE" (environment)`,
		`  "TCPIP$POP_LOCAL_NAMES" = "vaxa, vaxb" (environment)`,
		`  "TCPIP$POP_LEAVE_IN_NEWMAIL" = [undefined] (default)`,
		`  "TCPIP$POP_LINK_IDLE_TIMEOUT" = "0 00:10:00.00" (default)`,
		`  "TCPIP$POP_LISTEN" = ":110" (default)`,
	} {
		if !lgHas(lines, want) {
			t.Errorf("vmspop logicals lacks %q:\n%s", want, out)
		}
	}
	// An unknown TCPIP$POP_ name is a warning, not an error.
	_, stderr, code = lgRun(t, []string{"logicals"}, "TCPIP$POP_SECURTY=SECURE")
	if code != 0 || !strings.Contains(stderr, "TCPIP$POP_SECURTY: unknown logical name ignored (did you mean TCPIP$POP_SECURITY?)") {
		t.Errorf("misspelt name: status %d, stderr:\n%s", code, stderr)
	}
}

// TestLogicalLMTPListen: LMTP on a Unix socket and a TCP port at once
// (more in lmtp_test.go, e2e_postfix_test.go).
func TestLogicalLMTPListen(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "lmtp")
	tcp := freePort(t)
	lgServer(t, lgSet("LMTP_LISTEN", sock+", "+tcp)...)
	for _, addr := range []string{sock, tcp} {
		c := dialLMTP(t, addr)
		codes, err := lmtpSend(c, "a@b.example", []string{"smith@vms.example"}, "Subject: x\n\nx\n")
		if err != nil || codes["smith@vms.example"] != 250 {
			t.Errorf("LMTP on %s: %v %v", addr, codes, err)
		}
		c.Close()
	}
}

// TestLogicalLMTPMaximumSize: the limit is announced (SIZE) and enforced.
func TestLogicalLMTPMaximumSize(t *testing.T) {
	t.Parallel()
	tcp := freePort(t)
	lgServer(t, append(lgSet("LMTP_LISTEN", tcp), lgSet("LMTP_MAXIMUM_SIZE", "2048")...)...)
	c := dialLMTP(t, tcp)
	defer c.Close()
	if ok, v := c.Extension("SIZE"); !ok || v != "2048" {
		t.Errorf("SIZE %v %q, want 2048", ok, v)
	}
	codes, err := lmtpSend(c, "a@b.example", []string{"smith@vms.example"}, "Subject: big\n\n"+strings.Repeat("x", 4096)+"\n")
	if err != nil || codes["smith@vms.example"] != 552 {
		t.Errorf("4 KiB message: %v %v, want 552", codes, err)
	}
}

// TestLogicalProxyTrusted: a PROXY v2 header from a trusted address sets
// the logged client address; undefined, a header is just a bad command.
func TestLogicalProxyTrusted(t *testing.T) {
	t.Parallel()
	for _, trusted := range []string{"127.0.0.1/32", ""} {
		s := lgServer(t, lgSet("PROXY_TRUSTED", trusted)...)
		c := dialFrom(t, "127.0.0.1", s.Addr)
		h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP("192.0.2.44"), Port: 4444}, c.RemoteAddr())
		if trusted == "" {
			r := bufio.NewReader(c)
			r.ReadString('\n')
			h.Version = 1 // "PROXY TCP4 ...": one line, one reply
			h.WriteTo(c)
			if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "-ERR") {
				t.Errorf("PROXY header without PROXY_TRUSTED answered %q, want -ERR", l)
			}
			continue
		}
		h.WriteTo(c)
		if err := popLogin(c); err != nil {
			t.Fatal(err)
		}
		waitLog(t, s.Log, "192.0.2.44:4444")
	}
}
