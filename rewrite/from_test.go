package rewrite

import (
	"net/mail"
	"strings"
	"testing"
)

// Latin-1 (DEC MCS) and UTF-8 spellings of the cent sign SMTP uses to hide
// nested double quotes.
const (
	centL1  = "\xa2"
	centU8  = "\xc2\xa2"
	manualC = `SMTP%"¢ABCMTS::MRGATE::\¢ABCDEF::VIVALDI \¢¢@xyz.org"` // verbatim, UTF-8 ¢
)

func testSettings() *Settings {
	return &Settings{
		Hostname:         "VMS.Acme.Widgets.com",
		SubstituteDomain: "acme.widgets.com",
		LocalNames:       []string{"ACMEVX", "mailhub.acme.widgets.com"},
		Nodes: NodeTable{
			"ABCDEF": "abcdef.federation.gov",
			"BOSTON": "Boston.Example.ORG",
			"HUB":    "mailhub.acme.widgets.com", // translates to this host
			"BAD":    "not a host!",
		},
	}
}

func TestRewriteFrom(t *testing.T) {
	long := strings.Repeat("A", 2000)
	tests := []struct {
		name     string
		from     string
		decnet   Mode
		quoted   Mode
		noSubst  bool   // no substitute domain: the local host name is used
		subst    string // another substitute domain
		want     string
		wantNote bool
		raw      bool // None passthrough: not an RFC 5322 address
	}{
		// 15.1.6.1.1 SMTP address, manual examples verbatim.
		{name: "manual smtp", from: `SMTP%"james.jones@federation.gov"`, want: "james.jones@federation.gov"},
		{name: "manual cent utf-8", from: manualC, want: `"ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org`},
		{name: "manual cent latin-1", from: strings.ReplaceAll(manualC, centU8, centL1), want: `"ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org`},
		// 15.1.6.1.3 user name only, manual example.
		{name: "manual user", from: "Smith", want: "smith@acme.widgets.com"},
		// 15.1.6.1.5 cluster forwarding, manual example.
		{name: "manual cluster", from: `ABCDEF::SMTP%"james.jones@federation.gov"`, want: "james.jones@federation.gov"},
		// 15.1.6.1.6 all other addresses, manual example (substitute domain xyz.org).
		{name: "manual other", from: `ABCMTS::MRGATE::"ORDERS::SPECIAL"`, subst: "xyz.org", want: `"ABCMTS::MRGATE::\"ORDERS::SPECIAL\""@xyz.org`},

		// SMTP variants.
		{name: "smtp lower case", from: `smtp%"a.b@c.example"`, want: "a.b@c.example"},
		{name: "smtp with spaces", from: `  SMTP%"x@y.example"  `, want: "x@y.example"},
		{name: "smtp angle", from: `SMTP%"John Doe <jd@x.example>"`, want: "jd@x.example"},
		{name: "smtp quoted local", from: `SMTP%"` + centL1 + `a b` + centL1 + `@x.example"`, want: `"a b"@x.example`},
		{name: "smtp nested cents latin-1", from: "SMTP%\"\xa2A::\\\xa2B::C\\\xa2\xa2@x.org\"", want: `"A::\"B::C\""@x.org`},
		{name: "smtp cent padding both sides", from: "SMTP%\"\xa2 A::\\\xa2 B \\\xa2 \xa2@x.org\"", want: `"A::\"B\""@x.org`},
		{name: "smtp unbalanced", from: `SMTP%"x@y.example`, want: "x@y.example", wantNote: true},
		{name: "smtp junk after", from: `SMTP%"x@y.example" junk`, want: "x@y.example", wantNote: true},
		{name: "smtp no quotes", from: `SMTP%x@y.example`, want: "x@y.example"},
		{name: "smtp no domain", from: `SMTP%"jones"`, want: `"SMTP%\"jones\""@acme.widgets.com`, wantNote: true},
		{name: "smtp empty", from: `SMTP%""`, want: `"SMTP%\"\""@acme.widgets.com`, wantNote: true},
		{name: "smtp utf-8 local", from: `SMTP%"jörg@x.example"`, want: "j?rg@x.example", wantNote: true},
		{name: "smtp two hops", from: `A::B::SMTP%"u@d.example"`, want: "u@d.example"},

		// User name only.
		{name: "user lower", from: "jones", want: "jones@acme.widgets.com"},
		{name: "user no subst", from: "JONES", noSubst: true, want: "jones@vms.acme.widgets.com"},
		{name: "user dollar", from: "SYSTEM$", want: "system$@acme.widgets.com"},
		{name: "user underscore", from: "J_SMITH", want: "j_smith@acme.widgets.com"},
		{name: "local node is user", from: "VMS::JONES", want: "jones@acme.widgets.com"},
		{name: "local first label lower", from: "vms::jones", want: "jones@acme.widgets.com"},
		{name: "local name", from: "ACMEVX::JONES", want: "jones@acme.widgets.com"},
		// A leading local node never changes which rule applies.
		{name: "local name under generic", from: "ACMEVX::JONES", decnet: Generic, want: `"ACMEVX::JONES"@acme.widgets.com`},
		{name: "local node under none", from: "VMS::JONES", decnet: None, want: "VMS::JONES", raw: true},
		{name: "local name under none", from: "ACMEVX::JONES", decnet: None, want: "ACMEVX::JONES", raw: true},
		{name: "local hops under none", from: "VMS::ACMEVX::JONES", decnet: None, want: "VMS::ACMEVX::JONES", raw: true},
		{name: "local quoted transform", from: `VMS::"user@host.example"`, want: "user@host.example"},
		{name: "local quoted transform angle", from: `ACMEVX::"Jo <user@host.example>"`, want: "user@host.example"},
		{name: "local quoted generic", from: `VMS::"user@host.example"`, quoted: Generic, want: `"VMS::\"user@host.example\""@acme.widgets.com`},
		{name: "local quoted none", from: `VMS::"user@host.example"`, quoted: None, want: `VMS::"user@host.example"`, raw: true},
		{name: "local quoted no at", from: `VMS::"ORDERS::SPECIAL"`, want: `"VMS::\"ORDERS::SPECIAL\""@acme.widgets.com`, wantNote: true},
		{name: "local smtp", from: `VMS::SMTP%"a@b.example"`, want: "a@b.example"},
		{name: "local hops then node", from: "VMS::ABCDEF::JONES", want: "jones@abcdef.federation.gov"},
		{name: "local subst domain node", from: "acme.widgets.com::JONES", want: "jones@acme.widgets.com"},
		{name: "local no subst", from: "VMS::JONES", noSubst: true, want: "jones@vms.acme.widgets.com"},

		// NODE::USER per TCPIP$POP_DECNET_REWRITE.
		{name: "decnet transform", from: "ABCDEF::JONES", want: "jones@abcdef.federation.gov"},
		{name: "decnet transform lower host", from: "boston::Smith", want: "smith@boston.example.org"},
		{name: "decnet transform to local host", from: "HUB::SMITH", want: "smith@acme.widgets.com"},
		{name: "decnet transform unknown", from: "NOWHERE::JONES", want: `"NOWHERE::JONES"@acme.widgets.com`, wantNote: true},
		{name: "decnet transform unknown no subst", from: "NOWHERE::JONES", noSubst: true, want: `"NOWHERE::JONES"@vms.acme.widgets.com`, wantNote: true},
		{name: "decnet transform bad host", from: "BAD::JONES", want: `"BAD::JONES"@acme.widgets.com`, wantNote: true},
		{name: "decnet generic", from: "ABCDEF::JONES", decnet: Generic, want: `"ABCDEF::JONES"@acme.widgets.com`},
		{name: "decnet generic no subst", from: "ABCDEF::JONES", decnet: Generic, noSubst: true, want: `"ABCDEF::JONES"@vms.acme.widgets.com`},
		{name: "decnet none", from: "ABCDEF::JONES", decnet: None, want: "ABCDEF::JONES", raw: true},
		{name: "decnet space after colons", from: "ABCDEF:: JONES", want: "jones@abcdef.federation.gov"},

		// NODE::"user@host" per TCPIP$POP_QUOTED_DECNET_REWRITE.
		{name: "quoted transform", from: `ABCDEF::"user@host.example"`, want: "user@host.example"},
		{name: "quoted transform angle", from: `ABCDEF::"Jo <user@host.example>"`, want: "user@host.example"},
		{name: "quoted generic", from: `ABCDEF::"user@host.example"`, quoted: Generic, want: `"ABCDEF::\"user@host.example\""@acme.widgets.com`},
		{name: "quoted generic no subst", from: `ABCDEF::"user@host.example"`, quoted: Generic, noSubst: true, want: `"ABCDEF::\"user@host.example\""@vms.acme.widgets.com`},
		{name: "quoted none", from: `ABCDEF::"user@host.example"`, quoted: None, want: `ABCDEF::"user@host.example"`, raw: true},
		{name: "quoted transform no at", from: `MRGATE::"ORDERS::SPECIAL"`, want: `"MRGATE::\"ORDERS::SPECIAL\""@acme.widgets.com`, wantNote: true},
		{name: "quoted unbalanced", from: `ABCDEF::"user@host`, want: `"ABCDEF::\"user@host"@acme.widgets.com`, wantNote: true},
		{name: "quoted decnet mode does not matter", from: `ABCDEF::"user@host.example"`, decnet: None, want: "user@host.example"},

		// All other forms.
		{name: "several hops", from: "A::B::C::USER", want: `"A::B::C::USER"@acme.widgets.com`},
		{name: "several hops none", from: "A::B::USER", decnet: None, want: `"A::B::USER"@acme.widgets.com`},
		{name: "colons at start", from: "::USER", want: `"::USER"@acme.widgets.com`},
		{name: "colons at end", from: "NODE::", want: `"NODE::"@acme.widgets.com`},
		{name: "only colons", from: "::", want: `"::"@acme.widgets.com`},
		{name: "local node alone", from: "VMS::", want: `"VMS::"@acme.widgets.com`},
		{name: "bare quotes", from: `"user@host.example"`, want: `"\"user@host.example\""@acme.widgets.com`},
		{name: "unbalanced quote", from: `"JONES`, want: `"\"JONES"@acme.widgets.com`},
		{name: "backslash", from: `A\B`, want: `"A\\B"@acme.widgets.com`},
		{name: "space inside", from: "JOHN SMITH", want: `"JOHN SMITH"@acme.widgets.com`},
		{name: "at sign", from: "user@host.example", want: `"user@host.example"@acme.widgets.com`},
		{name: "mx transport", from: `MX%"a@b.example"`, want: `"MX%\"a@b.example\""@acme.widgets.com`},
		{name: "latin-1 user", from: "J\xd6RG", want: `J?RG@acme.widgets.com`, wantNote: true},
		{name: "utf-8 user", from: "JÖRG", want: `J?RG@acme.widgets.com`, wantNote: true},
		{name: "control chars", from: "A\x00B\x07", want: `A?B?@acme.widgets.com`, wantNote: true},
		{name: "empty", from: "", want: "unknown@acme.widgets.com", wantNote: true},
		{name: "blank", from: " \t ", want: "unknown@acme.widgets.com", wantNote: true},
		{name: "very long", from: long, want: long[:(maxAddr-len("acme.widgets.com")-3)/2-1] + `@acme.widgets.com`, wantNote: true},
		{name: "very long decnet none", from: "N::" + long, decnet: None, want: `"N::` + long[:(maxAddr-len("acme.widgets.com")-3)/2-4] + `"@acme.widgets.com`, wantNote: true},
		{name: "very long smtp", from: `SMTP%"` + long + `@x.example"`, want: long[:maxAddr-len("@x.example")] + "@x.example"[:0] + "", wantNote: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSettings()
			s.DECnet, s.QuotedDECnet = tt.decnet, tt.quoted
			if tt.noSubst {
				s.SubstituteDomain = ""
			}
			if tt.subst != "" {
				s.SubstituteDomain = tt.subst
			}
			got, note := s.RewriteFrom(tt.from)
			if tt.name == "very long smtp" {
				// A 2000-octet local part is cut to fit a header line.
				if len(got) > maxAddr || !strings.HasSuffix(got, "@acme.widgets.com") || note == "" {
					t.Errorf("RewriteFrom(long) = %q (%d octets), note %q", got, len(got), note)
				}
			} else if got != tt.want {
				t.Errorf("RewriteFrom(%q) = %q; want %q", tt.from, got, tt.want)
			}
			if (note != "") != tt.wantNote {
				t.Errorf("RewriteFrom(%q) note = %q; want a note: %v", tt.from, note, tt.wantNote)
			}
			checkAddr(t, got, tt.raw)
		})
	}
}

