package main

// The "vmspop deliver" subcommand: a local delivery agent. An MTA (Postfix's
// mailbox_command, an Exim pipe transport, procmail) runs it with one RFC
// 5322 message on standard input; it appends the message to each user's
// NEWMAIL folder as the VMS SMTP server stores mail (a MAIL-11 header in
// front of the original message).
//
// Exit status (sysexits.h), chosen so that an MTA retries rather than loses
// mail: 0 only once the message is on disk (fsync) for every user;
// 64 EX_USAGE; 65 EX_DATAERR (stdin is not a mail message); 67 EX_NOUSER (a
// user name that is invalid or not in the accounts file); 69
// EX_UNAVAILABLE (the account has DISMAIL); 75 EX_TEMPFAIL (the folder stayed
// locked for the lock timeout, the disk is full, any I/O or configuration
// error).
//
// Locking: deliver waits for the folder lock, for at most the lock timeout
// (spool's 30 s default, --lock-timeout to change it), and then gives up
// with 75 so that the MTA queues the message and retries later. Waiting is
// right because the folder lock is short: a POP session holds it only for
// the milliseconds it takes to scan the folder at login and to rewrite it
// at QUIT, never for the whole session (the session has its own lock,
// which delivery does not take). The folder lock is an flock plus the
// NEWMAIL.lock dotlock, so other delivery agents that honour dotlocks
// (procmail, Postfix local) are excluded too.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

// Exit statuses of deliver, from sysexits.h.
const (
	exOK          = 0
	exUsage       = 64 // EX_USAGE: bad command line
	exDataErr     = 65 // EX_DATAERR: the input is not a mail message
	exNoUser      = 67 // EX_NOUSER: no such user
	exUnavailable = 69 // EX_UNAVAILABLE: the account may not receive mail
	exTempFail    = 75 // EX_TEMPFAIL: try again later
)

// deliverMaxHeader bounds the RFC 5322 header block that deliver parses.
const deliverMaxHeader = 1 << 20

const deliverUsage = `usage: vmspop deliver [-f SENDER] USER...

Appends the RFC 5322 message on standard input to the NEWMAIL folder of
each USER. -f sets the envelope sender (default: Return-Path, else the
From: address).
Exit status: 0 delivered, 64 usage, 65 bad message, 67 unknown user,
69 account has DISMAIL, 75 temporary failure (the MTA should retry).
`

// deliverError is a failure with its exit status.
type deliverError struct {
	code int
	err  error
}

func (e *deliverError) Error() string { return e.err.Error() }

func deliverErr(code int, format string, args ...any) *deliverError {
	return &deliverError{code: code, err: fmt.Errorf(format, args...)}
}

// deliverCmd is one run of "vmspop deliver".
type deliverCmd struct {
	env    func(string) (string, bool)
	stdin  io.Reader
	stderr io.Writer
	now    func() time.Time

	sender      string // -f
	senderSet   bool
	lockTimeout time.Duration // --lock-timeout; 0 = the spool default
	users       []string
}

// runDeliver runs "vmspop deliver" with args, the arguments after
// "deliver", reading the message from stdin. It returns a sysexits.h
// status (see the constants above). env looks up environment variables.
func runDeliver(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	c := &deliverCmd{env: env, stdin: stdin, stderr: stderr, now: time.Now}
	return c.main(args)
}

func (c *deliverCmd) main(args []string) int {
	if err := c.parseArgs(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exOK
		}
		fmt.Fprintf(c.stderr, "vmspop deliver: %v\n%s", err, deliverUsage)
		return exUsage
	}
	err := c.run(context.Background())
	if err == nil {
		return exOK
	}
	fmt.Fprintf(c.stderr, "vmspop deliver: %v\n", err)
	var de *deliverError
	if errors.As(err, &de) {
		return de.code
	}
	return exTempFail
}

func (c *deliverCmd) parseArgs(args []string) error {
	fset := flag.NewFlagSet("deliver", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.StringVar(&c.sender, "f", "", "envelope sender")
	// Hidden: for tests and for sites whose MTA has a short command time
	// limit.
	fset.DurationVar(&c.lockTimeout, "lock-timeout", 0, "folder lock timeout")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stderr, deliverUsage)
		}
		return err
	}
	fset.Visit(func(f *flag.Flag) {
		if f.Name == "f" {
			c.senderSet = true
		}
	})
	if c.lockTimeout < 0 {
		return errors.New("--lock-timeout must not be negative")
	}
	c.users = fset.Args()
	if len(c.users) == 0 {
		return errors.New("no user given")
	}
	return nil
}

// run delivers the message. Every error is a *deliverError, or an I/O
// error (temporary).
func (c *deliverCmd) run(ctx context.Context) error {
	cfg, warns, err := logicals.Load(c.env, "")
	for _, w := range warns {
		fmt.Fprintf(c.stderr, "vmspop deliver: warning: %s\n", w)
	}
	if err != nil {
		// A configuration mistake is the administrator's to fix; the MTA
		// keeps the message meanwhile.
		return deliverErr(exTempFail, "configuration: %v", err)
	}
	if err := actAsSpoolOwner(cfg); err != nil {
		return deliverErr(exTempFail, "%v", err)
	}
	users, err := c.checkUsers(cfg.UAF)
	if err != nil {
		return err
	}

	tmp, size, err := c.spoolStdin()
	if err != nil {
		return err
	}
	defer tmp.Close()

	d, err := prepareDelivery(tmp, size, c.sender, c.senderSet, c.now())
	if err != nil {
		return err
	}

	sp := spool.New(cfg.Spool)
	sp.LockTimeout = c.lockTimeout
	// Deliver to every user even after a failure, then report the failure:
	// the MTA retries the whole delivery, so the users that did get the
	// message get it again (at-least-once delivery, as every MTA does with
	// a multi-recipient local transport; configure one recipient per run
	// to avoid it).
	var failed []error
	for _, u := range users {
		msg := d.message()
		if err := sp.Append(ctx, u, spool.NewMail, []spool.NewMessage{msg}); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", u, err))
		}
	}
	if len(failed) > 0 {
		return &deliverError{code: exTempFail, err: errors.Join(failed...)}
	}
	return nil
}

