package gateway

import (
	"strings"
	"sync/atomic"
	"time"
)

// Observer receives a server's events, for metrics (package metrics
// implements it). Its methods are called from session goroutines: they
// must be quick and safe for concurrent use.
type Observer interface {
	// SessionStart is called when a connection is accepted.
	SessionStart()
	// SessionEnd is called when it ends, with the end reason of the log's
	// "session end" line ("QUIT", "idle timeout", ...).
	SessionEnd(reason string)
	// Login is called once per login attempt with its method (USER,
	// APOP, PLAIN, CRAM-MD5) and outcome: LoginOK, LoginFailed (bad
	// credentials) or LoginRefused (good credentials, but the maildrop is
	// in use, the login delay not over, or the spool failed).
	Login(method, outcome string)
	// Sent is called after each RETR or TOP with the message octets sent.
	Sent(verb string, octets int64)
	// Committed is called after UPDATE with the messages deleted.
	Committed(deleted int)
}

// TLSObserver is an Observer that also counts TLS handshakes (implicit
// TLS and STLS), found with a type assertion.
type TLSObserver interface {
	Observer
	// TLSHandshake is called after each TLS handshake with its outcome:
	// TLSResumed (a session resumed from a ticket), TLSFull or TLSFailed.
	TLSHandshake(outcome string)
}

// TLS handshake outcomes, as passed to TLSObserver.TLSHandshake.
const (
	TLSResumed = "resumed"
	TLSFull    = "full"
	TLSFailed  = "failed"
)

// Login outcomes, as passed to Observer.Login.
const (
	LoginOK      = "ok"
	LoginFailed  = "failed"
	LoginRefused = "refused"
)

// SessionInfo describes a live session (vmspop who, the status page).
type SessionInfo struct {
	ID     string    // the session id of the log
	User   string    // canonical user name; "" before login
	Remote string    // the client's address and port
	State  string    // AUTHORIZATION, TRANSACTION or UPDATE
	Start  time.Time // when the connection was accepted
	Octets int64     // message octets sent so far
	TLS    bool      // TLS is active
}

// live is what other goroutines may read of a session.
type live struct {
	user   atomic.Pointer[string]
	state  atomic.Int32
	octets atomic.Int64
	tls    atomic.Bool
}

var stateNames = [...]string{stateAuthorization: "AUTHORIZATION", stateTransaction: "TRANSACTION", stateUpdate: "UPDATE"}

// publish copies the session's state where Sessions can read it.
func (c *conn) publish() {
	if c.user != "" {
		if p := c.live.user.Load(); p == nil || *p != c.user {
			u := c.user
			c.live.user.Store(&u)
		}
	}
	c.live.state.Store(int32(c.state))
	c.live.octets.Store(c.octets)
	c.live.tls.Store(c.tls)
}

// info returns the session's SessionInfo.
func (c *conn) info() SessionInfo {
	si := SessionInfo{ID: c.id, Remote: c.raw.RemoteAddr().String(), Start: c.accepted,
		State: stateNames[c.live.state.Load()], Octets: c.live.octets.Load(), TLS: c.live.tls.Load()}
	if p := c.live.user.Load(); p != nil {
		si.User = *p
	}
	return si
}

// Sessions returns the live sessions, oldest first.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	out := make([]SessionInfo, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c.info())
	}
	s.mu.Unlock()
	sortSessions(out)
	return out
}

// sortSessions sorts by start time, then id.
func sortSessions(ss []SessionInfo) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && (ss[j].Start.Before(ss[j-1].Start) || ss[j].Start.Equal(ss[j-1].Start) && ss[j].ID < ss[j-1].ID); j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

// Kick closes every session of user (any case) without UPDATE, as a
// shutdown would (nothing is deleted), and returns how many it closed.
// Their end reason is "kicked".
func (s *Server) Kick(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if p := c.live.user.Load(); p != nil && strings.EqualFold(*p, user) {
			c.kicked.Store(true)
			c.drop()
			n++
		}
	}
	return n
}

// Listening reports whether the server is open and has a listener
// accepting connections (for a health check).
func (s *Server) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && len(s.listeners) > 0
}

// observe calls fn with the server's Observer, if any.
func (s *Server) observe(fn func(Observer)) {
	if s.Observer != nil {
		fn(s.Observer)
	}
}
