//go:build unix && !linux

package uaf

import "syscall"

// ctimeOf returns 0: the field name of the status change time differs
// between systems, and the inode, size and mtime suffice there.
func ctimeOf(*syscall.Stat_t) int64 {
	return 0
}
