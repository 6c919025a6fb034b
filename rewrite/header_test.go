package rewrite

import (
	"bufio"
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/vmspop/vmspop/mail11"
)

// checkHeader checks that out is a valid RFC 5322 header block: CRLF line
// ends only, no NUL, 7-bit, lines under 998 octets, continuation lines with
// text, an empty line at the end, and that go-message reads it back whole.
// It returns the header as read.
func checkHeader(t testing.TB, out []byte) textproto.Header {
	t.Helper()
	if !bytes.HasSuffix(out, []byte("\r\n\r\n")) {
		t.Fatalf("header does not end with CRLF CRLF: %q", out)
	}
	lines := bytes.Split(out[:len(out)-2], []byte("\r\n"))
	lines = lines[:len(lines)-1] // after the last CRLF
	for i, l := range lines {
		if len(l) == 0 {
			t.Fatalf("line %d empty before the end: %q", i+1, out)
		}
		if len(l) > 998 {
			t.Fatalf("line %d is %d octets long", i+1, len(l))
		}
		for _, c := range l {
			if c == '\r' || c == '\n' || c == 0 || c > 0x7E || (c < ' ' && c != '\t') {
				t.Fatalf("line %d has octet %#x: %q", i+1, c, l)
			}
		}
		if l[0] == ' ' || l[0] == '\t' {
			if i == 0 || len(bytes.TrimLeft(l, " \t")) == 0 {
				t.Fatalf("line %d is a bad continuation line: %q", i+1, l)
			}
		} else if bytes.IndexByte(l, ':') <= 0 {
			t.Fatalf("line %d is not a field: %q", i+1, l)
		}
	}
	br := bufio.NewReader(bytes.NewReader(out))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		t.Fatalf("textproto.ReadHeader: %v\n%s", err, out)
	}
	if br.Buffered() != 0 {
		t.Fatalf("textproto.ReadHeader left %d octets", br.Buffered())
	}
	return h
}

func goldenSettings() *Settings {
	s := testSettings()
	s.Server = "vms.acme.widgets.com (vmspop V0.1)"
	s.Location = est
	return s
}

