package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"unicode/utf8"
)

// ErrFormat means a folder file is not an mbox file: it has text before
// its first From_ line.
var ErrFormat = errors.New("spool: folder is not in mbox format")

// mboxChunk is the buffer size of go-mbox's bufio.Reader: a separator line
// longer than this leaves its tail as the first line of the next message.
const mboxChunk = 4096

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Message locates one message in a folder file and describes its decoded
// text (what the spool gives back) without holding it.
type Message struct {
	Start int64 // offset of the From_ line
	Text  int64 // offset of the message text on disk
	End   int64 // offset of the next From_ line, or the file size

	Envelope string // the From_ line after "From " (sender and date)

	// Layout of the text, as offsets relative to Text.
	HeaderEnd  int // end of the MAIL-11 header lines (incl. the last '\n'), on disk
	BodyStart  int // start of the body lines on disk (== ContentEnd when none)
	ContentEnd int // end of the last line of text, on disk
	// ExtraNewlines is the number of line ends sent after the body lines.
	ExtraNewlines int

	Size     int64  // length of the decoded message (LF line ends)
	BodySize int64  // octets the body takes when sent with CRLF line ends
	Sum      uint32 // CRC-32C of the decoded header lines and Size (for UIDs)

	Binary   bool // the body holds NUL bytes: a foreign (non-text) message
	EightBit bool // the body holds bytes >= 0x80
	UTF8     bool // the body is valid UTF-8

	// Tag is the Visitor's own value for the message (0 unless it sets
	// it): kept in the message's entry of a MessageList and in the index,
	// so that what its callers read for every message at every use needs
	// no decoding of aux data (MessageList.Tag).
	Tag uint32
}

// contentOf returns a disk line without its line end: the '\n' and one CR
// before it. A last line without '\n' is returned as is.
func contentOf(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}

// unquote removes one '>' from an mboxrd-quoted From_ line.
func unquote(c []byte) []byte {
	if len(c) > 0 && c[0] == '>' && isQuotedFrom(c, 1, MaxQuote+1) {
		return c[1:]
	}
	return c
}

func isEmptyLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// lineEnd returns the end of the line starting at i (after its '\n').
func lineEnd(b []byte, i int) int {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return len(b)
	}
	return i + j + 1
}

// Scan finds the messages of a folder file held in data, exactly where
// go-mbox would find them, and describes each. It checks ctx between
// messages.
func Scan(ctx context.Context, data []byte) ([]Message, error) {
	var msgs []Message
	err := scanEach(ctx, data, false, func(m *Message) error {
		msgs = append(msgs, *m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return msgs, nil
}

// scanEach is Scan handing each message to found as it is described (the
// Message is reused: found copies what it keeps). It stops at found's
// first error and returns it. With mid, data starts at a From_ line that
// follows a message (an index covers the folder up to there), which
// go-mbox reads as it reads every separator but the first.
func scanEach(ctx context.Context, data []byte, mid bool, found func(*Message) error) error {
	i := 0
	// Before the first From_ line only empty lines may stand.
	for i < len(data) {
		e := lineEnd(data, i)
		line := data[i:e]
		if bytes.HasPrefix(line, fromPrefix) {
			break
		}
		if len(contentOf(line)) != 0 {
			return ErrFormat
		}
		i = e
	}
	if i >= len(data) {
		return nil
	}
	start := i
	text := lineEnd(data, i) // the first From_ line of a file is consumed whole
	if mid {
		text = separatorEnd(data, i)
	}
	var m Message
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// Find the next line that starts with "From ".
		end := len(data)
		if k := indexLineStart(data[text:], fromPrefix); k >= 0 {
			end = text + k
		}
		m = Message{Start: int64(start), Text: int64(text), End: int64(end)}
		env := contentOf(data[start:lineEnd(data, start)])
		m.Envelope = string(bytes.TrimPrefix(env, fromPrefix))
		describe(&m, data[text:end])
		if err := found(&m); err != nil {
			return err
		}
		if end == len(data) {
			return nil
		}
		start = end
		text = separatorEnd(data, end)
	}
}

// separatorEnd returns where the text of a message whose From_ line starts
// at data[i] begins, when an earlier message ends there: go-mbox reads such
// a separator with a 4096-byte buffer, so the tail of a longer line is the
// message's first line. (The first From_ line of a file is read whole.)
func separatorEnd(data []byte, i int) int {
	e := lineEnd(data, i)
	if e-i > mboxChunk {
		e = i + mboxChunk
		if data[e-1] == '\r' {
			e--
		}
	}
	return e
}

// describe fills in the layout and sizes of a message from its disk text.
func describe(m *Message, t []byte) {
	// The last line of text and the run of empty lines after it.
	contentEnd := len(t)
	k := 0
	for contentEnd > 0 {
		// the line ending at contentEnd
		s := bytes.LastIndexByte(t[:contentEnd-1], '\n') + 1
		if contentEnd-1 < 0 || t[contentEnd-1] != '\n' || !isEmptyLine(t[s:contentEnd]) {
			break
		}
		k++
		contentEnd = s
	}
	hasText := contentEnd > 0
	// The message's trailing newlines: the k empty lines' line ends and
	// the last text line's, minus the separator newline.
	mm := k
	if !hasText {
		mm = max(k-1, 0)
	}
	m.ContentEnd = contentEnd

	var sum uint32
	var size int64
	headerEnd, bodyStart := -1, -1
	var bodySize int64
	// The header lines one at a time, up to the empty line.
	for i := 0; i < contentEnd; {
		le := lineEnd(t, i)
		c := unquote(contentOf(t[i:le]))
		if len(c) == 0 {
			headerEnd, bodyStart = i, le
			size++ // the empty line
			break
		}
		sum = crc32.Update(sum, castagnoli, c)
		sum = crc32.Update(sum, castagnoli, []byte{'\n'})
		size += int64(len(c)) + 1
		i = le
	}
	if headerEnd >= 0 {
		lines, octets := countLines(t[bodyStart:contentEnd])
		size += octets + lines
		bodySize += octets + 2*lines
	}
	if hasText {
		size += int64(mm) - 1 // the last line has no '\n' of its own; mm follow
	} else {
		size = int64(mm)
	}
	if headerEnd < 0 {
		// No empty line within the text: every line is a header line; the
		// trailing newlines give the separator and then the body.
		headerEnd, bodyStart = contentEnd, contentEnd
		switch {
		case !hasText:
			m.ExtraNewlines = max(mm-1, 0)
		default:
			m.ExtraNewlines = max(mm-2, 0)
		}
	} else {
		m.ExtraNewlines = max(mm-1, 0)
	}
	bodySize += 2 * int64(m.ExtraNewlines)
	m.HeaderEnd, m.BodyStart = headerEnd, bodyStart
	m.Size, m.BodySize = size, bodySize
	var n [8]byte
	for i := range n {
		n[i] = byte(size >> (8 * i))
	}
	m.Sum = crc32.Update(sum, castagnoli, n[:])
	body := t[bodyStart:contentEnd]
	m.Binary = bytes.IndexByte(body, 0) >= 0
	m.EightBit = hasHigh(body)
	m.UTF8 = !m.EightBit || utf8.Valid(body)
}

// countLines returns the number of lines in b (the last may lack its
// '\n') and the octets of their decoded content: without line ends (the
// '\n' and one CR before it) and without the '>' that mboxrd quoting adds
// to a From_ line. It counts in bulk, never line by line: this is most of
// a first login's work on a large folder.
func countLines(b []byte) (lines, octets int64) {
	if len(b) == 0 {
		return 0, 0
	}
	nl := int64(bytes.Count(b, newline))
	lines, octets = nl, int64(len(b))-nl
	if b[len(b)-1] != '\n' {
		lines++
	}
	if bytes.IndexByte(b, '\r') >= 0 {
		octets -= int64(bytes.Count(b, crlf))
	}
	// "From " holds no line end, so a quoted From_ line can be recognised
	// in the raw bytes that start it. After each '>' the search goes on
	// from the next line: at most two calls per line, whatever the text.
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], '>')
		if k < 0 {
			break
		}
		i += k
		if (i == 0 || b[i-1] == '\n') && isQuotedFrom(b[i:], 1, MaxQuote+1) {
			octets--
		}
		k = bytes.IndexByte(b[i:], '\n')
		if k < 0 {
			break
		}
		i += k + 1
	}
	return lines, octets
}

