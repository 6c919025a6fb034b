package gateway

import "io"

// polledReader is the source of a session's reader in clear: the
// connection, except that a read after pollNext has armed it busy-polls
// the socket with non-blocking reads into the reader's own buffer. The
// command that the poll catches is then read by the poll itself, instead
// of a peek followed by a read(2): one system call less per RETR. Over TLS
// the reader's source is the TLS layer and pollNext peeks (busypoll.go).
type polledReader struct {
	c     *conn
	r     io.Reader // the connection
	armed bool
}

// Read implements io.Reader.
func (p *polledReader) Read(b []byte) (int, error) {
	if p.armed {
		p.armed = false
		s := p.c.srv
		r, n := pollRead(p.c.rc, s.BusyPoll, func() bool { return s.busy.Load() > 0 }, b)
		p.c.book(r)
		if n > 0 {
			return n, nil
		}
	}
	return p.r.Read(b)
}
