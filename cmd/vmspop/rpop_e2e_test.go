package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// rpopSite is a local vmspop site (spool, no accounts file: any valid name
// is a user) whose records poll remotes.
type rpopSite struct {
	Dir, Spool string
	Env        []string
	Bin        string // "" = vmspopBinary (race-enabled)
}

func newRPOPSite(t testing.TB, env ...string) *rpopSite {
	t.Helper()
	dir := t.TempDir()
	s := &rpopSite{Dir: dir, Spool: filepath.Join(dir, "spool")}
	os.MkdirAll(s.Spool, 0o755)
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TCPIP$POP_") && !strings.HasPrefix(kv, "TCPIP_POP_") {
			environ = append(environ, kv)
		}
	}
	// The first definition of a name wins: env before the defaults.
	s.Env = append(append(environ, env...), "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+filepath.Join(dir, "uaf"),
		"TCPIP$POP_HOSTNAME=vms.example", "TCPIP$POP_LOG="+filepath.Join(dir, "rpop.log"),
		"TCPIP$POP_RPOP_TIMEOUT=0 00:00:20", "GORACE=atexit_sleep_ms=0")
	return s
}

// run runs "vmspop ARGS" with stdin and returns its status and output.
func (s *rpopSite) run(t testing.TB, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(s.bin(t), args...)
	cmd.Env = s.Env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	rc := exitCode(t, cmd)
	return rc, out.String(), errb.String()
}

// add adds a record and returns its id.
func (s *rpopSite) add(t testing.TB, user, password string, args ...string) string {
	t.Helper()
	rc, out, errs := s.run(t, password+"\n", append([]string{"rpop", "add", user, "--password-stdin"}, args...)...)
	if rc != 0 {
		t.Fatalf("rpop add %v: %d %s", args, rc, errs)
	}
	return strings.TrimSpace(out)
}

func (s *rpopSite) poll(t testing.TB, user string) (int, string) {
	t.Helper()
	rc, _, errs := s.run(t, "", "rpop", "poll", user)
	return rc, errs
}

// stored returns user's NEWMAIL messages.
func (s *rpopSite) stored(t testing.TB, user string) [][]byte {
	t.Helper()
	msgs, err := spool.New(s.Spool).ReadFolder(context.Background(), user, spool.NewMail)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// testMessage is message i of a set: awkward body lines, a unique
// Message-ID.
func testMessage(set string, i int, to string) string {
	return fmt.Sprintf("Return-Path: <sender%d@example.org>\nFrom: Sender %d <sender%d@example.org>\nTo: %s\nSubject: %s %d\nMessage-ID: <%s-%d@example.org>\n\n"+
		"Body of %s %d.\n.\n..\n.leading dot\n>From quoted\n\n%s\nlast line\n",
		i, i, i, to, set, i, set, i, set, i, strings.Repeat("x", 200+i%50))
}

var msgIDRE = regexp.MustCompile(`(?m)^Message-ID: <([^>]+)>$`)

// checkOnce asserts that each of want (keyed by Message-ID) is stored
// exactly once in user's NEWMAIL, with its body byte for byte, in MAIL-11
// form (a SMTP%"sender" From: line).
func (s *rpopSite) checkOnce(t testing.TB, user string, want []string) {
	t.Helper()
	bodies := map[string]string{}
	for _, w := range want {
		id := msgIDRE.FindStringSubmatch(w)[1]
		_, body, _ := strings.Cut(w, "\n\n")
		bodies[id] = body
	}
	seen := map[string]int{}
	for _, m := range s.stored(t, user) {
		text := string(m)
		if !strings.HasPrefix(text, "From:\tSMTP%\"") {
			t.Errorf("%s: stored message is not in MAIL-11 form: %.80q", user, text)
		}
		mid := msgIDRE.FindStringSubmatch(text)
		if mid == nil {
			t.Errorf("%s: stored message without Message-ID: %.200q", user, text)
			continue
		}
		seen[mid[1]]++
		if seen[mid[1]] == 2 {
			k, _, _ := strings.Cut(text[strings.Index(text, "X-RPOP-ID"):], "\n")
			t.Logf("%s: second copy of %s has %s", user, mid[1], k)
		}
		_, orig, ok := strings.Cut(text, "\nX-RPOP-ID: ")
		if !ok {
			t.Errorf("%s: %s has no X-RPOP-ID", user, mid[1])
			continue
		}
		_, body, _ := strings.Cut(orig, "\n\n")
		if wb, ok := bodies[mid[1]]; ok && body != wb {
			t.Errorf("%s: %s body differs:\n got %q\nwant %q", user, mid[1], body, wb)
		}
	}
	for id := range bodies {
		if seen[id] != 1 {
			t.Errorf("%s: %s stored %d times; want once", user, id, seen[id])
		}
	}
	for id, n := range seen {
		if _, ok := bodies[id]; !ok {
			t.Errorf("%s: unexpected message %s stored %d times", user, id, n)
		}
	}
}

func genMessages(set string, n int, to string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = testMessage(set, i, to)
	}
	return out
}

