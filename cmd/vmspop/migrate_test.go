package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/rewrite"
)

// oldSiteMessage is one message of a VMS site being migrated, as MAIL's
// EXTRACT writes it (MAIL-11 header lines, empty line, body).
type oldSiteMessage struct{ text string }

// genSiteMessages returns n varied messages for user: DECnet, SMTP (with
// the original RFC 822 header in the body), local, cent-sign SMTP and
// 8-bit subjects, each with its own arrival date.
func genSiteMessages(user string, n int) []oldSiteMessage {
	return genSiteMessagesFrom(user, 0, n)
}

// genSiteMessagesFrom is genSiteMessages numbered from first.
func genSiteMessagesFrom(user string, first, n int) []oldSiteMessage {
	var out []oldSiteMessage
	for i := first; i < first+n; i++ {
		date := time.Date(1995+i%25, time.Month(1+i%12), 1+i%28, 8+i%10, i%60, (i*7)%60, 0, time.Local).Add(time.Duration(i%100) * 10 * time.Millisecond)
		d := mail11.FormatVMSDate(date)
		var from, subj, body string
		switch i % 5 {
		case 0:
			from = fmt.Sprintf("VAXA::JONES \"Jim Jones\"  %s", d)
			subj = fmt.Sprintf("Staff meeting %d", i)
			body = fmt.Sprintf("The staff meeting %d is at 14:00.\n\nJim\n", i)
		case 1:
			from = fmt.Sprintf("SMTP%%\"sender%d@example.com\" \"Sender %d\"  %s", i, i, d)
			subj = fmt.Sprintf("Report %d for %s", i, user)
			body = fmt.Sprintf("From: Sender %d <sender%d@example.com>\nTo: %s@vms.example\nSubject: Report %d for %s\nMessage-ID: <r%d@example.com>\n\nThe report, line one.\n.\n..dots\n", i, i, strings.ToLower(user), i, user, i)
		case 2:
			from = fmt.Sprintf("WILSON  %s", d)
			subj = fmt.Sprintf("Local note %d", i)
			body = strings.Repeat(fmt.Sprintf("local line %d\n", i), 1+i%7)
		case 3:
			from = fmt.Sprintf("SMTP%%\"\xa2ABCMTS::MRGATE::\\\xa2ABCDEF::VIVALDI \\\xa2\xa2@xyz.org\"  %s", d)
			subj = fmt.Sprintf("Cent signs \xa2 %d", i)
			body = fmt.Sprintf("Caf\xe9 cr\xe8me %d, 8-bit Latin-1.\n", i)
		default:
			from = fmt.Sprintf("UNKNWN::OPERATOR  %s", d)
			subj = fmt.Sprintf("Tape %d mounted", i)
			body = fmt.Sprintf("Tape %d is mounted on MUA0:.\n\n\n", i)
		}
		out = append(out, oldSiteMessage{text: fmt.Sprintf("From:\t%s\nTo:\t%s\nCC:\t\nSubj:\t%s\n\n%s", from, user, subj, body)})
	}
	return out
}

