package spool

// Folder format (mboxrd over go-mbox)
//
// Folders are written with github.com/emersion/go-mbox, which alone is lossy
// in two ways (v1.0.3, the version go.mod pins):
//
//   - it escapes only "From " lines and unescapes ">From " on read, so a body
//     line ">From x" comes back as "From x";
//   - its reader drops an empty last line only when the run of empty lines
//     before the next From_ line is odd, and its writer always ends a
//     message with "\n\n", so "abc\n" and "abc\n\n" both read back as
//     "abc\r\n\r\n\r\n".
//
// The spool wraps it so that every message byte comes back:
//
//   - mboxrd quoting: before go-mbox sees a line, one '>' is added to every
//     line matching ^>{0,MaxQuote}From ; after go-mbox, one '>' is removed
//     from every line matching ^>{2,MaxQuote+1}From  (go-mbox removed the
//     first). So on disk a folder is plain mboxrd.
//   - trailing newlines: let m be the number of '\n' that end a message. The
//     writer hands go-mbox the message with j trailing newlines instead, and
//     the reader maps the number t of line ends it gets back to m:
//
//         message has text:   m=1 ↔ j=0, t=1   (the usual case: on disk it is
//                             m=0 ↔ j=1, t=3    standard mboxrd, one blank
//                             m≥2 ↔ j=2m-1, t=2m+1  line before the next From_)
//         only newlines:      m   ↔ j=2m,  t=2m+2  (t=0 also reads as m=0)
//
//   - line ends: a CR before LF (or at the very end) is part of the line end;
//     POP sends CRLF for every line end anyway. Every other byte, NULs and
//     lone CRs included, is kept.
//
// The fast decoder in this package (used for scans and RETR) gives for every
// input exactly what go-mbox plus this wrapping gives; FuzzDecodeDifferential
// proves it.

import (
	"bytes"
	"errors"
	"io"
	"time"

	mbox "github.com/emersion/go-mbox"
)

// MaxQuote is the longest run of '>' before "From " that mboxrd quoting
// handles; longer runs are ordinary text (symmetrically on write and read).
const MaxQuote = 4000

// isQuotedFrom reports whether line starts with between min and max '>'
// followed by "From ".
func isQuotedFrom(line []byte, min, max int) bool {
	n := 0
	for n < len(line) && line[n] == '>' && n <= max {
		n++
	}
	return n >= min && n <= max && bytes.HasPrefix(line[n:], fromPrefix)
}

var fromPrefix = []byte("From ")

