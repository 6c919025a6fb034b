// Package mail11 reads and writes the MAIL-11 text of VMS MAIL: the header
// lines (From:, To:, CC:, Subj:) in front of a stored message, VMS dates,
// and the EXTRACT files of MAIL's EXTRACT/ALL. Parse and ParseIn read a
// header; FromHeader and Fields.Bytes write one from an RFC 5322 header (as
// the VMS SMTP server stores mail); ParseExtract reads an EXTRACT file.
// Package rewrite turns a parsed header into an RFC 822 header.
//
// The package imports no other package of vmspop.
package mail11

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Header is the MAIL-11 header of a stored message, as VMS MAIL's EXTRACT
// writes it:
//
//	From:	NODE::USER "Personal Name"  2-JUL-1992 21:17:08.08
//	To:	JONES
//	CC:
//	Subj:	Lunch on Friday?
//
// Values are raw octets (DEC MCS / ISO-8859-1 or UTF-8), with continuation
// lines joined by one space and white space trimmed at both ends.
type Header struct {
	From         string    // the address part, as stored (e.g. `NODE::USER`, `SMTP%"a@b"`)
	PersonalName string    // the personal name without its quotes ("" if none); raw bytes (may be 8-bit)
	Date         time.Time // arrival date from the From: line (zero if absent or unparsable)
	FromField    string    // the whole From: value as stored (for X-VMS-From)
	To, CC, Subj string    // raw values
}

// Parse parses the MAIL-11 header lines of a message (the lines before
// the first empty line), reading the arrival date in the local time zone. See
// ParseIn.
func Parse(block []byte) (Header, error) {
	return ParseIn(block, time.Local)
}

// ParseIn parses the MAIL-11 header lines of a message (the lines
// before the first empty line; parsing stops at an empty line) and reads the
// arrival date in loc (nil means time.Local; pass rewrite.Settings.Location).
//
// It is tolerant: spaces in place of the TAB, LF or CRLF line ends, a form
// feed (EXTRACT's message separator) before a line, fields in any order and
// case ("Subj:" or "Subject:"), continuation lines (starting with a space or
// TAB), a missing date or personal name. It never panics; on
// malformed input it returns what it could parse and an error naming every
// problem ("mail11: line N: ..."). Unknown fields are ignored.
func ParseIn(block []byte, loc *time.Location) (Header, error) {
	var m Header
	var errs []error
	var cur *string // the field continuation lines add to
	var have [4]bool
	n := 0
	for len(block) > 0 {
		var line []byte
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			line, block = block, nil
		}
		n++
		line = bytes.TrimRight(line, "\r")
		line = bytes.TrimLeft(line, "\f") // EXTRACT separates messages with form feeds
		if len(bytes.TrimLeft(line, " \t")) == 0 {
			if len(line) == 0 {
				break // end of the header block
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				errs = append(errs, fmt.Errorf("mail11: line %d: continuation line without a field", n))
				continue
			}
			*cur = joinLine(*cur, trimWSP(string(line)))
			continue
		}
		cur = nil
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(line[:colon]) {
			errs = append(errs, fmt.Errorf("mail11: line %d: not a header field: %q", n, truncate(line, 40)))
			continue
		}
		name := string(bytes.TrimRight(line[:colon], " \t"))
		var k int
		switch strings.ToLower(name) {
		case "from":
			k, cur = 0, &m.FromField
		case "to":
			k, cur = 1, &m.To
		case "cc":
			k, cur = 2, &m.CC
		case "subj", "subject":
			k, cur = 3, &m.Subj
		default:
			continue
		}
		if have[k] {
			errs = append(errs, fmt.Errorf("mail11: line %d: second %s: field ignored", n, name))
			cur = nil
			continue
		}
		have[k] = true
		*cur = trimWSP(string(line[colon+1:]))
	}
	if !have[0] {
		errs = append(errs, errors.New("mail11: no From: field"))
	} else if err := m.parseFrom(loc); err != nil {
		errs = append(errs, err)
	}
	return m, errors.Join(errs...)
}

// parseFrom splits FromField into address, personal name and date.
func (m *Header) parseFrom(loc *time.Location) error {
	var errs []error
	rest := m.FromField
	// The date: the last one or two words, "d-MMM-yyyy [hh:mm[:ss[.cc]]]".
	w2, before2 := lastWord(rest)
	w1, before1 := lastWord(before2)
	var date string
	switch {
	case looksDate(w1) && looksTime(w2):
		date, rest = w1+" "+w2, before1
	case looksDate(w2):
		date, rest = w2, before2
	}
	if date == "" {
		errs = append(errs, errors.New("mail11: From: field has no date"))
	} else if t, err := ParseVMSDate(date, loc); err != nil {
		errs = append(errs, err)
	} else {
		m.Date = t
	}
	// The address: up to the first white space outside double quotes.
	rest = trimWSP(rest)
	i, q := 0, false
	for ; i < len(rest); i++ {
		c := rest[i]
		if c == '"' {
			q = !q
		} else if !q && (c == ' ' || c == '\t') {
			break
		}
	}
	m.From = rest[:i]
	if m.From == "" {
		errs = append(errs, errors.New("mail11: From: field has no address"))
	} else if q {
		errs = append(errs, errors.New("mail11: From: address has unbalanced quotes"))
	}
	// The personal name, in double quotes.
	name := trimWSP(rest[i:])
	switch {
	case name == "":
	case len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"':
		m.PersonalName = trimWSP(name[1 : len(name)-1])
	case name[0] == '"':
		m.PersonalName = trimWSP(name[1:])
		errs = append(errs, errors.New("mail11: From: personal name has unbalanced quotes"))
	default:
		m.PersonalName = name
		errs = append(errs, errors.New("mail11: From: personal name is not quoted"))
	}
	return errors.Join(errs...)
}

