package rewrite

import (
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/mail11"
)

// maxFuzz bounds fuzz inputs: MAIL-11 fields are at most a few hundred
// octets, and long inputs make the fuzzer spend its time minimizing.
const maxFuzz = 4096

var est = time.FixedZone("EST", -5*3600)

var fuzzFroms = []string{
	`SMTP%"james.jones@federation.gov"`,
	manualC,
	strings.ReplaceAll(manualC, centU8, centL1),
	"Smith",
	`ABCDEF::SMTP%"james.jones@federation.gov"`,
	`ABCMTS::MRGATE::"ORDERS::SPECIAL"`,
	"ABCDEF::JONES",
	`ABCDEF::"user@host.example"`,
	"VMS::JONES",
	"A::B::C::D",
	`"unbalanced`,
	"J\xd6RG",
	"",
	"::",
	`SMTP%"\"\\"@x"`,
}

// FuzzRewriteFrom: any address, in every mode, gives an address net/mail
// accepts (a None passthrough: at least 7-bit without CR, LF, NUL), and a
// header built around it is valid.
func FuzzRewriteFrom(f *testing.F) {
	for _, s := range fuzzFroms {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, from string) {
		if len(from) > maxFuzz/4 {
			t.Skip("longer than any MAIL-11 field")
		}
		for _, mode := range []Mode{Transform, Generic, None} {
			s := goldenSettings()
			s.DECnet, s.QuotedDECnet, s.PersonalName = mode, mode, true
			addr, _ := s.RewriteFrom(from)
			if addr == "" {
				t.Fatalf("RewriteFrom(%q) = empty", from)
			}
			checkAddr(t, addr, mode == None)
			m := mail11.Header{From: from, PersonalName: from, FromField: from, To: from, CC: from, Subj: from}
			h := checkHeader(t, s.AppendHeader(nil, &m, Params{UID: from, Charset: from}))
			if mode != None {
				if _, err := mail.ParseAddress(h.Get("From")); err != nil {
					t.Fatalf("From: %q: %v", h.Get("From"), err)
				}
			}
		}
	})
}

// FuzzParseMail11: any block parses without a panic, a block without error
// has an address and a date, and the header built from it is valid.
func FuzzParseMail11(f *testing.F) {
	f.Add([]byte("From:\tABCDEF::JONES \"Jim Jones\"  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tLunch on Friday?\n"))
	f.Add([]byte("From:\tSMTP%\"\xa2A::\\\xa2B \\\xa2\xa2@x.org\" \"J\xf6rg\"  2-JUL-1992 21:17:08.08\r\nTo:\tME\r\nSubj:\tPr\xfcfung\r\n"))
	f.Add([]byte("From: A::B \"x\n\ty\"  2-JUL-1992 21:17\nSubj:\t\x00\r\x7f\n"))
	f.Add([]byte("garbage\n\tcontinued\nFrom:\nFrom:\n"))
	for _, s := range fuzzFroms {
		f.Add([]byte("From:\t" + s + "  2-JUL-1992 21:17:08.08\n"))
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		if len(block) > maxFuzz {
			t.Skip("longer than any MAIL-11 header")
		}
		m, err := mail11.ParseIn(block, est)
		if err == nil && (m.From == "" || m.Date.IsZero()) {
			t.Fatalf("ParseMail11(%q) = %+v without error", block, m)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "mail11: ") {
			t.Fatalf("error %q lacks the package prefix", err)
		}
		for _, mode := range []Mode{Transform, None} {
			s := goldenSettings()
			s.DECnet, s.QuotedDECnet, s.PersonalName = mode, mode, true
			h := checkHeader(t, s.AppendHeader(nil, &m, Params{UID: "U", Charset: "utf-8", Arrival: time.Unix(1e9, 0)}))
			if mode == Transform {
				if _, err := mail.ParseAddress(h.Get("From")); err != nil {
					t.Fatalf("From: %q: %v", h.Get("From"), err)
				}
			}
			if _, err := mail.ParseDate(h.Get("Date")); err != nil {
				t.Fatalf("Date: %q: %v", h.Get("Date"), err)
			}
		}
	})
}

// FuzzBodyHeaderLen: the length is within the body and ends with an empty
// line.
func FuzzBodyHeaderLen(f *testing.F) {
	f.Add([]byte("From: a@b\r\nSubject: x\r\n\r\nbody"))
	f.Add([]byte("not a header\n\nbody"))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, ok := BodyHeaderLen(body)
		if !ok {
			if n != 0 {
				t.Fatalf("BodyHeaderLen = %d, false", n)
			}
			return
		}
		if n <= 0 || n > len(body) || body[n-1] != '\n' {
			t.Fatalf("BodyHeaderLen(%q) = %d", body, n)
		}
	})
}
