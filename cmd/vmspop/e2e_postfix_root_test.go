package main

// Issue 16's case end to end, with the real MTA: Postfix delivers through
// vmspop-deliver as the spool owner (docs/delivery.md's pipe transport),
// vmspop serve is started by root on a port below 1024 (the README), a
// POP session deletes and reads mail and quits (an UPDATE that rewrites
// NEWMAIL and creates MAIL and WASTEBASKET), and the next delivery through
// Postfix must be sent, not deferred. Before the privilege model that
// delivery was deferred (exit 75) until Postfix bounced it.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vmspop/vmspop/spool"
)

// TestPostfixDeliversAfterRootSession: a private Postfix set up exactly as
// docs/delivery.md says (pipe transport, user= the spool owner,
// vmspop-deliver, logicals by export_environment) delivers to SMITH; serve,
// started as root on a port below 1024, serves a session with RETR, DELE
// and QUIT; every file of the spool is still the spool owner's, and
// Postfix's next delivery is sent at the first attempt (no status=deferred
// in its log). Twice: serve as the README runs it (root that drops to the
// spool owner), then kept root on purpose (TCPIP$POP_USER=root), so that
// the rewrite itself is done by root.
func TestPostfixDeliversAfterRootSession(t *testing.T) {
	requireTool(t, "postfix")
	o, s := ownedSpool(t, lowPort(t))
	agent := deliverAgentBinary(t)
	delivery := fmt.Sprintf(`local_transport = vmspop
vmspop_destination_recipient_limit = 1
export_environment = TZ MAIL_CONFIG LANG
  TCPIP_POP_SPOOL=%s TCPIP_POP_UAF=%s
`, s.Spool, s.UAF)
	services := fmt.Sprintf(`vmspop    unix  -       n       n       -       -       pipe
  flags=R user=%s argv=%s -f ${sender} ${user}
`, o.Name, agent)
	pf := startPostfixConf(t, s.Dir, delivery, services)
	newmail := filepath.Join(s.Spool, "SMITH", spool.NewMail)

	// deliver sends one message to smith through Postfix's SMTP server and
	// waits for its pipe delivery; any deferral through vmspop fails the test.
	deliver := func(id string) {
		t.Helper()
		c, err := smtp.Dial(pf.smtpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.example"); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("From: Sender <sender@b.example>\r\nTo: smith@vms.example\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nBody.\r\n", id, id)
		if err := c.SendMail("sender@b.example", []string{"smith@vms.example"}, strings.NewReader(msg)); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		c.Quit()
		queued := regexp.MustCompile(`postfix/cleanup\[\d+\]: ([0-9A-F]+): message-id=<` + regexp.QuoteMeta(id) + `>`)
		deadline := time.Now().Add(60 * time.Second)
		for {
			log, _ := os.ReadFile(pf.maillog)
			if d := regexp.MustCompile(`(?m)^.*relay=vmspop, .*status=deferred.*$`).Find(log); d != nil {
				t.Fatalf("Postfix deferred a delivery through vmspop-deliver:\n%s", d)
			}
			if m := queued.FindSubmatch(log); m != nil {
				done := regexp.MustCompile(`(?m)^.*` + string(m[1]) + `: to=<smith@vms.example>, relay=vmspop, .*status=(\w+).*$`).FindSubmatch(log)
				if done != nil {
					if string(done[1]) != "sent" {
						t.Fatalf("%s was not delivered:\n%s", id, done[0])
					}
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no delivery through vmspop after 60 s; maillog:\n%s", id, tail(log))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if b, _ := os.ReadFile(newmail); !strings.Contains(string(b), "Message-ID: <"+id+">") {
			t.Fatalf("%s is not in SMITH's NEWMAIL", id)
		}
	}
	// session is a POP session as smith that reads message 2, deletes
	// message 1 and quits; it returns what STAT said.
	session := func() string {
		t.Helper()
		stat := updateSession(t, dialPOP(t, s.Addr))
		for _, f := range []string{spool.NewMail, spool.Mail, spool.Wastebasket} {
			if _, err := os.Stat(filepath.Join(s.Spool, "SMITH", f)); err != nil {
				t.Fatalf("after the UPDATE: %v", err)
			}
		}
		return stat
	}
	euid := func() int {
		t.Helper()
		uids, _, _ := procIDs(t, s.cmd.Process.Pid)
		if len(uids) != 4 {
			t.Fatalf("/proc/%d/status Uid: %q", s.cmd.Process.Pid, uids)
		}
		id, _ := strconv.Atoi(uids[1])
		return id
	}

	deliver("first@b.example")
	o.checkOwned(t, s.Spool)

	// As the README runs it: started by root, serving as the spool owner.
	s.start(t)
	if stat := session(); !strings.HasPrefix(stat, "+OK 7 ") {
		t.Errorf("STAT after the first delivery: %s (want the 6 fixture messages and 1)", stat)
	}
	if id := euid(); id != o.UID {
		t.Errorf("serve runs as uid %d, want the spool owner %d", id, o.UID)
	}
	o.checkOwned(t, s.Spool)
	deliver("after-dropped-root@b.example")
	o.checkOwned(t, s.Spool)
	s.stop()

	// Kept root (TCPIP$POP_USER=root): root itself rewrites NEWMAIL.
	s.start(t, "TCPIP$POP_USER=root")
	if id := euid(); id != 0 {
		t.Fatalf("serve with TCPIP$POP_USER=root runs as uid %d", id)
	}
	if stat := session(); !strings.HasPrefix(stat, "+OK 6 ") {
		t.Errorf("STAT in the second session: %s (want 7 - 2 + 1)", stat)
	}
	o.checkOwned(t, s.Spool)
	deliver("after-root@b.example")
	o.checkOwned(t, s.Spool)

	// The mail that came after the sessions is served.
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 5 ") {
		t.Fatalf("STAT at the end: %s (want 6 - 2 + 1)", r)
	}
	if r := p.cmd("RETR 5"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR 5: %s", r)
	}
	if msg := strings.Join(p.multi(), "\n"); !strings.Contains(msg, "Message-ID: <after-root@b.example>") {
		t.Errorf("the last message served is not the last delivered:\n%s", msg)
	}
	p.cmd("QUIT")
	o.checkOwned(t, s.Spool)
}
