package mail11

// VMS MAIL EXTRACT files
//
// MAIL's EXTRACT/ALL writes the messages of a folder to a text file, each
// one as its MAIL-11 header lines, an empty line and the body, with a line
// holding only a form feed between messages:
//
//	From:	NODE::USER "Personal Name"  25-NOV-2026 10:15:32.45
//	To:	JONES
//	CC:
//	Subj:	Lunch on Friday?
//
//	body
//	<FF>
//	From:	...
//
// ParseExtract reads such a file in one streaming pass: it validates every
// message and records where each one is, so that a caller can append them
// from the file with io.SectionReader without holding the file in memory.
// A form feed line before the first message, blank lines between messages,
// CRLF line ends and a form feed glued to the start of a From: line are
// accepted. A line holding only a form feed always ends a message, as it
// does for MAIL itself.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxExtractHeader bounds the MAIL-11 header lines of one extracted message.
const maxExtractHeader = 64 << 10

// maxExtractErrors is the number of problems ParseExtract reports before it
// stops.
const maxExtractErrors = 20

// ExtractedMessage is one message of an EXTRACT file, located by offsets in
// the file and described by its MAIL-11 From: line.
type ExtractedMessage struct {
	Line   int       // line number (1-based) of the message's first line
	Offset int64     // offset of the message text (its first header line)
	Length int64     // length of the text, up to the form feed line or EOF
	From   string    // the address of the From: line, e.g. NODE::USER (the envelope sender)
	Date   time.Time // the date of the From: line (the arrival date)
	Subj   string    // the Subj: value, raw
}

// ParseExtract reads an EXTRACT file from r, reading dates in time.Local;
// see ParseExtractIn.
func ParseExtract(r io.Reader, name string) ([]ExtractedMessage, error) {
	return ParseExtractIn(r, name, time.Local)
}

// ParseExtractIn reads an EXTRACT file from r, whose name is used in error
// messages, and returns its messages in order. Dates are read in loc (nil
// means time.Local). It reads r once, holding at most one message's header
// in memory.
//
// Every message must have a From: line with an address and a valid VMS
// date, and a complete header (ended by an empty line before the next form
// feed or the end of the file). Otherwise ParseExtractIn returns no
// messages and an error naming each problem as "name:line: ..." (at most
// 20 of them). An empty file holds no messages and is not an error.
func ParseExtractIn(r io.Reader, name string, loc *time.Location) ([]ExtractedMessage, error) {
	p := &extractParser{name: name, loc: loc, br: bufio.NewReaderSize(r, maxExtractHeader+1)}
	if err := p.parse(); err != nil {
		return nil, err
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.msgs, nil
}

type extractState int

const (
	betweenMessages extractState = iota
	inHeader
	inBody
	skipping // after a bad header: up to the next form feed
)

type extractParser struct {
	name string
	loc  *time.Location
	br   *bufio.Reader

	off   int64 // offset of the next line
	line  int   // number of the next line, 1-based
	state extractState
	cur   ExtractedMessage
	head  []byte // header lines of cur
	fromN int    // line number of cur's From: line
	msgs  []ExtractedMessage
	errs  []error
}

func (p *extractParser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.name, line, fmt.Sprintf(format, args...)))
}

func (p *extractParser) parse() error {
	p.line = 1
	partial := false // the previous chunk ended without '\n'
	for len(p.errs) < maxExtractErrors {
		chunk, err := p.br.ReadSlice('\n')
		if len(chunk) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				p.end(p.off)
				return nil
			}
			return fmt.Errorf("mail11: %s: %w", p.name, err)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("mail11: %s: %w", p.name, err)
		}
		whole := !partial // chunk starts a line
		partial = chunk[len(chunk)-1] != '\n'
		p.lineChunk(chunk, whole)
		p.off += int64(len(chunk))
		if !partial {
			p.line++
		}
	}
	p.errs = append(p.errs, fmt.Errorf("%s: too many errors", p.name))
	return nil
}

// lineChunk handles one chunk of a line; start means it begins the line.
func (p *extractParser) lineChunk(c []byte, start bool) {
	content := bytes.TrimRight(c, "\r\n")
	isFF := start && string(content) == "\f"
	switch p.state {
	case betweenMessages:
		if !start || isFF || len(bytes.TrimSpace(content)) == 0 {
			return
		}
		// A form feed glued to the first line starts the message after it.
		skip := len(c) - len(bytes.TrimLeft(c, "\f"))
		p.cur = ExtractedMessage{Line: p.line, Offset: p.off + int64(skip)}
		p.head = p.head[:0]
		p.fromN = 0
		p.state = inHeader
		p.headerChunk(c[skip:], start)
	case inHeader:
		if isFF {
			p.errorf(p.cur.Line, "message header is truncated: form feed at line %d before the empty line that ends it", p.line)
			p.state = betweenMessages
			return
		}
		p.headerChunk(c, start)
	case inBody:
		if isFF {
			p.end(p.off)
			return
		}
	case skipping:
		if isFF {
			p.state = betweenMessages
		}
	}
}

// headerChunk handles a header line; a chunk not ending with '\n' is either
// longer than the buffer or the file's last line.
func (p *extractParser) headerChunk(c []byte, start bool) {
	if !start || len(c) > maxExtractHeader {
		p.errorf(p.line, "header line longer than %d octets", maxExtractHeader)
		p.state = skipping
		return
	}
	content := bytes.TrimRight(c, "\r\n")
	if len(content) == 0 {
		p.parseHeader()
		p.state = inBody
		return
	}
	if len(p.head)+len(c) > maxExtractHeader {
		p.errorf(p.cur.Line, "message header longer than %d octets", maxExtractHeader)
		p.state = skipping
		return
	}
	if p.fromN == 0 && len(content) >= 5 && strings.EqualFold(string(content[:5]), "from:") {
		p.fromN = p.line
	}
	p.head = append(p.head, c...)
}

// parseHeader checks the header lines of the current message.
func (p *extractParser) parseHeader() {
	m, _ := ParseIn(p.head, p.loc)
	switch {
	case p.fromN == 0 || m.FromField == "":
		p.errorf(p.cur.Line, "message has no From: line")
	case m.Date.IsZero():
		p.errorf(p.fromN, "From: line has no valid VMS date: %q", m.FromField)
	case m.From == "":
		p.errorf(p.fromN, "From: line has no address: %q", m.FromField)
	default:
		p.cur.From, p.cur.Date, p.cur.Subj = m.From, m.Date, m.Subj
	}
}

// end closes the current message at offset end.
func (p *extractParser) end(end int64) {
	switch p.state {
	case inHeader:
		p.errorf(p.cur.Line, "message header is truncated by the end of the file")
	case inBody:
		if p.cur.From != "" { // else its header was reported
			p.cur.Length = end - p.cur.Offset
			p.msgs = append(p.msgs, p.cur)
		}
	}
	p.state = betweenMessages
}
