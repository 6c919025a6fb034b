package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmspop/vmspop/tracelog"
)

const traceUsage = `usage: vmspop trace [--session ID] [--user U] [--client ADDR] [--since T] [--until T]
                   [--failed] [--summary] [FILE...]

Prints the POP3 transcript (C:/S: lines) of each session found in the server
log FILEs (standard input when none, or for "-"). Files may be logrus text or
JSON, plain or gzip-compressed, and may be given in any order: a rotated set
(server.log server.log.1 server.log.2.gz) is put back in time order.

Times (T) are RFC 3339, "2006-01-02 15:04:05", "2006-01-02", or OpenVMS
"25-NOV-2026 10:15:32.45"; without a zone they are local time. A session
matches --since/--until when it was active at some moment in that range.

Exit status: 0 if a session matched, 1 if none did, 2 on usage or I/O errors.

Options:
`

// runTrace runs `vmspop trace` with args (the words after "trace") and
// returns the exit status. Times without a zone are read as local time.
func runTrace(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runTraceIn(args, stdin, stdout, stderr, time.Local)
}

// runTraceIn is runTrace with times without a zone read in loc (tests use
// UTC).
func runTraceIn(args []string, stdin io.Reader, stdout, stderr io.Writer, loc *time.Location) int {
	f, summary, files, err := parseTraceArgs(args, stderr, loc)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.As(err, new(traceFlagError)) {
		return 2 // the flag package has printed the error and the usage
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmspop trace: %v\n", err)
		return 2
	}
	matched, skipped, err := tracelog.Run(f, summary, files, stdin, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop trace: %v\n", err)
		return 2
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "vmspop trace: skipped %d line(s) that are not logrus text or JSON\n", skipped)
	}
	if matched == 0 {
		fmt.Fprintln(stderr, "vmspop trace: no matching session")
		return 1
	}
	return 0
}

// traceFlagError is a command-line error that the flag package has already
// reported, with the usage, on standard error.
type traceFlagError struct{ err error }

func (e traceFlagError) Error() string { return e.err.Error() }
func (e traceFlagError) Unwrap() error { return e.err }

// parseTraceArgs parses the flags and file names of `vmspop trace`; flags
// and file names may be mixed, and "--" ends the flags.
func parseTraceArgs(args []string, stderr io.Writer, loc *time.Location) (f tracelog.Filter, summary bool, files []string, err error) {
	var since, until, client string
	fs := flag.NewFlagSet("vmspop trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), traceUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.Session, "session", "", "only the session whose id starts with `ID`")
	fs.StringVar(&f.User, "user", "", "only sessions of user `U` (any case)")
	fs.StringVar(&client, "client", "", "only sessions from `ADDR`: an IP, a CIDR prefix, or an ip:port prefix")
	fs.StringVar(&since, "since", "", "only sessions active at or after `T`")
	fs.StringVar(&until, "until", "", "only sessions active at or before `T`")
	fs.BoolVar(&f.Failed, "failed", false, "only sessions with a failed login, an error, or a failure end")
	fs.BoolVar(&summary, "summary", false, "print one row per session instead of the transcripts")

	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return f, false, nil, err
			}
			return f, false, nil, traceFlagError{err}
		}
		left := fs.Args() // fs.Parse stops at the first non-flag, or after "--"
		if len(left) == 0 {
			break
		}
		if i := len(rest) - len(left); i > 0 && rest[i-1] == "--" {
			files = append(files, left...)
			break
		}
		files = append(files, left[0])
		rest = left[1:]
	}

	if since != "" {
		if f.Since, err = tracelog.ParseTime(since, loc); err != nil {
			return f, false, nil, err
		}
	}
	if until != "" {
		if f.Until, err = tracelog.ParseTime(until, loc); err != nil {
			return f, false, nil, err
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return f, false, nil, fmt.Errorf("--until %s is before --since %s", until, since)
	}
	if client != "" {
		if strings.TrimSpace(client) == "" {
			return f, false, nil, errors.New("empty --client")
		}
		if f.Client, err = tracelog.ParseClient(client); err != nil {
			return f, false, nil, err
		}
	}
	return f, summary, files, nil
}
