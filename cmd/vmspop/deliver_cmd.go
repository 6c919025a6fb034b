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
// with 75 so that the MTA queues the message and retries later (see
// package delivery).
//
// This file is the command line only; package delivery does the work.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
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
	tmp         *os.File // the message, when too large for memory
}

// runDeliver runs "vmspop deliver" with args, the arguments after
// "deliver", reading the message from stdin. It returns a sysexits.h
// status (see the constants above). env looks up environment variables.
func runDeliver(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	// One message, one goroutine's work: a single P keeps the runtime's
	// other threads from waking up (and waiting for a CPU on a busy host)
	// for nothing.
	runtime.GOMAXPROCS(1)
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
	return deliverExitCode(err)
}

// deliverExitCode maps a failed delivery to its exit status.
func deliverExitCode(err error) int {
	var de *deliverError
	switch {
	case errors.As(err, &de):
		return de.code
	case errors.Is(err, delivery.ErrBadMessage):
		return exDataErr
	case errors.Is(err, delivery.ErrNoUser):
		return exNoUser
	case errors.Is(err, delivery.ErrNoMail):
		return exUnavailable
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

// run delivers the message. Every error is a *deliverError, an error of
// package delivery, or an I/O error (temporary).
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
	db, err := delivery.OpenUAFUsers(cfg.UAF, c.users)
	if err != nil {
		return deliverErr(exTempFail, "%v", err)
	}
	sp := spool.New(cfg.Spool)
	sp.LockTimeout = c.lockTimeout
	d := &delivery.Deliverer{Spool: sp, UAF: db, Now: c.now}
	// The users are checked before standard input is read.
	users, err := d.CheckUsers(c.users)
	if err != nil {
		return err
	}

	msg, size, err := c.spoolStdin()
	if err != nil {
		return err
	}
	if c.tmp != nil {
		defer c.tmp.Close()
	}
	return d.Deliver(ctx, users, c.sender, c.senderSet, msg, size)
}

// memMessage is the largest message deliver holds in memory; a larger one
// goes to a temporary file.
const memMessage = 1 << 20

// spoolStdin reads standard input: a message of up to memMessage octets
// into memory, a larger one to an unlinked temporary file, so that a
// message of any size is never held in memory whole and a small one costs
// no file. It returns the message and its size.
func (c *deliverCmd) spoolStdin() (io.ReaderAt, int64, error) {
	buf := make([]byte, 64<<10)
	n, err := io.ReadFull(c.stdin, buf)
	for err == nil && len(buf) < memMessage {
		buf = append(buf, make([]byte, len(buf))...)
		var m int
		m, err = io.ReadFull(c.stdin, buf[n:])
		n += m
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return bytes.NewReader(buf[:n]), int64(n), nil
	}
	if err != nil {
		return nil, 0, deliverErr(exTempFail, "reading the message: %v", err)
	}
	f, size, err := c.spoolFile(io.MultiReader(bytes.NewReader(buf[:n]), c.stdin))
	if err != nil {
		return nil, 0, err
	}
	c.tmp = f
	return f, size, nil
}

// spoolFile copies r to an unlinked temporary file and returns it with its
// size.
func (c *deliverCmd) spoolFile(r io.Reader) (*os.File, int64, error) {
	dir, _ := c.env("TMPDIR")
	f, err := os.CreateTemp(dir, "vmspop-deliver-*")
	if err != nil {
		return nil, 0, deliverErr(exTempFail, "temporary file: %v", err)
	}
	os.Remove(f.Name()) // nothing to clean up however we end
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, 0, deliverErr(exTempFail, "reading the message: %v", err)
	}
	return f, n, nil
}
