package spool

import "time"

// Events receives what a Spool does, for metrics; nil fields are
// skipped. The functions are called from many goroutines: they must be
// quick and safe for concurrent use.
type Events struct {
	// LockWait is called after each folder or session lock is taken, with
	// the time spent waiting for it.
	LockWait func(kind string, d time.Duration)
	// Index is called when a folder is opened for a session: hit is true
	// when its index (on disk or in memory) covered the whole folder,
	// false when the folder had to be scanned and the index built.
	Index func(hit bool)
}

// Lock kinds passed to Events.LockWait.
const (
	LockFolder  = "folder"
	LockSession = "session"
)

func (s *Spool) lockWaited(kind string, since time.Time) {
	if s.Events != nil && s.Events.LockWait != nil {
		s.Events.LockWait(kind, time.Since(since))
	}
}

func (s *Spool) indexUsed(hit bool) {
	if s.Events != nil && s.Events.Index != nil {
		s.Events.Index(hit)
	}
}
