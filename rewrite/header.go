package rewrite

import (
	"bufio"
	"bytes"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"
	"github.com/vmspop/vmspop/mail11"
)

// Params are the per-message inputs of AppendHeader that are not in the
// MAIL-11 header.
type Params struct {
	UID     string    // the message UID (for X-POP3-ID); "" = no X-POP3-ID
	Arrival time.Time // used for Date: when the MAIL-11 date is zero
	Charset string    // "" for a 7-bit body, else "utf-8" or "iso-8859-1": add MIME-Version/Content-Type text/plain; charset=.../Content-Transfer-Encoding: 8bit
	Foreign bool      // the body is not text (NUL bytes...): it is replaced by ForeignBody, so no MIME fields (section 15.1.4)
}

// softLine is the line length RFC 5322 §2.1.1 says a line SHOULD stay under
// (CRLF excluded); folding starts beyond it.
const softLine = 78

// maxToken bounds a run of non-blank octets sent as is in a text field; a
// longer one cannot be folded, so the value is sent as encoded words.
const maxToken = 900

// AppendHeader appends the complete RFC 822 header block sent for a message,
// CRLF line ends, ending with the empty line (CRLF CRLF), to dst. Fields in
// this order: Date, From, To, CC, Subject, X-VMS-From, [X-POP3-Server,
// X-POP3-ID], [MIME fields]. To, CC and X-VMS-From are omitted when empty,
// X-POP3-ID when p.UID is "".
//
// Date is the arrival date (m.Date, else p.Arrival, else the Unix epoch) in
// RFC 5322 form in s.Location. From is RewriteFrom's address, with the
// personal name when s.PersonalName is set. X-POP3-* fields are sent always
// when s.SendIDHeaders is set, and else only for mail that did not come from
// an SMTP address (IsSMTP). The MIME fields are sent when p.Charset is set and
// p.Foreign is not.
//
// Every line is valid RFC 5322: no bare CR or LF, no NUL, folded at white
// space beyond 78 octets and never over 998; text with 8-bit or control
// octets (To, CC, Subject, X-VMS-From) is sent as RFC 2047 encoded words,
// charset utf-8 when it is valid UTF-8, else iso-8859-1. A nil m is treated
// as an empty header. Notes from RewriteFrom are dropped: AppendHeaderNote
// returns them.
func (s *Settings) AppendHeader(dst []byte, m *mail11.Header, p Params) []byte {
	dst, _ = s.AppendHeaderNote(dst, m, p)
	return dst
}

