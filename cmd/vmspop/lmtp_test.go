package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/lmtp"
	"github.com/vmspop/vmspop/spool"
)

// dialLMTP opens an LMTP client on a Unix socket or host:port and says LHLO.
func dialLMTP(t testing.TB, addr string) *smtp.Client {
	t.Helper()
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	var conn net.Conn
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error
		conn, err = net.Dial(network, addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LMTP %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := smtp.NewClientLMTP(conn)
	if err := c.Hello("mta.example"); err != nil {
		t.Fatalf("LHLO: %v", err)
	}
	return c
}

// lmtpSend sends one message and returns each recipient's reply code.
func lmtpSend(c *smtp.Client, from string, to []string, msg string) (map[string]int, error) {
	if err := c.Mail(from, nil); err != nil {
		return nil, err
	}
	codes := map[string]int{}
	var accepted []string
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				return nil, err
			}
			codes[r] = se.Code
			continue
		}
		accepted = append(accepted, r)
	}
	if len(accepted) == 0 {
		return codes, c.Reset()
	}
	w, err := c.Data()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	resp, err := w.CloseWithLMTPResponse()
	if err != nil {
		var le smtp.LMTPDataError
		if !errors.As(err, &le) {
			return nil, err
		}
		for r, e := range le {
			codes[r] = e.Code
		}
	}
	for r := range resp {
		codes[r] = 250
	}
	return codes, nil
}

// TestLMTPServe: serve with TCPIP$POP_LMTP_LISTEN on a Unix socket and a
// TCP port delivers in MAIL-11 form to the right NEWMAIL, several messages
// per connection; postmaster goes to the POSTMASTER users; an unknown user
// gets 550; what arrived is fetched over POP.
func TestLMTPServe(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "lmtp.sock")
	tcp := freePort(t)
	s := startServer(t, "TCPIP$POP_LMTP_LISTEN="+sock+","+tcp, "TCPIP$POP_POSTMASTER=JONES", "TCPIP$POP_SUBSTITUTE_DOMAIN=mail.example")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket %v %v, want mode 0666", fi, err)
	}
	for _, addr := range []string{sock, tcp} {
		c := dialLMTP(t, addr)
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("From: Ann <ann@b.example>\nSubject: lmtp %s %d\nMessage-ID: <%d.%s@b.example>\n\nbody\n.dot\n", filepath.Base(addr), i, i, filepath.Base(addr))
			codes, err := lmtpSend(c, "ann@b.example", []string{"Smith@VMS.EXAMPLE", "nobody@vms.example", "postmaster@mail.example"}, msg)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"Smith@VMS.EXAMPLE": 250, "nobody@vms.example": 550, "postmaster@mail.example": 250}
			if fmt.Sprint(codes) != fmt.Sprint(want) {
				t.Errorf("%s message %d: replies %v, want %v", addr, i, codes, want)
			}
		}
		c.Quit()
	}
	subjects := folderSubjects(t, s.Spool, "SMITH", spool.NewMail)
	if len(subjects) != len(fixtureMessages)+6 || subjects[len(fixtureMessages)] != "lmtp lmtp.sock 0" {
		t.Errorf("SMITH NEWMAIL subjects %q", subjects)
	}
	raw, _ := os.ReadFile(filepath.Join(s.Spool, "SMITH", "NEWMAIL"))
	if !strings.Contains(string(raw), "From:\tSMTP%\"ann@b.example\"") {
		t.Errorf("no MAIL-11 From: line in NEWMAIL:\n%s", raw)
	}
	if n := len(folderSubjects(t, s.Spool, "JONES", spool.NewMail)); n != 6 {
		t.Errorf("JONES (postmaster) has %d messages, want 6", n)
	}
	ids, err := popDrain(s.Addr, "SMITH", "demo", true)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(ids, " ")
	for i := 0; i < 3; i++ {
		for _, a := range []string{"lmtp.sock", tcp} {
			if id := fmt.Sprintf("%d.%s@b.example", i, a); !strings.Contains(got, id) {
				t.Errorf("POP did not return %s (got %s)", id, got)
			}
		}
	}
}

// TestLMTPClass: the adapter's errors map to the replies RFC 2033 sites
// expect: locked 451, full 452, unknown 550, DISMAIL 550, bad message 554.
func TestLMTPClass(t *testing.T) {
	d := &lmtpDeliverer{}
	for _, c := range []struct {
		err  error
		want lmtp.Class
	}{
		{fmt.Errorf("x: %w", spool.ErrLocked), lmtp.Locked},
		{fmt.Errorf("x: %w", spool.ErrNoSpace), lmtp.NoSpace},
		{&delivery.Error{Cause: delivery.ErrNoUser, Err: errors.New("no")}, lmtp.NoUser},
		{&delivery.Error{Cause: delivery.ErrNoMail, Err: errors.New("no")}, lmtp.Unavailable},
		{&delivery.Error{Cause: delivery.ErrBadMessage, Err: errors.New("no")}, lmtp.BadMessage},
		{errors.New("EIO"), lmtp.Temporary},
	} {
		if got := d.Class(c.err); got != c.want {
			t.Errorf("Class(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
