package main

// Issue 14 behaviours through the real server that the package tests
// elsewhere show only below it: the local-node From: rewrite, the greeting
// with the longest host name, a panic inside runServe itself, a folder in
// the old encoding; and a folder vmspop wrote read by Dovecot.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// TestLocalNodeRewriteServed: a leading node that names this host
// (VMS:: for TCPIP$POP_HOSTNAME=vms.example) never changes which rule
// applies: VMS::"user@host" follows TCPIP$POP_QUOTED_DECNET_REWRITE like
// any NODE::"user@host", and with TCPIP$POP_DECNET_REWRITE=NONE a
// NODE::USER address is sent as it is, whatever the node (this host's, or
// one the node table names).
func TestLocalNodeRewriteServed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env                   []string
		quoted, local, tabled string // From: of VMS::"fred@...", VMS::JONES, VAXA::JONES
	}{
		{nil, "fred@other.example.org", "jones@vms.example", "jones@vaxa.example.com"},
		{[]string{"TCPIP$POP_QUOTED_DECNET_REWRITE=GENERIC"},
			`"VMS::\"fred@other.example.org\""@vms.example`, "jones@vms.example", "jones@vaxa.example.com"},
		{[]string{"TCPIP$POP_QUOTED_DECNET_REWRITE=NONE"},
			`VMS::"fred@other.example.org"`, "jones@vms.example", "jones@vaxa.example.com"},
		{[]string{"TCPIP$POP_DECNET_REWRITE=NONE"},
			"fred@other.example.org", "VMS::JONES", "VAXA::JONES"},
		{[]string{"TCPIP$POP_DECNET_REWRITE=GENERIC"},
			"fred@other.example.org", `"VMS::JONES"@vms.example`, `"VAXA::JONES"@vms.example`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.env, ","), func(t *testing.T) {
			t.Parallel()
			s := lgPrepare(t)
			lgAppend(t, s.Spool, "SMITH", spool.NewMail,
				"From:\tVMS::\"fred@other.example.org\"  7-MAY-2005 12:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tquoted\n\nBody\n",
				"From:\tVMS::JONES  7-MAY-2005 12:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tlocal\n\nBody\n",
				"From:\tVAXA::JONES  7-MAY-2005 12:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\ttable\n\nBody\n")
			s.start(t, append([]string{lgRace, lgNodes(s), "TCPIP$POP_LEAVE_IN_NEWMAIL=1"}, tc.env...)...)
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			n := len(fixtureMessages)
			for i, want := range []string{tc.quoted, tc.local, tc.tabled} {
				h, _ := lgRetr(p, n+1+i)
				if got, _ := lgField(h, "From"); got != want {
					t.Errorf("message %d: From: %q, want %q", n+1+i, got, want)
				}
			}
			p.cmd("QUIT")
		})
	}
}

// TestGreetingLongHostnameServed: with the longest host name DNS allows
// as TCPIP$POP_HOSTNAME the real server's greeting stays within 512
// octets (CRLF included) and its timestamp still serves APOP.
func TestGreetingLongHostnameServed(t *testing.T) {
	t.Parallel()
	label := strings.Repeat("a", 63)
	host := strings.Join([]string{label, label, label, label[:61]}, ".") // 253 octets
	s := lgServer(t, "TCPIP$POP_HOSTNAME="+host)
	p, greeting := lgDial(t, s.Addr)
	if len(greeting)+2 > 512 || !strings.HasPrefix(greeting, "+OK ") {
		t.Fatalf("greeting of %d octets with CRLF: %q", len(greeting)+2, greeting)
	}
	if !strings.Contains(greeting, "@"+host[:200]) {
		t.Errorf("greeting %q: the timestamp lost the host name", greeting)
	}
	if r := lgAPOP(p, greeting, "smith", "apop-demo"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("APOP with the greeting's timestamp: %s", r)
	}
	p.cmd("QUIT")
}

// panicOnce is a writer whose first Write panics.
type panicOnce struct {
	done bool
	bytes.Buffer
}

func (w *panicOnce) Write(p []byte) (int, error) {
	if !w.done {
		w.done = true
		panic("write to stderr")
	}
	return w.Buffer.Write(p)
}