// AppendHeaderNote is AppendHeader that also returns RewriteFrom's note
// for the From: field ("" when no rule fell back), for the log.
func (s *Settings) AppendHeaderNote(dst []byte, m *mail11.Header, p Params) ([]byte, string) {
	if m == nil {
		m = &mail11.Header{}
	}
	t := m.Date
	if t.Year() < 1900 {
		t = p.Arrival
	}
	if t.Year() < 1900 {
		t = time.Unix(0, 0)
	}
	dst = append(dst, "Date: "...)
	dst = t.In(s.loc()).AppendFormat(dst, time.RFC1123Z)
	dst = append(dst, "\r\n"...)

	addr, note := s.RewriteFrom(m.From)
	if s.PersonalName {
		if name := formatName(m.PersonalName); name != "" {
			dst = appendFolded(dst, "From", name, " <", addr, ">")
		} else {
			dst = appendFolded(dst, "From", addr)
		}
	} else {
		dst = appendFolded(dst, "From", addr)
	}

	if v := trimWSP(m.To); v != "" {
		dst = appendText(dst, "To", v)
	}
	if v := trimWSP(m.CC); v != "" {
		dst = appendText(dst, "CC", v)
	}
	dst = appendText(dst, "Subject", trimWSP(m.Subj))
	if v := trimWSP(m.FromField); v != "" {
		dst = appendText(dst, "X-VMS-From", v)
	}
	if s.SendIDHeaders || !IsSMTP(m.From) {
		server := trimWSP(s.Server)
		if server == "" {
			server = s.localHost()
		}
		dst = appendText(dst, "X-POP3-Server", server)
		if v := trimWSP(p.UID); v != "" {
			dst = appendText(dst, "X-POP3-ID", v)
		}
	}
	if p.Charset != "" && !p.Foreign {
		dst = append(dst, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset="...)
		dst = appendCharset(dst, p.Charset)
		dst = append(dst, "\r\nContent-Transfer-Encoding: 8bit\r\n"...)
	}
	return append(dst, "\r\n"...), note
}

// appendCharset appends a charset name, lower-cased, or "unknown-8bit"
// (RFC 1428) when it is not an RFC 2045 token.
func appendCharset(dst []byte, cs string) []byte {
	cs = trimWSP(cs)
	if cs == "" || len(cs) > 40 {
		return append(dst, "unknown-8bit"...)
	}
	for i := 0; i < len(cs); i++ {
		c := cs[i]
		if c <= ' ' || c > '~' || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return append(dst, "unknown-8bit"...)
		}
	}
	for i := 0; i < len(cs); i++ {
		c := cs[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendText appends an unstructured field. A value of printable ASCII (and
// tabs) whose words fit on a line is sent as is; any other is sent as RFC
// 2047 encoded words.
func appendText(dst []byte, name, v string) []byte {
	plain, run := true, 0
	for i := 0; i < len(v) && plain; i++ {
		switch c := v[i]; {
		case c == ' ' || c == '\t':
			run = 0
		case c < ' ' || c > '~':
			plain = false
		default:
			if run++; run > maxToken {
				plain = false
			}
		}
	}
	if !plain {
		v = encodeText(v)
	}
	return appendFolded(dst, name, v)
}

// encodeText returns v as RFC 2047 encoded words, each at most 75 octets,
// separated by spaces. Valid UTF-8 is Q-encoded by mime as utf-8; anything
// else is ISO-8859-1 (DEC MCS), and a 7-bit v that needs encoding only for
// its length is us-ascii: for those mime writes a single word of any length,
// so qWords splits them.
func encodeText(v string) string {
	if !utf8.ValidString(v) {
		return qWords("iso-8859-1", v, false)
	}
	if out := mime.QEncoding.Encode("utf-8", v); out != v {
		return out
	}
	return qWords("us-ascii", v, false)
}

// qWords Q-encodes s (RFC 2047 §4.2) as encoded words of at most 75 octets
// separated by spaces; for charset utf-8 a character is never split between
// two words (§5). In a phrase (a display name) only the characters §5(3)
// allows are left as they are. mime cannot be used here: it writes one word
// of any length for a single-octet charset, and in a phrase it leaves
// characters such as "\\" raw, which net/mail then rejects.
func qWords(charset, s string, phrase bool) string {
	const hex = "0123456789ABCDEF"
	utf := charset == "utf-8"
	prefix := "=?" + charset + "?q?"
	room := 75 - len(prefix) - len("?=")
	b := make([]byte, 0, len(prefix)+3*len(s)+(len(s)/20+1)*(len(prefix)+3))
	b = append(b, prefix...)
	n := 0
	for i := 0; i < len(s); {
		size := 1
		if utf && s[i] >= utf8.RuneSelf {
			_, size = utf8.DecodeRuneInString(s[i:])
		}
		var enc [3 * utf8.UTFMax]byte
		e := enc[:0]
		for _, c := range []byte(s[i : i+size]) {
			switch {
			case c == ' ':
				e = append(e, '_')
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!*+-/", c) >= 0:
				e = append(e, c)
			case !phrase && c > ' ' && c <= '~' && c != '=' && c != '?' && c != '_':
				e = append(e, c)
			default:
				e = append(e, '=', hex[c>>4], hex[c&15])
			}
		}
		if n > 0 && n+len(e) > room {
			b = append(b, "?= "...)
			b = append(b, prefix...)
			n = 0
		}
		b = append(b, e...)
		n += len(e)
		i += size
	}
	b = append(b, "?="...)
	return string(b)
}

// appendFolded appends "name: " and the value, the concatenation of parts
// (7-bit, no CR or LF), and CRLF, folding (a CRLF inserted before white
// space) where a line would pass softLine octets. A continuation line always
// starts with white space followed by non-blank text. The parts save callers
// building the value in a string; a line that needs no folding costs no
// allocation.
func appendFolded(dst []byte, name string, parts ...string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	start := len(dst)
	dst = append(dst, ' ')
	for _, p := range parts {
		dst = append(dst, p...)
	}
	switch {
	case len(dst) == start+1: // empty value: no trailing space
		return append(dst[:start], "\r\n"...)
	case len(dst)-start+len(name)+1 <= softLine:
		return append(dst, "\r\n"...)
	}
	v := string(dst[start+1:])
	dst = dst[:start+1]
	line := len(name) + 2
	for i := 0; i < len(v); {
		// A segment: a run of white space, then a word.
		j := i
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		k := j
		for k < len(v) && v[k] != ' ' && v[k] != '\t' {
			k++
		}
		if i > 0 && j > i && k > j && line+(k-i) > softLine {
			dst = append(dst, "\r\n"...)
			line = 0
		}
		dst = append(dst, v[i:k]...)
		line += k - i
		i = k
	}
	return append(dst, "\r\n"...)
}

// ForeignBody is the text sent instead of the body of a foreign message, one
// that is not text (section 15.1.4), with CRLF line ends: it tells the user
// to log in to the host and EXTRACT the message to a file. Characters of
// hostname that are not printable ASCII are dropped.
func ForeignBody(hostname string) []byte {
	h, _ := to7bit(trimWSP(hostname))
	h = strings.ReplaceAll(h, "?", "")
	if h == "" {
		h = "the mail host"
	}
	var b bytes.Buffer
	b.WriteString("This message is not in a text format, so the POP server cannot\r\n")
	b.WriteString("send it to your mail client. It has been kept in your MAIL folder.\r\n")
	b.WriteString("\r\n")
	b.WriteString("To read it, log in to " + h + " and use VMS MAIL to extract it to a file:\r\n")
	b.WriteString("\r\n")
	b.WriteString("    $ MAIL\r\n")
	b.WriteString("    MAIL> SELECT MAIL\r\n")
	b.WriteString("    MAIL> READ n\r\n")
	b.WriteString("    MAIL> EXTRACT filename\r\n")
	return b.Bytes()
}

// BodyHeaderLen is for TCPIP$POP_IGNORE_MAIL11_HEADERS: mail that came in
// through SMTP carries its original RFC 822 header at the top of the body. If
// body starts with a well-formed header block (at least one field line, with
// continuation lines, then an empty line), it returns the length of the
// block, the empty line included, and true; otherwise 0 and false.
// Well-formedness is judged by go-message's textproto.ReadHeader.
func BodyHeaderLen(body []byte) (int, bool) {
	rd := bytes.NewReader(body)
	br := bufio.NewReader(rd)
	h, err := textproto.ReadHeader(br)
	if err != nil || h.Len() == 0 {
		return 0, false
	}
	n := len(body) - rd.Len() - br.Buffered()
	// ReadHeader also stops at the end of the input: require the empty line.
	blk := body[:n]
	if !bytes.HasSuffix(blk, []byte("\n\n")) && !bytes.HasSuffix(blk, []byte("\n\r\n")) {
		return 0, false
	}
	return n, true
}

// DetectCharset returns the Params.Charset for a body: "" when it is 7-bit,
// "utf-8" when it is valid UTF-8, else "iso-8859-1" (DEC MCS).
func DetectCharset(body []byte) string {
	for _, c := range body {
		if c >= utf8.RuneSelf {
			if utf8.Valid(body) {
				return "utf-8"
			}
			return "iso-8859-1"
		}
	}
	return ""
}
