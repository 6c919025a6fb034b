package lmtp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/lmtp"
)

// store is a Deliverer that keeps copies in memory; its failures are set
// per user. The real one (the spool) is exercised in cmd/vmspop.
type store struct {
	mu    sync.Mutex
	users map[string]bool
	fail  map[string]error
	got   map[string][]string // user -> "sender|text"
}

var (
	errLocked = errors.New("locked")
	errFull   = errors.New("full")
	errNoUser = errors.New("no user")
)

func (s *store) Check(user string) error {
	if !s.users[user] {
		return errNoUser
	}
	return nil
}

func (s *store) Deliver(ctx context.Context, user, sender string, msg io.ReaderAt, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[user]; err != nil {
		return err
	}
	b, err := io.ReadAll(io.NewSectionReader(msg, 0, size))
	if err != nil {
		return err
	}
	s.got[user] = append(s.got[user], sender+"|"+string(b))
	return nil
}

func (s *store) Class(err error) lmtp.Class {
	switch err {
	case errLocked:
		return lmtp.Locked
	case errFull:
		return lmtp.NoSpace
	case errNoUser:
		return lmtp.NoUser
	}
	return lmtp.Temporary
}

func start(t *testing.T, st *store, maxSize int64) string {
	t.Helper()
	return startServer(t, st, maxSize)
}

// startWith starts a server over any Deliverer.
func startWith(t *testing.T, d lmtp.Deliverer) string {
	t.Helper()
	return startServer(t, d, 0)
}

func startServer(t *testing.T, d lmtp.Deliverer, maxSize int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv := &lmtp.Server{
		Hostname:   "vms.example",
		Domains:    []string{"vms.example", "mail.example"},
		Postmaster: []string{"SYSTEM", "JONES"},
		MaxSize:    maxSize,
		Deliver:    d,
		Logger:     log,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// session sends the client lines in one write (pipelined) and returns the
// server's reply lines up to and including the one starting with until.
func session(t *testing.T, addr, client string, replies int) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, strings.ReplaceAll(client, "\n", "\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []string
	for n := 0; n < replies; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		line = strings.TrimRight(line, "\r\n")
		out = append(out, line)
		if len(line) >= 4 && line[3] == ' ' {
			n++
		}
	}
	return out
}

// TestTranscript: a pipelined LMTP session with recipients in the local
// domains (any case), postmaster, an unknown user and a foreign domain;
// DATA answered once per accepted recipient, each by its own status.
func TestTranscript(t *testing.T) {
	st := &store{
		users: map[string]bool{"SMITH": true, "JONES": true, "SYSTEM": true, "LOCKED": true, "FULL": true},
		fail:  map[string]error{"LOCKED": errLocked, "FULL": errFull},
		got:   map[string][]string{},
	}
	addr := start(t, st, 0)
	got := session(t, addr, `LHLO mta.example
MAIL FROM:<a@b.example> BODY=8BITMIME SIZE=40
RCPT TO:<smith@VMS.example>
RCPT TO:<nobody@vms.example>
RCPT TO:<smith@elsewhere.example>
RCPT TO:<Postmaster@mail.example>
RCPT TO:<locked@vms.example>
RCPT TO:<full@vms.example>
DATA
Subject: hi
`+"\xe9"+`t`+"\xe9"+`

..dot
.
MAIL FROM:<>
RCPT TO:<Smith@Vms.Example>
DATA
Subject: second

.
QUIT
`, 19)
	want := []string{
		"220 vms.example LMTP Service Ready",
		"250-Hello mta.example",
		"250-PIPELINING",
		"250-8BITMIME",
		"250-ENHANCEDSTATUSCODES",
		"250-CHUNKING",
		"250-SIZE 67108864",
		"250 LIMITS RCPTMAX=1000",
		"250 2.0.0 Roger, accepting mail from <a@b.example>",
		"250 2.0.0 I'll make sure <smith@VMS.example> gets this",
		"550 5.1.1 No such user",
		"550 5.1.2 Not a local domain",
		"250 2.0.0 I'll make sure <Postmaster@mail.example> gets this",
		"250 2.0.0 I'll make sure <locked@vms.example> gets this",
		"250 2.0.0 I'll make sure <full@vms.example> gets this",
		"354 Go ahead. End your data with <CR><LF>.<CR><LF>",
		"250 2.0.0 <smith@VMS.example> OK: queued",
		"250 2.0.0 <Postmaster@mail.example> OK: queued",
		"451 4.2.0 <locked@vms.example> Mailbox locked, try again later",
		"452 4.3.1 <full@vms.example> Insufficient system storage",
		"250 2.0.0 Roger, accepting mail from <>",
		"250 2.0.0 I'll make sure <Smith@Vms.Example> gets this",
		"354 Go ahead. End your data with <CR><LF>.<CR><LF>",
		"250 2.0.0 <Smith@Vms.Example> OK: queued",
		"221 2.0.0 Bye",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first := "a@b.example|Subject: hi\n\xe9t\xe9\n\n.dot\n"
	if g := st.got["SMITH"]; len(g) != 2 || g[0] != first || g[1] != "|Subject: second\n\n" {
		t.Errorf("SMITH got %q", g)
	}
	for _, u := range []string{"SYSTEM", "JONES"} {
		if g := st.got[u]; len(g) != 1 || g[0] != first {
			t.Errorf("postmaster user %s got %q", u, g)
		}
	}
}

// TestSizeLimit: SIZE over the limit is refused at MAIL; a message that
// grows past it during DATA gets 552 for every recipient and is not
// delivered; the connection goes on.
func TestSizeLimit(t *testing.T) {
	st := &store{users: map[string]bool{"SMITH": true}, got: map[string][]string{}}
	addr := start(t, st, 1024)
	big := strings.Repeat("x", 100) + "\n"
	got := session(t, addr, "LHLO mta.example\nMAIL FROM:<a@b.example> SIZE=5000\nMAIL FROM:<a@b.example>\nRCPT TO:<smith@vms.example>\nDATA\nSubject: big\n\n"+strings.Repeat(big, 20)+".\nQUIT\n", 8)
	want := []string{
		"552 5.3.4 Max message size exceeded",
		"250 2.0.0 Roger, accepting mail from <a@b.example>",
		"250 2.0.0 I'll make sure <smith@vms.example> gets this",
		"354 Go ahead. End your data with <CR><LF>.<CR><LF>",
		"552 5.3.4 <smith@vms.example> Maximum message size exceeded",
	}
	if strings.Join(got[len(got)-6:len(got)-1], "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript:\n%s\nwant (before QUIT):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(st.got["SMITH"]) != 0 {
		t.Errorf("oversized message delivered: %q", st.got["SMITH"])
	}
}

// TestLongLines: a body line far over SMTP's 1000 octets is delivered as
// it is.
func TestLongLines(t *testing.T) {
	st := &store{users: map[string]bool{"SMITH": true}, got: map[string][]string{}}
	addr := start(t, st, 0)
	long := strings.Repeat("y", 100000)
	got := session(t, addr, "LHLO mta.example\nMAIL FROM:<a@b.example>\nRCPT TO:<smith@vms.example>\nDATA\nSubject: long\n\n"+long+"\n.\nQUIT\n", 7)
	if got[len(got)-2] != "250 2.0.0 <smith@vms.example> OK: queued" {
		t.Errorf("transcript %q", got)
	}
	if g := st.got["SMITH"]; len(g) != 1 || g[0] != "a@b.example|Subject: long\n\n"+long+"\n" {
		t.Errorf("SMITH got %d messages", len(g))
	}
}
