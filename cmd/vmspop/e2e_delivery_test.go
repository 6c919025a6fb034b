package main

// End-to-end tests of delivery through the gateway (issue #8), CRAM-MD5
// with a real client (issue #7) and the From: of every demo message as a
// real client parses it (issue #3).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// deliverVia runs the real `vmspop deliver` binary.
func deliverVia(t testing.TB, bin string, s *e2eServer, msg []byte, users ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"deliver"}, users...)...)
	cmd.Env = append(os.Environ(), "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF, "GORACE=atexit_sleep_ms=0")
	cmd.Stdin = bytes.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vmspop deliver: %v\n%s", err, out)
	}
}

// TestDeliverRoundTrip: RFC 5322 messages go in through `vmspop deliver`
// and come out of the gateway to Python's poplib, whose email parser
// finds the sender's address, the subject and the body.
func TestDeliverRoundTrip(t *testing.T) {
	requireTool(t, "python3")
	s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	files, _ := filepath.Glob("../../testdata/rfc822/*.eml")
	if len(files) < 3 {
		t.Fatalf("testdata/rfc822 has %d messages", len(files))
	}
	type want struct{ from, subject, body string }
	var wants []want
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		deliverVia(t, vmspopBinary(t), s, raw, "JONES")
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		from, _ := mail.ParseAddress(m.Header.Get("From"))
		subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		body := new(bytes.Buffer)
		body.ReadFrom(m.Body)
		// The addr-spec as RFC 5322 writes it (quoted local part and all),
		// which is what Python's parseaddr returns.
		spec := strings.Trim((&mail.Address{Address: from.Address}).String(), "<>")
		wants = append(wants, want{spec, subject, strings.TrimSpace(strings.SplitN(body.String(), "\n", 2)[0])})
	}
	out := t.TempDir()
	if b, err := runPopcheck(t, s.Addr, "jones", "demo", out); err != nil {
		t.Fatalf("poplib: %v\n%s", err, b)
	}
	froms, _ := os.ReadFile(filepath.Join(out, "from.txt"))
	subjects, _ := os.ReadFile(filepath.Join(out, "subject.txt"))
	gotFrom := strings.Split(strings.TrimRight(string(froms), "\n"), "\n")
	gotSubj := strings.Split(strings.TrimRight(string(subjects), "\n"), "\n")
	if len(gotFrom) != len(wants) || len(gotSubj) != len(wants) {
		t.Fatalf("poplib saw %d froms, %d subjects; want %d", len(gotFrom), len(gotSubj), len(wants))
	}
	for i, w := range wants {
		data, _ := os.ReadFile(filepath.Join(out, fmt.Sprintf("%d.eml", i+1)))
		if gotFrom[i] != w.from {
			t.Errorf("%s: From = %q, want %q", files[i], gotFrom[i], w.from)
		}
		if gotSubj[i] != w.subject {
			t.Errorf("%s: Subject = %q, want %q", files[i], gotSubj[i], w.subject)
		}
		if !bytes.Contains(data, []byte(w.body)) {
			t.Errorf("%s: body line %q not in the retrieved message", files[i], w.body)
		}
	}
}

var messageIDRE = regexp.MustCompile(`(?mi)^Message-ID: <([^>]+)>`)

// TestDeliverConcurrent: 4 processes deliver 2,000 messages in all while
// two POP clients download and delete in loops. At the end every message
// is in exactly one of NEWMAIL, MAIL and WASTEBASKET, and no client ever
// downloaded one twice.
func TestDeliverConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 deliveries")
	}
	bin := plainBinary(t)
	s := startServer(t)
	const procs, per = 4, 500
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	stop := make(chan struct{})
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				msg := fmt.Sprintf("From: p%d@example.org\r\nTo: jones@vms.example\r\nSubject: %d/%d\r\nMessage-ID: <%d.%d@example.org>\r\n\r\nbody %d %d\r\n", p, p, i, p, i, p, i)
				cmd := exec.Command(bin, "deliver", "JONES")
				cmd.Env = append(os.Environ(), "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF)
				cmd.Stdin = strings.NewReader(msg)
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("deliver %d.%d: %v: %s", p, i, err, out)
					return
				}
			}
		}()
	}
	var mu sync.Mutex
	downloaded := map[string]int{}
	var cwg sync.WaitGroup
	for c := 0; c < 2; c++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for round := 0; ; round++ {
				select {
				case <-stop:
					return
				default:
				}
				ids, err := popDrain(s.Addr, "jones", "demo", round%2 == 0)
				if err != nil {
					if strings.Contains(err.Error(), "IN-USE") {
						time.Sleep(5 * time.Millisecond)
						continue
					}
					errs <- err
					return
				}
				mu.Lock()
				for _, id := range ids {
					downloaded[id]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	cwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, folder := range []string{spool.NewMail, spool.Mail, spool.Wastebasket} {
		msgs, err := spool.New(s.Spool).ReadFolder(context.Background(), "JONES", folder)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			sub := messageIDRE.FindSubmatch(m)
			if sub == nil {
				t.Fatalf("a message without Message-ID in %s: %q", folder, m)
			}
			id := string(sub[1])
			if prev, dup := seen[id]; dup {
				t.Fatalf("message %s in %s and %s", id, prev, folder)
			}
			seen[id] = folder
		}
	}
	if len(seen) != procs*per {
		t.Fatalf("%d messages in the folders, want %d", len(seen), procs*per)
	}
	for id, n := range downloaded {
		if n > 1 {
			t.Errorf("message %s downloaded %d times", id, n)
		}
		if seen[id] == spool.NewMail {
			t.Errorf("message %s was downloaded but is still in NEWMAIL", id)
		}
	}
	t.Logf("%d delivered; %d downloaded by the clients; every message in exactly one folder", len(seen), len(downloaded))
}

