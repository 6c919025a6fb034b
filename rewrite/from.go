package rewrite

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// maxAddr bounds the length of a rebuilt addr-spec, so that a From: line,
// "<" and ">" included, stays under the 998-octet limit of RFC 5322 §2.1.1.
// A real address is far shorter (RFC 5321 §4.5.3.1.3: a path is at most 256
// octets; VMS MAIL fields at most 255).
const maxAddr = 900

// maxName bounds the personal name, in octets (VMS allows 127 characters).
const maxName = 255

// IsSMTP reports whether a MAIL-11 From: address came in through SMTP:
// SMTP%"..." or, forwarded inside a cluster, NODE::SMTP%"..." (any number of
// NODE:: hops). Case is ignored.
func IsSMTP(from string) bool {
	_, _, _, tail := splitHops(trimWSP(from), nil)
	return hasPrefixFold(tail, "SMTP%")
}

// RewriteFrom returns the address to send in From: (a bare addr-spec, no
// personal name) for the address part of a MAIL-11 From: field, following
// section 15.1.6.1 of the manual:
//
//   - SMTP%"addr" and NODE::SMTP%"addr" give addr, with the cent signs that
//     SMTP put in place of nested double quotes turned back into quotes;
//   - USER gives user@domain, where domain is the substitute domain or else
//     the local host name;
//   - a leading node that names this host never changes which rule
//     applies: LOCAL::USER and LOCAL::"user@host" follow the NODE::USER
//     and NODE::"user@host" rules below on the whole address, the local
//     node transforming to the domain (LOCAL::USER gives user@domain under
//     Transform, "LOCAL::USER"@domain under Generic, LOCAL::USER under
//     None); before other hops it is dropped (LOCAL::NODE::USER is
//     NODE::USER), and before SMTP%"addr" too;
//   - NODE::USER follows s.DECnet: Transform gives user@host from the node
//     table, or else from s.Resolve (falling back to the Generic form, with
//     a note, for a node neither knows), Generic gives "NODE::USER"@domain,
//     None leaves the address as it is;
//   - NODE::"user@host" follows s.QuotedDECnet: Transform gives user@host,
//     Generic "NODE::\"user@host\""@domain, None leaves it as it is;
//   - any other form gives the whole address quoted as the local part at the
//     domain: "ABCMTS::MRGATE::\"ORDERS::SPECIAL\""@xyz.org.
//
// Every result except a None passthrough is accepted by
// net/mail.ParseAddress. Octets outside printable ASCII, which an address
// cannot carry in a 7-bit header, become "?" (also in a None passthrough),
// and an address too long for a header line is cut.
// When a rule fell back, note says why, for the log; it is "" otherwise.
func (s *Settings) RewriteFrom(from string) (addr string, note string) {
	raw := trimWSP(from)
	if raw == "" {
		addr = "unknown@" + s.domain()
		return addr, "empty From: address; sent as " + addr
	}
	hops, node, base, tail := splitHops(raw, s.isLocal)
	if base == "" { // LOCAL:: and nothing after it
		return s.quoted(raw)
	}
	localNode := false
	if hops == 0 && base != raw && !hasPrefixFold(tail, "SMTP%") {
		// LOCAL::USER, LOCAL::"user@host": dropping the nodes that name
		// this host must not change the rule. The NODE::USER and
		// NODE::"user@host" rules apply as to any node, on the whole
		// address; Transform maps the node to the local domain.
		hops, base, localNode = 1, raw, true
	}

	if hasPrefixFold(tail, "SMTP%") {
		return s.smtp(tail[len("SMTP%"):], base)
	}
	switch {
	case hops == 0 && isUserToken(tail):
		return strings.ToLower(tail) + "@" + s.domain(), ""
	case hops == 1 && isUserToken(tail):
		switch s.DECnet {
		case None:
			return passthrough(base)
		case Generic:
			return s.quoted(base)
		}
		host := strings.ToLower(s.Nodes[strings.ToUpper(node)])
		if localNode {
			host = s.domain()
		}
		if host == "" && s.Resolve != nil {
			host = strings.ToLower(s.Resolve(strings.ToUpper(node)))
		}
		if host == "" || !validHost(host) {
			addr, note = s.quoted(base)
			return addr, joinNote(fmt.Sprintf("no host name known for DECnet node %s; sent as %s", strings.ToUpper(node), addr), note)
		}
		if s.isLocal(host) {
			host = s.domain()
		}
		return strings.ToLower(tail) + "@" + host, ""
	case hops == 1 && strings.HasPrefix(tail, `"`):
		switch s.QuotedDECnet {
		case None:
			return passthrough(base)
		case Generic:
			return s.quoted(base)
		}
		why := "unbalanced quotes"
		if inner, ok := unquote(tail); ok {
			a, err := mail.ParseAddress(inner)
			if err == nil {
				return s.addrSpec(a.Address)
			}
			why = err.Error()
		}
		addr, note = s.quoted(base)
		return addr, joinNote(fmt.Sprintf("quoted DECnet address %q: %s; sent as %s", base, why, addr), note)
	}
	return s.quoted(base)
}

