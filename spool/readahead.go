package spool

import "os"

// Read-ahead of small bodies.
//
// A client draining a folder sends RETR 1, RETR 2, ... and the bodies of
// consecutive messages lie one after the other in the folder file, a
// header apart. Body reads each small body with a pread(2) of its own;
// when the bodies go in order, the Box instead reads aheadSize octets of
// the folder at once into a window it keeps, and the next bodies that lie
// inside the window are decoded from it in place (as a mapped body is),
// with no system call. The window holds bytes of messages of the box's
// list, which nothing changes while the session holds the folder (new
// mail is appended after them; Commit drops the window first). It is
// taken at the first read in order and returned to the spool's pool when
// the box closes: a session that fetches nothing holds none.

const (
	aheadSize = 64 << 10 // octets read at once
	aheadMax  = 16 << 10 // the largest body served from the window
	aheadGap  = 8 << 10  // the largest gap (a header) between bodies still "in order"
)

// readAhead is a Box's window onto its folder file.
type readAhead struct {
	buf  *[]byte // aheadSize octets from the pool; nil until the first read in order
	off  int64   // disk offset of (*buf)[0]
	n    int     // valid octets in *buf
	last int64   // end of the last body asked for; -1 for none
}

// window returns the folder's octets from disk offset base, base <= off,
// such that [off, end) lies inside them; nil when the body is not small
// or not in order after the last one.
func (b *Box) window(f *os.File, off, end int64) ([]byte, int64) {
	a := &b.ahead
	last := a.last
	a.last = end
	if end-off > aheadMax {
		return nil, 0
	}
	if a.buf != nil && off >= a.off && end <= a.off+int64(a.n) {
		return (*a.buf)[:a.n], a.off
	}
	if last < 0 || off < last || off-last > aheadGap {
		return nil, 0
	}
	if a.buf == nil {
		p, ok := b.s.ahead.Get().(*[]byte)
		if !ok {
			s := make([]byte, aheadSize)
			p = &s
		}
		a.buf = p
	}
	n, _ := f.ReadAt(*a.buf, off) // short at the end of the file
	a.off, a.n = off, n
	if end > off+int64(n) {
		a.n = 0
		return nil, 0
	}
	return (*a.buf)[:n], off
}

// dropWindow forgets the window's contents and returns its buffer.
func (b *Box) dropWindow() {
	if b.ahead.buf != nil {
		b.s.ahead.Put(b.ahead.buf)
	}
	b.ahead = readAhead{last: -1}
}
