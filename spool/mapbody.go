package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapMin and mapMax bound the body sizes Body reads from the folder file
// mapped into memory rather than with pread. From mapMin, the map, its
// page table entries and its unmapping cost less than copying the body.
// Above mapMax the body is read with pread: a whole mapped body counts in
// the server's resident size while it is sent, and a 100 MB message must
// not add 100 MB (TestRetr100MBMemory).
const (
	mapMin = 256 << 10
	mapMax = 8 << 20
)

// mapBody maps the part of f holding the disk octets [off, end) (from the
// page boundary before off). It returns the mapping and the disk offset
// of its first octet; nil when mapping fails (the caller then reads).
func mapBody(f *os.File, off, end int64) ([]byte, int64) {
	base := off &^ int64(os.Getpagesize()-1)
	data, err := unix.Mmap(int(f.Fd()), base, int(end-base), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, 0
	}
	return data, base
}
