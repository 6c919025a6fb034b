package mail11

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
)

func readTestHeader(t *testing.T, s string) textproto.Header {
	t.Helper()
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatalf("ReadHeader(%q): %v", s, err)
	}
	return h
}

var mail11Arrival = time.Date(2026, 11, 25, 10, 15, 32, 450_000_000, time.UTC)

func TestMail11FromHeader(t *testing.T) {
	tests := []struct {
		name     string
		header   string
		fallback string
		want     string // the MAIL-11 header lines
	}{
		{
			name:   "plain",
			header: "From: John Smith <john.smith@example.com>\r\nTo: jones@vms.example.com\r\nSubject: Lunch on Friday?\r\n\r\n",
			want: "From:\tSMTP%\"john.smith@example.com\" \"John Smith\"  25-NOV-2026 10:15:32.45\n" +
				"To:\tjones@vms.example.com\nCC:\t\nSubj:\tLunch on Friday?\n\n",
		},
		{
			name:   "no personal name, cc list with names",
			header: "From: a@b.example\nTo: \"Jones, Fred\" <fred@x.example>, w@y.example\nCc: Z <z@z.example>\nSubject: hi\n\n",
			want: "From:\tSMTP%\"a@b.example\"  25-NOV-2026 10:15:32.45\n" +
				"To:\tJones, Fred <fred@x.example>, w@y.example\nCC:\tZ <z@z.example>\nSubj:\thi\n\n",
		},
		{
			name:   "quoted local part hidden with cent signs",
			header: "From: \"John Q. Public\" <\"john q\"@example.com>\n\n",
			want:   "From:\tSMTP%\"\xa2john q\xa2@example.com\" \"John Q. Public\"  25-NOV-2026 10:15:32.45\nTo:\t\nCC:\t\nSubj:\t\n\n",
		},
		{
			name:   "escaped quote in local part",
			header: "From: <\"a\\\"b\"@example.com>\n\n",
			want:   "From:\tSMTP%\"\xa2a\\\xa2b\xa2@example.com\"  25-NOV-2026 10:15:32.45\nTo:\t\nCC:\t\nSubj:\t\n\n",
		},
		{
			name:   "RFC 2047 subject and name decoded to UTF-8",
			header: "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jm@example.de>\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\n\n",
			want:   "From:\tSMTP%\"jm@example.de\" \"Jörg Müller\"  25-NOV-2026 10:15:32.45\nTo:\t\nCC:\t\nSubj:\tGrüße aus Köln\n\n",
		},
		{
			name:   "folded subject with a tab becomes one line",
			header: "From: a@b.example\nSubject: one\n\ttwo\n\n",
			want:   "From:\tSMTP%\"a@b.example\"  25-NOV-2026 10:15:32.45\nTo:\t\nCC:\t\nSubj:\tone two\n\n",
		},
		{
			name:     "no From: uses the envelope sender",
			header:   "Subject: x\n\n",
			fallback: "bounce@lists.example",
			want:     "From:\tSMTP%\"bounce@lists.example\"  25-NOV-2026 10:15:32.45\nTo:\t\nCC:\t\nSubj:\tx\n\n",
		},
		{
			name:   "nothing at all",
			header: "X-Junk: 1\n\n",
			want:   "From:\tSMTP%\"MAILER-DAEMON\"  25-NOV-2026 10:15:32.45\nTo:\t\nCC:\t\nSubj:\t\n\n",
		},
		{
			name:   "unparsable To: keeps its text",
			header: "From: a@b.example\nTo: undisclosed recipients\n\n",
			want:   "From:\tSMTP%\"a@b.example\"  25-NOV-2026 10:15:32.45\nTo:\tundisclosed recipients\nCC:\t\nSubj:\t\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := FromHeader(readTestHeader(t, tt.header), tt.fallback, mail11Arrival)
			if got := string(f.Bytes()); got != tt.want {
				t.Errorf("MAIL-11 header =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestMail11DayPadding(t *testing.T) {
	d := time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, time.UTC)
	got := fromField("a@b", "N", d)
	want := `SMTP%"a@b" "N"   2-JUL-1992 21:17:08.08`
	if got != want {
		t.Errorf("fromField = %q, want %q", got, want)
	}
}

func TestEnvelopeFromHeader(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Return-Path: <bounce@x.example>\nFrom: a@b.example\n\n", "bounce@x.example", true},
		{"Return-Path: <>\nFrom: a@b.example\n\n", "", true},
		{"From: Ann <a@b.example>\n\n", "a@b.example", true},
		{"Subject: none\n\n", "", false},
	}
	for _, tt := range tests {
		got, ok := EnvelopeSender(readTestHeader(t, tt.header))
		if got != tt.want || ok != tt.ok {
			t.Errorf("EnvelopeSender(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCleanField(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"  a \r\n\tb  ", 100, "a b"},
		{"x\x00y\x7fz", 100, "x y z"},
		{"Grüße", 3, "Gr"}, // not cut inside ü
		{"abcdef", 3, "abc"},
		{"\xa2\xa2\xa2", 2, "\xa2\xa2"}, // Latin-1 cut by octets
	}
	for _, tt := range tests {
		if got := cleanField(tt.in, tt.max); got != tt.want {
			t.Errorf("cleanField(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestHideQuotes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a@b", "a@b"},
		{`"a b"@c`, "\xa2a b\xa2@c"},
		{`"jörg x"@c`, "\xc2\xa2jörg x\xc2\xa2@c"},
	}
	for _, tt := range tests {
		if got := hideQuotes(tt.in); got != tt.want {
			t.Errorf("hideQuotes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzMail11Header: for any header deliver accepts, the MAIL-11 header has
// exactly its four lines and the empty line, and Parse gives back the
// fields FromHeader wrote: the SMTP% address (quotes hidden), personal
// name, To:, CC:, Subj: and the arrival date (to the hundredth of a
// second).
func FuzzMail11Header(f *testing.F) {
	f.Add("From: John Smith <john.smith@example.com>\nTo: a@b\nSubject: hi\n\n")
	f.Add("From: \"a\\\"b\" <\"x y\"@z>\nSubject: =?UTF-8?B?R3LDvMOf?=\n\n")
	f.Add("From: =?ISO-8859-1?Q?J=F6rg?= <jm@example.de>\nCc: undisclosed-recipients:;\n\n")
	f.Fuzz(func(t *testing.T, header string) {
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(header)))
		if err != nil {
			return
		}
		fields := FromHeader(h, "env@example.com", mail11Arrival)
		out := fields.Bytes()
		lines := strings.Split(string(out), "\n")
		if len(lines) != 6 || lines[4] != "" || lines[5] != "" || strings.ContainsRune(string(out), '\r') {
			t.Fatalf("MAIL-11 header %q is not four lines and an empty line", out)
		}
		for i, p := range []string{"From:\t", "To:\t", "CC:\t", "Subj:\t"} {
			if !strings.HasPrefix(lines[i], p) {
				t.Fatalf("line %d = %q, want prefix %q", i, lines[i], p)
			}
		}
		m, err := ParseIn(out, time.UTC)
		if err != nil {
			t.Fatalf("ParseIn(%q): %v", out, err)
		}
		if !strings.HasPrefix(m.From, `SMTP%"`) || !m.Date.Equal(mail11Arrival.Truncate(10*time.Millisecond)) {
			t.Fatalf("ParseIn(%q) = From %q, date %v", out, m.From, m.Date)
		}
		checkRoundTrip(t, out, fields, m)
	})
}

// checkRoundTrip fails t unless m, parsed from out, holds the fields that
// were written.
func checkRoundTrip(t *testing.T, out []byte, f Fields, m Header) {
	t.Helper()
	if want := `SMTP%"` + hideQuotes(cleanField(f.From, 900)) + `"`; m.From != want {
		t.Errorf("ParseIn(%q).From = %q; want %q", out, m.From, want)
	}
	for _, c := range []struct{ name, got, want string }{
		{"personal name", m.PersonalName, f.Personal},
		{"To", m.To, f.To},
		{"CC", m.CC, f.CC},
		{"Subj", m.Subj, f.Subj},
	} {
		// MAIL-11 fields are bytes: only ASCII white space is trimmed
		// (a no-break space, U+00A0, is text).
		if c.got != strings.Trim(c.want, " \t\r\n") {
			t.Errorf("ParseIn(%q): %s = %q; written %q", out, c.name, c.got, c.want)
		}
	}
}