// Normalize returns msg as the spool gives it back: CRs that end a line
// (before LF or at the very end) are dropped. Every other byte is kept.
func Normalize(msg []byte) []byte {
	out := make([]byte, 0, len(msg))
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' {
			j := i
			for j < len(msg) && msg[j] == '\r' {
				j++
			}
			if j == len(msg) || msg[j] == '\n' {
				i = j - 1
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// encoder turns a message into what go-mbox's message writer must be given.
// It streams: only a pending run of CRs and newlines is held back.
type encoder struct {
	w        io.Writer // go-mbox message writer
	line     []byte    // start of the current line, held until quoting is decided
	decided  bool      // quoting of the current line is decided
	crs      int       // CRs held back (dropped if a line end follows)
	nls      int       // newlines held back at the end
	hasText  bool      // a byte other than '\n' was written
	err      error
	scratch  []byte
	finished bool
}

func newEncoder(w io.Writer) *encoder { return &encoder{w: w} }

func (e *encoder) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	out := e.scratch[:0]
	for _, c := range p {
		switch c {
		case '\r':
			e.crs++
			continue
		case '\n':
			e.crs = 0 // CRs before LF belong to the line end
			if !e.decided {
				out = e.flushLine(out)
			}
			e.nls++
			e.decided = false
			continue
		}
		// An ordinary byte: release held newlines and CRs first.
		if e.nls > 0 {
			for ; e.nls > 0; e.nls-- {
				out = append(out, '\n')
			}
		}
		for ; e.crs > 0; e.crs-- {
			out = e.lineByte(out, '\r')
		}
		out = e.lineByte(out, c)
		e.hasText = true
	}
	e.scratch = out[:0]
	if _, err := e.w.Write(out); err != nil {
		e.err = err
		return 0, err
	}
	return len(p), nil
}

// lineByte adds c to the current line, deciding its quoting as soon as
// possible so that long lines are not held in memory.
func (e *encoder) lineByte(out []byte, c byte) []byte {
	if e.decided {
		return append(out, c)
	}
	e.line = append(e.line, c)
	// Undecided while the line is still a prefix of ">...>From ".
	n := 0
	for n < len(e.line) && e.line[n] == '>' {
		n++
	}
	rest := e.line[n:]
	if n <= MaxQuote && len(rest) < len(fromPrefix) && bytes.HasPrefix(fromPrefix, rest) {
		return out
	}
	return e.flushLine(out)
}

func (e *encoder) flushLine(out []byte) []byte {
	if isQuotedFrom(e.line, 0, MaxQuote) {
		out = append(out, '>')
	}
	out = append(out, e.line...)
	e.line = e.line[:0]
	e.decided = true
	return out
}

// Close writes the held-back end of the message.
func (e *encoder) Close() error {
	if e.err != nil || e.finished {
		return e.err
	}
	e.finished = true
	out := e.scratch[:0]
	if !e.decided {
		out = e.flushLine(out)
	}
	// Trailing CRs at the very end are a line end: dropped.
	m := e.nls
	j := 2 * m
	if e.hasText {
		switch {
		case m == 0:
			j = 1
		case m == 1:
			j = 0
		default:
			j = 2*m - 1
		}
	}
	for ; j > 0; j-- {
		out = append(out, '\n')
	}
	_, e.err = e.w.Write(out)
	return e.err
}

// trailingNewlines maps the number t of line ends go-mbox gave back after
// the last text to the number of newlines that end the message.
func trailingNewlines(t int, hasText bool) int {
	if !hasText {
		if t < 2 {
			return 0
		}
		return t/2 - 1
	}
	switch {
	case t <= 1:
		return 1
	case t == 3:
		return 0
	default:
		return (t - 1) / 2
	}
}

// WriteMessage appends one message to w with go-mbox, wrapped as described
// above. envelope is the From_ line sender, date the arrival time.
func WriteMessage(w *mbox.Writer, envelope string, date time.Time, msg io.Reader) error {
	mw, err := w.CreateMessage(envelope, date)
	if err != nil {
		return err
	}
	e := newEncoder(mw)
	if _, err := io.Copy(e, msg); err != nil {
		return err
	}
	return e.Close()
}

// ReadMessages reads every message of an mbox stream with go-mbox and our
// unwrapping: the reference decoder (simple and slow; the fast decoder must
// agree with it byte for byte).
func ReadMessages(r io.Reader) ([][]byte, error) {
	mr := mbox.NewReader(r)
	var msgs [][]byte
	for {
		m, err := mr.NextMessage()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		raw, err := io.ReadAll(m)
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, unwrap(raw))
	}
}

// unwrap undoes the wrapping on one message as go-mbox returned it.
func unwrap(raw []byte) []byte {
	var out []byte
	t := 0 // line ends since the last text
	hasText := false
	for len(raw) > 0 {
		// go-mbox ends every line it returns with CRLF, except an
		// unterminated last line that exactly fills its 4096-byte buffer.
		var line []byte
		if i := bytes.Index(raw, []byte("\r\n")); i >= 0 {
			line, raw = raw[:i], raw[i+2:]
		} else {
			line, raw = raw, nil
		}
		if len(line) == 0 {
			t++
			continue
		}
		if hasText {
			out = append(out, '\n') // the end of the previous text line
		}
		for ; t > 0; t-- {
			out = append(out, '\n') // empty lines in between
		}
		if isQuotedFrom(line, 2, MaxQuote+1) {
			line = line[1:]
		}
		out = append(out, line...)
		hasText = true
		t = 0
	}
	// out holds the text without the newline after the last line of text;
	// t counts the empty lines after it.
	if hasText {
		t++ // the line end of the last text line
	}
	m := trailingNewlines(t, hasText)
	if !hasText {
		// Only empty lines: out is empty.
		return bytes.Repeat([]byte{'\n'}, m)
	}
	for ; m > 0; m-- {
		out = append(out, '\n')
	}
	return out
}
