package main

// End-to-end local delivery from a real Postfix through the small
// vmspop-deliver binary, configured as docs/delivery.md recommends: a pipe
// transport run as the spool owner, the logicals passed by Postfix's
// export_environment.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vmspop/vmspop/internal/poptest"
	"github.com/vmspop/vmspop/spool"
)

// agentBouncedRE is Postfix's log line of the bounce of nobody99, with
// vmspop-deliver's message.
var agentBouncedRE = regexp.MustCompile(`to=<nobody99@vms.example>, relay=vmspop, .* status=bounced \(.*vmspop-deliver: no such user NOBODY99`)

// deliverAgentBinary builds cmd/vmspop-deliver once per test run, in a
// directory every account may read.
func deliverAgentBinary(t *testing.T) string {
	t.Helper()
	return poptest.BuildPlain(t, "github.com/vmspop/vmspop/cmd/vmspop-deliver")
}

// TestPostfixDeliverAgent: Postfix delivers through vmspop-deliver (a pipe
// transport, user= the spool owner): each message lands in its
// addressee's NEWMAIL with its MAIL-11 header and the envelope sender,
// owned by the spool owner; a recipient not in the accounts file is
// bounced (exit 67), not retried.
func TestPostfixDeliverAgent(t *testing.T) {
	requireTool(t, "postfix")
	owner := newSpoolOwner(t)
	bin := deliverAgentBinary(t)
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // the spool owner must reach the spool
	}
	sp, uafPath := filepath.Join(dir, "spool"), filepath.Join(dir, "uaf")
	os.MkdirAll(sp, 0o750)
	writeUAF(t, uafPath, []e2eAccount{{Name: "USER01", Password: "demo"}, {Name: "USER02", Password: "demo"}})
	for _, p := range []string{sp, uafPath} {
		if err := os.Chown(p, owner.UID, owner.GID); err != nil {
			t.Fatal(err)
		}
	}
	delivery := fmt.Sprintf(`local_transport = vmspop
vmspop_destination_recipient_limit = 1
export_environment = TZ MAIL_CONFIG LANG
  TCPIP_POP_SPOOL=%s TCPIP_POP_UAF=%s
`, sp, uafPath)
	services := fmt.Sprintf(`vmspop    unix  -       n       n       -       -       pipe
  flags=R user=%s argv=%s -f ${sender} ${user}
`, owner.Name, bin)
	pf := startPostfixConf(t, dir, delivery, services)

	c, err := smtp.Dial(pf.smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	sent := []struct{ to, id string }{
		{"user01", "agent-1@b.example"}, {"user02", "agent-2@b.example"}, {"user01", "agent-3@b.example"},
		{"nobody99", "agent-4@b.example"},
	}
	for _, m := range sent {
		msg := fmt.Sprintf("From: Sender <sender@b.example>\r\nTo: %s@vms.example\r\nSubject: through vmspop-deliver\r\nMessage-ID: <%s>\r\n\r\nBody.\r\n", m.to, m.id)
		if err := c.SendMail("sender@b.example", []string{m.to + "@vms.example"}, strings.NewReader(msg)); err != nil {
			t.Fatalf("%s: %v", m.id, err)
		}
	}
	c.Quit()

	want := map[string][]string{"USER01": {"agent-1@b.example", "agent-3@b.example"}, "USER02": {"agent-2@b.example"}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string][]string{}
		s := spool.New(sp)
		for u := range want {
			msgs, _ := s.ReadFolder(context.Background(), u, spool.NewMail)
			for _, m := range msgs {
				if !strings.HasPrefix(string(m), "From:\tSMTP%\"sender@b.example\" \"Sender\"") {
					t.Fatalf("%s: message without its MAIL-11 header:\n%s", u, m)
				}
				if sub := messageIDRE.FindSubmatch(m); sub != nil {
					got[u] = append(got[u], string(sub[1]))
				}
			}
		}
		log, _ := os.ReadFile(pf.maillog)
		bounced := agentBouncedRE.Match(log)
		if fmt.Sprint(got) == fmt.Sprint(want) && bounced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the folders hold %v, want %v (nobody99 bounced: %v); maillog:\n%s", got, want, bounced, tail(log))
		}
		pf.flush()
		time.Sleep(200 * time.Millisecond)
	}
	for u := range want {
		fi, err := os.Stat(filepath.Join(sp, u, spool.NewMail))
		if err != nil {
			t.Fatal(err)
		}
		if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != owner.UID {
			t.Errorf("%s's NEWMAIL is owned by uid %d, not the spool owner %d", u, uid, owner.UID)
		}
	}
	b, _ := os.ReadFile(filepath.Join(sp, "USER01", spool.NewMail))
	if !strings.HasPrefix(string(b), "From sender@b.example ") {
		t.Errorf("USER01's NEWMAIL does not start with the envelope sender's From_ line:\n%.200s", b)
	}
}
