// Package spool stores OpenVMS-style mail folders (NEWMAIL, MAIL,
// WASTEBASKET) as mboxrd files under <spool>/<USER>/, with locking that
// delivery agents honour and updates that are atomic under a crash.
package spool

import "errors"

// Errors returned by the spool. Callers test them with errors.Is.
var (
	// ErrLocked means another session or delivery holds the mailbox.
	ErrLocked = errors.New("spool: mailbox is locked")
	// ErrBadUser means a user name is not [A-Za-z0-9_$-]{1,31}.
	ErrBadUser = errors.New("spool: invalid user name")
	// ErrNoMailbox means the user has no mail directory.
	ErrNoMailbox = errors.New("spool: no such mailbox")
	// ErrNoSpace means the file system is full (or over quota).
	ErrNoSpace = errors.New("spool: no space left on device")
	// ErrUnsafe means a spool file or directory is a symbolic link, not a
	// regular file, or has an owner or mode vmspop refuses.
	ErrUnsafe = errors.New("spool: unsafe file")
)