// popDrain logs in, retrieves every message (deleting them when dele is
// set) and QUITs, returning the Message-IDs it got.
func popDrain(addr, user, pass string, dele bool) ([]string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	line := func() (string, error) {
		l, err := r.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err
	}
	cmd := func(format string, args ...any) (string, error) {
		fmt.Fprintf(c, format+"\r\n", args...)
		l, err := line()
		if err == nil && !strings.HasPrefix(l, "+OK") {
			err = fmt.Errorf("%s: %s", fmt.Sprintf(format, args...), l)
		}
		return l, err
	}
	if _, err := line(); err != nil {
		return nil, err
	}
	if _, err := cmd("USER %s", user); err != nil {
		return nil, err
	}
	if _, err := cmd("PASS %s", pass); err != nil {
		return nil, err
	}
	st, err := cmd("STAT")
	if err != nil {
		return nil, err
	}
	var n int
	fmt.Sscanf(st, "+OK %d", &n)
	var ids []string
	for i := 1; i <= n; i++ {
		if _, err := cmd("RETR %d", i); err != nil {
			return nil, err
		}
		var msg bytes.Buffer
		for {
			l, err := line()
			if err != nil {
				return nil, err
			}
			if l == "." {
				break
			}
			msg.WriteString(l + "\n")
		}
		if sub := messageIDRE.FindSubmatch(msg.Bytes()); sub != nil {
			ids = append(ids, string(sub[1]))
		}
		if dele {
			if _, err := cmd("DELE %d", i); err != nil {
				return nil, err
			}
		}
	}
	if _, err := cmd("QUIT"); err != nil {
		return nil, err
	}
	return ids, nil
}

// TestClientCurlCRAMMD5: curl logs in with CRAM-MD5 when the operator
// allows it (AUTH_METHODS) and the user has a shared secret.
func TestClientCurlCRAMMD5(t *testing.T) {
	requireTool(t, "curl")
	s := startServer(t, "TCPIP$POP_AUTH_METHODS=ALL", "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	out, err := exec.Command("curl", "-sS", "--max-time", "20", "--login-options", "AUTH=CRAM-MD5", "-u", "smith:apop-demo", "pop3://"+s.Addr+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("curl CRAM-MD5: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\n"); n != len(fixtureMessages) {
		t.Fatalf("curl LIST over CRAM-MD5 gave %d lines:\n%s", n, out)
	}
	s.stop()
	log, _ := os.ReadFile(s.Log)
	if !regexp.MustCompile(`msg=login method=CRAM-MD5 .*user=SMITH`).Match(log) {
		t.Fatalf("no CRAM-MD5 login in the log:\n%s", log)
	}
	if bytes.Contains(log, []byte("apop-demo")) {
		t.Fatal("the shared secret is in the log")
	}
}

// TestDemoSpoolFromAddresses: every message of the demo spool (one of each
// MAIL-11 From: form) reaches Python's poplib, and its email parser reads
// the From: address that the rules of manual 15.1.6.1 give.
func TestDemoSpoolFromAddresses(t *testing.T) {
	requireTool(t, "python3")
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log")}
	copyDemoSpool(t, s.Spool)
	writeUAF(t, s.UAF, append(defaultAccounts, e2eAccount{Name: "FIELD", Password: "demo"}))
	s.start(t, "TCPIP$POP_DECNET_NODES=../../testdata/demo-nodes", "TCPIP$POP_SUBSTITUTE_DOMAIN=example.com", "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	want := map[string][]string{
		"smith": {"jones@vaxa.example.com", "field@example.com", "wilma@flintstone.example", "james.jones@federation.gov",
			"john.smith@example.com", `"ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org`, "dupont@paris.example.fr", "jm@example.de",
			"operator@vaxa.example.com", "news@example.org"},
		"jones": {"tester@example.net", "smith@vaxa.example.com", "smith@vaxa.example.com", `"john q\"public"@example.com`, "smith@vaxb.example.com"},
		"field": {"system@vaxa.example.com"},
	}
	for user, addrs := range want {
		out := t.TempDir()
		if b, err := runPopcheck(t, s.Addr, user, "demo", out); err != nil {
			t.Fatalf("poplib %s: %v\n%s", user, err, b)
		}
		froms, _ := os.ReadFile(filepath.Join(out, "from.txt"))
		got := strings.Split(strings.TrimRight(string(froms), "\n"), "\n")
		if strings.Join(got, "\n") != strings.Join(addrs, "\n") {
			t.Errorf("%s: From: addresses\n got %q\nwant %q", user, got, addrs)
		}
	}
}