// checkAddr checks that an address RewriteFrom returned is a 7-bit addr-spec
// net/mail accepts and formats the same way, or, for a None passthrough, at
// least 7-bit without CR, LF or NUL.
func checkAddr(t *testing.T, got string, raw bool) {
	t.Helper()
	if len(got) > maxAddr {
		t.Errorf("address %d octets long, over %d", len(got), maxAddr)
	}
	for i := 0; i < len(got); i++ {
		if c := got[i]; c < ' ' || c > '~' {
			t.Fatalf("address %q has octet %#x", got, c)
		}
	}
	if raw {
		return
	}
	a, err := mail.ParseAddress(got)
	if err != nil {
		t.Fatalf("mail.ParseAddress(%q): %v", got, err)
	}
	if s := a.String(); s != "<"+got+">" {
		t.Errorf("address %q re-formats as %q", got, s)
	}
}

func TestIsSMTP(t *testing.T) {
	tests := []struct {
		from string
		want bool
	}{
		{`SMTP%"a@b"`, true},
		{`smtp%"a@b"`, true},
		{` SMTP%"a@b"`, true},
		{`NODE::SMTP%"a@b"`, true},
		{`A::B::SMTP%"a@b"`, true},
		{`SMTP%x`, true},
		{`NODE::USER`, false},
		{`SMTP`, false},
		{`SMTPX%"a@b"`, false},
		{`NODE::"SMTP%a@b"`, false},
		{``, false},
		{`MX%"a@b"`, false},
	}
	for _, tt := range tests {
		if got := IsSMTP(tt.from); got != tt.want {
			t.Errorf("IsSMTP(%q) = %v; want %v", tt.from, got, tt.want)
		}
	}
}

