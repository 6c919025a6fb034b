package gateway

import (
	"errors"
	"time"
)

// errHandshakeTimeout ends a session whose TLS handshake took too long.
var errHandshakeTimeout = errors.New("gateway: TLS handshake timeout")

// Defaults of the pre-login limits (docs/defence.md).
const (
	// DefaultLoginTimeout is LoginTimeout's default.
	DefaultLoginTimeout = 60 * time.Second
	// DefaultTLSHandshakeTimeout is TLSHandshakeTimeout's default.
	DefaultTLSHandshakeTimeout = 30 * time.Second
	// DefaultMaxLoginCommands is MaxLoginCommands' default: a client
	// needs about eight (CAPA, STLS, CAPA, AUTH, USER, PASS ...).
	DefaultMaxLoginCommands = 30
)

// More session end reasons.
const (
	endLoginTimeout = "login timeout"
	endTooManyCmds  = "too many commands before login"
	endTooManyAddr  = "too many sessions from address"
	endKicked       = "kicked"
	endTLSTimeout   = "TLS handshake timeout"
)

// loginTimeout returns LoginTimeout or its default; zero means none.
func (s *Server) loginTimeout() time.Duration {
	switch {
	case s.LoginTimeout > 0:
		return s.LoginTimeout
	case s.LoginTimeout < 0:
		return 0
	}
	return DefaultLoginTimeout
}

// tlsHandshakeTimeout returns TLSHandshakeTimeout or its default.
func (s *Server) tlsHandshakeTimeout() time.Duration {
	if s.TLSHandshakeTimeout > 0 {
		return s.TLSHandshakeTimeout
	}
	return DefaultTLSHandshakeTimeout
}

// maxLoginCommands returns MaxLoginCommands or its default.
func (s *Server) maxLoginCommands() int {
	if s.MaxLoginCommands > 0 {
		return s.MaxLoginCommands
	}
	return DefaultMaxLoginCommands
}

// admit counts a new connection against MaxSessions and MaxPerAddress
// (s.mu held) and notes on c which limit it is over.
func (s *Server) admit(c *conn) {
	c.tooMany = s.MaxSessions > 0 && len(s.conns) >= s.MaxSessions
	if s.perAddr == nil {
		s.perAddr = make(map[string]int)
	}
	c.key = addrKey(c.ip)
	if s.MaxPerAddress > 0 && s.perAddr[c.key] >= s.MaxPerAddress && !c.tooMany {
		c.tooManyAddr = true
	}
	s.perAddr[c.key]++
}

// release uncounts a finished connection (s.mu held).
func (s *Server) release(c *conn) {
	if s.perAddr[c.key]--; s.perAddr[c.key] <= 0 {
		delete(s.perAddr, c.key)
	}
}

// refuse answers a connection over a limit at once and reports the end
// reason, or "" when it is within the limits. On the implicit-TLS port
// the socket is closed without a handshake (a plaintext reply would mean
// nothing to a TLS client, and the handshake is what the limit saves).
func (c *conn) refuse() string {
	var end, text string
	switch {
	case c.tooMany:
		end, text = endTooManySessn, "too many sessions, try later"
	case c.tooManyAddr:
		end, text = endTooManyAddr, "too many sessions from your address, try later"
	default:
		return ""
	}
	c.log.Warn(end)
	if !c.implicitTLS {
		c.writeLine("-ERR [" + string(CodeSysTemp) + "] " + text)
		c.bw.Flush()
	}
	return end
}

// budget counts a command before login; it returns an *Error that ends
// the session when the budget is spent (CAPA or NOOP loops cannot hold a
// session slot).
func (c *conn) budget() error {
	if c.state != stateAuthorization {
		return nil
	}
	if c.preCmds++; c.preCmds > c.srv.maxLoginCommands() {
		c.log.Warn("too many commands before login, closing connection")
		return &Error{Text: "too many commands before login, closing connection", end: endTooManyCmds}
	}
	return nil
}

// readDeadline returns the deadline of the next read: the idle timeout,
// and before login no later than the login deadline.
func (c *conn) readDeadline() time.Time {
	var t time.Time
	if d := c.srv.IdleTimeout; d > 0 {
		t = time.Now().Add(d)
	}
	if c.state == stateAuthorization {
		if d := c.srv.loginTimeout(); d > 0 {
			if ld := c.start.Add(d); t.IsZero() || ld.Before(t) {
				t = ld
			}
		}
	}
	return t
}

// loginTimedOut reports whether the session is past its login deadline.
func (c *conn) loginTimedOut() bool {
	d := c.srv.loginTimeout()
	return c.state == stateAuthorization && d > 0 && !time.Now().Before(c.start.Add(d))
}
