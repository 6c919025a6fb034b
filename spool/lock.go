package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
//     the Spool's table; across processes and hosts it is the file
//     <dir>/.pop.lock, made with link(2). It holds no file descriptor: an
//     idle session costs only its socket and a timer, which is what lets
//     one process hold 10,000 sessions under a 20,000-descriptor limit;
//   - the folder lock, held for the short time a folder is scanned,
//     updated or appended to: flock on <dir>/.lock among vmspop processes
//     (over NFS the kernel turns it into an NLM/NFSv4 byte-range lock, so
//     it holds across hosts), plus the dotlock NEWMAIL.lock that procmail,
//     Postfix and other delivery agents honour.
//
// Delivery takes only the folder lock, so it never waits for a POP session
// to end; a session re-reads the folder under the folder lock at UPDATE and
// keeps mail that arrived meanwhile.
//
// Both lock files hold "PID STARTTIME HOST" (the owner's process ID, its
// start time from /proc/PID/stat, and its host name), and their owner
// touches them every LockRefresh while it holds them. A lock is stale, and
// is broken, when:
//
//   - it names another host: only when it has not been touched for
//     LockStale. A PID means nothing on another host, so it is never
//     checked;
//   - it names this host: when the PID is gone, when the PID's start time
//     differs (the PID was reused, e.g. PID 1 in a container restarted
//     after a crash), when it is a dotlock naming this very process (we
//     hold the flock, so it is a previous incarnation's), or when it has
//     not been touched for LockStale;
//   - it names no process (another delivery agent's dotlock): when it has
//     not been touched for LockStale.
//
// Breaking is done under the flock, so two processes cannot both judge a
// lock stale and one remove the other's fresh lock.

// Default lock timing bounds (see Spool.LockRefresh and Spool.LockStale).
const (
	DefaultLockRefresh = 20 * time.Second
	DefaultLockStale   = 2 * time.Minute
)

func (s *Spool) lockRefresh() time.Duration {
	if s.LockRefresh > 0 {
		return s.LockRefresh
	}
	return DefaultLockRefresh
}

func (s *Spool) lockStale() time.Duration {
	if s.LockStale > 0 {
		return s.LockStale
	}
	return DefaultLockStale
}

// lockOwner is what this process writes in its lock files and the host
// name it judges others' by. Neither changes while the process runs, so
// they are worked out once per Spool, not at every login.
type lockOwner struct {
	once    sync.Once
	host    string
	content []byte
}

func (s *Spool) lockOwner() *lockOwner {
	o := &s.owner
	o.once.Do(func() {
		o.host = s.LockHost
		if o.host == "" {
			if h, err := os.Hostname(); err == nil && h != "" {
				o.host = h
			} else {
				o.host = "localhost"
			}
		}
		pid := os.Getpid()
		st := procStart(pid)
		if st == "" {
			st = "-"
		}
		o.content = []byte(fmt.Sprintf("%d %s %s\n", pid, st, strings.ReplaceAll(o.host, " ", "_")))
	})
	return o
}

func (s *Spool) lockHost() string { return s.lockOwner().host }

// lockContent is what this process writes in a lock file (shared: not to
// be modified).
func (s *Spool) lockContent() []byte { return s.lockOwner().content }

