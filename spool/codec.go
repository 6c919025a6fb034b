package spool

// Folder format: standard mboxrd (over go-mbox)
//
// A folder file is a sequence of messages, each a From_ line followed by
// the message text. The rule every mbox tool follows (mutt, Dovecot,
// procmail, Postfix local, Python's mailbox):
//
//   - reading: a message is the text between its From_ line and the next
//     From_ line (or the end of the file) minus exactly one separator
//     newline: the line end of its last line (the '\n' and one CR before
//     it), when it has one;
//   - writing: the text is ended with a newline if it has none, and one
//     blank line is added.
//
// So a message without a final newline gains one; that is the only change
// a round trip makes. (A foreign folder whose messages have no blank line
// before the next From_ line reads back without the final newline: POP
// sends one anyway.)
//
// Quoting is mboxrd: on write one '>' is added to every line matching
// ^>{0,MaxQuote}From , on read one is removed from every line matching
// ^>{1,MaxQuote+1}From . Line ends: a CR before LF (or at the very end) is
// part of the line end; POP sends CRLF for every line end anyway. Every
// other byte, NULs and lone CRs included, is kept.
//
// github.com/emersion/go-mbox (v1.0.3) is the write path and the reference
// reader of the differential fuzz test, wrapped where it does not follow
// the rule:
//
//   - it escapes only "From " lines and unescapes ">From " on read, so a
//     body line ">From x" would come back as "From x": the encoder quotes
//     every ^>*From  line itself before go-mbox sees it, and the reference
//     unwrapping removes the second '>' of ^>>+From  lines;
//   - its writer always ends a message with "\n\n" after its last line:
//     the encoder hands it the text without its final newline, so that
//     "\n\n" is the final newline plus the blank line;
//   - its reader drops the last of a run of empty lines before a From_
//     line or the end of the file only when the run is odd ("abc\n\n" and
//     "abc\n\n\n" both read as "abc\r\n\r\n"): the reference reader
//     (ReadMessages) doubles every empty line of the input before go-mbox
//     sees it, so that go-mbox gives every one back, and halves them after;
//     it then drops the separator newline itself;
//   - its reader reads a separator From_ line with a 4096-byte buffer, so
//     the tail of a longer one is the message's first line. This quirk is
//     kept (it is harmless, and the fast decoder follows it).
//
// Older vmspop versions wrote a message with m trailing newlines with
// 2m+1 of them on disk when m ≥ 2, 3 when m = 0 and 2m+2 for a message of
// newlines only; the usual m = 1 was written as now. Such folders read
// by this rule give every message, with at most extra trailing newlines
// (m ≥ 2: m extra; m = 0: two); the index version was bumped when the rule
// changed, so no size computed by the old rule is reused.
//
// The fast decoder in this package (used for scans and RETR) gives for every
// input exactly what the reference gives; FuzzDecodeDifferential proves it.

import (
	"bufio"
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
	// Trailing CRs at the very end are a line end: dropped. go-mbox ends
	// the message with "\n\n": the final newline (added if there was
	// none) and the blank line. So it gets one newline fewer.
	for j := max(e.nls, 1) - 1; j > 0; j-- {
		out = append(out, '\n')
	}
	_, e.err = e.w.Write(out)
	return e.err
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
	mr := mbox.NewReader(&emptyDoubler{r: bufio.NewReader(r)})
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

// emptyDoubler passes an mbox stream through, doubling every line that
// go-mbox's message reader sees as empty, so that it gives every one back
// (see the top of this file). It follows go-mbox's reading: lines before
// the first From_ line and that line are passed as they are; after it, a
// line starting "From " is a separator read 4096 bytes at most (one fewer
// when the last is a CR it keeps for the line end), its tail a line of
// its own.
type emptyDoubler struct {
	r       *bufio.Reader
	started bool   // the first From_ line was passed
	out     []byte // bytes ready to be read
	err     error
}

func (d *emptyDoubler) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		line, err := d.r.ReadBytes('\n')
		d.err = err
		d.out = d.line(d.out[:0], line)
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// line appends the whole input line l to out as go-mbox must see it.
func (d *emptyDoubler) line(out, l []byte) []byte {
	if !d.started {
		d.started = bytes.HasPrefix(l, fromPrefix)
		return append(out, l...)
	}
	for bytes.HasPrefix(l, fromPrefix) && len(l) > mboxChunk {
		n := mboxChunk
		if l[n-1] == '\r' {
			n--
		}
		out, l = append(out, l[:n]...), l[n:]
	}
	out = append(out, l...)
	if isEmptyLine(l) {
		out = append(out, '\n')
	}
	return out
}

// unwrap applies the folder rule to one message as go-mbox returned it
// from the doubled stream: its lines (CRLF-terminated), each empty line
// twice.
func unwrap(raw []byte) []byte {
	var out []byte
	first, empties := true, 0
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
			empties++
			if empties%2 == 1 {
				continue // the first of a pair
			}
		} else {
			empties = 0
			if isQuotedFrom(line, 2, MaxQuote+1) {
				line = line[1:]
			}
		}
		// The message is its lines joined by newlines: the separator
		// newline (the last line's end) is dropped.
		if !first {
			out = append(out, '\n')
		}
		first = false
		out = append(out, line...)
	}
	if out == nil {
		out = []byte{}
	}
	return out
}
