package lmtp

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// memMessage is the largest message held in memory while it is delivered;
// a larger one goes to an unlinked temporary file, so that a message of any
// size is never held in memory whole and a small one costs no file.
const memMessage = 1 << 20

// spill collects a message: in memory up to memMessage octets, then in an
// unlinked temporary file in dir.
type spill struct {
	dir  string
	buf  []byte
	f    *os.File
	n    int64
	pool *sync.Pool // where Close puts buf back (*[]byte; nil: nowhere)
}

// keepBuf is the largest buffer Close puts back in the pool.
const keepBuf = 256 << 10

func (s *spill) Write(p []byte) (int, error) {
	if s.f == nil && len(s.buf)+len(p) <= memMessage {
		s.buf = append(s.buf, p...)
		s.n += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "vmspop-lmtp-*")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // nothing to clean up however we end
		s.f = f
		if _, err := f.Write(s.buf); err != nil {
			return 0, err
		}
		s.buf = nil
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	return n, err
}

// reader returns the message collected.
func (s *spill) reader() io.ReaderAt {
	if s.f != nil {
		return s.f
	}
	return bytes.NewReader(s.buf)
}

// Close removes the temporary file, if any, and gives the buffer back.
func (s *spill) Close() error {
	if s.pool != nil && s.buf != nil && cap(s.buf) <= keepBuf {
		b := s.buf[:0]
		s.pool.Put(&b)
	}
	s.buf = nil
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}