// TestRPOPDovecot polls a real Dovecot over plain POP3, STLS and implicit
// TLS, with and without APOP and Leave.
func TestRPOPDovecot(t *testing.T) {
	d := startDovecot(t, dovecotOptions{TLS: true, APOP: true})
	site := newRPOPSite(t)
	cases := []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"plainapop", []string{"--apop"}},
		{"stls", []string{"--stls", "--ca", d.CA}},
		{"stlsleave", []string{"--stls", "--ca", d.CA, "--leave", "--apop"}},
		{"tls", []string{"--tls", "--ca", d.CA}},
		{"tlsleaveapop", []string{"--tls", "--ca", d.CA, "--leave", "--apop"}},
		{"stlsoffered", []string{"--stls-if-offered", "--ca", d.CA}},
	}
	// Dovecot's passwd-file may miss a change made within the second of
	// its last read: every user exists before the first login.
	all := map[string][]string{}
	for _, tc := range cases {
		all[tc.name] = genMessages(tc.name, 7, tc.name+"@remote.example")
		d.addUser(t, tc.name, "pw-"+tc.name, all[tc.name])
	}
	time.Sleep(1100 * time.Millisecond) // see above: the passwd file's mtime must be in the past
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user := strings.ToUpper(tc.name)
			msgs := all[tc.name]
			host := d.Plain
			if slicesContains(tc.args, "--tls") {
				host = d.TLS
			}
			id := site.add(t, user, "pw-"+tc.name, append([]string{"--host", host, "--account", tc.name}, tc.args...)...)
			if rc, errs := site.poll(t, user); rc != 0 {
				t.Fatalf("poll: %d %s", rc, errs)
			}
			site.checkOnce(t, user, msgs)
			leave := slicesContains(tc.args, "--leave")
			if n := d.inboxCount(t, tc.name); leave && n != len(msgs) || !leave && n != 0 {
				t.Errorf("remote holds %d messages after the poll (leave %v)", n, leave)
			}
			// A second poll stores nothing new.
			if rc, errs := site.poll(t, user); rc != 0 {
				t.Fatalf("second poll: %d %s", rc, errs)
			}
			site.checkOnce(t, user, msgs)
			_, out, _ := site.run(t, "", "rpop", "list", user)
			if !strings.Contains(out, id) || !strings.Contains(out, "ok, 0 messages") {
				t.Errorf("list after the second poll:\n%s", out)
			}
			// Dovecot's own login lines say how the poller logged in:
			// APOP when asked for, over TLS when asked for.
			method, tls := "PLAIN", slicesContains(tc.args, "--tls") || slicesContains(tc.args, "--stls") || slicesContains(tc.args, "--stls-if-offered")
			if slicesContains(tc.args, "--apop") {
				method = "APOP"
			}
			logins := regexp.MustCompile(`Login: user=<`+tc.name+`>, method=(\w+),.*`).FindAllStringSubmatch(d.Log(), -1)
			if len(logins) != 2 {
				t.Fatalf("Dovecot logged %d logins of %s; want 2", len(logins), tc.name)
			}
			for _, l := range logins {
				if l[1] != method || strings.Contains(l[0], ", TLS") != tls {
					t.Errorf("Dovecot login %q; want method=%s, TLS %v", l[0], method, tls)
				}
			}
		})
	}
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (s *rpopSite) bin(t testing.TB) string {
	if s.Bin != "" {
		return s.Bin
	}
	return vmspopBinary(t)
}