// lastWord returns the last white-space-separated word of s and what is
// before it.
func lastWord(s string) (word, before string) {
	s = trimWSP(s)
	i := strings.LastIndexAny(s, " \t")
	return s[i+1:], s[:i+1]
}

// looksDate reports whether w has the shape of a VMS date, d-MMM-yyyy.
func looksDate(w string) bool {
	return len(w) >= 8 && isDigit(w[0]) && strings.Count(w, "-") == 2 && !strings.ContainsAny(w, `"<>@:`)
}

// looksTime reports whether w has the shape of a VMS time, hh:mm[:ss[.cc]].
func looksTime(w string) bool {
	if len(w) < 4 || !isDigit(w[0]) || strings.IndexByte(w, ':') < 0 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; !isDigit(c) && c != ':' && c != '.' {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validFieldName reports whether b is a field name (RFC 5322 ftext), allowing
// trailing white space before the colon.
func validFieldName(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

func joinLine(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

var monthNames = [12]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// ParseVMSDate parses a VMS absolute time as MAIL writes it in the From:
// line, " 2-JUL-1992 21:17:08.08", in loc (nil means time.Local). Leading and
// trailing white space, a one- or two-digit day, lower-case month names, and
// a time without hundredths, without seconds or missing altogether
// (midnight) are accepted. The fields are checked (no 31-FEB).
func ParseVMSDate(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.Local
	}
	p := vmsDateParser{s: trimWSP(s), ok: true}
	day := p.num(1, 2)
	p.lit('-')
	mon := p.month()
	p.lit('-')
	year := p.num(4, 4)
	var hour, min, sec, cs int
	if p.ok && p.i < len(p.s) {
		if p.s[p.i] == ':' { // DCL's 2-JUL-1992:21:17
			p.i++
		} else if !p.wsp() {
			p.ok = false
		}
		hour = p.num(1, 2)
		p.lit(':')
		min = p.num(2, 2)
		if p.ok && p.i < len(p.s) && p.s[p.i] == ':' {
			p.i++
			sec = p.num(2, 2)
			if p.ok && p.i < len(p.s) && p.s[p.i] == '.' {
				p.i++
				start := p.i
				cs = p.num(1, 2)
				if p.i-start == 1 {
					cs *= 10 // tenths
				}
			}
		}
	}
	if !p.ok || p.i != len(p.s) {
		return time.Time{}, fmt.Errorf("mail11: bad VMS date %q", s)
	}
	if day < 1 || day > daysIn(time.Month(mon), year) || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("mail11: VMS date out of range %q", s)
	}
	return time.Date(year, time.Month(mon), day, hour, min, sec, cs*10_000_000, loc), nil
}

type vmsDateParser struct {
	s  string
	i  int
	ok bool
}

func (p *vmsDateParser) num(minDigits, maxDigits int) int {
	if !p.ok {
		return 0
	}
	v, n := 0, 0
	for p.i < len(p.s) && n < maxDigits && isDigit(p.s[p.i]) {
		v = v*10 + int(p.s[p.i]-'0')
		p.i++
		n++
	}
	if n < minDigits {
		p.ok = false
	}
	return v
}

func (p *vmsDateParser) lit(c byte) {
	if p.ok && p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return
	}
	p.ok = false
}

func (p *vmsDateParser) wsp() bool {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	return p.i > start
}

func (p *vmsDateParser) month() int {
	if !p.ok || p.i+3 > len(p.s) {
		p.ok = false
		return 0
	}
	for k, name := range monthNames {
		if strings.EqualFold(p.s[p.i:p.i+3], name) {
			p.i += 3
			return k + 1
		}
	}
	p.ok = false
	return 0
}

func daysIn(m time.Month, year int) int {
	if m < time.January || m > time.December {
		return 0
	}
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// FormatVMSDate formats t, in its own location, as VMS MAIL writes an
// arrival date: " 2-JUL-1992 21:17:08.08" (day padded with a space to two
// characters, hundredths of a second truncated). It is the inverse of
// ParseVMSDate for years 1000-9999.
func FormatVMSDate(t time.Time) string {
	var b [24]byte
	out := b[:0]
	d := t.Day()
	if d < 10 {
		out = append(out, ' ', byte('0'+d))
	} else {
		out = append2(out, d)
	}
	out = append(out, '-')
	out = append(out, monthNames[t.Month()-1]...)
	out = append(out, '-')
	y := min(max(t.Year(), 0), 9999)
	out = append2(append2(out, y/100%100), y%100)
	out = append(out, ' ')
	out = append2(out, t.Hour())
	out = append(out, ':')
	out = append2(out, t.Minute())
	out = append(out, ':')
	out = append2(out, t.Second())
	out = append(out, '.')
	out = append2(out, t.Nanosecond()/10_000_000)
	return string(out)
}

// append2 appends v (0-99) as two digits.
func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

// trimWSP trims spaces, TABs, CRs and LFs at both ends of s.
func trimWSP(s string) string { return strings.Trim(s, " \t\r\n") }
