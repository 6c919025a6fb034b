package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// cmdXTND is Eudora's extension keyword; XTND XMIT submits a message.
const cmdXTND = "XTND"

// Submission is a message given with XTND XMIT, on its way to the relay.
type Submission struct {
	// User is the logged-in account (the envelope sender's local part).
	User string
	// Sender, when set, is the envelope sender itself: the address a
	// unified-account view logged in as (NAME@DOMAIN), so that bounces
	// reach that view, not only the account behind it.
	Sender string
	// Recipients are the addresses of the To, Cc and Bcc fields.
	Recipients []string
	// Message is the message, header without Bcc first, CRLF line ends,
	// streamed from the client. A read error (the message is too large,
	// or the client went away) means the message must not be sent: the
	// Submitter then abandons the transaction.
	Message io.Reader
}

// maxXmitHeader bounds the header of a submitted message (it is parsed
// in memory; the body is streamed).
const maxXmitHeader = 256 << 10

// errXmitTooLarge is what the message reader returns past the size limit.
var errXmitTooLarge = errors.New("gateway: submitted message too large")

// cmdXtnd handles XTND XMIT (Eudora, CommuniGate Pro): after "+OK" the
// client sends a message, dot-stuffed and ending with a line holding a
// dot, and the answer is "+OK" only once the relay has accepted it.
// Without a Submitter XTND is an unknown command.
func (c *conn) cmdXtnd(arg string) error {
	x := c.srv.Extensions
	if x == nil || x.Submit == nil {
		return &Error{Text: "unknown command"}
	}
	if c.state != stateTransaction {
		return errWrongState
	}
	if !strings.EqualFold(strings.TrimSpace(arg), "XMIT") {
		return errf("", "XTND %s is not supported", sanitize(strings.TrimSpace(arg)))
	}
	if err := c.ok("send the message, end with a line holding a dot"); err != nil {
		return err
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	max := x.MaxSubmitSize
	if max <= 0 {
		max = DefaultMaxSubmitSize
	}
	mr := &xmitReader{c: c, max: max}
	subErr := c.submit(mr)
	mr.drain()
	c.trace("C: [XTND XMIT message, " + strconv.FormatInt(mr.n, 10) + " octets]")
	if mr.connErr != nil {
		return mr.connErr
	}
	entry := c.log.WithField("octets", mr.n)
	if mr.tooBig {
		entry.Warn("XTND XMIT message too large, not sent")
		return errf("", "message larger than %d octets, not sent", max)
	}
	if subErr != nil {
		var e *Error
		if errors.As(subErr, &e) {
			entry.WithField("reason", e.Text).Warn("XTND XMIT message refused")
			return e
		}
		return &Error{Code: CodeSysTemp, Text: "message not sent, try later", Err: fmt.Errorf("gateway: XTND XMIT: %w", subErr)}
	}
	entry.Info("XTND XMIT message sent")
	return c.ok("message sent")
}

// submit parses the header, takes the recipients from it, removes Bcc,
// and hands the message to the Submitter while it streams in.
func (c *conn) submit(mr *xmitReader) error {
	br := bufio.NewReader(io.LimitReader(mr, maxXmitHeader))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		if mr.tooBig || mr.connErr != nil {
			return err
		}
		return &Error{Text: "malformed message header, not sent"}
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	var rcpts []string
	for _, f := range []string{"To", "Cc", "Bcc"} {
		list, err := mh.AddressList(f)
		if err != nil {
			return errf("", "malformed %s field, not sent", f)
		}
		for _, a := range list {
			rcpts = append(rcpts, a.Address)
		}
	}
	if len(rcpts) == 0 {
		return &Error{Text: "no recipient in To, Cc or Bcc, not sent"}
	}
	h.Del("Bcc")
	var hb bytes.Buffer
	if err := textproto.WriteHeader(&hb, h); err != nil {
		return &Error{Text: "malformed message header, not sent"}
	}
	// The header reader may hold body octets already: they follow it.
	body := io.MultiReader(br, mr)
	return c.srv.Extensions.Submit.Submit(c.ctx, &Submission{User: c.user, Sender: c.sel.address, Recipients: rcpts, Message: io.MultiReader(&hb, body)})
}

// xmitReader reads a dot-stuffed message from the client up to the line
// holding a dot, unstuffed, with CRLF line ends, counting its octets.
type xmitReader struct {
	c       *conn
	max     int64
	n       int64
	pending []byte
	done    bool
	tooBig  bool
	connErr error
}

func (r *xmitReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		switch {
		case r.tooBig:
			return 0, errXmitTooLarge
		case r.connErr != nil:
			return 0, r.connErr
		case r.done:
			return 0, io.EOF
		}
		line, ok := r.next()
		if !ok {
			continue
		}
		r.pending = append(append(r.pending[:0], line...), '\r', '\n')
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// next reads one line of the message, unstuffed; false when there is
// none to deliver (the end, an error, or past the limit).
func (r *xmitReader) next() ([]byte, bool) {
	r.c.setReadDeadline()
	line, err := readLine(r.c.br, maxSASLLine)
	switch {
	case err == errLineTooLong:
		// RFC 5322 §2.1.1 allows 998 octets; this one cannot be sent.
		r.tooBig = true
		return nil, false
	case err != nil:
		r.connErr = err
		return nil, false
	}
	if len(line) == 1 && line[0] == '.' {
		r.done = true
		return nil, false
	}
	if len(line) > 0 && line[0] == '.' {
		line = line[1:]
	}
	if r.n += int64(len(line)) + 2; r.n > r.max {
		r.tooBig = true
		return nil, false
	}
	return line, true
}

// drain reads the rest of the message, up to its final dot.
func (r *xmitReader) drain() {
	for !r.done && r.connErr == nil {
		r.next()
	}
}
