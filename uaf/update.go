package uaf

import (
	"errors"
	"io/fs"
	"time"
)

// Update changes the accounts file at path under the writers' lock
// (LockFile, waiting at most timeout): it loads the file, calls change and
// writes the result back atomically. With create, a missing file starts
// as an empty DB. Nothing is written when change fails.
func Update(path string, create bool, timeout time.Duration, change func(*DB) error) error {
	lock, err := LockFile(path, timeout)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	db, err := Load(path)
	if create && errors.Is(err, fs.ErrNotExist) {
		db, err = NewDB(), nil
	}
	if err != nil {
		return err
	}
	if err := change(db); err != nil {
		return err
	}
	if err := db.WriteFile(path); err != nil {
		return err
	}
	return lock.Unlock()
}
