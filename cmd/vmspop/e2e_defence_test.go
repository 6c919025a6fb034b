package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestFail2banFilter runs Debian's fail2ban-regex with
// dist/fail2ban/filter.d/vmspop.conf against the log of a real server, in
// both log formats: every guessed password is matched, with the client's
// address; a refusal that is not a guess (login delay) is not.
func TestFail2banFilter(t *testing.T) {
	f2b := requireTool(t, "fail2ban-regex")
	filter, err := filepath.Abs("../../dist/fail2ban/filter.d/vmspop.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"TEXT", "JSON"} {
		t.Run(format, func(t *testing.T) {
			s := startServer(t, "TCPIP$POP_LOG_FORMAT="+format, "TCPIP$POP_AUTH_PENALTY=0", "TCPIP$POP_LOGIN_DELAY=3600")
			p := dialPOP(t, s.Addr)
			p.cmd("USER smith")
			if r := p.cmd("PASS wrong"); !strings.HasPrefix(r, "-ERR") {
				t.Fatalf("PASS wrong: %s", r)
			}
			p.cmd("USER nosuch")
			p = dialPOP(t, s.Addr)
			p.login("smith", "demo")
			p.cmd("QUIT")
			p = dialPOP(t, s.Addr)
			p.cmd("USER smith")
			if r := p.cmd("PASS demo"); !strings.Contains(r, "LOGIN-DELAY") {
				t.Fatalf("second login: %s, want [LOGIN-DELAY]", r)
			}
			p.cmd("QUIT")
			s.stop()
			out, err := exec.Command(f2b, "-v", s.Log, filter).CombinedOutput()
			if err != nil {
				t.Fatalf("fail2ban-regex: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`Lines: \d+ lines, (\d+) ignored, (\d+) matched`).FindSubmatch(out)
			if m == nil || string(m[1]) != "1" || string(m[2]) != "2" {
				t.Errorf("want 2 lines matched (bad password, unknown user) and 1 ignored (login delay):\n%s", out)
			}
			if !strings.Contains(string(out), "127.0.0.1") {
				t.Errorf("no address 127.0.0.1 in the matches:\n%s", out)
			}
		})
	}
}

// lgReadLog returns the server's log once it contains want (polled:
// the log is written as sessions end).
func lgReadLog(t *testing.T, s *e2eServer, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(s.Log)
		if strings.Contains(string(b), want) || time.Now().After(deadline) {
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEOF reads from nc until the server closes it and returns how long
// that took.
func waitEOF(t *testing.T, nc net.Conn, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	nc.SetReadDeadline(start.Add(within))
	if _, err := io.Copy(io.Discard, nc); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("not closed within %v: %v", within, err)
	}
	return time.Since(start)
}

func TestLogicalAuthPenalty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		wait  string // the logged penalty of the second attempt; "" = none
	}{{"1", "wait_ms=1000"}, {"0", ""}} {
		s := lgServer(t, "TCPIP$POP_AUTH_PENALTY="+tc.value)
		p := dialPOP(t, s.Addr)
		p.cmd("USER smith")
		p.cmd("PASS wrong")
		start := time.Now()
		p.cmd("USER smith")
		if r := p.cmd("PASS wrong"); !strings.HasPrefix(r, "-ERR [AUTH] password supplied") {
			t.Errorf("AUTH_PENALTY=%s: second PASS = %q", tc.value, r)
		}
		d := time.Since(start)
		log := lgReadLog(t, s, "two failed logins")
		got := lgLogLines(log, "login penalty")
		switch {
		case tc.wait == "" && len(got) != 0:
			t.Errorf("AUTH_PENALTY=0: penalty logged: %q", got)
		case tc.wait != "" && (len(got) != 1 || !strings.Contains(got[0], tc.wait) || d < time.Second):
			t.Errorf("AUTH_PENALTY=%s: second attempt after %v, penalty lines %q; want one with %s", tc.value, d, got, tc.wait)
		}
	}
}

func TestLogicalMaximumPerAddress(t *testing.T) {
	t.Parallel()
	// The server's address comes from its log: no probe connection holds
	// the one session 127.0.0.1 may have (waiting here for the probe's
	// "session end" cost 20 s).
	s := lgServer(t, "TCPIP$POP_MAXIMUM_PER_ADDRESS=1")
	dialPOP(t, s.Addr)
	nc, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(nc)
	if string(b) != "-ERR [SYS/TEMP] too many sessions from your address, try later\r\n" {
		t.Errorf("second session from 127.0.0.1 got %q", b)
	}
}

// TestLoginCommandBudgetServe: the real server's default budget before
// login (gateway.DefaultMaxLoginCommands, 30): a CAPA loop gets 30
// listings, then the closing reply, and the socket closes. (A NOOP loop
// ends sooner: NOOP is an error before login, and errors have their own
// limit.)
func TestLoginCommandBudgetServe(t *testing.T) {
	t.Parallel()
	s := lgServer(t)
	p := dialPOP(t, s.Addr)
	for i := 0; i < 30; i++ {
		if r := p.cmd("CAPA"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("CAPA %d: %s", i+1, r)
		}
		p.multi()
	}
	if r := p.cmd("CAPA"); r != "-ERR too many commands before login, closing connection" {
		t.Errorf("CAPA 31: %q", r)
	}
	if d := waitEOF(t, p.conn, 20*time.Second); d > 10*time.Second {
		t.Errorf("closed after %v", d)
	}
	lgReadLog(t, s, "too many commands before login")
	// A NOOP loop: closed at the error limit.
	p = dialPOP(t, s.Addr)
	for i := 1; ; i++ {
		r := p.cmd("NOOP")
		if r == "-ERR too many errors, closing connection" {
			break
		}
		if i > 10 {
			t.Fatalf("NOOP %d before login: %q, want the connection closed by now", i, r)
		}
	}
	if d := waitEOF(t, p.conn, 20*time.Second); d > 10*time.Second {
		t.Errorf("NOOP loop closed after %v", d)
	}
}

func TestLogicalLoginTimeout(t *testing.T) {
	t.Parallel()
	s := lgServer(t, "TCPIP$POP_LOGIN_TIMEOUT=1")
	p := dialPOP(t, s.Addr)
	p.cmd("CAPA")
	if d := waitEOF(t, p.conn, 20*time.Second); d > 10*time.Second {
		t.Errorf("closed after %v, want about 1 s", d)
	}
	if l := lgLogLines(lgReadLog(t, s, "end=\"login timeout\""), "end=\"login timeout\""); len(l) != 1 {
		t.Errorf("no session end with login timeout in the log")
	}
}

func TestLogicalTLSHandshakeTimeout(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := lgCert(t, t.TempDir())
	tlsAddr := freePort(t)
	s := lgServer(t, "TCPIP$POP_TLS_HANDSHAKE_TIMEOUT=1", "TCPIP$POP_TLS_LISTEN="+tlsAddr,
		"TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile)
	nc, err := net.Dial("tcp", tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if d := waitEOF(t, nc, 20*time.Second); d > 10*time.Second {
		t.Errorf("silent TLS connection closed after %v, want about 1 s", d)
	}
	// A real client still gets in, and may send its password under TLS.
	tc, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	p := &popClient{t: t, conn: tc, r: bufio.NewReader(tc)}
	p.line()
	p.login("smith", "demo")
	lgReadLog(t, s, "TLS handshake timeout")
}

// scrape fetches url and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// metricValue returns the value of the sample of family name whose
// labels include all of labels ("k=v"); a histogram gives its count.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	total, found := 0.0, false
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	if !found {
		return -1
	}
	return total
}

// TestLogicalMetricsListen scrapes /metrics of a real server after real
// sessions and deliveries and parses it with the Prometheus text parser:
// every family docs/defence.md lists has the samples those made.
// Deliveries are counted by exit status both for LMTP (in the server) and
// for vmspop deliver processes (reported through the admin socket).
func TestLogicalMetricsListen(t *testing.T) {
	t.Parallel()
	maddr := freePort(t)
	lmtpSock := filepath.Join(t.TempDir(), "lmtp.sock")
	adminSock := filepath.Join(t.TempDir(), "run", "admin.sock")
	s := lgServer(t, "TCPIP$POP_METRICS_LISTEN="+maddr, "TCPIP$POP_AUTH_PENALTY=0",
		"TCPIP$POP_LMTP_LISTEN="+lmtpSock, "TCPIP$POP_ADMIN_SOCKET="+adminSock)
	base := "http://" + maddr
	before := scrape(t, base+"/metrics")
	if v := metricValue(before, "vmspop_build_info", "version=V0.1"); v != 1 {
		t.Errorf("vmspop_build_info = %v", v)
	}
	// Real sessions: a failed login, then one that retrieves and deletes.
	t0 := time.Now()
	g := dialPOPFrom(t, s.Addr, net.IPv4(127, 0, 0, 7))
	g.cmd("USER jones")
	g.cmd("PASS wrong") // 127.0.0.7 stays penalised
	g.conn.Close()
	p := dialPOP(t, s.Addr)
	p.cmd("USER smith")
	p.cmd("PASS wrong")
	p.login("smith", "demo")
	t.Logf("sessions after %v", time.Since(t0))
	if v := metricValue(scrape(t, base+"/metrics"), "vmspop_sessions_open"); v < 1 {
		t.Errorf("vmspop_sessions_open = %v with a session logged in, want at least 1", v)
	}
	if r := p.cmd("RETR 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR 1: %s", r)
	}
	p.multi()
	p.cmd("DELE 2")
	p.cmd("QUIT")
	p = dialPOP(t, s.Addr)
	p.login("smith", "demo") // from the index now
	p.cmd("QUIT")
	lgReadLog(t, s, "end=QUIT")
	t.Logf("QUIT after %v", time.Since(t0))
	// Deliveries: LMTP to SMITH (delivered: 0) and to an unknown user
	// (67); vmspop deliver processes, the same two (0 and 67).
	lc := dialLMTP(t, lmtpSock)
	codes, err := lmtpSend(lc, "ann@b.example", []string{"smith@vms.example", "nobody@vms.example"}, "From: ann@b.example\nSubject: m\n\nbody\n")
	if err != nil || codes["smith@vms.example"] != 250 || codes["nobody@vms.example"] != 550 {
		t.Fatalf("LMTP replies %v, %v", codes, err)
	}
	lc.Quit()
	for user, want := range map[string]int{"SMITH": 0, "NOBODY": 67} {
		cmd := exec.Command(vmspopBinary(t), "deliver", "-f", "ann@b.example", user)
		cmd.Env = append(os.Environ(), "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF, "TCPIP$POP_ADMIN_SOCKET="+adminSock, lgRace)
		cmd.Stdin = strings.NewReader("From: ann@b.example\nSubject: d\n\nbody\n")
		if code := exitCode(t, cmd); code != want {
			t.Errorf("vmspop deliver %s = %d, want %d", user, code, want)
		}
	}
	var after map[string]*dto.MetricFamily
	want := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"vmspop_logins_total", []string{"method=USER", "outcome=ok"}, 2},
		{"vmspop_logins_total", []string{"method=USER", "outcome=failed"}, 2},
		{"vmspop_retr_total", nil, 1},
		{"vmspop_dele_total", nil, 1},
		{"vmspop_sent_octets_total", nil, 50},
		{"vmspop_sessions_ended_total", []string{"reason=QUIT"}, 2},
		{"vmspop_index_builds_total", nil, 1},
		{"vmspop_index_hits_total", nil, 1},
		{"vmspop_lock_wait_seconds", []string{"kind=session"}, 2},
		{"vmspop_lock_wait_seconds", []string{"kind=folder"}, 1},
		{"vmspop_update_duration_seconds", nil, 2},
		{"vmspop_penalised_addresses", nil, 1},
		{"vmspop_deliveries_total", []string{"status=0"}, 2},
		{"vmspop_deliveries_total", []string{"status=67"}, 2},
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		after = scrape(t, base+"/metrics")
		bad := ""
		for _, w := range want {
			if v := metricValue(after, w.name, w.labels...); v < w.min {
				bad += fmt.Sprintf("\n%s%v = %v, want at least %v", w.name, w.labels, v, w.min)
			}
		}
		// A session's end is counted just after its log line is written,
		// and the first (closed without QUIT) can end after the others: the
		// gauge must come back to 0, not be 0 at the first scrape.
		if v := metricValue(after, "vmspop_sessions_open"); v != 0 {
			bad += fmt.Sprintf("\nvmspop_sessions_open = %v after every session ended", v)
		}
		if bad == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the sessions:%s", bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// /healthz: 200 while the spool is writable, 503 when it is gone.
	get := func() int {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(); c != 200 {
		t.Errorf("/healthz = %d, want 200", c)
	}
	if err := os.Rename(s.Spool, s.Spool+".away"); err != nil {
		t.Fatal(err)
	}
	if c := get(); c != 503 {
		t.Errorf("/healthz with the spool gone = %d, want 503", c)
	}
	os.Rename(s.Spool+".away", s.Spool)
	if c := get(); c != 200 {
		t.Errorf("/healthz with the spool back = %d, want 200", c)
	}
}

// TestHealthzNotAccepting: /healthz answers 503 once the server no
// longer accepts connections, here while SIGTERM's grace period lets an
// open session finish (the metrics listener stays up until then).
func TestHealthzNotAccepting(t *testing.T) {
	t.Parallel()
	maddr := freePort(t)
	s := lgServer(t, "TCPIP$POP_METRICS_LISTEN="+maddr)
	health := func() (int, string) {
		resp, err := http.Get("http://" + maddr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, b := health(); c != 200 {
		t.Fatalf("/healthz = %d %q, want 200", c, b)
	}
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, b := health()
		if c == 503 && strings.Contains(b, "not accepting connections") {
			break
		}
		if c != 200 || time.Now().After(deadline) {
			t.Fatalf("/healthz after SIGTERM = %d %q, want 503 not accepting connections", c, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The session is still served, and ends normally.
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("STAT during the grace period: %s", r)
	}
	p.cmd("QUIT")
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		t.Error("server did not exit after the last session")
	}
}

// chromium runs headless Chromium with args and the given URL and returns
// its standard output.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		var lerr error
		if bin, lerr = exec.LookPath("chromium"); lerr != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("chromium is not installed (CI installs it in .ci/run)")
			}
			t.Skip("chromium is not installed: the status page is not checked in a browser")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestStatusPageBrowser loads the status page in headless Chromium while
// a session is open: the rendered DOM shows the session's user and
// address, the chart has a bar for the failed login, and the page asks
// to be refreshed. VMSPOP_STATUS_SCREENSHOT=file.png also saves a
// picture of it.
func TestStatusPageBrowser(t *testing.T) {
	t.Parallel()
	maddr := freePort(t)
	s := lgServer(t, "TCPIP$POP_METRICS_LISTEN="+maddr)
	// A guesser at 127.0.0.9 (penalised), and an error: JONES's spool
	// directory is a file, so his maildrop cannot be opened.
	g := dialPOPFrom(t, s.Addr, net.IPv4(127, 0, 0, 9))
	g.cmd("USER nosuch")
	g.cmd("PASS wrong")
	g.conn.Close()
	jones := filepath.Join(s.Spool, "JONES")
	if err := os.RemoveAll(jones); err != nil {
		t.Fatal(err)
	}
	lgWrite(t, jones, "not a directory\n")
	j := dialPOP(t, s.Addr)
	j.cmd("USER jones")
	if r := j.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR") {
		t.Fatalf("JONES with a broken spool directory: %s", r)
	}
	j.cmd("QUIT")
	p := dialPOP(t, s.Addr)
	p.cmd("USER smith")
	p.cmd("PASS wrong")
	p.login("smith", "demo")
	p.cmd("RETR 1")
	p.multi()
	url := "http://" + maddr + "/status"
	dom := chromium(t, "--dump-dom", url)
	for _, want := range []string{
		`<td class="user">SMITH</td>`,
		`127.0.0.1:`,
		`<td>transaction</td>`,
		`<rect class="f"`,
		`<rect class="l"`,
		`http-equiv="refresh"`,
		`<span id="health" class="ok">OK</span>`,
		`<td>127.0.0.9</td>`,
		`cannot open maildrop`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("status page DOM lacks %q:\n%s", want, dom)
		}
	}
	if shot := os.Getenv("VMSPOP_STATUS_SCREENSHOT"); shot != "" {
		chromium(t, "--screenshot="+shot, "--window-size=900,900", url)
	}
	statusRefreshes(t, maddr)
	p.cmd("QUIT")
}

// statusRefreshes leaves the status page open in headless Chromium,
// through a proxy that counts the page's requests, until the browser has
// loaded it a second time by itself (the page's refresh).
func statusRefreshes(t *testing.T, maddr string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed")
	}
	target, _ := neturl.Parse("http://" + maddr)
	rp := httputil.NewSingleHostReverseProxy(target)
	loads := make(chan string, 16)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			select {
			case loads <- time.Now().Format("15:04:05.000"):
			default:
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", proxy.URL+"/status")
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	var got []string
	for len(got) < 2 {
		select {
		case at := <-loads:
			got = append(got, at)
		case <-ctx.Done():
			t.Fatalf("status page loaded at %v, not refreshed by the browser within 90 s\n%s", got, errb.String())
		}
	}
	t.Logf("status page loaded by the browser at %v", got)
}

func TestLogicalAdminSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "run", "admin.sock")
	s := lgServer(t, "TCPIP$POP_ADMIN_SOCKET="+sock)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket %s: %v, mode %v; want 0600", sock, err, fi.Mode().Perm())
	}
	if di, err := os.Stat(filepath.Dir(sock)); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("admin socket directory: %v, mode %v; want 0700", err, di.Mode().Perm())
	}
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	p.cmd("DELE 1")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(vmspopBinary(t), args...)
		cmd.Env = append(os.Environ(), "TCPIP$POP_ADMIN_SOCKET="+sock, lgRace)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := run("who")
	if code != 0 || !regexp.MustCompile(`(?m)^SMITH +127\.0\.0\.1:\d+ +transaction +no `).MatchString(out) {
		t.Errorf("vmspop who = %d:\n%s", code, out)
	}
	out, code = run("kick", "smith")
	if code != 0 || out != "SMITH: 1 session(s) closed\n" {
		t.Errorf("vmspop kick smith = %d: %q", code, out)
	}
	if d := waitEOF(t, p.conn, 10*time.Second); d > 5*time.Second {
		t.Errorf("kicked session closed after %v", d)
	}
	if l := lgLogLines(lgReadLog(t, s, "end=kicked"), "end=kicked"); len(l) != 1 {
		t.Errorf("no session end with end=kicked in the log")
	}
	// Kicked is closed without UPDATE: DELE 1 was not applied.
	if got := folderSubjects(t, s.Spool, "SMITH", "NEWMAIL"); len(got) != len(fixtureMessages) {
		t.Errorf("NEWMAIL has %d messages after the kick, want all %d", len(got), len(fixtureMessages))
	}
	if out, code = run("kick", "smith"); code != 1 {
		t.Errorf("kick with no session = %d: %q, want 1", code, out)
	}
	if out, code = run("who"); code != 0 || strings.Contains(out, "SMITH") {
		t.Errorf("who after the kick = %d:\n%s", code, out)
	}
}

