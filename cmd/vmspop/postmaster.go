package main

// POSTMASTER notification when `vmspop serve` exits with an error: a bad
// logical or log file (exit 2), a listener that fails or a serve loop that
// ends with an error (exit 1), a panic (exit 3). The failure message goes
// into each TCPIP$POP_POSTMASTER user's NEWMAIL through the spool
// (notifyPostmaster); when the spool is not writable that is logged.

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/sirupsen/logrus"
	"github.com/vmspop/vmspop/logicals"
)

// exitPanic is the exit status of `vmspop serve` after a panic.
const exitPanic = 3

// fallbackConfig reads only TCPIP$POP_POSTMASTER and TCPIP$POP_SPOOL
// (either spelling) from the environment: what notifying the postmaster
// needs when the whole configuration could not be read. It returns nil
// when there is no postmaster to notify or those two are bad themselves.
func fallbackConfig(env func(string) (string, bool)) (*logicals.Config, error) {
	only := map[string]bool{}
	for _, name := range []string{"POSTMASTER", "SPOOL"} {
		only["TCPIP$POP_"+name], only["TCPIP_POP_"+name] = true, true
	}
	cfg, _, err := logicals.Load(func(k string) (string, bool) {
		if !only[k] || env == nil {
			return "", false
		}
		return env(k)
	}, "")
	if err != nil || len(cfg.Postmaster) == 0 {
		return nil, err
	}
	return cfg, nil
}

// stderrLogger logs to w: the server's own log may be what failed.
func stderrLogger(w io.Writer) *logrus.Logger {
	log := logrus.New()
	log.Out = w
	return log
}

// notifyStartFailure notifies the postmaster of a failure to start, before
// the configuration or the log could be set up.
func notifyStartFailure(env func(string) (string, bool), stderr io.Writer, cause error) {
	cfg, err := fallbackConfig(env)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop: postmaster not notified: %v\n", err)
		return
	}
	if cfg != nil {
		notifyPostmaster(cfg, stderrLogger(stderr), cause)
	}
}

// recoverServe turns a panic of `vmspop serve`'s own goroutine into a
// logged failure, a postmaster notification and exit status exitPanic.
// cfg returns the configuration when it was read (nil before). It must be
// deferred.
func recoverServe(code *int, cfg func() *logicals.Config, log func() *logrus.Logger, env func(string) (string, bool), stderr io.Writer) {
	r := recover()
	if r == nil {
		return
	}
	cause := fmt.Errorf("panic: %v", r)
	fmt.Fprintf(stderr, "vmspop: %v\n%s", cause, debug.Stack())
	*code = exitPanic
	l := log()
	if l == nil {
		l = stderrLogger(stderr)
	}
	l.WithField("stack", string(debug.Stack())).Error("server panicked")
	if c := cfg(); c != nil {
		notifyPostmaster(c, l, cause)
		return
	}
	notifyStartFailure(env, stderr, cause)
}

// recoverTo sends a panic of a serve goroutine to errc as an error, so
// that the server stops and reports it like any other failure.
func recoverTo(errc chan<- error) {
	if r := recover(); r != nil {
		errc <- fmt.Errorf("panic: %v\n%s", r, debug.Stack())
	}
}
