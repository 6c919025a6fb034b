package main

// End-to-end LMTP delivery from a real Postfix: a private instance in the
// test's directory (its own main.cf/master.cf, queue and data directories,
// smtpd on a free loopback port, mailbox_transport = lmtp:unix: to vmspop's
// socket), fed by go-smtp's client.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vmspop/vmspop/spool"
)

// postfixInstance is a private Postfix.
type postfixInstance struct {
	conf, maillog, smtpAddr string
}

// startPostfix starts a Postfix in dir delivering local mail to the LMTP
// socket sock; it is stopped when the test ends.
func startPostfix(t *testing.T, dir, sock string) *postfixInstance {
	t.Helper()
	return startPostfixConf(t, dir, "mailbox_transport = lmtp:unix:"+sock+"\n", "")
}

// startPostfixConf starts a Postfix in dir whose local delivery is set by
// the main.cf lines delivery, with the master.cf lines services added; it
// is stopped when the test ends.
func startPostfixConf(t *testing.T, dir, delivery, services string) *postfixInstance {
	t.Helper()
	bin := requireTool(t, "postfix")
	if os.Geteuid() != 0 {
		t.Skip("a private Postfix instance needs root (CI runs as root)")
	}
	p := &postfixInstance{conf: filepath.Join(dir, "conf"), maillog: filepath.Join(dir, "maillog"), smtpAddr: freePort(t)}
	for _, d := range []string{p.conf, filepath.Join(dir, "queue"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).Run(); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = vms.example
mydomain = vms.example
myorigin = vms.example
mydestination = vms.example, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
local_recipient_maps =
alias_maps =
alias_database =
biff = no
%[2]smaillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, dir, delivery)
	master := p.smtpAddr + ` inet n - n - - smtpd
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
smtp      unix  - - n -   - smtp
relay     unix  - - n -   - smtp
showq     unix  n - n -   - showq
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
local     unix  - n n -   - local
lmtp      unix  - - n -   - lmtp
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
` + services
	if err := os.WriteFile(filepath.Join(p.conf, "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.conf, "master.cf"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", p.conf, "check").CombinedOutput(); err != nil {
		t.Fatalf("postfix check: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "-c", p.conf, "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command(bin, "-c", p.conf, "stop").Run()
	})
	return p
}

// flush asks Postfix to retry deferred mail now.
func (p *postfixInstance) flush() {
	exec.Command("postqueue", "-c", p.conf, "-f").Run()
}

// e2eEnvInt reads a count from the environment, for shorter local runs.
func e2eEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var (
	cleanupIDRE = regexp.MustCompile(`postfix/cleanup\[\d+\]: ([0-9A-F]+): message-id=<([^>]+)>`)
	lmtpSentRE  = regexp.MustCompile(`postfix/lmtp\[\d+\]: ([0-9A-F]+): to=<[^>]+>.* status=(sent|deferred)`)
)

// TestPostfixLMTP: Postfix delivers N messages (2,000 by default,
// VMSPOP_POSTFIX_MESSAGES to change) to 20 users over LMTP while vmspop is
// SIGKILLed once and restarted; afterwards every message is in the right
// NEWMAIL, none acknowledged (status=sent) is there twice, a copy beyond the
// first exists only for a delivery attempt Postfix saw fail, and POP
// returns them all.
func TestPostfixLMTP(t *testing.T) {
	const users = 20
	n := e2eEnvInt("VMSPOP_POSTFIX_MESSAGES", 2000)
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // Postfix's lmtp client (user postfix) must reach the socket
	}
	sock := filepath.Join(dir, "lmtp.sock")
	var accounts []e2eAccount
	for u := 1; u <= users; u++ {
		accounts = append(accounts, e2eAccount{Name: fmt.Sprintf("USER%02d", u), Password: "demo"})
	}
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: freePort(t)}
	os.MkdirAll(s.Spool, 0o700)
	writeUAF(t, s.UAF, accounts)
	env := []string{"TCPIP$POP_LMTP_LISTEN=" + sock, "TCPIP$POP_TRACE=0"}
	s.start(t, env...)
	pf := startPostfix(t, dir, sock)

	// Send from 4 SMTP connections, many messages each.
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(pf.smtpAddr)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			if err := c.Hello("client.example"); err != nil {
				errc <- err
				return
			}
			for i := w; i < n; i += 4 {
				to := fmt.Sprintf("user%02d@vms.example", i%users+1)
				msg := fmt.Sprintf("From: Sender <sender@b.example>\r\nTo: %s\r\nSubject: message %d\r\nMessage-ID: <pf-%d@b.example>\r\n\r\nBody of %d.\r\n", to, i, i, i)
				if err := c.SendMail("sender@b.example", []string{to}, strings.NewReader(msg)); err != nil {
					errc <- fmt.Errorf("message %d: %w", i, err)
					return
				}
			}
			c.Quit()
		}()
	}

	// SIGKILL vmspop once a third has been delivered, then restart it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(s.Log)
		if strings.Count(string(b), "msg=delivered") >= n/3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d deliveries after 60 s:\n%s", n/3, tail(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.start(t, env...)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("SMTP: %v", err)
	}
	t.Logf("%d messages submitted in %v", n, time.Since(start).Round(time.Millisecond))

	// Wait for the census to find every message.
	var count map[string]int
	deadline = time.Now().Add(90 * time.Second)
	for {
		count = census(t, s.Spool, users)
		if len(count) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages delivered after 90 s", len(count), n)
		}
		pf.flush()
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("all %d delivered after %v", n, time.Since(start).Round(time.Millisecond))

	// Postfix's view: each message acknowledged exactly once; a second copy
	// only where an attempt failed (the one the SIGKILL cut).
	deadline = time.Now().Add(30 * time.Second)
	var sent, deferred map[string]int
	for {
		sent, deferred = postfixOutcomes(t, pf.maillog)
		if len(sent) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	dups := 0
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("pf-%d@b.example", i)
		if sent[id] != 1 {
			t.Errorf("%s: acknowledged %d times by vmspop, want 1", id, sent[id])
		}
		if c := count[id]; c < 1 || c > 1+deferred[id] {
			t.Errorf("%s: %d copies, with %d failed attempts", id, c, deferred[id])
		} else if c > 1 {
			dups++
		}
	}
	failed := 0
	for _, d := range deferred {
		failed += d
	}
	t.Logf("%d LMTP attempts failed across the SIGKILL and were retried; %d messages have a second copy, each from such an attempt", failed, dups)

	// Fetch everything over POP.
	fetched := 0
	for u := 1; u <= users; u++ {
		ids, err := popDrain(s.Addr, fmt.Sprintf("USER%02d", u), "demo", true)
		if err != nil {
			t.Fatal(err)
		}
		fetched += len(ids)
	}
	total := 0
	for _, c := range count {
		total += c
	}
	if fetched != total {
		t.Errorf("POP returned %d messages, the folders held %d", fetched, total)
	}
}

