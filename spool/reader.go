package spool

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"runtime/debug"
	"slices"
)

// bodyReader streams a message body as it is sent: CRLF line ends, mboxrd
// quoting removed, and the message's extra trailing line ends. It decodes
// a block of the folder file at a time (one pass per block: line search,
// quoting and line ends together) and never holds the whole body.
//
// A large body is read in place from the folder file mapped into memory
// (mapped), not copied into buf first; and when the destination is a
// buffered writer with room (blockWriter), a block is decoded straight
// into its free buffer. The octets then move once in user space, from the
// page cache to the socket buffer's source, instead of three times (a
// 1 MiB RETR: pread, decode, bufio.Writer.Write).
type bodyReader struct {
	ra       io.ReaderAt
	mapped   []byte   // the folder file from disk offset mbase, when mapped; else nil
	mbase    int64    // disk offset of mapped[0]
	off, end int64    // next disk offset to read; end of the body's lines
	buf      []byte   // input block (unused for input when mapped)
	nc       int      // bytes carried before off (a partial line): at the start of buf, or in place when mapped
	out      []byte   // decoded output of the last block
	masks    []uint64 // newline masks of a block (see newlineMasks)
	pos      int      // bytes of out already returned
	midLine  bool     // the next input continues a line longer than buf
	extra    int      // CRLFs to send after the last line
	stuff    bool     // dot-stuff lines (RFC 1939 §3) as they are decoded
	dots     int64    // stuffing dots added
	done     bool
	err      error
}

// newBodyReader returns a reader of the body lines in [off, end) of ra,
// decoding through buf (at least 8 bytes) into out (grown as needed; a
// block decodes to at most 2*len(buf) bytes plus the trailing line ends).
func newBodyReader(ra io.ReaderAt, off, end int64, extra int, buf, out []byte) *bodyReader {
	if len(buf) < 8 {
		panic("spool: body reader buffer too small")
	}
	return &bodyReader{ra: ra, off: off, end: end, buf: buf, extra: extra, out: out[:0]}
}

// isQuotedAt reports whether the line starting at disk offset off is an
// mboxrd-quoted From_ line, for lines longer than the block.
func (r *bodyReader) isQuotedAt(off int64) bool {
	var head [MaxQuote + 8]byte
	n, _ := r.ra.ReadAt(head[:min(int64(len(head)), r.end-off)], off)
	return isQuotedFrom(head[:n], 1, MaxQuote+1)
}

// decode fills r.out with the next decoded block, of at most limit
// (<= len(buf)) input octets, carried ones included.
func (r *bodyReader) decode(limit int) error {
	r.out, r.pos = r.out[:0], 0
	want := min(int64(limit-r.nc), r.end-r.off)
	start := r.off - int64(r.nc) // disk offset of data[0]
	var data []byte
	if r.mapped != nil {
		data = r.mapped[start-r.mbase : r.off+want-r.mbase]
	} else {
		n, err := r.ra.ReadAt(r.buf[r.nc:r.nc+int(want)], r.off)
		if int64(n) < want {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		data = r.buf[:r.nc+n]
	}
	r.off += want
	atEnd := r.off >= r.end
	r.nc = 0
	// The whole lines of the block, their ends found 64 bytes at a time.
	if nm := len(data) / 64; nm > 0 {
		if cap(r.masks) < nm {
			r.masks = make([]uint64, len(r.buf)/64+1)
		}
		masks := r.masks[:newlineMasks(data, r.masks[:nm])]
		// A line grows by at most 2 octets per 1 on disk ("." + LF to
		// ".." CRLF): room for all of them, then no append checks.
		out := slices.Grow(r.out, 2*len(data))
		o, n := out[:cap(out)], len(out)
		pos := 0
		for ci, m := range masks {
			for m != 0 {
				j := ci*64 + bits.TrailingZeros64(m)
				m &= m - 1
				line := data[pos:j]
				pos = j + 1
				if len(line) > 0 && line[len(line)-1] == '\r' {
					line = line[:len(line)-1]
				}
				n = r.putLine(o, n, line)
			}
		}
		r.out = o[:n]
		data = data[pos:]
		start += int64(pos)
	}
	// The rest: the last lines (found one by one) and a partial line.
	for len(data) > 0 {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			if atEnd { // an unterminated last line: kept as is
				r.out = r.appendLine(r.out, data)
				break
			}
			if len(data) < limit { // a partial line: carry it over
				r.nc = r.carry(data)
				break
			}
			// A line longer than the block: send a piece of it, holding
			// back a CR that may belong to the line end.
			keep := 0
			if data[len(data)-1] == '\r' {
				keep = 1
			}
			piece := data[:len(data)-keep]
			if !r.midLine && piece[0] == '>' && r.isQuotedAt(start) {
				piece = piece[1:]
			}
			if r.stuff && !r.midLine && piece[0] == '.' {
				r.out = append(r.out, '.')
				r.dots++
			}
			r.out = append(r.out, piece...)
			r.midLine = true
			r.nc = r.carry(data[len(data)-keep:])
			break
		}
		line := data[:j]
		if j > 0 && line[j-1] == '\r' {
			line = line[:j-1]
		}
		r.out = r.appendLine(r.out, line)
		data = data[j+1:]
		start += int64(j + 1)
	}
	if atEnd && r.nc == 0 {
		for ; r.extra > 0; r.extra-- {
			r.out = append(r.out, '\r', '\n')
		}
		r.done = true
	}
	return nil
}

