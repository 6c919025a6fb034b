package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ResponseCode is an extended response code (RFC 2449 §8, RFC 3206),
// sent in brackets after "-ERR".
type ResponseCode string

// The response codes the server sends.
const (
	CodeInUse      ResponseCode = "IN-USE"      // the maildrop is locked (RFC 2449 §8.1.1)
	CodeLoginDelay ResponseCode = "LOGIN-DELAY" // logged in too soon (RFC 2449 §8.1.2)
	CodeSysTemp    ResponseCode = "SYS/TEMP"    // a temporary system problem (RFC 3206 §4)
	CodeSysPerm    ResponseCode = "SYS/PERM"    // a permanent system problem (RFC 3206 §4)
	CodeAuth       ResponseCode = "AUTH"        // the credentials are at fault (RFC 3206 §5)
)

// Error is a negative response: "-ERR [Code] Text", or "-ERR Text" when
// Code is empty. Err, when set, is the cause; it goes to the log only.
type Error struct {
	Code ResponseCode
	Text string
	Err  error

	end string // when set, the connection closes after the reply, logged with this end reason
}

// Error returns the wire form of e, with the package prefix.
func (e *Error) Error() string {
	if e.Err != nil {
		return "gateway: " + e.line() + ": " + e.Err.Error()
	}
	return "gateway: " + e.line()
}

// Unwrap returns the cause of e.
func (e *Error) Unwrap() error { return e.Err }

// line is the response line without CRLF.
func (e *Error) line() string {
	if e.Code == "" {
		return "-ERR " + e.Text
	}
	return "-ERR [" + string(e.Code) + "] " + e.Text
}

// errf builds an *Error.
func errf(code ResponseCode, format string, args ...any) *Error {
	return &Error{Code: code, Text: fmt.Sprintf(format, args...)}
}

// Replies used in more than one place.
var (
	errWrongState  = &Error{Text: "command not valid in this state"}
	errSyntax      = &Error{Text: "syntax error in arguments"}
	errInternal    = &Error{Code: CodeSysTemp, Text: "internal error", end: "error"}
	errDisUserPass = &Error{Code: CodeAuth, Text: "USER/PASS are disabled on this server, use APOP"}
	errCancelled   = &Error{Code: CodeAuth, Text: "authentication cancelled"}
)

// nlDot is the sequence that needs stuffing inside a multi-line response.
var nlDot = []byte("\n.")

// dotWriter dot-stuffs a message stream (RFC 1939 §3): a line that
// starts with '.' gets another '.' in front. It works on whole buffers:
// it searches for "\n." and writes the runs between, so it allocates
// nothing. Close ends the response with ".\r\n".
type dotWriter struct {
	w    io.Writer
	bol  bool // the next byte starts a line
	n    int64
	none bool // nothing written yet
}

func newDotWriter(w io.Writer) *dotWriter { return &dotWriter{w: w, bol: true, none: true} }

// Write stuffs p and writes it. It returns len(p) on success.
func (d *dotWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := len(p)
	if d.bol && p[0] == '.' {
		if _, err := d.w.Write(nlDot[1:]); err != nil {
			return 0, err
		}
	}
	for {
		i := bytes.Index(p, nlDot)
		if i < 0 {
			break
		}
		// Write through the '\n', then the stuffing dot; p keeps its '.'.
		if _, err := d.w.Write(p[:i+2]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	if _, err := d.w.Write(p); err != nil {
		return 0, err
	}
	d.bol = p[len(p)-1] == '\n'
	d.n += int64(n)
	d.none = false
	return n, nil
}

// Close ends the multi-line response: a final CRLF if the data did not end
// a line, then the terminating ".\r\n".
func (d *dotWriter) Close() error {
	if !d.bol {
		if _, err := io.WriteString(d.w, "\r\n"); err != nil {
			return err
		}
		d.bol = true
	}
	_, err := io.WriteString(d.w, ".\r\n")
	return err
}

// errTopDone stops the copy once TOP has sent its lines.
var errTopDone = errors.New("gateway: top done")

// topWriter passes the header block, the empty line after it and then
// lines body lines (RFC 1939 §7 TOP), and returns errTopDone when done.
type topWriter struct {
	w        io.Writer
	inHeader bool
	lines    int64 // body lines still to send
	lineLen  int   // octets of the current line so far
	lastCR   bool  // the last octet of the current line was '\r'
	done     bool
}

func newTopWriter(w io.Writer, lines int64) *topWriter {
	return &topWriter{w: w, inHeader: true, lines: lines}
}

// Write passes on what TOP sends of p.
func (t *topWriter) Write(p []byte) (int, error) {
	if t.done {
		return 0, errTopDone
	}
	n := len(p)
	start := 0
	for start < len(p) {
		if !t.inHeader && t.lines <= 0 {
			t.done = true
			break
		}
		i := bytes.IndexByte(p[start:], '\n')
		if i < 0 {
			t.lineLen += len(p) - start
			t.lastCR = p[len(p)-1] == '\r'
			start = len(p)
			break
		}
		end := start + i // index of '\n'
		seg := end - start
		empty := t.lineLen+seg == 0 || (t.lineLen+seg == 1 && (seg == 1 && p[start] == '\r' || seg == 0 && t.lastCR))
		start = end + 1
		t.lineLen, t.lastCR = 0, false
		if t.inHeader {
			if empty {
				t.inHeader = false
			}
			continue
		}
		t.lines--
	}
	// start is the end of what TOP sends of this p.
	if _, err := t.w.Write(p[:start]); err != nil {
		return 0, err
	}
	if t.done || (!t.inHeader && t.lines <= 0) {
		t.done = true
		return n, errTopDone
	}
	return n, nil
}

// appendThousands appends n in decimal with ',' between thousands.
func appendThousands(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return b
}
