package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapMin is the body size from which Body reads a message from the folder
// file mapped into memory rather than with pread: a map, its page table
// entries and its unmapping cost about what copying 64 KiB does, and they
// save copying the whole body.
const mapMin = 256 << 10

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
