package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// ErrServerClosed is returned by Serve, ListenAndServe, Shutdown and Close
// once the server has been shut down or closed.
var ErrServerClosed = errors.New("gateway: server closed")

// errNoTLSConfig is returned by ServeTLS without a TLSConfig.
var errNoTLSConfig = errors.New("gateway: ServeTLS needs a TLSConfig")

// Defaults.
const (
	// DefaultVersion is the version shown in the greeting and in CAPA.
	DefaultVersion = "vmspop V0.1"
	// DefaultMaxErrors is the number of failed commands in a row after
	// which a connection is closed.
	DefaultMaxErrors = 10
	// defaultSecureFailureDelay is FailureDelay's default in SECURE mode.
	defaultSecureFailureDelay = time.Second
	// readBufferSize and writeBufferSize size a session's buffers.
	readBufferSize  = 1024
	writeBufferSize = 4096
	// copyBufferSize is the size of the pooled RETR/TOP copy buffers.
	copyBufferSize = 16 * 1024
)

// defaultBlockedRetry is the back-off for a blocked client (manual
// §15.1.3): wait 2 s, retry, 4 s, ... 32 s, then close the connection.
var defaultBlockedRetry = [...]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}

// Server is a POP3 server. The zero value is usable once Backend and Auth
// are set; fields must not be changed after Serve has been called.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; "" means ":110".
	Addr string
	// Hostname is shown in the greeting and in APOP timestamps and
	// CRAM-MD5 challenges; "" means os.Hostname().
	Hostname string
	// Version is shown in the greeting and CAPA IMPLEMENTATION; ""
	// means DefaultVersion.
	Version string
	// TLSConfig enables STLS and ServeTLS; nil means no TLS. It is used
	// as is (certificates may be reloaded through GetCertificate).
	TLSConfig *tls.Config
	// Backend opens maildrops. Required.
	Backend Backend
	// Auth checks credentials. Required.
	Auth Authenticator
	// Classify maps an error of Auth to its cause (the uaf sentinels);
	// nil treats every error as FailBadPassword.
	Classify func(error) AuthFailure
	// Logger receives the log; nil discards it.
	Logger *logrus.Logger
	// IdleTimeout closes a connection that sends no command for this long
	// (TCPIP$POP_LINK_IDLE_TIMEOUT), without UPDATE and without a reply;
	// zero means no timeout.
	IdleTimeout time.Duration
	// BlockedRetry is the back-off schedule while a write is blocked: each
	// step waits that long for progress, and after the last the connection
	// is closed. nil means 2, 4, 8, 16 and 32 seconds (manual §15.1.3);
	// an empty non-nil slice means writes never time out.
	BlockedRetry []time.Duration
	// Security selects FRIENDLY or SECURE authorization answers
	// (TCPIP$POP_SECURITY); the zero value is FRIENDLY.
	Security Security
	// DisUserPass refuses USER and PASS (TCPIP$POP_DISUSERPASS).
	DisUserPass bool
	// AuthMethods lists the allowed login methods (USER, APOP, PLAIN,
	// CRAM-MD5); nil means all.
	AuthMethods []string
	// AuthTLSOnly lists the login methods refused until TLS is active;
	// nil means USER, PLAIN and LOGIN when TLSConfig is set (passwords never in
	// clear where TLS is on offer), else none; an empty slice means none.
	AuthTLSOnly []string
	// Trace logs every command and response line at Info level
	// (TCPIP$POP_TRACE); when false they are logged at Debug level.
	Trace bool
	// MessageMaximum is the number of messages a session sees
	// (TCPIP$POP_MESSAGE_MAXIMUM); zero means no limit.
	MessageMaximum int
	// MaxSessions is the number of sessions served at once; zero means no
	// limit. A client over the limit is refused with [SYS/TEMP].
	MaxSessions int
	// MaxErrors is the number of failed commands in a row after which the
	// connection is closed; zero means DefaultMaxErrors.
	MaxErrors int
	// SndBuf sets SO_SNDBUF, in octets, on accepted TCP connections
	// (TCPIP$POP_SNDBUF); zero leaves the system default.
	SndBuf int
	// Expire is advertised as CAPA EXPIRE; "" means not advertised. "0"
	// also deletes every retrieved message at QUIT; other values are
	// advisory.
	Expire string
	// LoginDelay is advertised as CAPA LOGIN-DELAY (in whole seconds) and
	// enforced per user across connections; zero means none.
	LoginDelay time.Duration
	// FailureDelay is the least time between an authorization command and
	// its failure reply. Zero means 1 s in SECURE mode and none in
	// FRIENDLY mode; a negative value means none.
	FailureDelay time.Duration
	// BusyPoll is how long a session in a fetch (after RETR, TOP or DELE)
	// watches its socket for the next command before it sleeps in the
	// network poller (TCPIP$POP_BUSY_POLL); zero means never. See
	// busypoll.go for the bounds.
	BusyPoll time.Duration
	// Extensions turns on login names with folders and domains, alerts,
	// XTND XMIT and more (extensions.go); nil means none of them.
	Extensions *Extensions
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Guard penalises addresses and accounts that fail to log in
	// (TCPIP$POP_AUTH_PENALTY); nil means no penalty.
	Guard Guard
	// MaxAuthChecks bounds the credential checks run at once; waiting
	// ones are served round-robin by client address. Zero means the
	// number of CPUs.
	MaxAuthChecks int

	// MaxPerAddress is the number of sessions served at once for one
	// client address (an IPv6 address by its /64); zero means no limit.
	MaxPerAddress int
	// LoginTimeout closes a connection that has not logged in this long
	// after it connected; zero means DefaultLoginTimeout, negative none.
	LoginTimeout time.Duration
	// TLSHandshakeTimeout bounds a TLS handshake (implicit or STLS); zero
	// means DefaultTLSHandshakeTimeout.
	TLSHandshakeTimeout time.Duration
	// MaxLoginCommands is the number of commands a client may send
	// before it logs in; zero means DefaultMaxLoginCommands.
	MaxLoginCommands int

	// Observer receives the server's events, for metrics; nil means none.
	Observer Observer

	checkOnce sync.Once
	checkQ    *checkQueue
	perAddr   map[string]int // open connections by addrKey

	mu          sync.Mutex
	closed      bool
	listeners   map[*net.Listener]struct{}
	conns       map[*conn]struct{}
	lastLogin   map[string]time.Time
	discard     *logrus.Logger
	hostname    string
	wg          sync.WaitGroup
	seq         atomic.Uint64
	bufPool     sync.Pool
	writerPool  sync.Pool        // *bufio.Writer of sendBufferSize
	smallPool   sync.Pool        // *bufio.Writer of writeBufferSize (idlewriter.go)
	readerPool  sync.Pool        // *bufio.Reader of readBufferSize (idlereader.go)
	batchPool   sync.Pool        // *[]byte gather buffers of TLS writes (tlswrite.go)
	busy        atomic.Int32     // sessions with a command in hand
	fetching    atomic.Int32     // sessions whose last command was RETR, TOP or DELE
	polls       [3]atomic.Uint64 // polls by pollResult
	maxFetching int32            // set by tests; 0 means maxFetching()
}

