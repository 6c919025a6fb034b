package mail11

// RFC 5322 → MAIL-11: the header lines that `vmspop deliver` writes in front
// of an SMTP message, as the VMS SMTP server stores mail:
//
//	From:	SMTP%"john.smith@example.com" "John Smith"  25-NOV-2026 10:15:32.45
//	To:	Jones <jones@vms.example.com>
//	CC:
//	Subj:	Lunch on Friday?
//
// followed by an empty line and the original message, headers included.
// Package rewrite does the reverse when it serves the message.

import (
	"bytes"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// maxField bounds a MAIL-11 To:, CC: or Subj: value in octets, so that
// each header line stays under the 998-octet line limit of RFC 5322 §2.1.1.
// The original RFC 822 header, kept in the body, has the whole value.
const maxField = 980

// maxName bounds the personal name in octets (rewrite cuts at 255).
const maxName = 255

// Fields are the values of the MAIL-11 header of a delivered message.
type Fields struct {
	From     string    // the SMTP address as an addr-spec, quotes not yet hidden
	Personal string    // the personal name, UTF-8, may be ""
	To, CC   string    // decoded display lists
	Subj     string    // decoded subject
	Arrival  time.Time // the arrival date
}

// FromHeader reads the MAIL-11 fields from the RFC 5322 header h.
// fallback is the address used when h has no usable From: (the envelope
// sender).
func FromHeader(h textproto.Header, fallback string, arrival time.Time) Fields {
	mh := gomail.Header{Header: message.Header{Header: h}}
	f := Fields{Arrival: arrival}
	if list, err := mh.AddressList("From"); err == nil && len(list) > 0 {
		f.From = addrSpec(list[0].Address)
		f.Personal = cleanField(list[0].Name, maxName)
	}
	if f.From == "" {
		f.From = fallback
	}
	if f.From == "" {
		f.From = "MAILER-DAEMON"
	}
	f.To = addressDisplay(mh, "To")
	f.CC = addressDisplay(mh, "Cc")
	subj, err := mh.Subject()
	if err != nil {
		subj = h.Get("Subject") // an unknown charset: keep the raw value
	}
	f.Subj = cleanField(subj, maxField)
	return f
}

// addrSpec returns an address (net/mail form: the local part unquoted) as
// an RFC 5322 addr-spec, quoting the local part when it needs it.
func addrSpec(address string) string {
	if address == "" {
		return ""
	}
	s := (&mail.Address{Address: address}).String()
	return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
}

// addressDisplay returns the addresses of field key of h for display, names
// decoded: `John Smith <john@example.com>, jones@example.com`. When the field
// does not parse as an address list its decoded text is used.
func addressDisplay(h gomail.Header, key string) string {
	if !h.Has(key) {
		return ""
	}
	list, err := h.AddressList(key)
	if err != nil || len(list) == 0 {
		text, terr := h.Text(key)
		if terr != nil {
			text = h.Get(key)
		}
		return cleanField(text, maxField)
	}
	var b strings.Builder
	for i, a := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		spec := addrSpec(a.Address)
		if name := cleanField(a.Name, maxName); name != "" {
			b.WriteString(name)
			b.WriteString(" <")
			b.WriteString(spec)
			b.WriteString(">")
		} else {
			b.WriteString(spec)
		}
	}
	return cleanField(b.String(), maxField)
}

// cleanField makes s fit on one MAIL-11 header line: control characters
// (CR, LF and TAB included) become spaces, runs of white space one space,
// the ends are trimmed, and the value is cut to max octets (on a character
// boundary when s is UTF-8).
func cleanField(s string, max int) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c == 0x7f {
			c = ' '
		}
		if c == ' ' {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	out := strings.TrimRight(b.String(), " ")
	if len(out) > max {
		valid := utf8.ValidString(out)
		out = out[:max]
		for valid && len(out) > 0 && !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
		out = strings.TrimRight(out, " ")
	}
	return out
}

// hideQuotes hides the double quotes of an SMTP address as the VMS SMTP
// server does before handing a message to MAIL: `"` becomes a cent sign and
// `\"` becomes `\¢`. The cent sign is the ISO-8859-1 / DEC MCS octet 0xA2,
// or its UTF-8 form "\xc2\xa2" when the address holds other UTF-8 text
// (an internationalised address), so that the field stays valid UTF-8 and
// rewrite reads it in the same charset. It is the inverse of rewrite's
// unhiding: Settings.RewriteFrom(`SMTP%"`+hideQuotes(a)+`"`) gives back a.
func hideQuotes(addr string) string {
	if !strings.Contains(addr, `"`) {
		return addr
	}
	cent := "\xa2"
	if !isASCII(addr) && utf8.ValidString(addr) {
		cent = "\xc2\xa2"
	}
	return strings.ReplaceAll(addr, `"`, cent)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// fromField returns the value of the MAIL-11 From: field:
// SMTP%"addr" "Personal Name"  25-NOV-2026 10:15:32.45 (the personal name
// only when there is one).
func fromField(addr, personal string, arrival time.Time) string {
	var b strings.Builder
	b.WriteString(`SMTP%"`)
	b.WriteString(hideQuotes(cleanField(addr, 900)))
	b.WriteString(`"`)
	if personal != "" {
		b.WriteString(` "`)
		b.WriteString(personal)
		b.WriteString(`"`)
	}
	b.WriteString("  ")
	b.WriteString(FormatVMSDate(arrival))
	return b.String()
}

// Bytes returns the MAIL-11 header lines, a TAB after each colon, followed
// by the empty line that ends them.
func (f Fields) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString("From:\t")
	b.WriteString(fromField(f.From, f.Personal, f.Arrival))
	b.WriteString("\nTo:\t")
	b.WriteString(f.To)
	b.WriteString("\nCC:\t")
	b.WriteString(f.CC)
	b.WriteString("\nSubj:\t")
	b.WriteString(f.Subj)
	b.WriteString("\n\n")
	return b.Bytes()
}

// EnvelopeSender returns the envelope sender that the header of a
// message implies when none was given with -f: the Return-Path address
// ("" for the null sender <>), else the first From: address. ok is false
// when neither is present.
func EnvelopeSender(h textproto.Header) (sender string, ok bool) {
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp != "" {
		if rp == "<>" {
			return "", true
		}
		if a, err := mail.ParseAddress(rp); err == nil {
			return addrSpec(a.Address), true
		}
		return strings.TrimSuffix(strings.TrimPrefix(rp, "<"), ">"), true
	}
	mh := gomail.Header{Header: message.Header{Header: h}}
	if list, err := mh.AddressList("From"); err == nil && len(list) > 0 {
		return addrSpec(list[0].Address), true
	}
	return "", false
}