// TestRPOPUnifiedDovecot drains a domain-wide Dovecot mailbox and
// distributes it: X-Real-To recipients, the To/Cc fallback, the
// postmaster fallback, Return-Path as the envelope sender.
func TestRPOPUnifiedDovecot(t *testing.T) {
	d := startDovecot(t, dovecotOptions{TLS: true, APOP: true})
	site := newRPOPSite(t, "TCPIP$POP_SUBSTITUTE_DOMAIN=vms.example", "TCPIP$POP_POSTMASTER=POSTMASTER")
	for _, u := range []string{"ALICE", "BOB", "POSTMASTER"} {
		os.MkdirAll(filepath.Join(site.Spool, u), 0o700)
	}
	msgs := []string{
		"Return-Path: <s1@far.example>\nX-Real-To: alice@vms.example\nX-Real-To: bob@vms.example\nFrom: S1 <s1@far.example>\nTo: team@lists.example\nSubject: both\nMessage-ID: <u1@far.example>\n\nfor alice and bob\n.\n",
		"Return-Path: <s2@far.example>\nFrom: s2@far.example\nTo: bob@vms.example, stranger@other.example\nSubject: to bob\nMessage-ID: <u2@far.example>\n\nfor bob only\n",
		"Return-Path: <s3@far.example>\nX-Real-To: nobody@vms.example\nFrom: s3@far.example\nSubject: lost\nMessage-ID: <u3@far.example>\n\nfor the postmaster\n",
	}
	d.addUser(t, "domain", "dpw", msgs)
	time.Sleep(1100 * time.Millisecond) // Dovecot's passwd-file change detection (see TestRPOPDovecot)
	site.add(t, "POSTMASTER", "dpw", "--host", d.Plain, "--account", "domain", "--unified", "X-Real-To")
	if rc, errs := site.poll(t, "POSTMASTER"); rc != 0 {
		t.Fatalf("poll: %d %s", rc, errs)
	}
	site.checkOnce(t, "ALICE", msgs[:1])
	site.checkOnce(t, "BOB", msgs[:2])
	site.checkOnce(t, "POSTMASTER", msgs[2:])
	for _, u := range []string{"ALICE", "BOB", "POSTMASTER"} {
		for _, m := range site.stored(t, u) {
			text := string(m)
			if strings.Contains(text, "\nX-Real-To:") || strings.Contains(text, "\nReturn-Path:") {
				t.Errorf("%s: special field or Return-Path left in %.300q", u, text)
			}
			if !regexp.MustCompile(`^From:\tSMTP%"s[123]@far\.example"`).MatchString(text) {
				t.Errorf("%s: envelope sender not from Return-Path: %.80q", u, text)
			}
		}
	}
	if n := d.inboxCount(t, "domain"); n != 0 {
		t.Errorf("domain-wide mailbox holds %d messages after the poll", n)
	}
}