// ListenAndServe listens on Addr and serves POP3 on it.
func (s *Server) ListenAndServe() error {
	if s.isClosed() {
		return ErrServerClosed
	}
	addr := s.Addr
	if addr == "" {
		addr = ":110"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l and serves each in a goroutine. It
// always returns a non-nil error; after Shutdown or Close it returns
// ErrServerClosed. Serve closes l.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS is Serve with implicit TLS (RFC 8314): every connection starts
// with a TLS handshake using TLSConfig.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.TLSConfig == nil {
		l.Close()
		return errNoTLSConfig
	}
	return s.serve(l, true)
}

// serve is the accept loop. TLS is layered per connection over the
// blocked-write wrapper, so that the back-off also covers TLS records.
func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	if !s.trackListener(&l, true) {
		if l != nil {
			l.Close()
		}
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	defer l.Close()
	log := s.logger()
	var delay time.Duration
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				log.WithError(err).Warnf("accept error, retrying in %v", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if s.SndBuf > 0 {
			if tc, ok := rw.(*net.TCPConn); ok {
				if err := tc.SetWriteBuffer(s.SndBuf); err != nil {
					log.WithError(err).Warn("cannot set SO_SNDBUF")
				}
			}
		}
		c := s.newConn(rw, implicitTLS)
		if c == nil {
			rw.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

// newConn registers a new connection; nil means the server is closed.
func (s *Server) newConn(rw net.Conn, implicitTLS bool) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	c := newConn(s, rw, implicitTLS)
	s.admit(c)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c
}

// removeConn forgets a finished connection.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.release(c)
	s.mu.Unlock()
	s.wg.Done()
}

// trackListener adds or removes l; adding fails once the server is closed.
func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.closed {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

// isClosed reports whether Shutdown or Close has been called.
func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closeListeners marks the server closed and closes its listeners. It
// reports false if the server was closed already.
func (s *Server) closeListeners() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	for l := range s.listeners {
		(*l).Close()
	}
	return true
}

// dropConns closes every open connection without UPDATE.
func (s *Server) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.drop()
	}
}

