package poptest

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// NewClient is a Client over a connection the test made itself (from a
// chosen local address, over implicit TLS ...); it reads nothing. The
// connection is closed when the test ends.
func NewClient(t testing.TB, nc net.Conn) *Client {
	nc.SetDeadline(time.Now().Add(Timeout))
	t.Cleanup(func() { nc.Close() })
	return &Client{T: t, Conn: nc, R: bufio.NewReader(nc)}
}

// StartTLS runs the TLS handshake on the connection, after the server's
// +OK to STLS, and reads and writes through TLS from then on. Nothing may
// be buffered then: the server sends nothing before the handshake.
func (c *Client) StartTLS(cfg *tls.Config) {
	c.T.Helper()
	if n := c.R.Buffered(); n > 0 {
		c.T.Fatalf("%d octets received after the reply to STLS", n)
	}
	tc := tls.Client(c.Conn, cfg)
	tc.SetDeadline(time.Now().Add(Timeout))
	if err := tc.Handshake(); err != nil {
		c.T.Fatalf("TLS handshake: %v", err)
	}
	c.Conn, c.R = tc, bufio.NewReader(tc)
}