// TestRPOPFromVmspop polls a second vmspop (the fixture spool's SMITH):
// APOP with the wrong secret fails; USER/PASS without Leave drains the
// mailbox; on another vmspop, APOP with the right secret and Leave stores
// every message once and leaves them there.
func TestRPOPFromVmspop(t *testing.T) {
	remote := startServer(t)
	site := newRPOPSite(t)
	site.add(t, "LOCAL", "demo", "--host", remote.Addr, "--account", "SMITH", "--apop")
	// APOP with the account's APOP secret: the password given is "demo",
	// the secret "apop-demo", so APOP fails and says so.
	rc, errs := site.poll(t, "LOCAL")
	if rc == 0 || !strings.Contains(errs, "APOP") {
		t.Fatalf("APOP with the wrong secret: rc %d, %s", rc, errs)
	}
	// list's Last column says when it failed and why.
	if out := mustList(t, site); !regexp.MustCompile(`\d\d:\d\d.* failed: .*APOP`).MatchString(out) {
		t.Errorf("rpop list after the failed poll; want its Last to say failed and why:\n%s", out)
	}
	site.run(t, "", "rpop", "remove", strings.Fields(mustList(t, site))[0])
	site.add(t, "LOCAL", "demo", "--host", remote.Addr, "--account", "SMITH")
	if rc, errs := site.poll(t, "LOCAL"); rc != 0 {
		t.Fatalf("poll: %d %s", rc, errs)
	}
	got := site.stored(t, "LOCAL")
	if len(got) != len(fixtureMessages) {
		t.Fatalf("stored %d messages; want %d", len(got), len(fixtureMessages))
	}
	_, want, _ := strings.Cut(fixtureMessages[0].text, "\n\n")
	if _, orig, _ := strings.Cut(string(got[0]), "\nX-RPOP-ID: "); !strings.HasSuffix(orig, "\n\n"+want) {
		t.Errorf("first message's body changed: %q; want it to end in %q", orig, want)
	}
	left, err := spool.New(remote.Spool).ReadFolder(context.Background(), "SMITH", spool.NewMail)
	if err != nil || len(left) != 0 {
		t.Errorf("remote NEWMAIL holds %d messages (%v); want 0", len(left), err)
	}
	if rc, errs := site.poll(t, "LOCAL"); rc != 0 || len(site.stored(t, "LOCAL")) != len(fixtureMessages) {
		t.Errorf("second poll: %d %s, %d stored", rc, errs, len(site.stored(t, "LOCAL")))
	}
	// A second vmspop remote for APOP with the right secret and Leave.
	keep := startServer(t)
	site.add(t, "KEEPER", "apop-demo", "--host", keep.Addr, "--account", "SMITH", "--apop", "--leave")
	for i := 0; i < 2; i++ { // the second poll stores nothing new
		if rc, errs := site.poll(t, "KEEPER"); rc != 0 {
			t.Fatalf("APOP + Leave poll %d: %d %s", i+1, rc, errs)
		}
		if got := site.stored(t, "KEEPER"); len(got) != len(fixtureMessages) {
			t.Fatalf("APOP + Leave poll %d: %d stored; want %d", i+1, len(got), len(fixtureMessages))
		}
	}
	// vmspop moves messages read from NEWMAIL to MAIL at QUIT (VMS
	// MAIL's rule): with Leave they are in MAIL, none deleted.
	newmail, err := spool.New(keep.Spool).ReadFolder(context.Background(), "SMITH", spool.NewMail)
	mail, err2 := spool.New(keep.Spool).ReadFolder(context.Background(), "SMITH", spool.Mail)
	if err != nil || err2 != nil || len(newmail) != 0 || len(mail) < len(fixtureMessages) {
		t.Fatalf("with Leave the remote holds %d messages in NEWMAIL, %d in MAIL (%v, %v); want 0 and at least %d", len(newmail), len(mail), err, err2, len(fixtureMessages))
	}
	if log, _ := os.ReadFile(keep.Log); !regexp.MustCompile(`method"?[=:]"?APOP`).Match(log) {
		t.Errorf("the remote logged no APOP login:\n%s", log)
	}
}

// mustList returns "rpop list" without its heading line.
func mustList(t testing.TB, s *rpopSite) string {
	t.Helper()
	rc, out, errs := s.run(t, "", "rpop", "list")
	if rc != 0 {
		t.Fatalf("rpop list: %d %s", rc, errs)
	}
	_, rest, _ := strings.Cut(out, "\n")
	return rest
}

