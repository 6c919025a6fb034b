package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Locks
//
// A user directory has two locks:
//
//   - the session lock (flock on <dir>/.pop.lock), held by a POP session
//     from login to the end: one session per mailbox (RFC 1939 §4);
//   - the folder lock, held for the short time a folder is scanned,
//     updated or appended to: flock on <dir>/.lock among vmspop processes,
//     plus the dotlock NEWMAIL.lock that procmail, Postfix and other
//     delivery agents honour.
//
// Delivery takes only the folder lock, so it never waits for a POP session
// to end; a session re-reads the folder under the folder lock at UPDATE and
// keeps mail that arrived meanwhile.

// staleDotlock is the age after which a dotlock whose owner is gone is
// removed.
const staleDotlock = 5 * time.Minute

func flockNB(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, err
	}
	return f, nil
}

// sessionLockWait is how long a login waits for the session lock: a client
// that reconnects at once must not find its previous session still ending.
const sessionLockWait = 2 * time.Second

// sessionLock takes the session lock of dir or returns ErrLocked.
func sessionLock(ctx context.Context, dir string) (*os.File, error) {
	deadline := time.Now().Add(sessionLockWait)
	delay := time.Millisecond
	for {
		f, err := flockNB(filepath.Join(dir, ".pop.lock"))
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ErrLocked
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// folderLock is a held folder lock.
type folderLock struct {
	f       *os.File
	dotlock string
}

// lockFolder takes the folder lock of dir, waiting until ctx is done.
func lockFolder(ctx context.Context, dir string) (*folderLock, error) {
	delay := 2 * time.Millisecond
	wait := func() error {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrLocked, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, 100*time.Millisecond)
		return nil
	}
	var f *os.File
	for {
		var err error
		f, err = flockNB(filepath.Join(dir, ".lock"))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
		if err := wait(); err != nil {
			return nil, err
		}
	}
	dot := filepath.Join(dir, "NEWMAIL.lock")
	// The dotlock is made by link(2) from a file that already holds our
	// PID, so it never exists without its owner's PID in it.
	tmp := fmt.Sprintf("%s.%d", dot, os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		f.Close()
		return nil, err
	}
	defer os.Remove(tmp)
	for {
		err := os.Link(tmp, dot)
		if err == nil {
			return &folderLock{f: f, dotlock: dot}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			f.Close()
			return nil, err
		}
		breakStaleDotlock(dot)
		if err := wait(); err != nil {
			f.Close()
			return nil, err
		}
	}
}

// breakStaleDotlock removes a dotlock whose process is gone, or one older
// than staleDotlock that names no process.
func breakStaleDotlock(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.Remove(path)
		}
		return
	}
	if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > staleDotlock {
		os.Remove(path)
	}
}

func (l *folderLock) unlock() {
	os.Remove(l.dotlock)
	l.f.Close()
}
