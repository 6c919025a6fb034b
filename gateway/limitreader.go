package gateway

import (
	"bufio"
	"errors"
)

// Line limits.
const (
	// maxCommandLine is the longest command line, CRLF included
	// (RFC 2449 §4: 255 octets).
	maxCommandLine = 255
	// maxSASLLine is the longest SASL continuation line, CRLF included.
	maxSASLLine = 8192
)

// errLineTooLong reports a line over the limit; its rest has been
// discarded and the connection can go on.
var errLineTooLong = errors.New("gateway: line too long")

// readLine reads one line of at most max octets (CRLF included) from br
// and returns it without its line end (LF or CRLF). A longer line is
// discarded up to its LF without being buffered, and errLineTooLong is
// returned. The result is valid until the next read from br. A line longer
// than br's buffer is collected in a new slice (only SASL lines can be).
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == nil {
		if len(line) > max {
			return nil, errLineTooLong
		}
		return trimEOL(line), nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	if len(line) >= max {
		return nil, discardLine(br)
	}
	buf := append(make([]byte, 0, 2*len(line)), line...)
	for {
		line, err = br.ReadSlice('\n')
		if len(buf)+len(line) > max {
			switch err {
			case nil:
				return nil, errLineTooLong
			case bufio.ErrBufferFull:
				return nil, discardLine(br)
			default:
				return nil, err
			}
		}
		buf = append(buf, line...)
		if err == nil {
			return trimEOL(buf), nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
}

// discardLine skips the rest of a line; it returns errLineTooLong once the
// LF is found, or the read error.
func discardLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		switch err {
		case nil:
			return errLineTooLong
		case bufio.ErrBufferFull:
			continue
		default:
			return err
		}
	}
}

// trimEOL removes a final LF and a CR before it.
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
