package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Folder names.
const (
	NewMail     = "NEWMAIL"
	Mail        = "MAIL"
	Wastebasket = "WASTEBASKET"
)

// Spool is a directory of user mail directories: <Root>/<USER>/<FOLDER>.
type Spool struct {
	Root string
	// LockTimeout bounds the wait for a folder lock (default 30 s).
	LockTimeout time.Duration
	// Events receives lock waits and index use, for metrics; nil = none.
	Events *Events
	// LockRefresh, LockStale and LockHost are the lock files' refresh
	// interval, staleness bound and host name (lock.go; zero: defaults).
	LockRefresh, LockStale time.Duration
	LockHost               string
	// RedoLog is the size in bytes of each user's delivery redo log
	// (<USER>/.redo, deliver.go): 0 means DefaultRedoLog, a negative
	// value none (two syncs per delivery).
	RedoLog int64

	redoBufs sync.Pool // *limitBuffer: Deliver's entries (redo.go)

	bufs sync.Pool // *blockBufs: the buffers of Body readers

	mu         sync.Mutex
	sessions   map[string]bool   // session lock files (one per folder) this process holds
	indexes    map[string]*index // decoded indexes of folders used lately, by index path
	cachedMsgs int               // bytes of indexes (MessageList.memSize)

	uidlMaps uidlMaps  // UIDL maps read lately (uidlmap.go)
	owner    lockOwner // this process in lock files (lock.go)
}

const readBufSize = 64 << 10

// New returns the spool rooted at root.
func New(root string) *Spool { return &Spool{Root: root} }

func (s *Spool) lockTimeout() time.Duration {
	if s.LockTimeout > 0 {
		return s.LockTimeout
	}
	return 30 * time.Second
}

// UserDir returns the directory of user, upper-cased, or ErrBadUser.
func (s *Spool) UserDir(user string) (string, error) {
	if !ValidName(user) {
		return "", ErrBadUser
	}
	return filepath.Join(s.Root, strings.ToUpper(user)), nil
}

func (s *Spool) folderPath(user, folder string) (dir, path string, err error) {
	dir, err = s.UserDir(user)
	if err != nil {
		return "", "", err
	}
	if !ValidName(folder) {
		return "", "", fmt.Errorf("spool: invalid folder name %q", folder)
	}
	return dir, filepath.Join(dir, strings.ToUpper(folder)), nil
}

// withFolderLock runs fn with the folder lock of user held, after
// finishing or undoing any update a crash interrupted.
func (s *Spool) withFolderLock(ctx context.Context, user string, create bool, fn func(dir string) error) error {
	dir, err := s.UserDir(user)
	if err != nil {
		return err
	}
	if create {
		if err := mkdirOwned(dir); err != nil {
			return mapErr(err)
		}
	}
	if err := checkUserDir(s.Root, dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrNoMailbox
		}
		return err
	}
	return s.withDirLock(ctx, dir, fn)
}

// withDirLock is withFolderLock for the user directory dir that the
// caller has checked (checkUserDir).
func (s *Spool) withDirLock(ctx context.Context, dir string, fn func(dir string) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.lockTimeout())
	defer cancel()
	l, err := s.lockFolder(ctx, dir)
	if err != nil {
		return err
	}
	defer l.unlock()
	if err := recoverDir(dir); err != nil {
		return err
	}
	return fn(dir)
}

// mapErr turns a full disk into ErrNoSpace.
func mapErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	return err
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// FolderInfo describes one folder file.
type FolderInfo struct {
	Name     string
	Messages int
	Bytes    int64
}

// Folders lists the folders of user with message counts and sizes.
func (s *Spool) Folders(ctx context.Context, user string) ([]FolderInfo, error) {
	var out []FolderInfo
	err := s.withFolderLock(ctx, user, false, func(dir string) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !ValidName(e.Name()) || strings.ToUpper(e.Name()) != e.Name() {
				continue
			}
			f, err := openNoFollow(filepath.Join(dir, e.Name()), os.O_RDONLY)
			if err != nil {
				return err
			}
			fi, _ := f.Stat()
			var msgs []Message
			if fi.Size() > 0 {
				err = withMapped(f, fi.Size(), func(data []byte) error {
					var err error
					msgs, err = Scan(ctx, data)
					return err
				})
			}
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", e.Name(), err)
			}
			out = append(out, FolderInfo{Name: e.Name(), Messages: len(msgs), Bytes: fi.Size()})
		}
		return nil
	})
	return out, err
}

// ReadFolder returns the decoded messages of a folder of user (for tools
// and tests; it holds the whole folder in memory).
func (s *Spool) ReadFolder(ctx context.Context, user, folder string) ([][]byte, error) {
	_, path, err := s.folderPath(user, folder)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	err = s.withFolderLock(ctx, user, false, func(string) error {
		data, err := readNoFollow(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		msgs, err := Scan(ctx, data)
		for _, m := range msgs {
			out = append(out, Decode(data[m.Text:m.End]))
		}
		return err
	})
	return out, err
}

// scanFile maps the first size bytes of f, scans them and calls fn (if
// not nil) for each message with its disk text.
func scanFile(ctx context.Context, f *os.File, size int64, fn func(i int, m *Message, text []byte) error) ([]Message, error) {
	if size == 0 {
		return nil, nil
	}
	var msgs []Message
	err := withMapped(f, size, func(data []byte) error {
		var err error
		if msgs, err = Scan(ctx, data); err != nil || fn == nil {
			return err
		}
		for i := range msgs {
			m := &msgs[i]
			if err := fn(i, m, data[m.Text:m.End]); err != nil {
				return err
			}
		}
		return nil
	})
	return msgs, err
}