// TestRPOPInServe: with TCPIP$POP_RPOP_PROCESSES set, serve polls the
// records on their period, logs one line per poll (record, user, host,
// messages, octets, duration, outcome), counts the polls in the metrics
// endpoint, and refuses a record whose remote is serve itself.
func TestRPOPInServe(t *testing.T) {
	d := startDovecot(t, dovecotOptions{TLS: true, APOP: true})
	msgs := genMessages("served", 5, "served@remote.example")
	d.addUser(t, "served", "spw", msgs)
	time.Sleep(1100 * time.Millisecond) // Dovecot's passwd-file change detection (see TestRPOPDovecot)
	maddr := freePort(t)
	srv := startServer(t, "TCPIP$POP_RPOP_PROCESSES=2", "TCPIP$POP_LOG_LEVEL=INFO", "TCPIP$POP_METRICS_LISTEN="+maddr)
	site := &rpopSite{Dir: srv.Dir, Spool: srv.Spool}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TCPIP$POP_") && !strings.HasPrefix(kv, "TCPIP_POP_") {
			site.Env = append(site.Env, kv)
		}
	}
	site.Env = append(site.Env, "TCPIP$POP_SPOOL="+srv.Spool, "TCPIP$POP_UAF="+srv.UAF, "GORACE=atexit_sleep_ms=0")
	good := site.add(t, "JONES", "spw", "--host", d.Plain, "--account", "served", "--period", "1s")
	self := site.add(t, "JONES", "demo", "--host", srv.Addr, "--account", "SMITH", "--period", "1s")
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := mustList(t, site)
		if strings.Contains(out, "is this server") && len(site.stored(t, "JONES")) == len(msgs) {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(srv.Log)
			t.Fatalf("serve did not poll: list\n%s\nlog:\n%s", out, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	site.checkOnce(t, "JONES", msgs)
	// A poll logs its line after it has stored the messages: wait for it.
	polled := regexp.MustCompile(`rpop poll.*messages=5|"messages":5.*rpop poll|rpop poll.*"messages":5`)
	var log []byte
	for {
		log, _ = os.ReadFile(srv.Log)
		if polled.Match(log) && strings.Contains(string(log), self) && strings.Contains(string(log), good) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !polled.Match(log) {
		t.Errorf("no poll log line with messages=5 in:\n%s", log)
	}
	if !strings.Contains(string(log), self) || !strings.Contains(string(log), good) {
		t.Errorf("poll log lines do not name the records:\n%s", log)
	}
	if n := d.inboxCount(t, "served"); n != 0 {
		t.Errorf("remote holds %d messages", n)
	}
	// The line of the poll that stored the 5 messages has every field.
	var line string
	for _, l := range strings.Split(string(log), "\n") {
		if polled.MatchString(l) {
			line = l
		}
	}
	for _, f := range [][2]string{{"rpop", good}, {"user", "JONES"}, {"host", d.Plain}, {"account", "served"},
		{"messages", "5"}, {"outcome", "ok"}, {"duration", ""}, {"octets", ""}} {
		re := regexp.MustCompile(`(^|[ {,])"?` + f[0] + `"?[=:]"?` + regexp.QuoteMeta(f[1]))
		if !re.MatchString(line) {
			t.Errorf("poll log line lacks %s=%s: %s", f[0], f[1], line)
		}
	}
	if !strings.Contains(line, "pass") && strings.Contains(line, "spw") {
		t.Errorf("poll log line holds the password: %s", line)
	}
	// The metrics endpoint counts the polls: the good record's ok polls
	// stored the 5 messages; the self-poll record failed.
	for {
		fams := scrape(t, "http://"+maddr+"/metrics")
		ok, failed := metricValue(fams, "vmspop_rpop_polls_total", "outcome=ok"), metricValue(fams, "vmspop_rpop_polls_total", "outcome=failed")
		got, dur := metricValue(fams, "vmspop_rpop_messages_total"), metricValue(fams, "vmspop_rpop_poll_duration_seconds")
		oct := metricValue(fams, "vmspop_rpop_octets_total")
		if ok >= 1 && failed >= 1 && got == 5 && dur >= 2 && oct > 0 {
			t.Logf("metrics: %v ok, %v failed polls, %v messages, %v octets", ok, failed, got, oct)
			if !regexp.MustCompile(fmt.Sprintf(`"?octets"?[=:]%v[ ,}]`, oct)).MatchString(line + " ") {
				t.Errorf("the poll log line's octets differ from the metric's %v: %s", oct, line)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: ok polls %v, failed %v, messages %v (want 5), octets %v, timed polls %v", ok, failed, got, oct, dur)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRPOPLogicals: the TCPIP$POP_RPOP_* names, end to end with "vmspop
// rpop run" and "rpop poll" against Dovecot, a closed port and a server
// that never speaks.
func TestRPOPLogicals(t *testing.T) {
	d := startDovecot(t, dovecotOptions{TLS: true, APOP: true})
	small := genMessages("lgsmall", 3, "x@remote.example")
	bigs := []string{testMessage("lgbig", 0, "x@remote.example"),
		"From: a@b.example\nSubject: big\nMessage-ID: <lgbig-big@example.org>\n\n" + strings.Repeat("big line\n", 1000)}
	d.addUser(t, "lggood", "pw", small)
	d.addUser(t, "lgbig", "pw", bigs)
	time.Sleep(1100 * time.Millisecond) // Dovecot's passwd-file change detection (see TestRPOPDovecot)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // never greets
		}
	}()
	t.Cleanup(func() { silent.Close() })
	down := freePort(t) // nothing listens there
	records := filepath.Join(t.TempDir(), "records.json")
	site := newRPOPSite(t, "TCPIP$POP_RPOP_FILE="+records, "TCPIP$POP_RPOP_USE_APOP=0",
		"TCPIP$POP_RPOP_MESSAGE_SIZE_LIMIT=4096", "TCPIP$POP_RPOP_SOURCE_ADDRESS=127.0.0.2",
		"TCPIP$POP_RPOP_DELAY_FAILED_HOSTS=0 01:00:00", "TCPIP$POP_RPOP_DELAY_FAILED_ACCOUNTS=0 01:00:00",
		"TCPIP$POP_RPOP_TIMEOUT=0 00:00:03", "TCPIP$POP_RPOP_PROCESSES=2", "TCPIP$POP_LOG_LEVEL=INFO")
	good := site.add(t, "LGGOOD", "pw", "--host", d.Plain, "--account", "lggood", "--apop", "--period", "1s")
	big := site.add(t, "LGBIG", "pw", "--host", d.Plain, "--account", "lgbig", "--period", "1s")
	dead := site.add(t, "LGDOWN", "pw", "--host", down, "--account", "x", "--period", "1s")
	mute := site.add(t, "LGMUTE", "pw", "--host", silent.Addr().String(), "--account", "x", "--period", "1s")
	if _, err := os.Stat(records); err != nil {
		t.Fatalf("TCPIP$POP_RPOP_FILE: %v", err)
	}
	if _, err := os.Stat(filepath.Join(site.Dir, "rpop")); err == nil {
		t.Fatal("records written next to the accounts file despite TCPIP$POP_RPOP_FILE")
	}

	cmd := exec.Command(site.bin(t), "rpop", "run")
	cmd.Env = site.Env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	logPath := filepath.Join(site.Dir, "rpop.log")
	polls := func(id string) []string {
		b, _ := os.ReadFile(logPath)
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `msg="rpop poll"`) && strings.Contains(l, "rpop="+id) {
				out = append(out, l)
			}
		}
		return out
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(polls(good)) < 3 || len(polls(mute)) < 1 {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("rpop run did not poll enough:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	site.checkOnce(t, "LGGOOD", small)
	site.checkOnce(t, "LGBIG", bigs[:1])
	for id, want := range map[string]string{big: "left on the server", dead: "connect", mute: "timeout"} {
		p := polls(id)
		if len(p) != 1 || !strings.Contains(p[0], "outcome=failed") || !strings.Contains(p[0], want) {
			t.Errorf("record %s: %d polls (want 1, then delayed), %q; want a failure with %q", id, len(p), p, want)
		}
	}
	dlog, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	if !strings.Contains(string(dlog), "user=<lggood>, method=PLAIN") || strings.Contains(string(dlog), "user=<lggood>, method=APOP") {
		t.Errorf("TCPIP$POP_RPOP_USE_APOP=0: the APOP record did not log in with USER/PASS")
	}
	if !strings.Contains(string(dlog), "rip=127.0.0.2") {
		t.Errorf("TCPIP$POP_RPOP_SOURCE_ADDRESS=127.0.0.2: Dovecot saw no connection from it")
	}
	if n := d.inboxCount(t, "lgbig"); n != 1 {
		t.Errorf("the over-size message should stay on the remote; it holds %d", n)
	}

	// Allow Self-Poll: Dovecot's address as our own LISTEN.
	self := site.Env
	site.Env = append([]string{"TCPIP$POP_LISTEN=" + d.Plain}, self...)
	if rc, errs := site.poll(t, "LGGOOD"); rc == 0 || !strings.Contains(errs, "is this server") {
		t.Errorf("self-poll: %d %s; want refused", rc, errs)
	}
	site.Env = append([]string{"TCPIP$POP_LISTEN=" + d.Plain, "TCPIP$POP_RPOP_ALLOW_SELF_POLL=1"}, self...)
	if rc, errs := site.poll(t, "LGGOOD"); rc != 0 {
		t.Errorf("self-poll allowed: %d %s", rc, errs)
	}
}