// extractFile is the messages as an EXTRACT/ALL file: a form feed on a
// line of its own between messages (a message without a final newline
// gains one before it, as in a file EXTRACT writes).
func extractFile(msgs []oldSiteMessage) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\f\n")
		}
		b.WriteString(m.text)
		if i < len(msgs)-1 && !strings.HasSuffix(m.text, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// oldServerMbox is the messages in the RFC 822 form the VMS POP server
// sent them (manual 15.1.6: Date, From rebuilt, To, CC, Subject,
// X-VMS-From), as an mbox for Dovecot; noVMSFrom lists messages whose
// X-VMS-From is left out (matched on Date: and From: instead).
func oldServerMbox(t *testing.T, rw *rewrite.Settings, msgs []oldSiteMessage, noVMSFrom map[int]bool) string {
	t.Helper()
	var b strings.Builder
	for i, m := range msgs {
		head, body, _ := strings.Cut(m.text, "\n\n")
		m11, err := mail11.Parse([]byte(head + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		p := rewrite.Params{}
		if strings.ContainsFunc(body, func(r rune) bool { return r >= 0x80 }) || strings.Contains(body, "\xe9") {
			p.Charset = "iso-8859-1"
		}
		hdr := strings.ReplaceAll(string(rw.AppendHeader(nil, &m11, p)), "\r\n", "\n")
		if noVMSFrom[i] {
			hdr = regexp.MustCompile(`(?m)^X-VMS-From:.*\n([ \t].*\n)*`).ReplaceAllString(hdr, "")
		}
		fmt.Fprintf(&b, "From sender@example.com %s\n%s%s\n", m11.Date.Format(time.ANSIC), hdr, body)
	}
	return b.String()
}

type siteRun struct {
	t   *testing.T
	env []string
}

func (r siteRun) vmspop(args ...string) (string, int) {
	r.t.Helper()
	cmd := exec.Command(vmspopBinary(r.t), args...)
	cmd.Env = append(os.Environ(), r.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := exitCode(r.t, cmd)
	return out.String(), code
}

// TestMigrateUIDLDovecot is a cutover: fetchmail and mpop (keep, UIDL)
// fetch everything from the old server, a real Dovecot serving the same
// messages with its own UIDLs; the mail is imported into vmspop, the old
// UIDLs recorded with "migrate uidl", and the clients, pointed at vmspop,
// fetch nothing; a message delivered after the cutover is fetched once.
func TestMigrateUIDLDovecot(t *testing.T) {
	requireTool(t, "fetchmail")
	requireTool(t, "mpop")
	dir := t.TempDir()
	nodes := filepath.Join(dir, "nodes")
	if err := os.WriteFile(nodes, []byte("VAXA vaxa.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rw := &rewrite.Settings{Hostname: "vms.example", Nodes: map[string]string{"VAXA": "vaxa.example.com"}}
	site := map[string][]oldSiteMessage{"smith": genSiteMessages("SMITH", 23), "jones": genSiteMessages("JONES", 17)}
	// FIELD's old server lists two messages that differ only in To: (same
	// date, sender, Subject and size), and one that was not exported.
	field := genSiteMessages("FIELD", 3)
	twin := strings.Replace(field[0].text, "To:\tFIELD", "To:\tFIELX", 1)
	lost := genSiteMessages("LOST", 5)[4]
	site["field"] = append(field, oldSiteMessage{text: twin})
	mboxes := map[string]string{}
	for u, msgs := range site {
		old := msgs
		if u == "field" {
			old = append(slices.Clone(msgs), lost)
		}
		mboxes[u] = oldServerMbox(t, rw, old, map[int]bool{2: true})
	}
	dove := startDovecot(t, dovecotOptions{})
	for u, text := range mboxes {
		dove.addUser(t, u, "pw-"+u, nil)
		dove.writeMbox(t, u, text)
	}

	// Before the cutover: both clients fetch everything, keeping it.
	home := t.TempDir()
	fm := &fetchmailClient{t: t, home: home, users: []string{"smith", "jones"}}
	mp := &mpopClient{t: t, home: home, users: []string{"smith", "jones"}}
	fm.poll(dove.Plain)
	mp.poll(dove.Plain)
	for _, u := range []string{"smith", "jones"} {
		if got, want := fm.count(u), len(site[u]); got != want {
			t.Fatalf("fetchmail fetched %d messages of %s from Dovecot, want %d", got, u, want)
		}
		if got, want := mp.count(u), len(site[u]); got != want {
			t.Fatalf("mpop fetched %d messages of %s from Dovecot, want %d", got, u, want)
		}
	}
	// A second poll of the old server fetches nothing: the clients' UIDL
	// state works.
	fm.poll(dove.Plain)
	mp.poll(dove.Plain)
	if fm.count("smith") != len(site["smith"]) || mp.count("jones") != len(site["jones"]) {
		t.Fatal("a second poll of Dovecot fetched mail again")
	}

	// The cutover: import the EXTRACT files, record the old UIDLs.
	spoolDir := filepath.Join(dir, "spool")
	if err := os.Mkdir(spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	run := siteRun{t: t, env: []string{"TCPIP$POP_SPOOL=" + spoolDir, "TCPIP$POP_HOSTNAME=vms.example", "TCPIP$POP_DECNET_NODES=" + nodes}}
	for u, msgs := range site {
		f := filepath.Join(dir, u+".txt")
		if err := os.WriteFile(f, []byte(extractFile(msgs)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := run.vmspop("import", u, f); code != 0 {
			t.Fatalf("import %s: exit %d\n%s", u, code, out)
		}
	}
	accounts := filepath.Join(dir, "accounts")
	if err := os.WriteFile(accounts, []byte("# user password\nsmith pw-smith\njones   pw-jones\nFIELD pw-field\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run.vmspop("migrate", "uidl", "--from", dove.Plain, "--accounts", accounts); code != 1 || !strings.Contains(out, "owner only") {
		t.Fatalf("migrate with a world-readable accounts file: exit %d\n%s", code, out)
	}
	os.Chmod(accounts, 0o600)
	out, code := run.vmspop("migrate", "uidl", "--from", dove.Plain, "--accounts", accounts, "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run") {
		t.Fatalf("migrate --dry-run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(spoolDir, "SMITH", ".uidlmap")); err == nil {
		t.Fatal("--dry-run recorded a UIDL map")
	}
	out, code = run.vmspop("migrate", "uidl", "--from", dove.Plain, "--accounts", accounts)
	t.Logf("migrate uidl:\n%s", out)
	if code != 0 {
		t.Fatalf("migrate uidl: exit %d\n%s", code, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^SMITH +23 +23 +0 +0 +23$`),
		regexp.MustCompile(`(?m)^JONES +17 +17 +0 +0 +17$`),
		// FIELD: 2 matched (the third is the one without X-VMS-From... all
		// three originals but the twin's original), the twins ambiguous,
		// the lost one not found.
		regexp.MustCompile(`(?m)^FIELD +5 +2 +2 +1 +2$`),
		regexp.MustCompile(`old message 1 .*matches 2 imported messages`),
		regexp.MustCompile(`old message 5 .*"Tape 4 mounted".*no imported message`),
	} {
		if !want.MatchString(out) {
			t.Errorf("migrate report lacks %s", want)
		}
	}

	// After the cutover: the same clients, same state, against vmspop.
	s := &e2eServer{Dir: dir, Spool: spoolDir, UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: freePort(t)}
	writeUAF(t, s.UAF, []e2eAccount{{Name: "SMITH", Password: "pw-smith"}, {Name: "JONES", Password: "pw-jones"}})
	s.start(t, "TCPIP$POP_DECNET_NODES="+nodes, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	fm.poll(s.Addr)
	mp.poll(s.Addr)
	for _, u := range []string{"smith", "jones"} {
		if got, want := fm.count(u), len(site[u]); got != want {
			t.Errorf("after the cutover fetchmail has %d messages of %s, want %d (%d fetched again)", got, u, want, got-want)
		}
		if got, want := mp.count(u), len(site[u]); got != want {
			t.Errorf("after the cutover mpop has %d messages of %s, want %d (%d fetched again)", got, u, want, got-want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// New mail after the cutover is fetched once by each client.
	for _, u := range []string{"smith", "jones"} {
		cmd := exec.Command(vmspopBinary(t), "deliver", u)
		cmd.Env = append(os.Environ(), run.env...)
		cmd.Stdin = strings.NewReader("From: New Sender <new@example.com>\nTo: " + u + "@vms.example\nSubject: After the cutover\n\nNew mail.\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("deliver: %v\n%s", err, out)
		}
	}
	for range 2 {
		fm.poll(s.Addr)
		mp.poll(s.Addr)
	}
	for _, u := range []string{"smith", "jones"} {
		if got, want := fm.count(u), len(site[u])+1; got != want {
			t.Errorf("fetchmail has %d messages of %s after new mail, want %d", got, u, want)
		}
		if got, want := mp.count(u), len(site[u])+1; got != want {
			t.Errorf("mpop has %d messages of %s after new mail, want %d", got, u, want)
		}
	}

	// The map holds across UPDATE moves and index rebuilds: a session
	// retrieves SMITH's first three messages, which move to MAIL at QUIT
	// (no LEAVE_IN_NEWMAIL now); with every index removed, NEWMAIL and
	// MAIL still list Dovecot's UIDLs.
	doveUIDLs := popUIDLs(t, dove.Plain, "smith", "pw-smith")
	s.stop()
	s2 := &e2eServer{Dir: dir, Spool: spoolDir, UAF: s.UAF, Log: filepath.Join(dir, "server2.log"), Addr: freePort(t)}
	s2.start(t, "TCPIP$POP_DECNET_NODES="+nodes)
	p := dialPOP(t, s2.Addr)
	p.login("smith", "pw-smith")
	for i := 1; i <= 3; i++ {
		if r := p.cmd("RETR %d", i); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("RETR %d: %s", i, r)
		}
		p.multi()
	}
	p.cmd("QUIT")
	s2.stop()
	// The three retrieved messages moved: NEWMAIL holds the other 20 and the
	// one delivered after the cutover, MAIL the three.
	moved := spoolCounts(t, spoolDir)
	if moved["SMITH/NEWMAIL"] != len(site["smith"])-3+1 || moved["SMITH/MAIL"] != 3 {
		t.Fatalf("after RETR 1-3 and QUIT SMITH holds %v, want NEWMAIL %d, MAIL 3", moved, len(site["smith"])-2)
	}
	idx, _ := filepath.Glob(filepath.Join(spoolDir, "SMITH", ".*.idx"))
	if len(idx) == 0 {
		t.Fatal("no index to remove")
	}
	for _, f := range idx {
		os.Remove(f)
	}
	// With every index rebuilt: MAIL lists Dovecot's UIDLs of the moved
	// messages, NEWMAIL those of the rest and vmspop's own UID of the new
	// one, in order.
	listed := map[string][]string{}
	for _, env := range []string{"TCPIP$POP_USE_MAIL_FOLDER=0", "TCPIP$POP_USE_MAIL_FOLDER=1"} {
		s3 := &e2eServer{Dir: dir, Spool: spoolDir, UAF: s.UAF, Log: filepath.Join(dir, "server3.log"), Addr: freePort(t)}
		s3.start(t, "TCPIP$POP_DECNET_NODES="+nodes, env)
		listed[env] = popUIDLs(t, s3.Addr, "smith", "pw-smith")
		s3.stop()
	}
	if len(doveUIDLs) != len(site["smith"]) {
		t.Fatalf("Dovecot lists %d UIDLs of smith, want %d", len(doveUIDLs), len(site["smith"]))
	}
	if got, want := listed["TCPIP$POP_USE_MAIL_FOLDER=1"], doveUIDLs[:3]; !slices.Equal(got, want) {
		t.Errorf("MAIL lists %q after the move and the index rebuild, want Dovecot's %q", got, want)
	}
	newmail := listed["TCPIP$POP_USE_MAIL_FOLDER=0"]
	if len(newmail) != len(doveUIDLs)-3+1 || !slices.Equal(newmail[:len(newmail)-1], doveUIDLs[3:]) || !strings.HasPrefix(newmail[len(newmail)-1], "SMITH.") {
		t.Errorf("NEWMAIL lists %q after the index rebuild, want Dovecot's %q and a UID of vmspop's own", newmail, doveUIDLs[3:])
	}
}

// popUIDLs logs in and returns the UIDL listing.
func popUIDLs(t *testing.T, addr, user, pass string) []string {
	t.Helper()
	p := dialPOP(t, addr)
	p.login(user, pass)
	if r := p.cmd("UIDL"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("UIDL: %s", r)
	}
	var out []string
	for _, l := range p.multi() {
		if f := strings.Fields(l); len(f) == 2 {
			out = append(out, f[1])
		}
	}
	p.conn.Close()
	return out
}

// fetchmailClient polls users with keep and UIDLs, keeping its state
// (.fetchids) across servers, delivering each user's mail to its own
// directory.
type fetchmailClient struct {
	t     *testing.T
	home  string
	users []string
}

func (c *fetchmailClient) poll(addr string) {
	c.t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	mda, err := filepath.Abs("../../testdata/clients/savemsg.sh")
	if err != nil {
		c.t.Fatal(err)
	}
	conf := fmt.Sprintf("set no syslog\npoll %s with proto POP3 service %s uidl auth password\n", host, port)
	for _, u := range c.users {
		out := filepath.Join(c.home, "fetchmail-"+u)
		os.MkdirAll(out, 0o700)
		conf += fmt.Sprintf("  user \"%s\" there with password \"pw-%s\" is \"tester\" here sslproto '' keep mda \"%s %s\"\n", u, u, mda, out)
	}
	rc := filepath.Join(c.home, "fetchmailrc")
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		c.t.Fatal(err)
	}
	out, err := cliRun(c.t, []string{"HOME=" + c.home, "FETCHMAILHOME=" + c.home},
		"fetchmail", "-f", rc, "-i", filepath.Join(c.home, "fetchids"), "--pidfile", filepath.Join(c.home, "fetchmail.pid"), "--nodetach", "-v")
	// 0: mail fetched, 1: no mail.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 1) {
		c.t.Fatalf("fetchmail: %v\n%s", err, out)
	}
}

func (c *fetchmailClient) count(user string) int {
	files, _ := filepath.Glob(filepath.Join(c.home, "fetchmail-"+user, "msg.*"))
	return len(files)
}

// mpopClient is mpop with keep and only_new, one account per user.
type mpopClient struct {
	t     *testing.T
	home  string
	users []string
}

func (c *mpopClient) poll(addr string) {
	c.t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	conf := "defaults\ntls off\ntimeout 30\n"
	for _, u := range c.users {
		conf += fmt.Sprintf("\naccount %s\nhost %s\nport %s\nuser %s\npassword pw-%s\nauth user\nkeep on\nonly_new on\nuidls_file %s\ndelivery mbox %s\n",
			u, host, port, u, u, filepath.Join(c.home, "mpop-uidls-"+u), filepath.Join(c.home, "mpop-"+u+".mbox"))
	}
	cfg := filepath.Join(c.home, "mpoprc")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if out, err := cliRun(c.t, []string{"HOME=" + c.home}, "mpop", append([]string{"-C", cfg}, c.users...)...); err != nil {
		c.t.Fatalf("mpop: %v\n%s", err, out)
	}
}

func (c *mpopClient) count(user string) int {
	path := filepath.Join(c.home, "mpop-"+user+".mbox")
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	return len(cliMbox(c.t, path))
}

// TestMigrateUIDLTLS reads the old UIDLs over implicit TLS (--tls --ca),
// from a vmspop serving the fixture spool, and checks that the server's
// certificate is verified.
func TestMigrateUIDLTLS(t *testing.T) {
	old, cert := cliStartTLS(t)
	dir := t.TempDir()
	var texts []oldSiteMessage
	for _, m := range fixtureMessages {
		texts = append(texts, oldSiteMessage{text: m.text})
	}
	extract := filepath.Join(dir, "NEWMAIL.TXT")
	os.WriteFile(extract, []byte(extractFile(texts)), 0o644)
	spoolDir := filepath.Join(dir, "spool")
	os.Mkdir(spoolDir, 0o700)
	run := siteRun{t: t, env: []string{"TCPIP$POP_SPOOL=" + spoolDir, "TCPIP$POP_HOSTNAME=vms.example", "TCPIP$POP_DECNET_NODES=" + filepath.Join(old.Dir, "nodes")}}
	if out, code := run.vmspop("import", "smith", extract); code != 0 {
		t.Fatalf("import: %s", out)
	}
	accounts := filepath.Join(dir, "accounts")
	os.WriteFile(accounts, []byte("smith demo\n"), 0o600)
	if out, code := run.vmspop("migrate", "uidl", "--from", old.TLSAddr, "--tls", "--accounts", accounts); code != 1 || !strings.Contains(out, "certificate") {
		t.Errorf("migrate --tls without --ca: exit %d, want a certificate error\n%s", code, out)
	}
	out, code := run.vmspop("migrate", "uidl", "--from", old.TLSAddr, "--tls", "--ca", cert.CertFile, "--accounts", accounts)
	t.Logf("%s", out)
	// All six, even the one whose body has no final newline (it gains one
	// in an EXTRACT file, and a POP server sends one anyway).
	if code != 0 || !regexp.MustCompile(`(?m)^SMITH +6 +6 +0 +0 +6$`).MatchString(out) {
		t.Fatalf("migrate --tls: exit %d\n%s", code, out)
	}
}

func TestReadMigrateAccounts(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text string
		mode os.FileMode
		want string // "USER=PASS ..." or an error fragment
	}{
		{"# comment\n\nsmith secret\r\njones   two words  \n", 0o600, "SMITH=secret JONES=two words  "},
		{"smith secret\n", 0o640, "owner only"},
		{"smith secret\n", 0o604, "owner only"},
		{"smith\n", 0o600, "want USER PASSWORD"},
		{"smi.th pw\n", 0o600, "invalid user name"},
		{"smith a\nSMITH b\n", 0o600, "listed twice"},
		{"# nothing\n", 0o600, "no accounts"},
	} {
		p := filepath.Join(dir, "acc")
		os.Remove(p)
		os.WriteFile(p, []byte(tc.text), tc.mode)
		os.Chmod(p, tc.mode)
		accts, err := readMigrateAccounts(p)
		var got []string
		for _, a := range accts {
			got = append(got, a.user+"="+a.pass)
		}
		if err != nil {
			got = []string{err.Error()}
		}
		if g := strings.Join(got, " "); !strings.Contains(g, tc.want) {
			t.Errorf("%q mode %o: got %q, want %q", tc.text, tc.mode, g, tc.want)
		}
	}
}

func TestMatchMessages(t *testing.T) {
	d := time.Date(2026, 11, 25, 10, 15, 32, 450_000_000, time.Local)
	loc := func(uid, subj string, size int64, date time.Time, twins int) *localMessage {
		return &localMessage{uid: uid, folder: "NEWMAIL", from: "VAXA::JONES", rebuilt: "jones@vaxa.example.com", date: date, subject: subj, bodySize: size, twins: twins}
	}
	old := func(n int, uidl, subj string, size int64, date time.Time, exact bool, sender string) *oldMessage {
		return &oldMessage{n: n, uidl: uidl, subject: subj, bodySize: size, date: date, exactDate: exact, sender: sender}
	}
	locals := []*localMessage{
		loc("U1", "one", 10, d, 1),
		loc("U2", "two", 20, d, 1),
		loc("U3", "three", 30, d, 2), // an exact duplicate exists
		loc("U4", "four", 40, d.Add(time.Minute), 1),
		loc("U5", "five", 50, d.Add(2*time.Minute), 1),
	}
	olds := []*oldMessage{
		old(1, "o1", "one", 10, d, true, "vaxa::jones"),                                                       // matched (sender case ignored)
		old(2, "o2", "two", 21, d, true, "VAXA::JONES"),                                                       // body size differs
		old(3, "o3", "three", 30, d, true, "VAXA::JONES"),                                                     // duplicate in the spool
		old(4, "o4", "four", 40, d.Add(time.Minute), true, "VAXA::JONES"),                                     // both claim U4
		old(5, "o5", "four", 40, d.Add(time.Minute), true, "VAXA::JONES"),                                     //
		old(6, "o6", "five", 50, d.Add(2*time.Minute).Truncate(time.Second), false, "jones@vaxa.example.com"), // Date:/From: only
		old(7, "o 7", "two", 20, d, true, "VAXA::JONES"),                                                      // unusable UIDL
		old(8, "o8", "one", 10, d.Add(10*time.Millisecond), true, "VAXA::JONES"),                              // a hundredth later
	}
	r := &migrateResult{}
	pairs := matchMessages(olds, locals, r)
	want := map[string]string{"U1": "o1", "U5": "o6"}
	if len(pairs) != len(want) || pairs["U1"] != "o1" || pairs["U5"] != "o6" {
		t.Errorf("pairs = %v, want %v", pairs, want)
	}
	if r.ambiguous != 3 || r.notFound != 3 {
		t.Errorf("ambiguous %d, not found %d; want 3, 3:\n%s", r.ambiguous, r.notFound, strings.Join(r.problems, "\n"))
	}
}
