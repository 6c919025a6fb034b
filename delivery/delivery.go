// Package delivery appends RFC 5322 messages to users' NEWMAIL folders as
// the VMS SMTP server stores mail: a MAIL-11 header (package mail11) in
// front of the original message, headers included. It is the core of
// `vmspop deliver` (a local delivery agent run by an MTA) and of any other
// way mail arrives.
//
// Every append is crash-safe (package spool: journaled, fsynced before
// Deliver returns). Errors carry their cause, to be tested with errors.Is:
// ErrBadMessage, ErrNoUser, ErrNoMail, or (any other error) a temporary
// failure the sender should retry.
//
// Locking: Deliver waits for each folder lock, for at most the spool's
// lock timeout, and then fails (temporarily). Waiting is right because the
// folder lock is short: a POP session holds it only for the milliseconds it
// takes to scan the folder at login and to rewrite it at QUIT, never for
// the whole session (the session has its own lock, which delivery does not
// take). The folder lock is an flock plus the NEWMAIL.lock dotlock, so
// other delivery agents that honour dotlocks (procmail, Postfix local) are
// excluded too.
package delivery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

// MaxHeader bounds the RFC 5322 header block that is parsed, in octets.
const MaxHeader = 1 << 20

// The causes of a failed delivery. Any other error is temporary: the
// message should be kept and the delivery retried later.
var (
	// ErrBadMessage: the input is not a mail message (no header block, or
	// a header that does not parse or is longer than MaxHeader).
	ErrBadMessage = errors.New("delivery: not a mail message")
	// ErrNoUser: a user name is invalid or not in the accounts file.
	ErrNoUser = errors.New("delivery: no such user")
	// ErrNoMail: the account may not receive mail (DISMAIL).
	ErrNoMail = errors.New("delivery: account may not receive mail")
)

