package spool

import (
	"bufio"
	"io"
)

var crlf = []byte("\r\n")

// bodyReader streams a message body as it is sent: CRLF line ends, mboxrd
// quoting removed, and the message's extra trailing line ends. It reads
// through one buffer and never holds the whole body.
type bodyReader struct {
	br      *bufio.Reader
	midLine bool   // the next piece continues a long line
	pending []byte // bytes of the current piece not yet returned
	eol     bool   // a CRLF follows the pending piece
	extra   int    // CRLFs still to send after the last line
	done    bool
}

func newBodyReader(br *bufio.Reader, extra int) *bodyReader {
	return &bodyReader{br: br, extra: extra}
}

// next loads the next piece: part of a line, and whether a line end
// follows it.
func (r *bodyReader) next() error {
	if r.done {
		return io.EOF
	}
	line, isPrefix, err := r.br.ReadLine()
	if err == io.EOF {
		if r.midLine {
			// An unterminated last line that filled the buffer.
			r.midLine = false
			r.pending, r.eol = nil, true
			return nil
		}
		if r.extra > 0 {
			r.extra--
			r.pending, r.eol = nil, true
			return nil
		}
		r.done = true
		return io.EOF
	}
	if err != nil {
		return err
	}
	if !r.midLine {
		line = unquote(line)
	}
	r.midLine = isPrefix
	r.pending, r.eol = line, !isPrefix
	return nil
}

// Read implements io.Reader.
func (r *bodyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pending) == 0 && !r.eol {
			if err := r.next(); err != nil {
				if n > 0 && err == io.EOF {
					return n, nil
				}
				return n, err
			}
			continue
		}
		if len(r.pending) > 0 {
			c := copy(p[n:], r.pending)
			r.pending = r.pending[c:]
			n += c
			continue
		}
		// Only the line end is left.
		if len(p)-n < 2 {
			if n > 0 {
				return n, nil
			}
			// p is too small for CRLF: send the CR now, the LF later.
			p[0] = '\r'
			r.pending = []byte{'\n'}
			r.eol = false
			return 1, nil
		}
		p[n], p[n+1] = '\r', '\n'
		n += 2
		r.eol = false
	}
	return n, nil
}

// WriteTo implements io.WriterTo, so io.Copy writes pieces straight
// from the read buffer.
func (r *bodyReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.pending) == 0 && !r.eol {
			if err := r.next(); err != nil {
				if err == io.EOF {
					return total, nil
				}
				return total, err
			}
		}
		if len(r.pending) > 0 {
			n, err := w.Write(r.pending)
			total += int64(n)
			r.pending = r.pending[n:]
			if err != nil {
				return total, err
			}
		}
		if r.eol {
			n, err := w.Write(crlf)
			total += int64(n)
			if err != nil {
				return total, err
			}
			r.eol = false
		}
	}
}