// indexLineStart returns the offset of the first line of b (b starts a
// line) that begins with prefix, or -1. It looks for prefix's first
// byte, not for line ends: bytes.Index(b, "\n"+prefix) stops at every
// '\n' (a call per line), while a capital 'F' is rare in mail. After a
// candidate that is not it, the search goes on from the next line, so a
// line full of that byte costs two calls, not one per byte.
func indexLineStart(b, prefix []byte) int {
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], prefix[0])
		if k < 0 {
			return -1
		}
		i += k
		if (i == 0 || b[i-1] == '\n') && bytes.HasPrefix(b[i:], prefix) {
			return i
		}
		k = bytes.IndexByte(b[i:], '\n')
		if k < 0 {
			return -1
		}
		i += k + 1
	}
}

var (
	newline = []byte{'\n'}
	crlf    = []byte("\r\n")
)

// hasHigh reports whether b holds a byte >= 0x80, 32 bytes at a time.
func hasHigh(b []byte) bool {
	const high = 0x8080808080808080
	for len(b) >= 32 {
		v := binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:]) |
			binary.LittleEndian.Uint64(b[16:]) | binary.LittleEndian.Uint64(b[24:])
		if v&high != 0 {
			return true
		}
		b = b[32:]
	}
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&high != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// Decode returns the decoded message whose disk text is t (the bytes from
// Message.Text to Message.End). It is the fast decoder's reference form.
func Decode(t []byte) []byte {
	var m Message
	describe(&m, t)
	out := make([]byte, 0, m.Size)
	for i := 0; i < m.ContentEnd; {
		le := lineEnd(t, i)
		if i > 0 {
			out = append(out, '\n')
		}
		out = append(out, unquote(contentOf(t[i:le]))...)
		i = le
	}
	for int64(len(out)) < m.Size {
		out = append(out, '\n')
	}
	return out
}

// DecodeHeader returns the decoded MAIL-11 header lines of a message whose
// disk text is text (at most 64 KiB of them), each ending with '\n'.
func DecodeHeader(text []byte, m *Message) []byte {
	raw := text[:min(m.HeaderEnd, 64<<10)]
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		le := lineEnd(raw, i)
		out = append(out, unquote(contentOf(raw[i:le]))...)
		out = append(out, '\n')
		i = le
	}
	return out
}

// BodyHead returns about the first n bytes of the body as sent (CRLF line
// ends) of a message whose disk text is text.
func BodyHead(text []byte, m *Message, n int) []byte {
	var out []byte
	for i := m.BodyStart; i < m.ContentEnd && len(out) < n; {
		le := lineEnd(text[:m.ContentEnd], i)
		out = append(out, unquote(contentOf(text[i:le]))...)
		out = append(out, '\r', '\n')
		i = le
	}
	// The trailing empty lines: they may end a header block.
	for k := m.ExtraNewlines; k > 0 && len(out) < n; k-- {
		out = append(out, '\r', '\n')
	}
	return out
}