func copyDemoSpool(t *testing.T, dst string) {
	t.Helper()
	users, _ := filepath.Glob("../../testdata/spool/*/NEWMAIL")
	for _, p := range users {
		user := filepath.Base(filepath.Dir(p))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, user), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, user, "NEWMAIL"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMalformedFolder: a NEWMAIL that is not an mbox file refuses the
// login with [SYS/TEMP], is not touched, and the server goes on serving.
func TestMalformedFolder(t *testing.T) {
	s := startServer(t)
	p := filepath.Join(s.Spool, "JONES", "NEWMAIL")
	garbage := []byte("this is not\x00an mbox file\nFrom x\n")
	if err := os.WriteFile(p, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	c := dialPOP(t, s.Addr)
	c.cmd("USER jones")
	if r := c.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [SYS/TEMP]") {
		t.Fatalf("PASS on a malformed folder: %q", r)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, garbage) {
		t.Fatal("the malformed folder was changed")
	}
	other := dialPOP(t, s.Addr)
	other.login("smith", "demo")
	if r := other.cmd("STAT"); !strings.HasPrefix(r, fmt.Sprintf("+OK %d ", len(fixtureMessages))) {
		t.Fatalf("another user after the failure: STAT %q", r)
	}
}

// TestForeignMessage: a message with binary content (NULs) is sent as its
// headers and a note to EXTRACT it (manual 15.1.4), LIST's size matches,
// and at QUIT it moves to MAIL even when deleted: it is never deleted.
func TestForeignMessage(t *testing.T) {
	s := startServer(t)
	text := "From:\tVAXA::JONES  25-NOV-2026 10:15:32.45\nTo:\tJONES\nCC:\t\nSubj:\tbinary\n\n\x00\x01\x02 not text \x00\n"
	if err := spool.New(s.Spool).Append(context.Background(), "JONES", spool.NewMail, []spool.NewMessage{{Envelope: "a@b", Date: time.Now(), Text: strings.NewReader(text)}}); err != nil {
		t.Fatal(err)
	}
	c := dialPOP(t, s.Addr)
	c.login("jones", "demo")
	list := c.cmd("LIST 1")
	r := c.cmd("RETR 1")
	lines := c.multi()
	body := strings.Join(lines, "\r\n") + "\r\n"
	var size int
	fmt.Sscanf(list, "+OK 1 %d", &size)
	if !strings.Contains(body, "EXTRACT") || strings.Contains(body, "\x00") || !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR of a foreign message: %q\n%s", r, body)
	}
	if size != len(body) {
		t.Errorf("LIST says %d octets, RETR sent %d", size, len(body))
	}
	c.cmd("DELE 1")
	if q := c.cmd("QUIT"); !strings.HasPrefix(q, "+OK") {
		t.Fatal(q)
	}
	if got := folderSubjects(t, s.Spool, "JONES", spool.Mail); len(got) != 1 || got[0] != "binary" {
		t.Fatalf("MAIL after DELE of a foreign message = %q", got)
	}
	if got := folderSubjects(t, s.Spool, "JONES", spool.Wastebasket); len(got) != 0 {
		t.Fatalf("a foreign message was deleted: WASTEBASKET = %q", got)
	}
}

// TestFallbackLogged: a DECnet node missing from the node table falls back
// to the quoted form, and the server says so in its log (issue #3), once,
// when the message is first indexed.
func TestFallbackLogged(t *testing.T) {
	s := startServer(t)
	for i := 0; i < 2; i++ {
		c := dialPOP(t, s.Addr)
		c.login("smith", "demo")
		c.cmd("QUIT")
		c.conn.Close()
	}
	s.stop()
	log, _ := os.ReadFile(s.Log)
	n := strings.Count(string(log), "From: rebuilt by a fallback rule")
	if n != 1 || !strings.Contains(string(log), `from="UNKNWN::OPERATOR"`) {
		t.Fatalf("%d fallback lines for UNKNWN::OPERATOR in the log, want 1:\n%s", n, log)
	}
}