// Shutdown stops accepting connections and waits for open sessions to
// end. When ctx is done first, it closes the remaining connections without
// UPDATE (logged as "server shutdown"), waits for them to finish and
// returns ctx.Err(). A second call returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.closeListeners() {
		return ErrServerClosed
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.dropConns()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once, without
// UPDATE. It returns ErrServerClosed if the server was already closed.
func (s *Server) Close() error {
	first := s.closeListeners()
	s.dropConns()
	if !first {
		return ErrServerClosed
	}
	return nil
}

// logger returns Logger or a logger that discards everything.
func (s *Server) logger() *logrus.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.discard == nil {
		s.discard = logrus.New()
		s.discard.SetOutput(io.Discard)
		s.discard.SetLevel(logrus.PanicLevel)
	}
	return s.discard
}

// host returns Hostname or the system's host name.
func (s *Server) host() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		s.hostname = h
	}
	return s.hostname
}

// version returns Version or DefaultVersion.
func (s *Server) version() string {
	if s.Version != "" {
		return s.Version
	}
	return DefaultVersion
}

// now returns the current time.
func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// maxErrors returns MaxErrors or its default.
func (s *Server) maxErrors() int {
	if s.MaxErrors > 0 {
		return s.MaxErrors
	}
	return DefaultMaxErrors
}

// blockedRetry returns BlockedRetry or its default.
func (s *Server) blockedRetry() []time.Duration {
	if s.BlockedRetry != nil {
		return s.BlockedRetry
	}
	return defaultBlockedRetry[:]
}

// failureDelay returns the delay before an authorization failure reply.
func (s *Server) failureDelay() time.Duration {
	switch {
	case s.FailureDelay > 0:
		return s.FailureDelay
	case s.FailureDelay < 0:
		return 0
	case s.Security == Secure:
		return defaultSecureFailureDelay
	default:
		return 0
	}
}

// checkLoginDelay reports whether user may log in at now under
// LoginDelay, and if so records the login.
func (s *Server) checkLoginDelay(user string, now time.Time) bool {
	if s.LoginDelay <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.lastLogin[user]; ok && now.Sub(last) < s.LoginDelay {
		return false
	}
	if s.lastLogin == nil {
		s.lastLogin = make(map[string]time.Time)
	}
	if len(s.lastLogin) >= 4096 {
		for u, t := range s.lastLogin {
			if now.Sub(t) >= s.LoginDelay {
				delete(s.lastLogin, u)
			}
		}
	}
	s.lastLogin[user] = now
	return true
}

// sendBufferSize sizes the writers messages are sent through.
const sendBufferSize = 128 << 10

// getWriter returns a large buffered writer onto w from the server's pool.
func (s *Server) getWriter(w io.Writer) *bufio.Writer {
	if bw, ok := s.writerPool.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, sendBufferSize)
}

// putWriter returns a writer to the pool, dropping anything unsent.
func (s *Server) putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	s.writerPool.Put(bw)
}

// getBuffer returns a copy buffer from the server's pool.
func (s *Server) getBuffer() *[]byte {
	if b, ok := s.bufPool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, copyBufferSize)
	return &b
}

// putBuffer returns b to the pool.
func (s *Server) putBuffer(b *[]byte) { s.bufPool.Put(b) }

// newSessionID returns 12 random lower-hex characters.
func newSessionID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "000000000000"
	}
	return hex.EncodeToString(b[:])
}

// errBlocked reports a client that accepted no data for the whole
// BlockedRetry schedule.
var errBlocked = errors.New("gateway: client blocked")

// blockConn is a net.Conn whose Write follows the blocked-client back-off
// (manual §15.1.3) with write deadlines: each step waits for progress,
// a partial write restarts the schedule, and after the last step Write
// fails with errBlocked.
type blockConn struct {
	net.Conn
	sched []time.Duration
}

// Write writes all of p or fails.
func (b *blockConn) Write(p []byte) (int, error) {
	if len(b.sched) == 0 {
		if err := b.Conn.SetWriteDeadline(time.Time{}); err != nil {
			return 0, err
		}
		return b.Conn.Write(p)
	}
	written, step := 0, 0
	for len(p) > 0 {
		if err := b.Conn.SetWriteDeadline(time.Now().Add(b.sched[step])); err != nil {
			return written, err
		}
		n, err := b.Conn.Write(p)
		written += n
		p = p[n:]
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return written, err
		}
		if n > 0 {
			step = 0
			continue
		}
		if step++; step >= len(b.sched) {
			return written, errBlocked
		}
	}
	return written, nil
}