// lockStaleFor reports whether the lock file at path, holding content and
// last touched at mtime, is stale (see the rules above). dotlock is set for
// NEWMAIL.lock, which is only ever judged with the flock held.
func (s *Spool) lockStaleFor(content []byte, mtime time.Time, dotlock bool) bool {
	old := time.Since(mtime) > s.lockStale()
	f := strings.Fields(string(content))
	if len(f) >= 3 && f[2] != strings.ReplaceAll(s.lockHost(), " ", "_") {
		return old // another host's: its refreshes are all we can see
	}
	if len(f) == 0 {
		return old
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return old
	}
	if dotlock && pid == os.Getpid() {
		return true
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	if len(f) >= 2 && f[1] != "-" {
		if st := procStart(pid); st != "" && st != f[1] {
			return true // the PID was reused
		}
	}
	return old
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

// linkLock makes the lock file path as a hard link to a temporary file
// holding content. It returns os.ErrExist when the lock is held. Over NFS a
// retransmitted LINK may report EEXIST although it worked; the link count
// of the temporary file tells.
func linkLock(path string, content []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return mapErr(err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// The lock file gets the directory's owner, as every spool file does
	// (owner_unix.go), so a lock left by root can be broken by the owner.
	om, werr := newFileOwner(filepath.Dir(path))
	if werr == nil {
		werr = om.apply(f)
	}
	if werr == nil {
		_, werr = f.Write(content)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return mapErr(werr)
	}
	err = os.Link(tmp, path)
	if err == nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Lstat(tmp, &st) == nil && st.Nlink == 2 {
		return nil
	}
	return err
}

// readLock returns a lock file's content and modification time.
func readLock(path string) ([]byte, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	b := make([]byte, 256)
	n, _ := f.Read(b)
	return b[:n], fi.ModTime(), nil
}

// refresher touches a held lock file every interval until stopped.
type refresher struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func startRefresh(path string, every time.Duration) *refresher {
	r := &refresher{}
	var tick func()
	tick = func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.stopped {
			return
		}
		now := time.Now()
		os.Chtimes(path, now, now)
		r.t = time.AfterFunc(every, tick)
	}
	r.mu.Lock()
	r.t = time.AfterFunc(every, tick)
	r.mu.Unlock()
	return r
}

// stop ends the refreshes; none runs once it returns.
func (r *refresher) stop() {
	r.mu.Lock()
	r.stopped = true
	r.t.Stop()
	r.mu.Unlock()
}

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
	s       *Spool
	dir     string
	path    string
	refresh *refresher
}

// lockSession takes the session lock of dir or returns ErrLocked, after
// waiting up to sessionLockWait for a session that is ending.
//
// The lock is per folder (sessionLockName), so that sessions on different
// folders of one user (the owner and a delegate, docs/extensions.md) can
// run at once; their commits serialise on the folder lock.
func (s *Spool) lockSession(ctx context.Context, dir, folder string) (*sessionLock, error) {
	start := time.Now()
	deadline := start.Add(sessionLockWait)
	delay := time.Millisecond
	for waited := false; ; waited = true {
		l, err := s.tryLockSession(dir, sessionLockName(folder))
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			s.lockWaited(ctx, LockSession, start, waited)
			return l, err
		}
		select {
		case <-ctx.Done():
			s.lockWaited(ctx, LockSession, start, true)
			return nil, ErrLocked
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// sessionLockName is the session lock file of folder: .pop.lock for
// NEWMAIL (as before locks were per folder), .pop-FOLDER.lock for others.
func sessionLockName(folder string) string {
	if strings.EqualFold(folder, NewMail) {
		return ".pop.lock"
	}
	return ".pop-" + strings.ToUpper(folder) + ".lock"
}

func (s *Spool) tryLockSession(dir, name string) (*sessionLock, error) {
	path := filepath.Join(dir, name)
	s.mu.Lock()
	if s.sessions[path] {
		s.mu.Unlock()
		return nil, ErrLocked
	}
	if s.sessions == nil {
		s.sessions = map[string]bool{}
	}
	s.sessions[path] = true
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		delete(s.sessions, path)
		s.mu.Unlock()
	}
	content := s.lockContent()
	for attempt := 0; attempt < 2; attempt++ {
		err := linkLock(path, content)
		if err == nil {
			return &sessionLock{s: s, dir: dir, path: path, refresh: startRefresh(path, s.lockRefresh())}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			release()
			return nil, err
		}
		b, mtime, rerr := readLock(path)
		if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			release()
			return nil, rerr
		}
		// Not ours (this Spool holds no session here), so another
		// process's or host's, or a dead one's: break it then, under the
		// folder lock so that two processes cannot both break it and one
		// remove the other's fresh lock.
		if rerr == nil && !s.lockStaleFor(b, mtime, false) {
			release()
			return nil, ErrLocked
		}
		if err := s.breakStaleSessionLock(dir, path); err != nil {
			release()
			return nil, err
		}
	}
	release()
	return nil, ErrLocked
}

// breakStaleSessionLock removes the session lock file at path if, judged
// again under the folder lock, it is stale.
func (s *Spool) breakStaleSessionLock(dir, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fl, err := s.lockFolder(ctx, dir)
	if err != nil {
		return err
	}
	defer fl.unlock()
	if b, mtime, err := readLock(path); err == nil && s.lockStaleFor(b, mtime, false) {
		return os.Remove(path)
	}
	return nil
}

func (l *sessionLock) unlock() {
	l.refresh.stop()
	os.Remove(l.path)
	l.s.mu.Lock()
	delete(l.s.sessions, l.path)
	l.s.mu.Unlock()
}

// folderLock is a held folder lock.
type folderLock struct {
	f       *os.File
	dotlock string
	refresh *refresher
}

// lockFolder takes the folder lock of dir, waiting until ctx is done.
func (s *Spool) lockFolder(ctx context.Context, dir string) (*folderLock, error) {
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
	defer func() { s.lockWaited(ctx, LockFolder, start, waited) }()
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
	// PID, so it never exists without its owner in it.
	content := s.lockContent()
	for {
		err := linkLock(dot, content)
		if err == nil {
			return &folderLock{f: f, dotlock: dot, refresh: startRefresh(dot, s.lockRefresh())}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			f.Close()
			return nil, err
		}
		if b, mtime, err := readLock(dot); err == nil && s.lockStaleFor(b, mtime, true) {
			os.Remove(dot)
			continue
		}
		if err := wait(); err != nil {
			f.Close()
			return nil, err
		}
	}
}

func (l *folderLock) unlock() {
	l.refresh.stop()
	os.Remove(l.dotlock)
	l.f.Close()
}
