package gateway

import (
	"bufio"
	"io"
)

// An idle TLS session (a client that keeps its connection open between
// polls) waits for its next command with an empty 1 KiB reader. Over TLS
// the wait reads one octet into the session itself instead, with the
// reader back in the server's pool; when the octet comes, a reader is taken
// again and serves it before the rest. crypto/tls has decrypted the whole
// record by then, so the rest costs no system call (in clear it would cost
// one more read(2) per command, which is why sessions in clear keep their
// reader).

// firstOctet is the source of a session's reader after an idle wait: the
// octet read by the wait, then the connection.
type firstOctet struct {
	b    [1]byte
	have bool
	r    io.Reader
}

// Read implements io.Reader.
func (f *firstOctet) Read(p []byte) (int, error) {
	if f.have && len(p) > 0 {
		p[0], f.have = f.b[0], false
		return 1, nil
	}
	return f.r.Read(p)
}

// readCommand reads the next command line.
func (c *conn) readCommand() ([]byte, error) {
	if c.tls && c.br.Buffered() == 0 {
		if err := c.awaitOctet(); err != nil {
			return nil, err
		}
	}
	return readLine(c.br, maxCommandLine)
}

// awaitOctet waits for the next octet of a TLS session without a reader
// and leaves the session with one that starts with that octet.
func (c *conn) awaitOctet() error {
	c.br.Reset(nil)
	c.srv.readerPool.Put(c.br)
	c.first.r = c.nc
	n, err := c.nc.Read(c.first.b[:])
	c.first.have = n == 1
	br, ok := c.srv.readerPool.Get().(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(nil, readBufferSize)
	}
	br.Reset(&c.first)
	c.br = br
	if n == 1 {
		return nil
	}
	return err
}
