package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/tracelog"

	"github.com/vmspop/vmspop/logicals"
)

// logFileMode is the permission of a log file that newLogger creates:
// the transcript holds user names and client addresses, so the world
// gets nothing.
const logFileMode = 0o640

// logrusLevel maps TCPIP$POP_LOG_LEVEL (and TCPIP$POP_TRACE) onto a logrus
// level. The table, least verbose first:
//
//	TCPIP$POP_LOG_LEVEL  logrus level  what is written
//	ERROR                Error         errors only (warnings are dropped)
//	INFORMATIONAL        Info          + warnings (failed logins), session start/end, logins
//	THREAD               Debug         + client/server interactions: the C:/S: transcript
//	DEBUG                Trace         + diagnostics: folder opens and updates (lock
//	                                     waits, index use, messages scanned), each
//	                                     header rebuilt, each command's time, DECnet
//	                                     nodes resolved
//
// When TCPIP$POP_TRACE is defined the gateway writes the C:/S: transcript at
// Info rather than Debug, so a level less verbose than Info (ERROR) is raised
// to Info: TRACE must never be silenced by LOG_LEVEL.
func logrusLevel(level logicals.LogLevel, trace bool) (logrus.Level, error) {
	var l logrus.Level
	switch level {
	case logicals.LogError:
		l = logrus.ErrorLevel
	case logicals.LogInformational:
		l = logrus.InfoLevel
	case logicals.LogThread:
		l = logrus.DebugLevel
	case logicals.LogDebug:
		l = logrus.TraceLevel
	default:
		return 0, fmt.Errorf("vmspop: unknown log level %d", int(level))
	}
	if trace && l < logrus.InfoLevel {
		l = logrus.InfoLevel
	}
	return l, nil
}

// newLogger builds the server's logger from TCPIP$POP_LOG_LEVEL,
// TCPIP$POP_LOG_FORMAT, TCPIP$POP_LOG and TCPIP$POP_TRACE. An empty file
// means standard error; otherwise the file is opened for appending (created
// with mode 0640 when missing). The returned reopener is the logger's output:
// call its Reopen after logrotate has moved the file (see watchSIGHUP) and its
// Close at exit. It is never nil; for standard error Reopen does nothing.
func newLogger(level logicals.LogLevel, format, file string, trace bool) (*logrus.Logger, *reopener, error) {
	lvl, err := logrusLevel(level, trace)
	if err != nil {
		return nil, nil, err
	}
	fmtr, err := tracelog.Formatter(format)
	if err != nil {
		return nil, nil, err
	}
	r, err := openReopener(file, os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	log := logrus.New()
	log.SetFormatter(fmtr)
	log.SetLevel(lvl)
	log.SetOutput(r)
	return log, r, nil
}

// reopener is an io.Writer over a log file that can be closed and opened
// again at the same path, the convention logrotate relies on (rename the
// file, then signal the daemon). Write, Reopen and Close are safe for
// concurrent use; a write never sees a closed file.
type reopener struct {
	path     string    // "" means fallback is written to and Reopen is a no-op
	fallback io.Writer // used when path is ""

	mu     sync.Mutex
	f      *os.File // current file; nil when path is "" or after Close
	closed bool
}

// openReopener opens path for appending, or wraps fallback when path is "".
func openReopener(path string, fallback io.Writer) (*reopener, error) {
	r := &reopener{path: path, fallback: fallback}
	if path == "" {
		return r, nil
	}
	f, err := openLogFile(path)
	if err != nil {
		return nil, err
	}
	r.f = f
	return r, nil
}

func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, logFileMode)
	if err != nil {
		return nil, fmt.Errorf("vmspop: open log file: %w", err)
	}
	return f, nil
}

// errLogClosed is returned by writes after Close.
var errLogClosed = errors.New("vmspop: log file closed")

// Write writes p to the current file (or the fallback writer).
func (r *reopener) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errLogClosed
	}
	if r.path == "" {
		return r.fallback.Write(p)
	}
	return r.f.Write(p)
}

// Reopen opens the path again and then closes the previous file, so lines
// written afterwards land in a new file at the original path while the
// renamed one keeps the earlier lines. If the path cannot be opened, the old
// file stays in use and the error is returned. With no path it does nothing.
func (r *reopener) Reopen() error {
	if r.path == "" {
		return nil
	}
	nf, err := openLogFile(r.path)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = nf.Close()
		return errLogClosed
	}
	old := r.f
	r.f = nf
	r.mu.Unlock()
	if err := old.Close(); err != nil {
		return fmt.Errorf("vmspop: close old log file: %w", err)
	}
	return nil
}

// Close closes the current file; later writes fail with an error. Closing
// twice, or closing a reopener over standard error, is harmless.
func (r *reopener) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("vmspop: close log file: %w", err)
	}
	return nil
}

// watchSIGHUP reopens the log file every time the process gets SIGHUP, until
// ctx is done. Call it directly (not with go): it registers the signal
// handler before it returns, so a SIGHUP sent afterwards can no longer kill
// the process, and runs the loop in a goroutine of its own. Each reopen is
// logged (at Info on success, at Error on failure) to the logger.
func watchSIGHUP(ctx context.Context, r *reopener, log *logrus.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				if err := r.Reopen(); err != nil {
					log.WithError(err).Error("log file reopen failed")
					continue
				}
				log.WithField("file", r.path).Info("log file reopened")
			}
		}
	}()
}
