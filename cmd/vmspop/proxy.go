package main

// PROXY protocol (v1 and v2, github.com/pires/go-proxyproto) on the POP
// listeners, for vmspop behind HAProxy or another TCP balancer. The policy
// is explicit: a connection from a TCPIP$POP_PROXY_TRUSTED network must
// open with a PROXY header (REQUIRE), whose source address then stands for
// the client's in every log line, limit and penalty; any other connection
// is served as it is and may not send one (REJECT: a PROXY header from it
// ends the connection).

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/sirupsen/logrus"
)

// proxyHeaderTimeout bounds the wait for a trusted peer's PROXY header.
const proxyHeaderTimeout = 10 * time.Second

// proxyListener accepts through a proxyproto.Listener and reads a trusted
// peer's header in its own goroutine, so that a slow peer never holds up
// the accept loop.
type proxyListener struct {
	pl      *proxyproto.Listener
	trusted []netip.Prefix
	log     *logrus.Logger

	once  sync.Once
	conns chan net.Conn
	done  chan struct{}
	err   error
}

// withProxy wraps l for the PROXY protocol when trusted is not empty.
func withProxy(l net.Listener, trusted []netip.Prefix, timeout time.Duration, log *logrus.Logger) net.Listener {
	if len(trusted) == 0 {
		return l
	}
	p := &proxyListener{trusted: trusted, log: log, conns: make(chan net.Conn), done: make(chan struct{})}
	p.pl = &proxyproto.Listener{Listener: l, ConnPolicy: p.policy, ReadHeaderTimeout: timeout}
	return p
}

// isTrusted reports whether addr is in a trusted network.
func (p *proxyListener) isTrusted(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, n := range p.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// policy is the explicit PROXY policy: REQUIRE from trusted networks,
// REJECT from anywhere else.
func (p *proxyListener) policy(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
	if p.isTrusted(o.Upstream) {
		return proxyproto.REQUIRE, nil
	}
	return proxyproto.REJECT, nil
}

func (p *proxyListener) Accept() (net.Conn, error) {
	p.once.Do(func() { go p.loop() })
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, p.err
	}
}

func (p *proxyListener) loop() {
	for {
		c, err := p.pl.Accept()
		if err != nil {
			p.err = err
			close(p.done)
			return
		}
		pc, ok := c.(*proxyproto.Conn)
		if !ok {
			p.hand(c)
			continue
		}
		raw := pc.Raw()
		if !p.isTrusted(raw.RemoteAddr()) {
			// The header is looked for only when the client first sends:
			// POP3 is server-first, so the greeting must not wait for it.
			p.hand(untrustedConn{pc: pc, raw: raw})
			continue
		}
		go func() {
			if pc.ProxyHeader() == nil {
				p.log.WithField("remote", raw.RemoteAddr().String()).Warn("connection from a TCPIP$POP_PROXY_TRUSTED network without a valid PROXY header refused")
				pc.Close()
				return
			}
			p.hand(pc)
		}()
	}
}

// hand gives c to Accept, or closes it once the listener is closed.
func (p *proxyListener) hand(c net.Conn) {
	select {
	case p.conns <- c:
	case <-p.done:
		c.Close()
	}
}

func (p *proxyListener) Close() error   { return p.pl.Close() }
func (p *proxyListener) Addr() net.Addr { return p.pl.Addr() }

// untrustedConn is a connection from outside the trusted networks. Its
// addresses are the socket's, it writes to the socket directly (a
// proxyproto.Conn would wait for the client's first bytes before the
// greeting), and reading it fails if it starts with a PROXY header
// (proxyproto.ErrSuperfluousProxyHeader).
type untrustedConn struct {
	pc  *proxyproto.Conn
	raw net.Conn
}

func (u untrustedConn) Read(b []byte) (int, error)         { return u.pc.Read(b) }
func (u untrustedConn) Write(b []byte) (int, error)        { return u.raw.Write(b) }
func (u untrustedConn) Close() error                       { return u.pc.Close() }
func (u untrustedConn) RemoteAddr() net.Addr               { return u.raw.RemoteAddr() }
func (u untrustedConn) LocalAddr() net.Addr                { return u.raw.LocalAddr() }
func (u untrustedConn) SetDeadline(t time.Time) error      { return u.pc.SetDeadline(t) }
func (u untrustedConn) SetReadDeadline(t time.Time) error  { return u.pc.SetReadDeadline(t) }
func (u untrustedConn) SetWriteDeadline(t time.Time) error { return u.pc.SetWriteDeadline(t) }

// CloseWrite half-closes the socket, as the gateway does at the end of a
// session.
func (u untrustedConn) CloseWrite() error {
	if cw, ok := u.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
