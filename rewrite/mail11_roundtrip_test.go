package rewrite

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/vmspop/vmspop/mail11"
)

// TestMail11RoundTrip: the From: field deliver writes, parsed by rewrite
// and rebuilt by RewriteFrom, gives back the sender's address, and the
// personal name and date survive.
func TestMail11RoundTrip(t *testing.T) {
	arrival := time.Date(2026, 11, 25, 10, 15, 32, 450_000_000, time.UTC)
	senders := []struct{ header, want string }{
		{"john.smith@example.com", "john.smith@example.com"},
		{`"john smith"@example.com`, `"john smith"@example.com`},
		{`"a\"b"@example.com`, `"a\"b"@example.com`},
		{`"ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org`, `"ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org`},
		{`"x@y"@relay.example`, `"x@y"@relay.example`},
		{`o'neil+tag@example.ie`, `o'neil+tag@example.ie`},
	}
	s := &Settings{Hostname: "vms.example.com"}
	for _, sd := range senders {
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader("From: \"Personal, Name\" <" + sd.header + ">\n\n")))
		if err != nil {
			t.Fatal(err)
		}
		f := mail11.FromHeader(h, "", arrival)
		m, err := mail11.ParseIn(f.Bytes(), time.UTC)
		if err != nil {
			t.Errorf("%s: ParseMail11: %v\n%q", sd.header, err, f.Bytes())
			continue
		}
		if !m.Date.Equal(arrival.Truncate(10 * time.Millisecond)) {
			t.Errorf("%s: date %v, want %v", sd.header, m.Date, arrival)
		}
		if m.PersonalName != "Personal, Name" {
			t.Errorf("%s: personal name %q", sd.header, m.PersonalName)
		}
		got, note := s.RewriteFrom(m.From)
		if got != sd.want {
			t.Errorf("%s: stored %q, RewriteFrom = %q (note %q), want %q", sd.header, m.From, got, note, sd.want)
		}
	}
}