func TestAppendHeaderGolden(t *testing.T) {
	decnet := mail11.Header{From: "ABCDEF::JONES", PersonalName: "Jones, Jim", Date: time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, est),
		FromField: `ABCDEF::JONES "Jones, Jim"  2-JUL-1992 21:17:08.08`, To: "SMITH", Subj: "Lunch on Friday?"}
	smtp := mail11.Header{From: `SMTP%"james.jones@federation.gov"`, Date: time.Date(2001, 12, 12, 9, 5, 0, 0, time.UTC),
		FromField: `SMTP%"james.jones@federation.gov"  12-DEC-2001 04:05:00.00`, To: "SMITH", CC: "JONES,BROWN", Subj: "Re: budget"}
	latin := mail11.Header{From: "MUELLER", PersonalName: "J\xf6rg M\xfcller", Date: time.Date(1999, 1, 5, 8, 0, 0, 0, est),
		FromField: "MUELLER \"J\xf6rg M\xfcller\"  5-JAN-1999 08:00:00.00", To: "SM\xccTH", Subj: "Pr\xfcfung \xa2 5"}
	utf := mail11.Header{From: "MUELLER", PersonalName: "Jörg Müller", Date: time.Date(1999, 1, 5, 8, 0, 0, 0, est),
		FromField: `MUELLER "Jörg Müller"  5-JAN-1999 08:00:00.00`, To: "SMITH", Subj: "Prüfung"}
	arrival := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)

	tests := []struct {
		name  string
		m     *mail11.Header
		p     Params
		setup func(*Settings)
		want  string
	}{
		{
			name: "decnet",
			m:    &decnet,
			p:    Params{UID: "JONES.1992070221170808.0a1b2c3d"},
			want: "Date: Thu, 02 Jul 1992 21:17:08 -0500\r\n" +
				"From: jones@abcdef.federation.gov\r\n" +
				"To: SMITH\r\n" +
				"Subject: Lunch on Friday?\r\n" +
				"X-VMS-From: ABCDEF::JONES \"Jones, Jim\"  2-JUL-1992 21:17:08.08\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"X-POP3-ID: JONES.1992070221170808.0a1b2c3d\r\n" +
				"\r\n",
		},
		{
			name:  "decnet personal name",
			m:     &decnet,
			p:     Params{UID: "U"},
			setup: func(s *Settings) { s.PersonalName = true },
			want: "Date: Thu, 02 Jul 1992 21:17:08 -0500\r\n" +
				"From: \"Jones, Jim\" <jones@abcdef.federation.gov>\r\n" +
				"To: SMITH\r\n" +
				"Subject: Lunch on Friday?\r\n" +
				"X-VMS-From: ABCDEF::JONES \"Jones, Jim\"  2-JUL-1992 21:17:08.08\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"X-POP3-ID: U\r\n" +
				"\r\n",
		},
		{
			name: "smtp: no id headers",
			m:    &smtp,
			p:    Params{UID: "U"},
			want: "Date: Wed, 12 Dec 2001 04:05:00 -0500\r\n" +
				"From: james.jones@federation.gov\r\n" +
				"To: SMITH\r\n" +
				"CC: JONES,BROWN\r\n" +
				"Subject: Re: budget\r\n" +
				"X-VMS-From: SMTP%\"james.jones@federation.gov\"  12-DEC-2001 04:05:00.00\r\n" +
				"\r\n",
		},
		{
			name:  "smtp with SEND_ID_HEADERS",
			m:     &smtp,
			p:     Params{UID: "U"},
			setup: func(s *Settings) { s.SendIDHeaders = true },
			want: "Date: Wed, 12 Dec 2001 04:05:00 -0500\r\n" +
				"From: james.jones@federation.gov\r\n" +
				"To: SMITH\r\n" +
				"CC: JONES,BROWN\r\n" +
				"Subject: Re: budget\r\n" +
				"X-VMS-From: SMTP%\"james.jones@federation.gov\"  12-DEC-2001 04:05:00.00\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"X-POP3-ID: U\r\n" +
				"\r\n",
		},
		{
			name:  "latin-1 with charset",
			m:     &latin,
			p:     Params{UID: "U", Charset: "ISO-8859-1"},
			setup: func(s *Settings) { s.PersonalName = true; s.Server = "" },
			want: "Date: Tue, 05 Jan 1999 08:00:00 -0500\r\n" +
				"From: =?iso-8859-1?q?J=F6rg_M=FCller?= <mueller@acme.widgets.com>\r\n" +
				"To: =?iso-8859-1?q?SM=CCTH?=\r\n" +
				"Subject: =?iso-8859-1?q?Pr=FCfung_=A2_5?=\r\n" +
				"X-VMS-From: =?iso-8859-1?q?MUELLER_\"J=F6rg_M=FCller\"__5-JAN-1999_08:00:00.00?=\r\n" +
				"X-POP3-Server: vms.acme.widgets.com\r\n" +
				"X-POP3-ID: U\r\n" +
				"MIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=iso-8859-1\r\n" +
				"Content-Transfer-Encoding: 8bit\r\n" +
				"\r\n",
		},
		{
			name:  "utf-8 with charset",
			m:     &utf,
			p:     Params{Charset: "utf-8"},
			setup: func(s *Settings) { s.PersonalName = true },
			want: "Date: Tue, 05 Jan 1999 08:00:00 -0500\r\n" +
				"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <mueller@acme.widgets.com>\r\n" +
				"To: SMITH\r\n" +
				"Subject: =?utf-8?q?Pr=C3=BCfung?=\r\n" +
				"X-VMS-From: =?utf-8?q?MUELLER_\"J=C3=B6rg_M=C3=BCller\"__5-JAN-1999_08:00:00.00?=\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"MIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\n" +
				"Content-Transfer-Encoding: 8bit\r\n" +
				"\r\n",
		},
		{
			name: "foreign: no MIME fields",
			m:    &utf,
			p:    Params{Charset: "utf-8", Foreign: true},
			want: "Date: Tue, 05 Jan 1999 08:00:00 -0500\r\n" +
				"From: mueller@acme.widgets.com\r\n" +
				"To: SMITH\r\n" +
				"Subject: =?utf-8?q?Pr=C3=BCfung?=\r\n" +
				"X-VMS-From: =?utf-8?q?MUELLER_\"J=C3=B6rg_M=C3=BCller\"__5-JAN-1999_08:00:00.00?=\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"\r\n",
		},
		{
			name: "bad charset",
			m:    &mail11.Header{From: "A", Date: arrival},
			p:    Params{Charset: "x; y=z"},
			want: "Date: Mon, 03 Feb 2020 04:05:06 +0000\r\n" + // in est below
				"From: a@acme.widgets.com\r\n" +
				"Subject:\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"MIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=unknown-8bit\r\n" +
				"Content-Transfer-Encoding: 8bit\r\n" +
				"\r\n",
			setup: func(s *Settings) { s.Location = time.UTC },
		},
		{
			name: "no date: arrival",
			m:    &mail11.Header{From: "NOWHERE::X", FromField: "NOWHERE::X"},
			p:    Params{Arrival: arrival},
			want: "Date: Sun, 02 Feb 2020 23:05:06 -0500\r\n" +
				"From: \"NOWHERE::X\"@acme.widgets.com\r\n" +
				"Subject:\r\n" +
				"X-VMS-From: NOWHERE::X\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"\r\n",
		},
		{
			name: "nil message",
			m:    nil,
			want: "Date: Wed, 31 Dec 1969 19:00:00 -0500\r\n" +
				"From: unknown@acme.widgets.com\r\n" +
				"Subject:\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"\r\n",
		},
		{
			name: "folded",
			m: &mail11.Header{From: "A::B", Date: arrival, To: "JONES, SMITH, BROWN, WHITE, BLACK, GREEN, GRAY, SCARLET, MUSTARD, PLUM, PEACOCK",
				Subj: "A subject that is long enough to need folding because it runs well past seventy-eight columns"},
			setup: func(s *Settings) { s.DECnet = None; s.PersonalName = true },
			want: "Date: Sun, 02 Feb 2020 23:05:06 -0500\r\n" +
				"From: A::B\r\n" +
				"To: JONES, SMITH, BROWN, WHITE, BLACK, GREEN, GRAY, SCARLET, MUSTARD, PLUM,\r\n" +
				" PEACOCK\r\n" +
				"Subject: A subject that is long enough to need folding because it runs well\r\n" +
				" past seventy-eight columns\r\n" +
				"X-POP3-Server: vms.acme.widgets.com (vmspop V0.1)\r\n" +
				"\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := goldenSettings()
			if tt.setup != nil {
				tt.setup(s)
			}
			prefix := []byte("+OK\r\n")
			out := s.AppendHeader(prefix, tt.m, tt.p)
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("AppendHeader did not append to dst")
			}
			out = out[len(prefix):]
			if string(out) != tt.want {
				t.Errorf("AppendHeader =\n%s\nwant\n%s", out, tt.want)
			}
			checkHeader(t, out)
		})
	}
}

