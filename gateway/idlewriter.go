package gateway

import "bufio"

// A session spends most of its life waiting for the client's next
// command, with nothing in its output buffer. The 4 KiB writer goes back
// to the server's pool for that wait and is taken again when a command
// arrives, so an idle session (a client that keeps its connection open,
// thousands of them over TLS) holds no output buffer.

// parkWriter returns the session's small writer to the server's pool; it
// must be empty and in use (no large writer).
func (c *conn) parkWriter() {
	if c.small == nil || c.bw != c.small || c.small.Buffered() > 0 {
		return
	}
	c.dropWriter()
}

// dropWriter returns the small writer to the pool, dropping anything
// unsent (the session is over).
func (c *conn) dropWriter() {
	if c.small == nil {
		return
	}
	c.small.Reset(nil)
	c.srv.smallPool.Put(c.small)
	if c.bw == c.small {
		c.bw = nil
	}
	c.small = nil
}

// unparkWriter gives the session a small writer onto its sink again.
func (c *conn) unparkWriter() {
	if c.small != nil {
		return
	}
	w, ok := c.srv.smallPool.Get().(*bufio.Writer)
	if !ok {
		w = bufio.NewWriterSize(nil, writeBufferSize)
	}
	w.Reset(&c.sink)
	c.small, c.bw = w, w
}
