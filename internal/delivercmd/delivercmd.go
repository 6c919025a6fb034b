// Package delivercmd is the local delivery agent's command line, shared by
// "vmspop deliver" and the small vmspop-deliver binary (which links only
// what delivery needs, so that the start of a process per message costs
// little). An MTA (Postfix's mailbox_command, an Exim pipe transport,
// procmail) runs it with one RFC 5322 message on standard input; it
// appends the message to each user's NEWMAIL folder as the VMS SMTP server
// stores mail (a MAIL-11 header in front of the original message).
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
// Metrics: with TCPIP$POP_ADMIN_SOCKET defined, each run that got as far
// as reading the configuration tells the server its exit status through
// that socket (package admin's DELIVERED request), so that
// vmspop_deliveries_total counts it; a server that is not running costs
// nothing but a failed connect.
//
// This package is the command line only; package delivery does the work.
package delivercmd

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/internal/spoolowner"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
)

// Exit statuses, from sysexits.h.
const (
	ExOK          = 0
	ExUsage       = 64 // EX_USAGE: bad command line
	ExDataErr     = 65 // EX_DATAERR: the input is not a mail message
	ExNoUser      = 67 // EX_NOUSER: no such user
	ExUnavailable = 69 // EX_UNAVAILABLE: the account may not receive mail
	ExTempFail    = 75 // EX_TEMPFAIL: try again later
)

const usage = `usage: %s [-f SENDER] USER...

Appends the RFC 5322 message on standard input to the NEWMAIL folder of
each USER. -f sets the envelope sender (default: Return-Path, else the
From: address).
Exit status: 0 delivered, 64 usage, 65 bad message, 67 unknown user,
69 account has DISMAIL, 75 temporary failure (the MTA should retry).
`

// MemMessage is the largest message held in memory; a larger one goes to
// a temporary file.
const MemMessage = 1 << 20

// Command is the delivery agent's command line.
type Command struct {
	// Name is the command's name in messages and in the usage, e.g.
	// "vmspop deliver" or "vmspop-deliver".
	Name string
	// Env looks up environment variables (the TCPIP$POP_* logicals,
	// TMPDIR).
	Env    func(string) (string, bool)
	Stdin  io.Reader // the message
	Stderr io.Writer // errors, warnings and the usage
	// Now returns the arrival time; nil means time.Now.
	Now func() time.Time
}

// Run runs the command named name with args (the arguments after the
// command's name), reading the message from stdin. It returns a
// sysexits.h status (see the constants above). env looks up environment
// variables.
func Run(name string, args []string, env func(string) (string, bool), stdin io.Reader, stderr io.Writer) int {
	// One message, one goroutine's work: a single P keeps the runtime's
	// other threads from waking up (and waiting for a CPU on a busy host)
	// for nothing.
	runtime.GOMAXPROCS(1)
	c := &Command{Name: name, Env: env, Stdin: stdin, Stderr: stderr}
	return c.Main(args)
}

// Main runs the command with args and returns its exit status.
func (c *Command) Main(args []string) int {
	r := &run{Command: c}
	if err := r.parseArgs(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExOK
		}
		fmt.Fprintf(c.Stderr, "%s: %v\n"+usage, c.Name, err, c.Name)
		return ExUsage
	}
	err := r.deliver(context.Background())
	code := ExOK
	if err != nil {
		fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
		code = ExitCode(err)
	}
	r.report(code)
	return code
}

// reportTimeout bounds the report to the server: a delivery never waits
// for the metrics.
const reportTimeout = 200 * time.Millisecond

// report sends the run's exit status to the server's admin socket, if one
// is configured (the admin package's "DELIVERED <status>" request; that
// package is not linked here, see internal/archtest). Errors are ignored:
// the delivery's outcome does not depend on the server.
func (r *run) report(code int) {
	if r.adminSocket == "" {
		return
	}
	c, err := net.DialTimeout("unix", r.adminSocket, reportTimeout)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(reportTimeout))
	fmt.Fprintf(c, "DELIVERED %d\n", code)
}

// cmdError is a failure with its exit status.
type cmdError struct {
	code int
	err  error
}

func (e *cmdError) Error() string { return e.err.Error() }

func errorf(code int, format string, args ...any) *cmdError {
	return &cmdError{code: code, err: fmt.Errorf(format, args...)}
}

// ExitCode maps a failed delivery to its exit status.
func ExitCode(err error) int {
	var ce *cmdError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, delivery.ErrBadMessage):
		return ExDataErr
	case errors.Is(err, delivery.ErrNoUser):
		return ExNoUser
	case errors.Is(err, delivery.ErrNoMail):
		return ExUnavailable
	}
	return ExTempFail
}