// TestAppendHeaderIDRules checks the X-POP3-* presence rule for every
// combination of SEND_ID_HEADERS and address form.
func TestAppendHeaderIDRules(t *testing.T) {
	tests := []struct {
		from    string
		sendIDs bool
		want    bool
	}{
		{`SMTP%"a@b.example"`, false, false},
		{`NODE::SMTP%"a@b.example"`, false, false},
		{`smtp%"a@b.example"`, false, false},
		{`SMTP%"a@b.example"`, true, true},
		{`NODE::SMTP%"a@b.example"`, true, true},
		{"NODE::USER", false, true},
		{"USER", false, true},
		{`NODE::"a@b.example"`, false, true},
		{"NODE::USER", true, true},
		{"", false, true},
	}
	for _, tt := range tests {
		s := goldenSettings()
		s.SendIDHeaders = tt.sendIDs
		out := s.AppendHeader(nil, &mail11.Header{From: tt.from}, Params{UID: "THE-UID"})
		h := checkHeader(t, out)
		gotServer, gotID := h.Has("X-Pop3-Server"), h.Get("X-Pop3-Id") == "THE-UID"
		if gotServer != tt.want || gotID != tt.want {
			t.Errorf("From %q, SendIDHeaders %v: X-POP3-Server %v, X-POP3-ID %v; want %v", tt.from, tt.sendIDs, gotServer, gotID, tt.want)
		}
	}
}