func TestUnhideQuotes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no cents", "no cents"},
		{"\xa2a\xa2@b", `"a"@b`},
		{"¢a¢@b", `"a"@b`},
		{"¢ a b ¢@c", `"a b"@c`},                 // padding inside the pair goes, inner space stays
		{`¢x\¢ y \¢¢@c`, `"x\"y\""@c`},           // the manual's rule, nested
		{`¢a\ ¢@c`, `"a\ "@c`},                   // an escaped space is kept
		{"\xa2\xa2@c", `""@c`},                   // empty
		{"\xa2unclosed@c", `"unclosed@c`},        // left for the parser to reject
		{"\xc2\xa2 mixed \xa2", "\xc2\"mixed\""}, // not UTF-8: every 0xA2 is a cent
		{`x\\¢a¢`, `x\\"a"`},                     // an escaped backslash before a cent
	}
	for _, tt := range tests {
		if got := unhideQuotes(tt.in); got != tt.want {
			t.Errorf("unhideQuotes(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatName(t *testing.T) {
	tests := []struct {
		name     string
		want     string
		wantText string // what a reader decodes; "" = name
	}{
		{"John Smith", "John Smith", ""},
		{"Smith, John", `"Smith, John"`, ""},
		{`John "Jack" Smith`, `"John \"Jack\" Smith"`, ""},
		{"J. Smith", `"J. Smith"`, ""},
		{"=?utf-8?q?x?=", `"=?utf-8?q?x?="`, ""},
		{"Jörg Müller", "=?utf-8?q?J=C3=B6rg_M=C3=BCller?=", ""},
		{"Müller, Jörg", "=?utf-8?q?M=C3=BCller=2C_J=C3=B6rg?=", ""},
		{"J\xf6rg M\xfcller", "=?iso-8859-1?q?J=F6rg_M=FCller?=", "Jörg Müller"},
		{"M\xfcller, J\xf6rg", "=?iso-8859-1?q?M=FCller=2C_J=F6rg?=", "Müller, Jörg"},
		{"Tab\there", "Tab here", "Tab here"},
		{"\\¢", "=?utf-8?q?=5C=C2=A2?=", "\\¢"},
		{"\\\xa2", "=?iso-8859-1?q?=5C=A2?=", "\\¢"},
		{"Bell\x07 NUL\x00", `Bell  NUL`, "Bell NUL"},
		{"  ", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		got := formatName(tt.name)
		if got != tt.want {
			t.Errorf("formatName(%q) = %q; want %q", tt.name, got, tt.want)
			continue
		}
		if got == "" {
			continue
		}
		a, err := mail.ParseAddress(got + " <a@b.example>")
		if err != nil {
			t.Errorf("mail.ParseAddress(%q): %v", got+" <a@b.example>", err)
			continue
		}
		want := tt.wantText
		if want == "" {
			want = tt.name
		}
		if a.Name != want {
			t.Errorf("name %q reads back as %q; want %q", got, a.Name, want)
		}
	}
}

func TestFormatNameLong(t *testing.T) {
	for _, name := range []string{strings.Repeat("x", 1000), strings.Repeat("ö", 500), strings.Repeat("\xf6", 1000), strings.Repeat("a, ", 400)} {
		got := formatName(name)
		if got == "" || len(got) > 4*maxName {
			t.Errorf("formatName(%d octets) = %d octets", len(name), len(got))
		}
		if _, err := mail.ParseAddress(got + " <a@b.example>"); err != nil {
			t.Errorf("formatName(%.20q...) = %.40q...: %v", name, got, err)
		}
	}
}

// TestRewriteFromResolve: TRANSFORM of a node the node table does not
// know asks Settings.Resolve (the system resolver in the server; here a
// table standing for a hosts file).
func TestRewriteFromResolve(t *testing.T) {
	hosts := map[string]string{"VAXB": "vaxb.example.net", "VAXC": "VAXC.Acme.Widgets.COM", "BADHOST": "bad host", "ABCDEF": "wrong.example"}
	var asked []string
	s := testSettings()
	s.Resolve = func(node string) string {
		asked = append(asked, node)
		return hosts[node]
	}
	tests := []struct {
		from     string
		decnet   Mode
		want     string
		wantNote bool
		asks     bool // Resolve is called
	}{
		{from: "VAXB::JONES", want: "jones@vaxb.example.net", asks: true},
		{from: "vaxb::jones", want: "jones@vaxb.example.net", asks: true},
		{from: "VAXC::JONES", want: "jones@vaxc.acme.widgets.com", asks: true},
		{from: "NOWHERE::JONES", want: `"NOWHERE::JONES"@acme.widgets.com`, wantNote: true, asks: true},
		{from: "BADHOST::JONES", want: `"BADHOST::JONES"@acme.widgets.com`, wantNote: true, asks: true},
		// The node table wins; local nodes and other rules never ask.
		{from: "ABCDEF::JONES", want: "jones@abcdef.federation.gov"},
		{from: "VMS::JONES", want: "jones@acme.widgets.com"},
		{from: "VAXB::JONES", decnet: Generic, want: `"VAXB::JONES"@acme.widgets.com`},
		{from: "VAXB::JONES", decnet: None, want: "VAXB::JONES"},
		{from: `VAXB::"user@host.example"`, want: "user@host.example"},
	}
	for _, tt := range tests {
		asked = nil
		s.DECnet = tt.decnet
		got, note := s.RewriteFrom(tt.from)
		if got != tt.want || (note != "") != tt.wantNote {
			t.Errorf("RewriteFrom(%q) = %q, note %q; want %q, a note: %v", tt.from, got, note, tt.want, tt.wantNote)
		}
		if (len(asked) > 0) != tt.asks {
			t.Errorf("RewriteFrom(%q) asked the resolver %q; want asked: %v", tt.from, asked, tt.asks)
		}
		for _, n := range asked {
			if n != strings.ToUpper(n) {
				t.Errorf("Resolve(%q): want the upper-case node", n)
			}
		}
	}
}