// TestPostmasterAfterPanicInServe: a panic inside runServe (the code
// `vmspop serve` runs), before its configuration is read and after,
// ends with exit status 3 and the failure in the postmaster's NEWMAIL.
// After: the POSTMASTER of the DCL startup file is notified (the
// environment names none). Before: the environment's POSTMASTER and
// SPOOL are used.
func TestPostmasterAfterPanicInServe(t *testing.T) {
	t.Run("after the configuration", func(t *testing.T) {
		root := t.TempDir()
		startup := filepath.Join(t.TempDir(), "startup.com")
		// A log file that cannot be opened makes runServe write to stderr
		// once the configuration is read: that write panics.
		lgWrite(t, startup, "$ DEFINE/SYSTEM TCPIP$POP_SPOOL \""+root+"\"\n$ DEFINE/SYSTEM TCPIP$POP_POSTMASTER JONES\n"+
			"$ DEFINE/SYSTEM TCPIP$POP_LOG \"/nonexistent/dir/pop.log\"\n")
		var stdout bytes.Buffer
		stderr := &panicOnce{}
		code := runServe([]string{"--startup", startup}, func(string) (string, bool) { return "", false }, &stdout, stderr)
		if code != exitPanic {
			t.Fatalf("status %d, want %d; stderr:\n%s", code, exitPanic, stderr.String())
		}
		last, n := lastNewmail(t, root, "JONES")
		if n != 1 || !strings.Contains(last, "panic: write to stderr") || !strings.Contains(last, "Subj:\tvmspop POP server exited with an error") {
			t.Fatalf("JONES NEWMAIL: %d messages, last %q; stderr:\n%s", n, last, stderr.String())
		}
		if !strings.Contains(stderr.String(), "server panicked") {
			t.Errorf("the panic is not logged:\n%s", stderr.String())
		}
	})
	t.Run("before the configuration", func(t *testing.T) {
		root := t.TempDir()
		env := func(k string) (string, bool) {
			switch k {
			case "TCPIP$POP_SPOOL":
				return root, true
			case "TCPIP$POP_POSTMASTER":
				return "jones", true
			case "TCPIP_POP_SPOOL", "TCPIP_POP_POSTMASTER":
				return "", false
			}
			panic("lookup of " + k) // the configuration is never read
		}
		var stdout, stderr bytes.Buffer
		if code := runServe(nil, env, &stdout, &stderr); code != exitPanic {
			t.Fatalf("status %d, want %d; stderr:\n%s", code, exitPanic, stderr.String())
		}
		if last, n := lastNewmail(t, root, "JONES"); n != 1 || !strings.Contains(last, "panic: lookup of ") {
			t.Fatalf("JONES NEWMAIL: %d messages, last %q; stderr:\n%s", n, last, stderr.String())
		}
	})
}

// TestDovecotReadsDelivered: a NEWMAIL that `vmspop deliver` wrote,
// served by a private Dovecot as its INBOX, gives every message as
// Python's mailbox.mbox reads it (both are mboxo readers: a ">From "
// line stays as it is), whatever its trailing newlines, and with the
// header-only message's final empty line.
func TestDovecotReadsDelivered(t *testing.T) {
	requireTool(t, "python3")
	s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	var raws []string
	for i, end := range []string{"", "\n", "\n\n", "\n\n\n"} {
		raws = append(raws, fmt.Sprintf("From: Ann <ann@example.com>\nTo: jones@vms.example\nSubject: ends %d\nMessage-ID: <end%d@example.com>\n\nbody line\n>From quoted%s", i, i, end))
	}
	raws = append(raws, "From: Ann <ann@example.com>\nTo: jones@vms.example\nSubject: empty\nMessage-ID: <empty@example.com>\n\n")
	for _, raw := range raws {
		deliverVia(t, vmspopBinary(t), s, []byte(raw), "JONES")
	}
	newmail, err := os.ReadFile(filepath.Join(s.Spool, "JONES", spool.NewMail))
	if err != nil {
		t.Fatal(err)
	}
	py := pyReadMbox(t, filepath.Join(s.Spool, "JONES", spool.NewMail))
	if len(py) != len(raws) {
		t.Fatalf("Python reads %d messages, delivered %d", len(py), len(raws))
	}

	d := startDovecot(t, dovecotOptions{})
	d.addUser(t, "jones", "pw", nil)
	d.writeMbox(t, "jones", string(newmail))
	p := dialPOP(t, d.Plain)
	p.login("jones", "pw")
	got := retrAll(p, len(raws))
	for i, msg := range got {
		if want := sentForm(string(py[i])); msg != want {
			t.Errorf("message %d: Dovecot sends %q, Python reads %q", i+1, msg, py[i])
		}
	}
	if r := p.cmd("STAT"); !strings.HasPrefix(r, fmt.Sprintf("+OK %d ", len(raws))) {
		t.Errorf("Dovecot STAT = %q, want %d messages", r, len(raws))
	}
	p.cmd("QUIT")
}

