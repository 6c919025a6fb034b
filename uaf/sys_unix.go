//go:build unix

package uaf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// keepOwner gives tmp the owner and group of the file at path, if that file
// exists and they differ, so that a rewrite by root does not lock the
// server's own user out of its accounts file.
func keepOwner(tmp *os.File, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("uaf: %w", err)
	}
	old, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	ti, err := tmp.Stat()
	if err != nil {
		return fmt.Errorf("uaf: %w", err)
	}
	cur, ok := ti.Sys().(*syscall.Stat_t)
	if !ok || (cur.Uid == old.Uid && cur.Gid == old.Gid) {
		return nil
	}
	if err := tmp.Chown(int(old.Uid), int(old.Gid)); err != nil {
		return fmt.Errorf("uaf: cannot keep the owner of %s: %w", path, err)
	}
	return nil
}

// fileID identifies one version of a file for change detection.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64 // ns since the epoch
	ctime    int64 // status change time in ns where known
}

// idOf returns the identity of the file described by fi.
func idOf(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev = uint64(st.Dev) //nolint:unconvert // int32 on some systems
		id.ino = st.Ino
		id.ctime = ctimeOf(st)
	}
	return id
}

// Lock is an exclusive advisory lock on an accounts file, held through
// flock(2) on FILE.lock. It serialises writers such as "vmspop uaf"; the
// server, which only reads, does not take it.
type Lock struct {
	f *os.File
}

// LockFile takes the lock of the accounts file at path, creating FILE.lock
// (mode 0600, with the accounts file's owner and group) if needed. It waits up to timeout for another holder, then
// gives up with an error.
func LockFile(path string, timeout time.Duration) (*Lock, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("uaf: %w", err)
	}
	// Made by root ("vmspop uaf" run as root), the lock file is the
	// accounts file's owner's, or that owner (the spool owner) could not
	// take the lock afterwards.
	if os.Geteuid() == 0 {
		if err := keepOwner(f, path); err != nil {
			f.Close()
			return nil, err
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("uaf: lock %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("uaf: %s is locked by another writer", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Unlock releases the lock. The lock file stays in place.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	if err != nil {
		return fmt.Errorf("uaf: unlock: %w", err)
	}
	return nil
}
