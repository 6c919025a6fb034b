package spool

// Recovery: finishing or undoing an update that a crash interrupted, by
// the journal.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

// Recover finishes or undoes an update of user's folders that a crash
// interrupted. Every other operation does this first too.
func (s *Spool) Recover(ctx context.Context, user string) error {
	return s.withFolderLock(ctx, user, false, func(string) error { return nil })
}

// recoverDir finishes or undoes the update recorded in dir's journal, if
// any. The caller holds the folder lock.
func recoverDir(dir string) error {
	if err := recoverRedo(dir); err != nil { // redo.go
		return err
	}
	if err := recoverAppend(dir); err != nil { // deliver.go
		return err
	}
	path := filepath.Join(dir, ".journal")
	data, err := readNoFollow(path)
	if errors.Is(err, os.ErrNotExist) {
		os.Remove(path + ".new")
		return nil
	}
	if err != nil {
		return err
	}
	state := ""
	sizes := map[string]int64{}
	var tmp, target string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "state":
			state = f[1]
		case len(f) == 3 && f[0] == "size" && ValidName(f[1]):
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				return fmt.Errorf("spool: %s: bad size line %q", path, line)
			}
			sizes[f[1]] = n
		case len(f) == 3 && f[0] == "rename" && ValidName(f[2]) && f[1] == f[2]+".tmp":
			tmp, target = f[1], f[2]
		}
	}
	switch state {
	case "prepare":
		for name, n := range sizes {
			p := filepath.Join(dir, name)
			if err := truncateNoFollow(p, n); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if tmp != "" {
			os.Remove(filepath.Join(dir, tmp))
		}
	case "commit":
		if tmp != "" {
			err := os.Rename(filepath.Join(dir, tmp), filepath.Join(dir, target))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	default:
		return fmt.Errorf("spool: %s: unknown state %q", path, state)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}
