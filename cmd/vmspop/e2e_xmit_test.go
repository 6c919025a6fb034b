package main

import (
	"bufio"
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

	"github.com/vmspop/vmspop/gateway"
)

// privatePostfix is a Postfix instance of the test's own: config, queue
// and data directories in a temporary directory, smtpd on a loopback port,
// and every recipient in example.org delivered to one mbox, Sink.
type privatePostfix struct {
	Dir, Addr, Sink, Log string
}

// startRelayPostfix starts a private Postfix, stopped when the test ends.
// Each of extra is a main.cf line "name = value", which replaces the
// default line of that name. It
// skips the test, saying why, where Postfix cannot run (not installed, not
// root).
func startRelayPostfix(t *testing.T, extra ...string) *privatePostfix {
	t.Helper()
	if _, err := exec.LookPath("postfix"); err != nil {
		requireTool(t, "postfix")
	}
	if os.Geteuid() != 0 {
		t.Skip("a private Postfix needs root (its daemons drop to the postfix user); CI runs as root")
	}
	uid, gid := idOf(t, "-u"), idOf(t, "-g")
	// Not t.TempDir: its parent is mode 0700, and the postfix user must
	// reach the mailbox directory.
	dir, err := os.MkdirTemp("", "vmspop-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range []string{"etc", "queue", "data", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"data", "mail"} {
		if err := os.Chown(filepath.Join(dir, d), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p := &privatePostfix{Dir: dir, Addr: freePort(t), Sink: filepath.Join(dir, "mail", "sink"), Log: filepath.Join(dir, "maillog")}
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject_unauth_destination
virtual_mailbox_domains = example.org
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:sink
virtual_uid_maps = static:%[2]d
virtual_gid_maps = static:%[3]d
alias_maps =
alias_database =
smtputf8_enable = no
smtpd_peername_lookup = no
smtpd_delay_reject = no
message_size_limit = 100000
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
`, dir, uid, gid)
	for _, l := range extra {
		name, _, _ := strings.Cut(l, " =")
		var kept []string
		for _, m := range strings.Split(main, "\n") {
			if !strings.HasPrefix(m, name+" =") {
				kept = append(kept, m)
			}
		}
		main = strings.Join(kept, "\n") + l + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	// The system's master.cf, with smtpd on our port and no chroot.
	sys, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		t.Skipf("no /etc/postfix/master.cf to start from: %v", err)
	}
	var master strings.Builder
	for _, l := range strings.Split(string(sys), "\n") {
		f := strings.Fields(l)
		switch {
		case l == "" || l[0] == '#' || l[0] == ' ' || l[0] == '\t' || len(f) < 8:
			continue
		case f[0] == "smtp" && f[1] == "inet":
			fmt.Fprintf(&master, "%s inet n - n - - smtpd\n", p.Addr)
		default:
			f[4] = "n"
			master.WriteString(strings.Join(f, " ") + "\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "master.cf"), []byte(master.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("postfix", "-c", filepath.Join(dir, "etc"), "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(p.Log)
		t.Skipf("private Postfix did not start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		exec.Command("postfix", "-c", filepath.Join(dir, "etc"), "stop").Run()
		// Wait for the master (and so its daemons) to exit.
		b, _ := os.ReadFile(filepath.Join(dir, "queue", "pid", "master.pid"))
		var pid int
		fmt.Sscan(string(b), &pid)
		for deadline := time.Now().Add(20 * time.Second); pid > 0 && time.Now().Before(deadline); {
			if syscall.Kill(pid, 0) != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", p.Addr)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(p.Log)
			t.Fatalf("private Postfix smtpd not listening on %s: %v\n%s", p.Addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func idOf(t *testing.T, flag string) int {
	t.Helper()
	out, err := exec.Command("id", flag, "postfix").Output()
	if err != nil {
		t.Skipf("no postfix user: %v", err)
	}
	var n int
	fmt.Sscan(string(out), &n)
	return n
}

// waitSink polls the sink mbox until it holds n messages, and returns it.
func (p *privatePostfix) waitSink(t *testing.T, n int) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(p.Sink)
		if got := strings.Count("\n"+string(b), "\nFrom "); got >= n {
			return string(b)
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(p.Log)
			t.Fatalf("the Postfix sink holds %q, want %d messages; maillog:\n%s", b, n, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EXtndXmitPostfix: a message sent with XTND XMIT goes through a
// real Postfix on loopback to its sink mailbox, with SMITH's address as
// the envelope sender, To/Cc/Bcc as recipients and no Bcc field; a
// unified-account view sends as the address it logged in as; a recipient
// the relay refuses comes back as -ERR with its reason.
func TestE2EXtndXmitPostfix(t *testing.T) {
	pf := startRelayPostfix(t)
	s := startExtServer(t, "TCPIP$POP_SMTP_RELAY="+pf.Addr, "TCPIP$POP_UNIFIED_DOMAINS=client1.com=CL1")
	writeUAF(t, s.UAF, append(slices.Clone(defaultAccounts), e2eAccount{Name: "CL1", Password: "mypassword"}))
	p := dialPOP(t, s.Addr)
	if r := p.cmd("XTND XMIT"); !strings.HasPrefix(r, "-ERR") {
		t.Fatalf("XTND XMIT before login: %s", r)
	}
	p.login("smith", "demo")
	send := func(p *popClient, lines ...string) string {
		t.Helper()
		if r := p.cmd("XTND XMIT"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("XTND XMIT: %s", r)
		}
		w := bufio.NewWriter(p.conn)
		for _, l := range lines {
			if strings.HasPrefix(l, ".") {
				l = "." + l
			}
			w.WriteString(l + "\r\n")
		}
		w.WriteString(".\r\n")
		w.Flush()
		return p.line()
	}
	r := send(p, "From: Smith <smith@vms.example.org>", "To: Bob <bob@example.org>", "Bcc: carol@example.org",
		"Subject: sent over POP", "Message-ID: <xmit-1@vms.example.org>", "", "Hello Bob.", ".leading dot", "Bye.")
	if r != "+OK message sent" {
		t.Fatalf("XTND XMIT: %s\n%s", r, s.stderr)
	}
	sink := pf.waitSink(t, 2) // bob and carol
	for _, want := range []string{"Return-Path: <smith@vms.example.org>", "Delivered-To: bob@example.org",
		"Delivered-To: carol@example.org", "Subject: sent over POP", "\n.leading dot\n", "Hello Bob."} {
		if !strings.Contains(sink, want) {
			t.Errorf("sink lacks %q:\n%s", want, sink)
		}
	}
	if strings.Contains(sink, "Bcc:") {
		t.Errorf("Bcc: reached the recipients:\n%s", sink)
	}
	// A unified-account view sends as the address it logged in as.
	v := dialPOP(t, s.Addr)
	v.login("abcdef@client1.com", "mypassword")
	if r := send(v, "To: dave@example.org", "Subject: from a view", "", "Hi."); r != "+OK message sent" {
		t.Fatalf("XTND XMIT as abcdef@client1.com: %s", r)
	}
	v.cmd("QUIT")
	if sink = pf.waitSink(t, 3); !strings.Contains(sink, "Return-Path: <abcdef@client1.com>\nX-Original-To: dave@example.org\n") {
		t.Errorf("the view's message is not from abcdef@client1.com:\n%s", sink)
	}
	r = send(p, "To: someone@elsewhere.example", "Subject: refused", "", "No.")
	if !strings.HasPrefix(r, "-ERR relay refused the message: 554 5.7.1 ") || !strings.Contains(r, "Relay access denied") {
		t.Fatalf("refused recipient: %s", r)
	}
	// Too large for the relay (message_size_limit 100000).
	big := make([]string, 0, 2000)
	big = append(big, "To: bob@example.org", "")
	for i := 0; i < 2000; i++ {
		big = append(big, strings.Repeat("x", 70))
	}
	if r := send(p, big...); !strings.HasPrefix(r, "-ERR relay refused the message: 552") {
		t.Errorf("message over the relay's limit: %s", r)
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	if b, _ := os.ReadFile(pf.Sink); strings.Count("\n"+string(b), "\nFrom ") != 3 {
		t.Errorf("the sink holds other messages than the accepted ones:\n%s", b)
	}
}

// TestE2EXtndXmitPostfixTLS: when the relay offers STARTTLS, vmspop
// submits over TLS (Postfix's Received: says ESMTPS), trusting the relay
// only when its certificate verifies (here through SSL_CERT_FILE; a
// second server without it gets -ERR [SYS/TEMP] and sends nothing); a
// message over vmspop's own limit (10 MiB, below the relay's) is refused
// with -ERR and never reaches the sink.
func TestE2EXtndXmitPostfixTLS(t *testing.T) {
	dir := t.TempDir()
	cert := cliWriteCert(t, filepath.Join(dir, "relay.pem"), filepath.Join(dir, "relay.key"), "relay.test", 3001)
	// smtpd reads its key and certificate as root, before it drops to
	// the postfix user.
	pf := startRelayPostfix(t,
		"smtpd_tls_security_level = may",
		"smtpd_tls_chain_files = "+cert.KeyFile+", "+cert.CertFile,
		"smtpd_tls_received_header = yes",
		fmt.Sprintf("message_size_limit = %d", 20<<20))
	send := func(p *popClient, lines ...string) string {
		t.Helper()
		if r := p.cmd("XTND XMIT"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("XTND XMIT: %s", r)
		}
		w := bufio.NewWriterSize(p.conn, 64<<10)
		for _, l := range lines {
			if strings.HasPrefix(l, ".") {
				l = "." + l
			}
			w.WriteString(l + "\r\n")
		}
		w.WriteString(".\r\n")
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return p.line()
	}

	// Without a way to verify the relay's certificate: nothing is sent.
	untrusted := startExtServer(t, "TCPIP$POP_SMTP_RELAY="+pf.Addr)
	p := dialPOP(t, untrusted.Addr)
	p.login("smith", "demo")
	if r := send(p, "To: bob@example.org", "Subject: not over an unverified relay", "", "No."); r != "-ERR [SYS/TEMP] message not sent, try later" {
		t.Fatalf("relay with an unverified certificate: %s", r)
	}
	p.cmd("QUIT")

	s := startExtServer(t, "TCPIP$POP_SMTP_RELAY="+pf.Addr, "SSL_CERT_FILE="+cert.CertFile)
	p = dialPOP(t, s.Addr)
	p.login("smith", "demo")
	if r := send(p, "From: smith@vms.example.org", "To: bob@example.org", "Subject: over TLS", "", "Hello Bob."); r != "+OK message sent" {
		t.Fatalf("XTND XMIT over STARTTLS: %s\n%s", r, s.stderr)
	}
	// Over vmspop's own limit: read to its dot, refused, not sent.
	big := []string{"To: bob@example.org", "Subject: too big", ""}
	line := strings.Repeat("x", 1000)
	for n := 0; n <= gateway.DefaultMaxSubmitSize; n += len(line) + 2 {
		big = append(big, line)
	}
	if r := send(p, big...); r != fmt.Sprintf("-ERR message larger than %d octets, not sent", gateway.DefaultMaxSubmitSize) {
		t.Fatalf("message over vmspop's limit: %s", r)
	}
	// The session goes on; a later message arrives, the big one never.
	if r := send(p, "To: bob@example.org", "Subject: after the big one", "", "Small."); r != "+OK message sent" {
		t.Fatalf("XTND XMIT after the refused one: %s", r)
	}
	p.cmd("QUIT")
	sink := pf.waitSink(t, 2)
	if n := strings.Count("\n"+sink, "\nFrom "); n != 2 {
		t.Errorf("the sink holds %d messages, want 2", n)
	}
	for _, want := range []string{"Subject: over TLS", "Subject: after the big one", "Return-Path: <smith@vms.example.org>", "with ESMTPS"} {
		if !strings.Contains(sink, want) {
			t.Errorf("sink lacks %q:\n%s", want, sink)
		}
	}
	if strings.Contains(sink, "too big") || strings.Contains(sink, "not over an unverified relay") {
		t.Errorf("a refused message reached the sink")
	}
}