// census counts the Message-IDs in every user's NEWMAIL, checking that
// each is in its addressee's folder.
func census(t *testing.T, root string, users int) map[string]int {
	t.Helper()
	out := map[string]int{}
	sp := spool.New(root)
	for u := 1; u <= users; u++ {
		user := fmt.Sprintf("USER%02d", u)
		msgs, err := sp.ReadFolder(context.Background(), user, spool.NewMail)
		if err != nil {
			continue // not created yet
		}
		for _, m := range msgs {
			sub := messageIDRE.FindSubmatch(m)
			if sub == nil {
				t.Fatalf("%s: message without Message-ID:\n%s", user, m)
			}
			id := string(sub[1])
			var i int
			fmt.Sscanf(id, "pf-%d@", &i)
			if i%users+1 != u {
				t.Fatalf("%s found in %s's NEWMAIL", id, user)
			}
			out[id]++
		}
	}
	return out
}

// postfixOutcomes counts, per Message-ID, the LMTP attempts Postfix logged
// as sent and as deferred.
func postfixOutcomes(t *testing.T, maillog string) (sent, deferred map[string]int) {
	t.Helper()
	b, err := os.ReadFile(maillog)
	if err != nil {
		t.Fatal(err)
	}
	qid := map[string]string{}
	for _, m := range cleanupIDRE.FindAllSubmatch(b, -1) {
		qid[string(m[1])] = string(m[2])
	}
	sent, deferred = map[string]int{}, map[string]int{}
	for _, m := range lmtpSentRE.FindAllSubmatch(b, -1) {
		id := qid[string(m[1])]
		if string(m[2]) == "sent" {
			sent[id]++
		} else {
			deferred[id]++
		}
	}
	return sent, deferred
}

// tail returns the last lines of a log for a failure message.
func tail(b []byte) string {
	lines := strings.Split(string(b), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