// smtp rebuilds SMTP%"addr"; rest is what follows "SMTP%" and base the whole
// address, used for the fallback.
func (s *Settings) smtp(rest, base string) (string, string) {
	c, problem := rest, ""
	if strings.HasPrefix(c, `"`) {
		c = c[1:]
		if j := strings.LastIndexByte(c, '"'); j < 0 {
			problem = "unbalanced quotes"
		} else {
			if trimWSP(c[j+1:]) != "" {
				problem = "text after the closing quote"
			}
			c = c[:j]
		}
	}
	a, err := mail.ParseAddress(unhideQuotes(c))
	if err == nil {
		addr, note := s.addrSpec(a.Address)
		if problem != "" {
			note = joinNote(fmt.Sprintf("SMTP address %q: %s", base, problem), note)
		}
		return addr, note
	}
	if problem == "" {
		problem = err.Error()
	}
	addr, note := s.quoted(base)
	return addr, joinNote(fmt.Sprintf("SMTP address %q: %s; sent as %s", base, problem, addr), note)
}

// quoted returns the Generic form of an address: the whole of it, quoted if
// need be, as the local part at the domain.
func (s *Settings) quoted(local string) (string, string) {
	return s.addrSpec(local + "@" + s.domain())
}

// addrSpec formats an address given in its unquoted form (local@domain, split
// at the last "@"), quoting the local part when RFC 5322 needs it. It uses
// net/mail for the quoting. Octets that are not printable ASCII become "?";
// an address longer than maxAddr gets its local part cut (and the local
// domain).
func (s *Settings) addrSpec(address string) (string, string) {
	var note string
	if clean, changed := to7bit(address); changed {
		address = clean
		note = "8-bit or control characters in address replaced by ?"
	}
	out := (&mail.Address{Address: address}).String()
	out = out[1 : len(out)-1] // strip "<" and ">"
	if len(out) <= maxAddr {
		return out, note
	}
	local, domain := address, s.domain()
	if at := strings.LastIndexByte(address, '@'); at >= 0 {
		local = address[:at]
	}
	// Quoting at most doubles the length, plus two quotes.
	if limit := (maxAddr-len(domain)-3)/2 - 1; len(local) > limit && limit > 0 {
		local = local[:limit]
	}
	out = (&mail.Address{Address: local + "@" + domain}).String()
	out = out[1 : len(out)-1]
	return out, joinNote(note, "address too long; truncated to "+out)
}

// joinNote joins two notes with "; ".
func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// passthrough returns an address unchanged (the None rules) but for octets a
// header cannot carry, and cut to maxAddr.
func passthrough(a string) (string, string) {
	var note string
	if clean, changed := to7bit(a); changed {
		a = clean
		note = "8-bit or control characters in address replaced by ?"
	}
	if len(a) > maxAddr {
		a = a[:maxAddr]
		note = "address too long; truncated"
	}
	return a, note
}

// to7bit replaces every octet (or, in valid UTF-8, every character) that is
// not printable ASCII or a space with "?". Tabs become spaces.
func to7bit(s string) (string, bool) {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			ok = false
			break
		}
	}
	if ok {
		return s, false
	}
	valid := utf8.ValidString(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\t':
			b.WriteByte(' ')
			i++
		case c >= ' ' && c <= '~':
			b.WriteByte(c)
			i++
		case valid && c >= utf8.RuneSelf:
			_, n := utf8.DecodeRuneInString(s[i:])
			b.WriteByte('?')
			i += n
		default:
			b.WriteByte('?')
			i++
		}
	}
	return b.String(), true
}

// splitHops splits leading "NODE::" hops off an address. Leading hops for
// which local returns true are dropped first (local may be nil). It returns
// the number of hops left, the first of them, base (the address from that
// hop on) and tail (what follows the last hop).
func splitHops(a string, local func(string) bool) (hops int, first, base, tail string) {
	base, tail = a, a
	for {
		i := strings.Index(tail, "::")
		if i <= 0 || !validNode(tail[:i]) {
			return hops, first, base, tail
		}
		node := tail[:i]
		tail = trimWSP(tail[i+2:])
		if hops == 0 && local != nil && local(node) {
			base = tail
			continue
		}
		if hops == 0 {
			first = node
		}
		hops++
	}
}

