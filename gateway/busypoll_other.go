//go:build !linux

package gateway

import (
	"syscall"
	"time"
)

// pollReadable is not implemented here: sessions sleep in their reads.
func pollReadable(rc syscall.RawConn, d time.Duration, stop func() bool) pollResult {
	return pollStopped
}

// pollRead is not implemented here either.
func pollRead(rc syscall.RawConn, d time.Duration, stop func() bool, p []byte) (pollResult, int) {
	return pollStopped, 0
}
