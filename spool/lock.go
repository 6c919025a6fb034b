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
//   - the session lock, held by a POP session from login to the end: one
//     session per mailbox (RFC 1939 §4). Within a process it is an entry in
//     the Spool's table; across processes it is the file <dir>/.pop.lock,
//     made with link(2) and holding its owner's PID and start time, so a
//     lock left by a killed process is recognised and broken. It holds no
//     file descriptor: an idle session costs only its socket, which is
//     what lets one process hold 10,000 sessions under a 20,000-descriptor
//     limit;
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
	f, err := openOrCreate(path)
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

// sessionLock is a held session lock.
type sessionLock struct {
	s    *Spool
	dir  string
	path string
}

// procStart returns the start time of process pid (field 22 of
// /proc/PID/stat), or "" if it cannot be read.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// lockOwnerAlive reports whether the process named by a lock file's
// "PID STARTTIME" content is still running.
func lockOwnerAlive(content string) bool {
	f := strings.Fields(content)
	if len(f) < 1 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if len(f) >= 2 {
		if st := procStart(pid); st != "" && st != f[1] {
			return false // the PID was reused
		}
	}
	return true
}

// lockSession takes the session lock of dir or returns ErrLocked, after
// waiting up to sessionLockWait for a session that is ending.
func (s *Spool) lockSession(ctx context.Context, dir string) (*sessionLock, error) {
	start := time.Now()
	deadline := start.Add(sessionLockWait)
	delay := time.Millisecond
	for waited := false; ; waited = true {
		l, err := s.tryLockSession(dir)
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			addLockWait(ctx, start, waited)
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, ErrLocked
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

func (s *Spool) tryLockSession(dir string) (*sessionLock, error) {
	s.mu.Lock()
	if s.sessions[dir] {
		s.mu.Unlock()
		return nil, ErrLocked
	}
	if s.sessions == nil {
		s.sessions = map[string]bool{}
	}
	s.sessions[dir] = true
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		delete(s.sessions, dir)
		s.mu.Unlock()
	}
	path := filepath.Join(dir, ".pop.lock")
	pid := os.Getpid()
	tmp := fmt.Sprintf("%s.%d", path, pid)
	if err := writeNewFile(tmp, []byte(fmt.Sprintf("%d %s\n", pid, procStart(pid)))); err != nil {
		release()
		return nil, mapErr(err)
	}
	defer os.Remove(tmp)
	for attempt := 0; attempt < 2; attempt++ {
		err := os.Link(tmp, path)
		if err == nil {
			return &sessionLock{s: s, dir: dir, path: path}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			release()
			return nil, err
		}
		b, rerr := os.ReadFile(path)
		if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			release()
			return nil, rerr
		}
		// Not ours (this process holds no session here), so either
		// another process's, or a dead one's: break it then, under the
		// folder lock so that two processes cannot both break it and one
		// remove the other's fresh lock.
		if rerr == nil && lockOwnerAlive(string(b)) {
			release()
			return nil, ErrLocked
		}
		if err := breakStaleSessionLock(dir, path, b); err != nil {
			release()
			return nil, err
		}
	}
	release()
	return nil, ErrLocked
}

// breakStaleSessionLock removes the session lock file at path if it still
// holds stale, the content found dead.
func breakStaleSessionLock(dir, path string, stale []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fl, err := lockFolder(ctx, dir)
	if err != nil {
		return err
	}
	defer fl.unlock()
	if b, err := os.ReadFile(path); err == nil && string(b) == string(stale) {
		return os.Remove(path)
	}
	return nil
}

func (l *sessionLock) unlock() {
	os.Remove(l.path)
	l.s.mu.Lock()
	delete(l.s.sessions, l.dir)
	l.s.mu.Unlock()
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
	start, waited := time.Now(), false
	defer func() { addLockWait(ctx, start, waited) }()
	for {
		var err error
		f, err = flockNB(filepath.Join(dir, ".lock"))
		if err == nil {
			break
		}
		waited = true
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
	if err := writeNewFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n")); err != nil {
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