// run is one run of the command.
type run struct {
	*Command
	sender      string // -f
	senderSet   bool
	lockTimeout time.Duration // --lock-timeout; 0 = the spool default
	users       []string
	tmp         *os.File // the message, when too large for memory
	adminSocket string   // TCPIP$POP_ADMIN_SOCKET, once the logicals are read
}

func (r *run) parseArgs(args []string) error {
	fset := flag.NewFlagSet(r.Name, flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.StringVar(&r.sender, "f", "", "envelope sender")
	// Hidden: for tests and for sites whose MTA has a short command time
	// limit.
	fset.DurationVar(&r.lockTimeout, "lock-timeout", 0, "folder lock timeout")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(r.Stderr, usage, r.Name)
		}
		return err
	}
	fset.Visit(func(f *flag.Flag) {
		if f.Name == "f" {
			r.senderSet = true
		}
	})
	if r.lockTimeout < 0 {
		return errors.New("--lock-timeout must not be negative")
	}
	r.users = fset.Args()
	if len(r.users) == 0 {
		return errors.New("no user given")
	}
	return nil
}

// deliver delivers the message. Every error is a *cmdError, an error of
// package delivery, or an I/O error (temporary).
func (r *run) deliver(ctx context.Context) error {
	cfg, warns, err := logicals.Load(r.Env, "")
	for _, w := range warns {
		fmt.Fprintf(r.Stderr, "%s: warning: %s\n", r.Name, w)
	}
	if err != nil {
		// A configuration mistake is the administrator's to fix; the MTA
		// keeps the message meanwhile.
		return errorf(ExTempFail, "configuration: %v", err)
	}
	r.adminSocket = cfg.AdminSocket
	if err := spoolowner.ActAs(cfg); err != nil {
		return errorf(ExTempFail, "%v", err)
	}
	db, err := delivery.OpenUAFUsers(cfg.UAF, r.users)
	if err != nil {
		return errorf(ExTempFail, "%v", err)
	}
	sp := spool.New(cfg.Spool)
	sp.LockTimeout = r.lockTimeout
	now := r.Now
	if now == nil {
		now = time.Now
	}
	d := &delivery.Deliverer{Spool: sp, UAF: db, Now: now}
	// The users are checked before standard input is read.
	users, err := d.CheckUsers(r.users)
	if err != nil {
		return err
	}

	msg, size, err := r.spoolStdin()
	if err != nil {
		return err
	}
	if r.tmp != nil {
		defer r.tmp.Close()
	}
	return d.Deliver(ctx, users, r.sender, r.senderSet, msg, size)
}

// spoolStdin reads standard input: a message of up to MemMessage octets
// into memory, a larger one to an unlinked temporary file, so that a
// message of any size is never held in memory whole and a small one costs
// no file. It returns the message and its size.
func (r *run) spoolStdin() (io.ReaderAt, int64, error) {
	// The buffer starts small (most mail is a few KiB; every page of it
	// is a page fault in a process that lives for milliseconds) and
	// doubles.
	buf := make([]byte, 8<<10)
	n, err := io.ReadFull(r.Stdin, buf)
	for err == nil && len(buf) < MemMessage {
		buf = append(buf, make([]byte, len(buf))...)
		var m int
		m, err = io.ReadFull(r.Stdin, buf[n:])
		n += m
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return bytes.NewReader(buf[:n]), int64(n), nil
	}
	if err != nil {
		return nil, 0, errorf(ExTempFail, "reading the message: %v", err)
	}
	f, size, err := r.spoolFile(io.MultiReader(bytes.NewReader(buf[:n]), r.Stdin))
	if err != nil {
		return nil, 0, err
	}
	r.tmp = f
	return f, size, nil
}

// spoolFile copies rd to an unlinked temporary file and returns it with
// its size.
func (r *run) spoolFile(rd io.Reader) (*os.File, int64, error) {
	dir, _ := r.Env("TMPDIR")
	f, err := os.CreateTemp(dir, "vmspop-deliver-*")
	if err != nil {
		return nil, 0, errorf(ExTempFail, "temporary file: %v", err)
	}
	os.Remove(f.Name()) // nothing to clean up however we end
	n, err := io.Copy(f, rd)
	if err != nil {
		f.Close()
		return nil, 0, errorf(ExTempFail, "reading the message: %v", err)
	}
	return f, n, nil
}