// carry keeps tail, the end of the block just decoded, for the next block,
// and returns its length.
func (r *bodyReader) carry(tail []byte) int {
	if r.mapped != nil {
		return len(tail) // it stays in place, just before off
	}
	return copy(r.buf, tail)
}

// appendLine appends a line's content as sent (see putLine).
func (r *bodyReader) appendLine(out, line []byte) []byte {
	out = slices.Grow(out, len(line)+3)
	return out[:r.putLine(out[:cap(out)], len(out), line)]
}

// putLine writes a line's content at o[n:] as it is sent: mboxrd quoting
// removed, a dot added if stuffing, CRLF. o has room for len(line)+3.
// It returns the new end.
func (r *bodyReader) putLine(o []byte, n int, line []byte) int {
	if len(line) > 0 && !r.midLine {
		switch line[0] {
		case '>': // unquoted, it starts with '>' or 'F': never stuffed
			if isQuotedFrom(line, 1, MaxQuote+1) {
				line = line[1:]
			}
		case '.':
			if r.stuff {
				o[n] = '.'
				n++
				r.dots++
			}
		}
	}
	r.midLine = false
	n += copy(o[n:], line)
	o[n], o[n+1] = '\r', '\n'
	return n + 2
}

// Read implements io.Reader.
func (r *bodyReader) Read(p []byte) (n int, err error) {
	if r.mapped != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer r.faulted(&err)
	}
	for r.pos == len(r.out) {
		if r.done || r.err != nil {
			if r.err != nil {
				return 0, r.err
			}
			return 0, io.EOF
		}
		if r.err = r.decode(len(r.buf)); r.err != nil {
			return 0, r.err
		}
	}
	n = copy(p, r.out[r.pos:])
	r.pos += n
	return n, nil
}

// blockWriter is a buffered writer whose free buffer can be filled in
// place and then handed to Write, which copies nothing then
// (bufio.Writer: see AvailableBuffer).
type blockWriter interface {
	io.Writer
	Available() int
	AvailableBuffer() []byte
	Buffered() int
	Flush() error
}

// minInPlace is the smallest input block worth decoding into a
// blockWriter's free buffer; with less room the writer is flushed first.
const minInPlace = 4 << 10

// inPlaceLimit is the input block that surely decodes into avail octets
// (a line at most doubles: "." LF becomes ".." CRLF; then the extra line
// ends), or 0 when that leaves less than minInPlace (or half the input
// buffer) after the carried octets.
func (r *bodyReader) inPlaceLimit(avail int) int {
	limit := min(len(r.buf), (avail-2*r.extra-8)/2)
	if limit < r.nc+min(minInPlace, len(r.buf)/2) {
		return 0
	}
	return limit
}

// WriteTo implements io.WriterTo: each decoded block is written as it is,
// decoded in place into w's buffer when w is a blockWriter.
func (r *bodyReader) WriteTo(w io.Writer) (total int64, err error) {
	if r.mapped != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer r.faulted(&err)
	}
	bw, inPlace := w.(blockWriter)
	for {
		if r.pos < len(r.out) {
			n, err := w.Write(r.out[r.pos:])
			total += int64(n)
			r.pos += n
			if err != nil {
				return total, err
			}
		}
		if r.done {
			return total, nil
		}
		if r.err != nil {
			return total, r.err
		}
		if inPlace {
			limit := r.inPlaceLimit(bw.Available())
			if limit == 0 && bw.Buffered() > 0 {
				if err := bw.Flush(); err != nil {
					return total, err
				}
				limit = r.inPlaceLimit(bw.Available())
			}
			if limit > 0 {
				own := r.out
				r.out = bw.AvailableBuffer()
				r.err = r.decode(limit)
				out := r.out
				r.out, r.pos = own[:0], 0
				if r.err != nil {
					return total, r.err
				}
				n, err := bw.Write(out) // in place: no copy
				total += int64(n)
				if err != nil {
					return total, err
				}
				continue
			}
		}
		if r.err = r.decode(len(r.buf)); r.err != nil {
			return total, r.err
		}
	}
}

// faulted turns a fault reading the mapped folder file (SIGBUS: the file
// was truncated under the session) into an error, instead of a crash of
// the server. It runs deferred, with the fault-to-panic switch on meanwhile.
func (r *bodyReader) faulted(err *error) {
	e := recover()
	if e == nil {
		return
	}
	if _, ok := e.(interface{ Addr() uintptr }); !ok {
		panic(e)
	}
	r.err = fmt.Errorf("spool: folder file changed under the session: %v", e)
	r.out, r.pos, r.done = r.out[:0], 0, false
	*err = r.err
}

// WriteStuffedTo writes the body dot-stuffed (RFC 1939 §3: a line that
// starts with '.' gets another), stuffing as it decodes so that no second
// pass over the lines is needed. It returns the octets of the body before
// stuffing. It must be called before any Read.
func (r *bodyReader) WriteStuffedTo(w io.Writer) (int64, error) {
	r.stuff = true
	n, err := r.WriteTo(w)
	return n - r.dots, err
}