// delivery is a message ready to append: its MAIL-11 header and where
// the original message lies.
type delivery struct {
	Envelope string       // envelope sender for the From_ line ("" for <>)
	Fields   mail11Fields // the MAIL-11 header
	head     []byte       // Fields.Bytes()
	r        io.ReaderAt
	start    int64 // the original message: r[start:size]
	size     int64
}

// prepareDelivery parses the message held in r (size octets) and builds its
// MAIL-11 header for arrival at now. sender is the -f value, used when
// senderSet; else the envelope sender comes from the header.
func prepareDelivery(r io.ReaderAt, size int64, sender string, senderSet bool, now time.Time) (*delivery, error) {
	start, h, err := parseDeliverHeader(r, size)
	if err != nil {
		return nil, err
	}
	if !senderSet {
		sender = ""
		if s, ok := envelopeFromHeader(h); ok {
			sender = s
		}
	}
	f := mail11FromHeader(h, sender, now)
	return &delivery{Envelope: sender, Fields: f, head: f.Bytes(), r: r, start: start, size: size}, nil
}

// message returns the message to append; each call reads it afresh.
func (d *delivery) message() spool.NewMessage {
	return spool.NewMessage{
		Envelope: d.Envelope,
		Date:     d.Fields.Arrival,
		Text:     io.MultiReader(bytes.NewReader(d.head), io.NewSectionReader(d.r, d.start, d.size-d.start)),
	}
}

// checkUsers validates the user names against spool.ValidName and, when
// the accounts file exists, against it. It returns them upper-cased.
func (c *deliverCmd) checkUsers(uafPath string) ([]string, error) {
	var db *uaf.DB
	if uafPath != "" {
		var err error
		db, err = uaf.Load(uafPath)
		if errors.Is(err, fs.ErrNotExist) {
			db = nil // no accounts file: any valid name is a user
		} else if err != nil {
			return nil, deliverErr(exTempFail, "%v", err)
		}
	}
	out := make([]string, 0, len(c.users))
	for _, u := range c.users {
		if !spool.ValidName(u) {
			return nil, deliverErr(exNoUser, "invalid user name %q", u)
		}
		u = strings.ToUpper(u)
		if db != nil {
			a, ok := db.Lookup(u)
			if !ok {
				return nil, deliverErr(exNoUser, "no such user %s", u)
			}
			if a.Flags&uaf.DisMail != 0 {
				return nil, deliverErr(exUnavailable, "user %s may not receive mail (DISMAIL)", u)
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// spoolStdin copies standard input to an unlinked temporary file, so that a
// message of any size is never held in memory, and returns it with its
// size.
func (c *deliverCmd) spoolStdin() (*os.File, int64, error) {
	dir, _ := c.env("TMPDIR")
	f, err := os.CreateTemp(dir, "vmspop-deliver-*")
	if err != nil {
		return nil, 0, deliverErr(exTempFail, "temporary file: %v", err)
	}
	os.Remove(f.Name()) // nothing to clean up however we end
	n, err := io.Copy(f, c.stdin)
	if err != nil {
		f.Close()
		return nil, 0, deliverErr(exTempFail, "reading the message: %v", err)
	}
	return f, n, nil
}

// parseDeliverHeader parses the RFC 5322 header of the message in r (size
// octets). It returns where the message starts (after an mbox "From "
// envelope line, which some MTAs prepend) and the header. A message
// without a header block, or with a header that does not parse, is an
// EX_DATAERR.
func parseDeliverHeader(r io.ReaderAt, size int64) (int64, textproto.Header, error) {
	var start int64
	first := make([]byte, 5)
	n, _ := r.ReadAt(first, 0)
	if string(first[:n]) == "From " {
		br := bufio.NewReader(io.NewSectionReader(r, 0, min(size, deliverMaxHeader)))
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, textproto.Header{}, deliverErr(exDataErr, "message has an envelope line and no header")
		}
		start = int64(len(line))
	}
	limit := min(size-start, deliverMaxHeader)
	cr := &countingReader{r: io.NewSectionReader(r, start, limit)}
	br := bufio.NewReader(cr)
	if b, err := br.Peek(1); err != nil || b[0] == '\n' || b[0] == '\r' {
		return 0, textproto.Header{}, deliverErr(exDataErr, "message has no header")
	}
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return 0, textproto.Header{}, deliverErr(exDataErr, "bad message header: %v", err)
	}
	if h.Len() == 0 {
		return 0, textproto.Header{}, deliverErr(exDataErr, "message has no header")
	}
	if consumed := cr.n - int64(br.Buffered()); consumed >= limit && size-start > limit {
		return 0, textproto.Header{}, deliverErr(exDataErr, "message header longer than %d octets", deliverMaxHeader)
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