// TestAppendHeaderDecodes reads the header back with net/mail and the mime
// word decoder: every rebuilt From: parses and 8-bit text decodes to what was
// stored.
func TestAppendHeaderDecodes(t *testing.T) {
	tests := []struct {
		m        mail11.Header
		wantName string
		wantSubj string
	}{
		{mail11.Header{From: "A::B", PersonalName: "Smith, John", Subj: "plain"}, "Smith, John", "plain"},
		{mail11.Header{From: "A::B", PersonalName: "J\xf6rg \"JJ\" M\xfcller", Subj: "Pr\xfcfung \xa2 ok"}, "Jörg \"JJ\" Müller", "Prüfung ¢ ok"},
		{mail11.Header{From: "A::B", PersonalName: "Jörg", Subj: "Prüfung ¢ ok"}, "Jörg", "Prüfung ¢ ok"},
		{mail11.Header{From: "A::B", Subj: "tab\tand\x01ctl"}, "", "tab\tand\x01ctl"},
		{mail11.Header{From: "A::B", Subj: strings.Repeat("ä", 300)}, "", strings.Repeat("ä", 300)},
		{mail11.Header{From: "A::B", Subj: strings.Repeat("x", 2000)}, "", strings.Repeat("x", 2000)},
		{mail11.Header{From: "A::B", Subj: "a " + strings.Repeat("\xe9", 2000) + " b"}, "", "a " + strings.Repeat("é", 2000) + " b"},
	}
	dec := new(mime.WordDecoder)
	for _, tt := range tests {
		s := goldenSettings()
		s.PersonalName = true
		out := s.AppendHeader(nil, &tt.m, Params{})
		h := checkHeader(t, out)
		a, err := mail.ParseAddress(h.Get("From"))
		if err != nil {
			t.Errorf("From %q: %v", h.Get("From"), err)
			continue
		}
		if a.Name != tt.wantName {
			t.Errorf("From name = %q; want %q", a.Name, tt.wantName)
		}
		subj, err := dec.DecodeHeader(h.Get("Subject"))
		if err != nil || subj != tt.wantSubj {
			t.Errorf("Subject %.60q decodes to %.60q, %v; want %.60q", h.Get("Subject"), subj, err, tt.wantSubj)
		}
	}
}

func TestForeignBody(t *testing.T) {
	for _, host := range []string{"vms.acme.example", "", "h\r\nX-Evil: 1", "h\xff"} {
		b := ForeignBody(host)
		if !bytes.Contains(b, []byte("EXTRACT")) || !bytes.Contains(b, []byte("log in to ")) {
			t.Errorf("ForeignBody(%q) does not tell the user to log in and EXTRACT: %q", host, b)
		}
		if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\r")) {
			t.Errorf("ForeignBody(%q) has a bare CR or LF", host)
		}
		if !bytes.HasSuffix(b, []byte("\r\n")) {
			t.Errorf("ForeignBody(%q) does not end with CRLF", host)
		}
		for _, c := range b {
			if c > 0x7E {
				t.Errorf("ForeignBody(%q) has octet %#x", host, c)
			}
		}
	}
	if b := ForeignBody("vms.acme.example"); !bytes.Contains(b, []byte("log in to vms.acme.example")) {
		t.Errorf("ForeignBody does not name the host: %q", b)
	}
}

