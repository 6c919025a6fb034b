//go:build unix

package spool

// Owners
//
// A spool belongs to one account (the spool owner, e.g. vmail); the
// server, the delivery agent and the tools may run as root or as that
// account. Every file the spool creates or rewrites therefore takes the
// owner, group and mode of the file it replaces, or, for a new file, the
// owner and group of the directory it is made in: a rewrite by root must
// not leave NEWMAIL owned by root, or the next delivery as the spool owner
// fails. Files are created without following symbolic links (O_EXCL or
// O_NOFOLLOW), so a link planted in a user directory never makes vmspop
// write elsewhere.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ownerMode is an owner, group and permission mode to give a file.
type ownerMode struct {
	uid, gid uint32
	mode     os.FileMode
}

// newFileOwner returns what a new file in dir gets: the directory's owner
// and group, mode 0600 (0660 when the directory is group-writable).
func newFileOwner(dir string) (ownerMode, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return ownerMode{}, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	om := ownerMode{uid: st.Uid, gid: st.Gid, mode: 0o600}
	if fi.Mode().Perm()&0o020 != 0 {
		om.mode = 0o660
	}
	return om, nil
}

// ownerFor returns what a file that replaces target gets: target's owner,
// group and mode if it is a regular file, else those of a new file in its
// directory.
func ownerFor(target string) (ownerMode, error) {
	fi, err := os.Lstat(target)
	if err == nil && fi.Mode().IsRegular() {
		st := fi.Sys().(*syscall.Stat_t)
		return ownerMode{uid: st.Uid, gid: st.Gid, mode: fi.Mode().Perm()}, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return ownerMode{}, err
	}
	return newFileOwner(filepath.Dir(target))
}

// apply gives f the owner, group and mode om. A process that may not
// (not root, and om names another account) leaves the owner as it is:
// the file is then its own, as it would be without this.
func (om ownerMode) apply(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != om.uid || st.Gid != om.gid {
		if err := f.Chown(int(om.uid), int(om.gid)); err != nil && os.Geteuid() == 0 {
			return fmt.Errorf("spool: cannot give %s its owner: %w", f.Name(), err)
		}
	}
	if fi.Mode().Perm() != om.mode {
		if err := f.Chmod(om.mode); err != nil {
			return fmt.Errorf("spool: cannot set the mode of %s: %w", f.Name(), err)
		}
	}
	return nil
}

// createReplacing creates the file path (removing whatever was there,
// link or file) to be renamed over target later, with target's owner,
// group and mode (see ownerFor).
func createReplacing(path, target string) (*os.File, error) {
	om, err := ownerFor(target)
	if err != nil {
		return nil, err
	}
	return createWith(path, om)
}

// createWith creates the file path (removing whatever was there, link or
// file) with the owner, group and mode om.
func createWith(path string, om ownerMode) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := om.apply(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// openOrCreate opens the regular file path read-write without following a
// symbolic link, creating it with the owner of its directory if missing.
func openOrCreate(path string) (*os.File, error) {
	for range 3 {
		f, err := openNoFollow(path, os.O_RDWR)
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		om, err := newFileOwner(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue // made meanwhile by someone else: open theirs
		}
		if err != nil {
			return nil, err
		}
		if err := om.apply(f); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	return nil, fmt.Errorf("spool: %s: %w", path, os.ErrExist)
}

// openNoFollow opens path with flag, refusing a symbolic link or anything
// but a regular file.
func openNoFollow(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("spool: %s is a symbolic link: %w", path, ErrUnsafe)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("spool: %s is not a regular file: %w", path, ErrUnsafe)
	}
	return f, nil
}

// mkdirOwned makes the user directory dir, if missing, with the owner and
// group of its parent (the spool root) and mode 0700 (0770 when the root
// is group-writable).
func mkdirOwned(dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	om, err := newFileOwner(parent)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if om.mode&0o060 != 0 { // a group-writable root: the group may use the directory
		om.mode = 0o770
	} else {
		om.mode = 0o700
	}
	return om.apply(d)
}

// checkUserDir refuses a user directory that is a symbolic link, not a
// directory, writable by others, or owned by another account than the
// spool root: a directory someone else controls could hold planted links
// or a planted journal.
func checkUserDir(root, dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("spool: %s is not a directory (a symbolic link?): %w", dir, ErrUnsafe)
	}
	rfi, err := os.Stat(root)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("spool: %s is writable by others: %w", dir, ErrUnsafe)
	}
	if fi.Sys().(*syscall.Stat_t).Uid != rfi.Sys().(*syscall.Stat_t).Uid {
		return fmt.Errorf("spool: %s is not owned by the owner of the spool %s: %w", dir, root, ErrUnsafe)
	}
	return nil
}

// readNoFollow reads the small regular file path, refusing a link.
func readNoFollow(path string) ([]byte, error) {
	f, err := openNoFollow(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Read into a buffer of the file's size, as os.ReadFile does: an index
	// of a million messages (80 MB) read by io.ReadAll was copied at each
	// doubling of its buffer.
	size := 0
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = int(fi.Size())
	}
	b := make([]byte, 0, size+1) // +1: EOF is read without growing
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// truncateNoFollow truncates the regular file path to n bytes and syncs
// it, refusing a link.
func truncateNoFollow(path string, n int64) error {
	f, err := openNoFollow(path, os.O_WRONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(n); err != nil {
		return err
	}
	return f.Sync()
}