// Error is a failed delivery: Cause is one of the Err variables above,
// Err says what went wrong. Error() is Err's text alone.
type Error struct {
	Cause error
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause and the error.
func (e *Error) Unwrap() []error { return []error{e.Cause, e.Err} }

func errorf(cause error, format string, args ...any) *Error {
	return &Error{Cause: cause, Err: fmt.Errorf(format, args...)}
}

// Deliverer appends messages to users' NEWMAIL folders.
type Deliverer struct {
	// Spool is the spool delivered to. Required. Its LockTimeout bounds
	// the wait for each folder lock.
	Spool *spool.Spool
	// UAF is the accounts file; nil means every valid name is a user
	// (see OpenUAF).
	UAF *uaf.DB
	// Now returns the arrival time; nil means time.Now.
	Now func() time.Time
}

// OpenUAF loads the accounts file at path for Deliverer.UAF. A path of ""
// or a file that does not exist gives nil and no error: then any valid
// name is a user.
func OpenUAF(path string) (*uaf.DB, error) {
	if path == "" {
		return nil, nil
	}
	db, err := uaf.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return db, err
}

// OpenUAFUsers is OpenUAF for a delivery to users: the DB holds only their
// accounts (uaf.LoadUsers), which is all CheckUsers looks at, and the
// other accounts' lines are not parsed.
func OpenUAFUsers(path string, users []string) (*uaf.DB, error) {
	if path == "" {
		return nil, nil
	}
	db, err := uaf.LoadUsers(path, users...)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return db, err
}

// Deliver appends the message held in msg (size octets; an mbox "From "
// line in front is skipped) to the NEWMAIL folder of each user. sender is
// the envelope sender, used when senderSet ("" is the null sender <>);
// else it comes from the header (Return-Path, else From:).
//
// The users are checked first (CheckUsers), then the message is parsed;
// nothing is appended unless both succeed. Then the message goes to every
// user even after a failure, and the failures are returned together: a
// sender that retries the whole delivery gives the users that did get the
// message a second copy (at-least-once delivery, as every MTA does with a
// multi-recipient local transport).
func (d *Deliverer) Deliver(ctx context.Context, users []string, sender string, senderSet bool, msg io.ReaderAt, size int64) error {
	users, err := d.CheckUsers(users)
	if err != nil {
		return err
	}
	m, err := Prepare(msg, size, sender, senderSet, d.now())
	if err != nil {
		return err
	}
	var failed []error
	for _, u := range users {
		if err := d.Spool.Deliver(ctx, u, spool.NewMail, []spool.Delivery{m.Delivery()}); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", u, err))
		}
	}
	return errors.Join(failed...)
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// CheckUsers validates the user names (spool.ValidName) and, when UAF is
// set, checks them against it. It returns them upper-cased.
func (d *Deliverer) CheckUsers(users []string) ([]string, error) {
	out := make([]string, 0, len(users))
	for _, u := range users {
		if !spool.ValidName(u) {
			return nil, errorf(ErrNoUser, "invalid user name %q", u)
		}
		u = strings.ToUpper(u)
		if d.UAF != nil {
			a, ok := d.UAF.Lookup(u)
			if !ok {
				return nil, errorf(ErrNoUser, "no such user %s", u)
			}
			if a.Flags&uaf.DisMail != 0 {
				return nil, errorf(ErrNoMail, "user %s may not receive mail (DISMAIL)", u)
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// Message is a message ready to append: its MAIL-11 header and where the
// original message lies.
type Message struct {
	Envelope string        // envelope sender for the From_ line ("" for <>)
	Fields   mail11.Fields // the MAIL-11 header
	head     []byte        // Fields.Bytes()
	r        io.ReaderAt
	start    int64 // the original message: r[start:size]
	size     int64
}

// Prepare parses the message held in r (size octets) and builds its
// MAIL-11 header for arrival at now. sender is the envelope sender, used
// when senderSet; else the envelope sender comes from the header. A
// message that does not parse is an ErrBadMessage. r is read again by
// each NewMessage.
func Prepare(r io.ReaderAt, size int64, sender string, senderSet bool, now time.Time) (*Message, error) {
	start, h, err := parseHeader(r, size)
	if err != nil {
		return nil, err
	}
	if !senderSet {
		sender = ""
		if s, ok := mail11.EnvelopeSender(h); ok {
			sender = s
		}
	}
	f := mail11.FromHeader(h, sender, now)
	return &Message{Envelope: sender, Fields: f, head: f.Bytes(), r: r, start: start, size: size}, nil
}

// NewMessage returns the message to append; each call reads it afresh.
func (d *Message) NewMessage() spool.NewMessage {
	return spool.NewMessage{
		Envelope: d.Envelope,
		Date:     d.Fields.Arrival,
		Text:     io.MultiReader(bytes.NewReader(d.head), io.NewSectionReader(d.r, d.start, d.size-d.start)),
	}
}

// Delivery returns the message for spool.Deliver, which reads it twice.
func (d *Message) Delivery() spool.Delivery {
	return spool.Delivery{Envelope: d.Envelope, Date: d.Fields.Arrival, Open: func() io.Reader { return d.NewMessage().Text }}
}

// parseHeader parses the RFC 5322 header of the message in r (size
// octets). It returns where the message starts (after an mbox "From "
// envelope line, which some MTAs prepend) and the header. A message
// without a header block, or with a header that does not parse, is an
// ErrBadMessage.
func parseHeader(r io.ReaderAt, size int64) (int64, textproto.Header, error) {
	var start int64
	first := make([]byte, 5)
	n, _ := r.ReadAt(first, 0)
	if string(first[:n]) == "From " {
		br := bufio.NewReader(io.NewSectionReader(r, 0, min(size, MaxHeader)))
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, textproto.Header{}, errorf(ErrBadMessage, "message has an envelope line and no header")
		}
		start = int64(len(line))
	}
	limit := min(size-start, MaxHeader)
	cr := &countingReader{r: io.NewSectionReader(r, start, limit)}
	br := bufio.NewReader(cr)
	if b, err := br.Peek(1); err != nil || b[0] == '\n' || b[0] == '\r' {
		return 0, textproto.Header{}, errorf(ErrBadMessage, "message has no header")
	}
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return 0, textproto.Header{}, errorf(ErrBadMessage, "bad message header: %v", err)
	}
	if h.Len() == 0 {
		return 0, textproto.Header{}, errorf(ErrBadMessage, "message has no header")
	}
	if consumed := cr.n - int64(br.Buffered()); consumed >= limit && size-start > limit {
		return 0, textproto.Header{}, errorf(ErrBadMessage, "message header longer than %d octets", MaxHeader)
	}
	return start, h, nil
}

// countingReader counts the octets read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
