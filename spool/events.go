package spool

import (
	"context"
	"time"
)

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

// lockWaited records a lock of kind taken (or given up) after waiting
// since start: for the metrics (Events, every time) and for the
// operation's diagnostic log (Stats in ctx, when another holder made it
// wait).
func (s *Spool) lockWaited(ctx context.Context, kind string, start time.Time, waited bool) {
	d := time.Since(start)
	if s.Events != nil && s.Events.LockWait != nil {
		s.Events.LockWait(kind, d)
	}
	if st := statsOf(ctx); st != nil && waited {
		st.LockWait += d
	}
}

// recordScan records how a folder's messages were found (the Stats.Index
// words): the metrics count a hit when an index covered the whole folder
// ("memory", "file") and a miss when it had to be scanned ("appended",
// "rebuilt"); "none" (indexes not used) is neither. msgs[from:] were
// scanned (of n), the folder's bytes from fromOff to size.
func (s *Spool) recordScan(ctx context.Context, how string, n int, from int, size, fromOff int64) {
	if s.Events != nil && s.Events.Index != nil && how != "none" {
		s.Events.Index(how == "memory" || how == "file")
	}
	if st := statsOf(ctx); st != nil {
		st.Index = how
		st.Scanned = n - from
		st.ScannedBytes = size - fromOff
	}
}