// isUserToken reports whether s is a VMS user name: letters, digits, "$" and
// "_" (all atext, so user@domain needs no quoting).
func isUserToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '$' || c == '_') {
			return false
		}
	}
	return true
}

// unquote returns the text between the double quotes that start and end s.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	return s[1 : len(s)-1], true
}

// unhideQuotes undoes the cent-sign hiding of SMTP: before handing a message
// to VMS MAIL, SMTP turns each double quote inside SMTP%"..." into a cent
// sign (byte 0xA2 in DEC MCS / ISO-8859-1, "\xc2\xa2" when the field is
// UTF-8), and an escaped quote \" into \¢. This function turns them back.
//
// White space that lies just inside a hidden quote pair is dropped: after an
// opening ¢ or \¢ and before the matching closing one. That is the rule
// that yields exactly the manual's example (15.1.6.1.1)
//
//	SMTP%"¢ABCMTS::MRGATE::\¢ABCDEF::VIVALDI \¢¢@xyz.org"
//	→ "ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org
//
// where the space before the closing \¢ disappears. Gateways such as MRGATE
// pad the names inside a nested address with blanks, which are not part of
// the address; VMS MAIL itself ignores them. Plain ¢ and escaped \¢ open and
// close independently, since they nest at different levels. A space escaped
// with a backslash is kept.
func unhideQuotes(c string) string {
	if strings.IndexByte(c, 0xA2) < 0 {
		return c
	}
	utf := utf8.ValidString(c)
	centAt := func(i int) int { // length of the cent sign at i, or 0
		if utf {
			if i+1 < len(c) && c[i] == 0xC2 && c[i+1] == 0xA2 {
				return 2
			}
			return 0
		}
		if c[i] == 0xA2 {
			return 1
		}
		return 0
	}
	b := make([]byte, 0, len(c))
	var open1, open2, skip bool
	trimRight := func() {
		for n := len(b); n > 0 && (b[n-1] == ' ' || b[n-1] == '\t') && !(n > 1 && b[n-2] == '\\'); n-- {
			b = b[:n-1]
		}
	}
	for i := 0; i < len(c); {
		if skip && (c[i] == ' ' || c[i] == '\t') {
			i++
			continue
		}
		skip = false
		if c[i] == '\\' && i+1 < len(c) {
			if n := centAt(i + 1); n > 0 {
				if open2 {
					trimRight()
				} else {
					skip = true
				}
				open2 = !open2
				b = append(b, '\\', '"')
				i += 1 + n
				continue
			}
			b = append(b, c[i], c[i+1])
			i += 2
			continue
		}
		if n := centAt(i); n > 0 {
			if open1 {
				trimRight()
			} else {
				skip = true
			}
			open1 = !open1
			b = append(b, '"')
			i += n
			continue
		}
		b = append(b, c[i])
		i++
	}
	return string(b)
}

// formatName returns a personal name as an RFC 5322 display-name: as is when
// it is a phrase of atoms, else a quoted-string (net/mail), or RFC 2047
// Q-encoded words (qWords) when it holds 8-bit text: charset utf-8 when it
// is valid UTF-8, else iso-8859-1 (DEC MCS). Control characters become spaces and the
// name is cut to maxName octets. It returns "" for an empty name.
func formatName(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c == 0x7F {
			name = controlsToSpace(name)
			break
		}
	}
	name = trimWSP(name)
	if len(name) > maxName {
		wasUTF8 := utf8.ValidString(name)
		name = name[:maxName]
		for wasUTF8 && len(name) > 0 && !utf8.ValidString(name) {
			name = name[:len(name)-1]
		}
		name = trimWSP(name)
	}
	ascii, atoms := true, true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c > '~' {
			ascii = false
		}
		if c != ' ' && !isAtext(c) {
			atoms = false
		}
	}
	switch {
	case name == "":
		return ""
	case ascii && atoms && !strings.Contains(name, "=?"):
		return name
	case ascii:
		out := (&mail.Address{Name: name, Address: "a@b"}).String()
		return out[:len(out)-len(" <a@b>")]
	case utf8.ValidString(name):
		return qWords("utf-8", name, true)
	default:
		return qWords("iso-8859-1", name, true)
	}
}

func controlsToSpace(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c == 0x7F {
			b[i] = ' '
		}
	}
	return trimWSP(string(b))
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// trimWSP trims spaces, TABs, CRs and LFs at both ends of s.
func trimWSP(s string) string { return strings.Trim(s, " \t\r\n") }

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
