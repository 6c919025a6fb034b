package spool

import (
	"context"
	"time"
)

// Stats collects what an operation on the spool did, for diagnostic logs
// (TCPIP$POP_LOG_LEVEL=DEBUG): put one in the context with WithStats and
// read it when the operation returns. It is not safe for concurrent use:
// one operation at a time.
type Stats struct {
	LockWait time.Duration // time spent waiting for session and folder locks (0 = none was busy)
	// Index says where OpenBox found the messages: "memory" (the decoded
	// index kept from an earlier login), "file" (the index file), "appended"
	// (an index plus a scan of the mail appended since), "rebuilt" (a
	// scan; the index was missing, stale or made under other settings),
	// "none" (a scan, indexes not used), "" (no folder file).
	Index        string
	Scanned      int   // messages scanned (not taken from an index)
	ScannedBytes int64 // folder bytes scanned
}

type statsKey struct{}

// WithStats returns a context whose spool operations record into st.
func WithStats(ctx context.Context, st *Stats) context.Context {
	return context.WithValue(ctx, statsKey{}, st)
}

// statsOf returns the Stats of ctx, or nil.
func statsOf(ctx context.Context) *Stats {
	st, _ := ctx.Value(statsKey{}).(*Stats)
	return st
}