// TestLegacyFolderServed: a NEWMAIL in the encoding of vmspop versions
// before standard mboxrd (a message ending in m newlines stored with 2m+1
// of them when m >= 2, 3 when m = 0, 2 when m = 1) is served with every
// message, each body whole with at most extra empty lines, and UPDATE
// moves every one to MAIL.
func TestLegacyFolderServed(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	hdr := "From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\t%s\n\n"
	bodies := []struct{ subj, body, disk string }{
		{"zero", "no final newline", "\n\n\n"},
		{"one", "one newline\n", "\n"},
		{"two", "two newlines\n\n", "\n\n\n"},
		{"three", "three newlines\n\n\n", "\n\n\n\n"},
	}
	var folder strings.Builder
	for _, b := range bodies {
		folder.WriteString("From sender@example.org Wed Nov 25 10:00:00 2026\n")
		folder.WriteString(fmt.Sprintf(hdr, b.subj) + b.body + b.disk)
	}
	lgWrite(t, filepath.Join(s.Spool, "JONES", spool.NewMail), folder.String())
	s.start(t, lgRace, lgNodes(s))
	p := dialPOP(t, s.Addr)
	p.login("jones", "demo")
	if n := lgStatOf(t, p); n != len(bodies) {
		t.Fatalf("STAT: %d messages, want %d", n, len(bodies))
	}
	for i, b := range bodies {
		h, got := lgRetr(p, i+1)
		want := sentForm(strings.TrimRight(b.body, "\n"))
		if !strings.Contains(h, "Subject: "+b.subj+"\r\n") || !strings.HasPrefix(got, want) || strings.Trim(got[len(want):], "\r\n") != "" {
			t.Errorf("message %d (%s): body %q, want %q and empty lines", i+1, b.subj, got, want)
		}
		if b.subj == "one" && got != want { // the usual message reads back exactly
			t.Errorf("message %d (%s): body %q, want %q", i+1, b.subj, got, want)
		}
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatal(r)
	}
	if got := folderSubjects(t, s.Spool, "JONES", spool.Mail); strings.Join(got, ",") != "zero,one,two,three" {
		t.Errorf("MAIL after UPDATE: %q", got)
	}
}

// TestToolsRefuseFoldedNames: the tools that name a user refuse one
// outside [A-Za-z0-9_$-] before upper-casing it (strings.ToUpper("ſmith")
// is "SMITH"): no alert is set for SMITH, no purge, kick or RPOP poll
// reaches SMITH.
func TestToolsRefuseFoldedNames(t *testing.T) {
	t.Parallel()
	vmspopBinary(t) // built before lgRun's 20 s start
	s := lgPrepare(t)
	appendAt(t, s.Spool, "SMITH", spool.Wastebasket, []time.Time{time.Now()}, "keep me")
	env := []string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, "TCPIP$POP_ADMIN_SOCKET=" + filepath.Join(s.Dir, "admin.sock")}
	for _, args := range [][]string{
		{"alert", "ſmith", "hello"},
		{"purge", "ſmith"},
		{"kick", "ſmith"},
		{"deliver", "ſmith"},
		{"folders", "ſmith"},
		{"rpop", "list", "ſmith"},
		{"rpop", "poll", "ſmith"},
	} {
		_, stderr, code := lgRun(t, args, env...)
		if code == 0 || !strings.Contains(stderr, "invalid user name") {
			t.Errorf("vmspop %q: exit %d, stderr %q; want an invalid user name", args, code, stderr)
		}
	}
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); len(got) != 1 {
		t.Errorf("SMITH WASTEBASKET = %q after the refused purge", got)
	}
	if _, err := os.Stat(filepath.Join(s.Spool, "SMITH", "alerts")); err == nil {
		t.Errorf("an alert directory was made for SMITH")
	}
}