// TestPlaintextRefusedBeforeSTLS: with a certificate and AUTH_TLS_ONLY
// undefined, the real server refuses USER/PASS and PLAIN before STLS,
// leaves them out of CAPA, and takes them after STLS; no plaintext
// warning is logged.
func TestPlaintextRefusedBeforeSTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := lgCert(t, t.TempDir())
	s := lgServer(t, "TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile)
	p := dialPOP(t, s.Addr)
	if c := lgCapa(p); lgHas(c, "USER") || !lgHas(c, "STLS") {
		t.Errorf("CAPA before STLS = %q, want STLS and no USER", c)
	}
	p = lgPlaintextRefusedSTLS(t, p, pool)
	p.login("smith", "demo")
	p.cmd("QUIT")
	if log := lgReadLog(t, s, "end=QUIT"); strings.Contains(log, "passwords may be sent in clear") {
		t.Errorf("plaintext warning logged with passwords only under TLS")
	}
}

// TestFloodServe: 1,000 parallel bad logins against the real server (the
// binary without the race detector, whose cost is not the product's) with
// its default penalties and per-address cap (100 clients from each of 10
// addresses, MAXIMUM_THREADS raised to let them all in) leave a good login
// from another address answered within 1 s: the median of 3 logins made
// while the flood is in the server, in one of up to 3 rounds (a shared
// machine's load can spoil one).
func TestFloodServe(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	t.Parallel()
	s := lgPrepare(t)
	s.Bin = plainBinary(t)
	s.Args = []string{"--grace=1s"} // the flood's sessions sit in their penalty: do not wait for them at the end
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_MAXIMUM_THREADS=1100", "TCPIP$POP_TRACE=0")
	const addrs, per = 10, 100
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sent := 0
	for a := 0; a < addrs; a++ {
		for i := 0; i < per; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+a))}, Timeout: 30 * time.Second}
				nc, err := d.Dial("tcp", s.Addr)
				if err != nil {
					t.Errorf("flood dial: %v", err)
					return
				}
				mu.Lock()
				conns = append(conns, nc)
				mu.Unlock()
				nc.SetDeadline(time.Now().Add(60 * time.Second))
				r := bufio.NewReader(nc)
				if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
					t.Errorf("flood greeting %q, %v", l, err)
					return
				}
				nc.Write([]byte("USER jones\r\n"))
				r.ReadString('\n')
				nc.Write([]byte("PASS wrong\r\n"))
				mu.Lock()
				sent++
				mu.Unlock()
			}()
		}
	}
	// Measure once 90 % of the flood has sent its password (the last
	// connections of 1,000 can take seconds on a loaded machine).
	t0 := time.Now()
	for {
		mu.Lock()
		n := sent
		mu.Unlock()
		if n >= addrs*per*9/10 {
			break
		}
		if time.Since(t0) > 60*time.Second || t.Failed() {
			t.Fatalf("flood: %d of %d sent their password", n, addrs*per)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("90 %% of the flood in after %v", time.Since(t0))
	defer wg.Wait()
	for round := 1; round <= 3; round++ {
		med, lat := floodGoodLogins(t, s)
		log := lgReadLog(t, s, "login failed")
		t.Logf("round %d: good logins during the flood: %v; %d failures logged by then", round, lat, strings.Count(log, "login failed"))
		if med < time.Second {
			return
		}
		if round == 3 {
			t.Errorf("good login took %v (median of %v) during 1,000 bad ones, want under 1 s", med, lat)
		}
	}
}

// floodGoodLogins logs in 3 times as SMITH from 127.0.0.2 and returns the
// median time from PASS to its reply, and the three.
func floodGoodLogins(t *testing.T, s *e2eServer) (time.Duration, []time.Duration) {
	var lat []time.Duration
	for i := 0; i < 3; i++ {
		p := dialPOPFrom(t, s.Addr, net.IPv4(127, 0, 0, 2))
		p.cmd("USER smith")
		start := time.Now()
		if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("good login during the flood: %s", r)
		}
		lat = append(lat, time.Since(start))
		p.cmd("QUIT")
		p.conn.Close()
	}
	slices.Sort(lat)
	return lat[1], lat
}
