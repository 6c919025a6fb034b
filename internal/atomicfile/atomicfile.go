// Package atomicfile replaces small files crash-safely: the new content
// goes to a temporary file in the same directory, which is synced, renamed
// over the target, and the directory synced, so that after a crash the
// target holds either the old or the new content, never a mixture.
//
// It imports nothing of the project, so that the leaf packages (spool) and
// the others (rpop) share one implementation.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, mode 0600, through a temporary file of a
// unique name, removed if anything fails.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	return Commit(tmp, path, data)
}

// Commit writes data to tmp, a new file in path's directory made by the
// caller (with the owner, mode and open flags it wants), syncs and closes
// it, renames it over path and syncs the directory. It closes tmp in every
// case; on an error, tmp is left for the caller to remove.
func Commit(tmp *os.File, path string, data []byte) error {
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir syncs the directory dir, making the creation, removal or
// renaming of its entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