func TestBodyHeaderLen(t *testing.T) {
	hdr := "Received: from x by y;\r\n\tMon, 1 Jan 2001 00:00:00 +0000\r\nFrom: a@b.example\r\nSubject: hi\r\n\r\n"
	tests := []struct {
		body string
		want int
		ok   bool
	}{
		{hdr + "body\r\n", len(hdr), true},
		{hdr, len(hdr), true},
		{"From: a@b\n\nbody\n", len("From: a@b\n\n"), true},
		{"From: a@b\nSubject:\n x\n\n", len("From: a@b\nSubject:\n x\n\n"), true},
		{"From: a@b\r\n", 0, false},                  // no empty line
		{"From: a@b", 0, false},                      // no end of line
		{"Hello there,\n\nHow are you?\n", 0, false}, // no colon
		{"Dear John: hello\n\nbody", 0, false},       // space in the field name
		{" From: a@b\n\n", 0, false},                 // starts with a continuation
		{"\r\nbody", 0, false},                       // no fields
		{"", 0, false},
		{"From: a@b\nnot a field\n\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := BodyHeaderLen([]byte(tt.body))
		if got != tt.want || ok != tt.ok {
			t.Errorf("BodyHeaderLen(%q) = %d, %v; want %d, %v", tt.body, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDetectCharset(t *testing.T) {
	tests := []struct{ body, want string }{
		{"plain text\r\n", ""},
		{"", ""},
		{"Prüfung", "utf-8"},
		{"Pr\xfcfung", "iso-8859-1"},
		{"\xa2", "iso-8859-1"},
	}
	for _, tt := range tests {
		if got := DetectCharset([]byte(tt.body)); got != tt.want {
			t.Errorf("DetectCharset(%q) = %q; want %q", tt.body, got, tt.want)
		}
	}
}

func TestUID(t *testing.T) {
	at := time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, time.UTC)
	tests := []struct {
		user string
		t    time.Time
		sum  uint32
		want string
	}{
		{"SMITH", at, 0x0a1b2c3d, "SMITH.1992070221170808.0a1b2c3d"},
		{"smith", at, 0x0a1b2c3d, "SMITH.1992070221170808.0a1b2c3d"},
		{"SMITH", at, 0, "SMITH.1992070221170808.00000000"},
		{"SMITH", at, 0xffffffff, "SMITH.1992070221170808.ffffffff"},
		{"a b\x00\xff", at, 1, "A_B__.1992070221170808.00000001"},
		{"", at, 1, "_.1992070221170808.00000001"},
		{"SMITH", time.Time{}, 1, "SMITH.0001010100000000.00000001"},
		{strings.Repeat("X", 100), at, 1, strings.Repeat("X", 36) + ".1992070221170808.00000001"},
	}
	for _, tt := range tests {
		got := UID(tt.user, tt.t, tt.sum)
		if got != tt.want {
			t.Errorf("UID(%q, %v, %#x) = %q; want %q", tt.user, tt.t, tt.sum, got, tt.want)
		}
		if len(got) > 70-8 {
			t.Errorf("UID %q is %d octets; want at most 62", got, len(got))
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x21 || got[i] > 0x7E {
				t.Errorf("UID %q has octet %#x", got, got[i])
			}
		}
	}
	if UID("A", at, 1) == UID("A", at, 2) || UID("A", at, 1) == UID("A", at.Add(10*time.Millisecond), 1) {
		t.Error("UID does not tell apart different sums or dates")
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	s := goldenSettings()
	s.PersonalName = true
	msgs := []mail11.Header{
		{From: "ABCDEF::JONES", PersonalName: "Jim Jones", Date: time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, est),
			FromField: `ABCDEF::JONES "Jim Jones"  2-JUL-1992 21:17:08.08`, To: "SMITH", Subj: "Lunch on Friday?"},
		{From: `SMTP%"james.jones@federation.gov"`, Date: time.Date(2001, 12, 12, 9, 5, 0, 0, est),
			FromField: `SMTP%"james.jones@federation.gov"  12-DEC-2001 09:05:00.00`, To: "SMITH", CC: "JONES", Subj: "Re: budget"},
	}
	p := Params{UID: "JONES.1992070221170808.0a1b2c3d"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = s.AppendHeader(buf[:0], &msgs[i%len(msgs)], p)
	}
}
