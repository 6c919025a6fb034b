package main

// Running serve as a service (docs/service.md): listeners opened or
// inherited (systemd socket activation), root dropped, readiness told to
// systemd, SIGHUP reloads the configuration without closing a session, and
// inetd mode serves the one connection on standard input.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/penalty"
	"github.com/vmspop/vmspop/sd"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/ticketkeys"
)

// serveFlags are serve's flags besides --startup.
func serveFlags(grace *time.Duration, inetd *bool, cpuprofile *string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(cpuprofile, "cpuprofile", "", "write a CPU profile (go tool pprof) of the whole run to this file; for measuring, not for production")
		fs.DurationVar(grace, "grace", shutdownGrace, "how long open sessions may go on after SIGTERM/SIGINT before they are closed without UPDATE")
		fs.BoolVar(inetd, "inetd", false, "serve the one connection on standard input and output (inetd, xinetd, systemd Accept=yes); implied when standard input is a connected socket")
	}
}

// service is a running serve.
type service struct {
	cfg    *logicals.Config
	log    *logrus.Logger
	grace  time.Duration
	inetd  bool
	reload func() (*logicals.Config, []logicals.Warning, error) // reads the configuration again

	notify  *sd.Notifier
	sp      *spool.Spool
	lns     []*handoff
	srv     *gateway.Server                // serves new connections
	cur     atomic.Pointer[gateway.Server] // srv, for the status page and admin socket
	pt      *penalty.Table                 // login penalties, kept across reloads
	tickets *ticketkeys.Keys               // TLS ticket keys without TLS_TICKET_KEYS, kept across reloads
	attach  func(*gateway.Server)          // wires a server to the metrics
	dlv     deliveryCount                  // LMTP's and vmspop deliver's deliveries, for the metrics
	old     []*gateway.Server              // earlier configurations, finishing their sessions
	gen     *generation                    // srv's listeners
	errc    chan error
}

// generation is one server's listeners and the goroutines serving them.
type generation struct {
	lns []net.Listener
	wg  sync.WaitGroup
}

// restartOnly are the names a reload cannot change: they take effect at
// the next start.
var restartOnly = []string{"LISTEN", "TLS_LISTEN", "USER", "GROUP", "LOG", "LOG_FORMAT",
	"AUTH_PENALTY", "METRICS_LISTEN", "ADMIN_SOCKET", "LMTP_LISTEN", "LMTP_MAXIMUM_SIZE", "PROXY_TRUSTED"}

// runService serves until ctx is done.
func runService(ctx context.Context, s *service) error {
	s.notify = sd.NewNotifier(os.LookupEnv)
	s.sp = spool.New(s.cfg.Spool)
	s.pt = newPenaltyTable(s.cfg)
	s.tickets = ticketkeys.New()
	srv, err := newServer(s.cfg, s.log, s.sp, s.pt, s.tickets)
	if err != nil {
		return err
	}
	if c, ok := stdinConn(); s.inetd || ok {
		if !ok {
			return errors.New("--inetd: standard input is not a connected socket")
		}
		return s.serveInetd(c, srv)
	}
	lns, isTLS, inherited, err := openListeners(s.cfg, s.log)
	if err != nil {
		return err
	}
	for i, l := range lns {
		lns[i] = withProxy(l, s.cfg.ProxyTrusted, proxyHeaderTimeout, s.log)
		if !isTLS[i] {
			warnPlaintext(s.log, s.cfg, l.Addr())
		}
	}
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	stopLMTP, err := startLMTP(s.cfg, srv.Hostname, s.log, &s.dlv)
	if err != nil {
		closeAll()
		return err
	}
	defer func() { stopLMTP(s.grace) }()
	if err := dropPrivileges(s.cfg, s.log); err != nil {
		closeAll()
		return err
	}
	attach, stopObserving, m, err := observe(s.cfg, s.log, s.cur.Load, s.pt, &s.dlv)
	if err != nil {
		closeAll()
		return err
	}
	defer stopObserving()
	defer startRPOP(ctx, s.cfg, s.log, lns, m)() // TCPIP$POP_RPOP_PROCESSES > 0: the remote POP poller
	s.attach = attach
	for i, l := range lns {
		if isTLS[i] && srv.TLSConfig == nil {
			closeAll()
			return fmt.Errorf("the socket %s is for implicit TLS (POP3S), but TCPIP$POP_CERT and TCPIP$POP_KEY are not set", l.Addr())
		}
		h := newHandoff(l, isTLS[i])
		h.inherited = inherited
		s.lns = append(s.lns, h)
	}
	// Caught before READY: systemd may send SIGHUP as soon as it is told.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s.errc = make(chan error, 1)
	s.start(srv)
	for _, h := range s.lns {
		s.log.WithFields(logrus.Fields{"addr": h.ln.Addr().String(), "tls": h.tls}).Info("listening")
	}
	if err := s.notify.Notify(sd.Ready, "STATUS=serving"); err != nil {
		s.log.WithError(err).Warn("cannot tell systemd the server is ready")
	}
	for {
		select {
		case <-ctx.Done():
			s.notify.Notify(sd.Stopping)
			s.log.Info("shutting down: no new connections; open sessions may finish")
			s.stop()
			s.log.Info("server stopped")
			return nil
		case <-hup:
			s.reloadConfig()
		case err := <-s.errc:
			s.notify.Notify(sd.Stopping)
			for _, srv := range append(s.old, s.srv) {
				srv.Close()
			}
			for _, h := range s.lns {
				h.close()
			}
			return err
		}
	}
}

// start makes srv the server of new connections on every listener.
func (s *service) start(srv *gateway.Server) {
	if s.attach != nil {
		s.attach(srv)
	}
	s.srv = srv
	s.cur.Store(srv)
	gen := &generation{}
	s.gen = gen
	for _, h := range s.lns {
		l := h.listener()
		gen.lns = append(gen.lns, l)
		serveFn := srv.Serve
		if h.tls {
			serveFn = srv.ServeTLS
		}
		gen.wg.Add(1)
		go func() {
			defer gen.wg.Done()
			defer recoverTo(s.errc)
			if err := serveFn(l); err != nil && !errors.Is(err, gateway.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				select {
				case s.errc <- err:
				default:
				}
			}
		}()
	}
}

// stop shuts every server down, giving open sessions the grace period.
func (s *service) stop() {
	for _, h := range s.lns {
		h.stopAccepting()
	}
	// A connection handed over just before must be registered by the
	// server before Shutdown, or the server would close it unserved.
	for _, h := range s.lns {
		h.waitRegistered(5 * time.Second)
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range append(s.old, s.srv) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, gateway.ErrServerClosed) {
				s.log.WithError(err).Warn("grace period over: remaining sessions closed without UPDATE")
				srv.Close()
			}
		}()
	}
	wg.Wait()
	for _, h := range s.lns {
		h.close()
	}
}

// reloadConfig is SIGHUP: the startup file, the accounts file, the node
// table and the certificate are read again and a new server takes the new
// connections; open sessions finish on the old one. A configuration that
// does not load, or a server that cannot be built from it, is refused and
// the current one kept.
func (s *service) reloadConfig() {
	s.notify.Notify(sd.ReloadingNow()...)
	defer s.notify.Notify(sd.Ready, "STATUS=serving")
	refuse := func(err error) {
		for _, line := range strings.Split(err.Error(), "\n") {
			s.log.WithField("error", strings.TrimPrefix(line, "vmspop: ")).Error("reload refused: keeping the current configuration")
		}
	}
	cfg, warns, err := s.reload()
	if err != nil {
		refuse(err)
		return
	}
	for _, w := range warns {
		s.log.Warn(w.String())
	}
	old := showMap(s.cfg)
	now := showMap(cfg)
	for _, name := range restartOnly {
		full := "TCPIP$POP_" + name
		if old[full] != now[full] {
			s.log.WithFields(logrus.Fields{"name": full, "value": now[full]}).Warn("changed setting ignored until the next restart")
		}
	}
	cfg.Listen, cfg.TLSListen, cfg.User, cfg.Group, cfg.Log, cfg.LogFormat = s.cfg.Listen, s.cfg.TLSListen, s.cfg.User, s.cfg.Group, s.cfg.Log, s.cfg.LogFormat
	sp := s.sp
	if cfg.Spool != s.cfg.Spool {
		// The new spool must pass what the first one passed at start.
		a, err := resolveSpoolAccount(cfg)
		if err == nil {
			err = checkSpoolRoot(cfg.Spool, a)
		}
		if euid := os.Geteuid(); err == nil && euid != 0 && euid != a.UID {
			err = fmt.Errorf("TCPIP$POP_SPOOL %s belongs to %s, not to uid %d that vmspop runs as", cfg.Spool, a, euid)
		}
		if err != nil {
			refuse(err)
			return
		}
		sp = spool.New(cfg.Spool)
	}
	srv, err := newServer(cfg, s.log, sp, s.pt, s.tickets)
	if err != nil {
		refuse(err)
		return
	}
	for _, h := range s.lns {
		if h.tls && srv.TLSConfig == nil {
			refuse(errors.New("TCPIP$POP_CERT is no longer set, but a POP3S socket is open"))
			return
		}
	}
	lvl, err := logrusLevel(cfg.LogLevel, cfg.Trace)
	if err != nil {
		refuse(err)
		return
	}
	changed := 0
	now = showMap(cfg)
	for name, v := range now {
		if old[name] != v {
			s.log.WithFields(logrus.Fields{"name": name, "old": old[name], "new": v}).Info("setting changed")
			changed++
		}
	}
	if oc, nc := certFingerprint(s.srv), certFingerprint(srv); oc != nc {
		s.log.WithFields(logrus.Fields{"old": oc, "new": nc}).Info("TLS certificate changed")
		changed++
	}
	s.log.SetLevel(lvl)
	prev, prevGen := s.srv, s.gen
	s.old = append(s.old, prev)
	s.start(srv)
	s.cfg, s.sp = cfg, sp
	// The old server stops accepting first, so that no connection it has
	// just accepted is dropped by its Shutdown; then its sessions end as
	// they would have.
	for _, l := range prevGen.lns {
		l.Close()
	}
	go func() {
		prevGen.wg.Wait()
		prev.Shutdown(context.Background())
	}()
	s.log.WithField("changed", changed).Info("configuration reloaded (accounts file and node table read again); open sessions go on")
}

// showMap returns each name's effective value as `vmspop logicals` shows it.
func showMap(cfg *logicals.Config) map[string]string {
	var b bytes.Buffer
	cfg.Show(&b)
	m := map[string]string{}
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(l, " = ")
		if !ok {
			continue
		}
		if i := strings.LastIndex(rest, " ("); i > 0 {
			rest = rest[:i] // the source: a reload changes it without changing the value
		}
		m[strings.Trim(name, `"`)] = rest
	}
	return m
}

// certFingerprint names the certificate srv serves ("" for none).
func certFingerprint(srv *gateway.Server) string {
	if srv == nil || srv.TLSConfig == nil || srv.TLSConfig.GetCertificate == nil {
		return ""
	}
	c, err := srv.TLSConfig.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil || len(c.Certificate) == 0 {
		return ""
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256(c.Certificate[0]))[:23]
}

// openListeners returns the listening sockets systemd passed, or opens
// TCPIP$POP_LISTEN and TCPIP$POP_TLS_LISTEN. A passed socket serves
// implicit TLS when it is named "pop3s" (FileDescriptorName=), or when
// it is not named "pop3" and its port is TCPIP$POP_TLS_LISTEN's (995 by
// default).
func openListeners(cfg *logicals.Config, log *logrus.Logger) (lns []net.Listener, isTLS []bool, inherited bool, err error) {
	passed, err := sd.Listeners(os.LookupEnv, os.Getpid())
	if err != nil {
		return nil, nil, false, err
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k) // not for a child
	}
	if len(passed) > 0 {
		tlsPort := "995"
		if cfg.TLSListen != "" {
			_, tlsPort, _ = net.SplitHostPort(cfg.TLSListen)
		}
		for _, l := range passed {
			_, port, _ := net.SplitHostPort(l.Addr().String())
			t := l.Name == "pop3s" || (l.Name != "pop3" && port == tlsPort)
			lns = append(lns, l.Listener)
			isTLS = append(isTLS, t)
		}
		log.WithField("sockets", len(lns)).Info("socket activation: serving the sockets systemd passed")
		return lns, isTLS, true, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, nil, false, err
	}
	lns, isTLS = []net.Listener{ln}, []bool{false}
	if cfg.TLSListen != "" {
		tln, err := net.Listen("tcp", cfg.TLSListen)
		if err != nil {
			ln.Close()
			return nil, nil, false, err
		}
		lns, isTLS = append(lns, tln), append(isTLS, true)
	}
	return lns, isTLS, false, nil
}

// handoff accepts on one socket for whichever server is current, so that a
// reload changes the server without closing the socket: a connection
// waiting in the backlog is served by the new server.
type handoff struct {
	ln  net.Listener
	tls bool
	// inherited: systemd holds the socket too, so connections left in its
	// backlog at shutdown go to the next server; a socket of our own is
	// closed at once, so that new clients are refused, not left waiting.
	inherited bool
	ch        chan acceptResult
	// unregistered counts connections (and errors) sent to a server that
	// it has not yet registered; Shutdown must not start before they are.
	unregistered atomic.Int64
	stopping     atomic.Bool
	exited       chan struct{}
	once         sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

func newHandoff(ln net.Listener, tls bool) *handoff {
	h := &handoff{ln: ln, tls: tls, ch: make(chan acceptResult), exited: make(chan struct{})}
	go func() {
		defer close(h.exited)
		for {
			c, err := ln.Accept()
			if err != nil && h.stopping.Load() {
				return
			}
			// A connection accepted is always handed to a server: the
			// current one is accepting until the handoff has stopped.
			h.unregistered.Add(1)
			h.ch <- acceptResult{c, err}
			if errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	return h
}

// stopAccepting makes the socket accept no more connections. An inherited
// socket keeps those not yet accepted in its backlog for the next server
// (after a restart, systemd passes it the same socket); one of our own is
// closed. A connection already accepted has been handed to the current
// server when it returns.
func (h *handoff) stopAccepting() {
	h.stopping.Store(true)
	if d, ok := h.ln.(interface{ SetDeadline(time.Time) error }); ok {
		d.SetDeadline(time.Now())
	} else {
		h.ln.Close()
	}
	select {
	case <-h.exited:
	case <-time.After(5 * time.Second): // a connection no server takes
	}
	if !h.inherited {
		h.close()
	}
}

// waitRegistered waits, up to d, until every connection the handoff sent
// is registered by the server that took it. The handoff must have stopped
// accepting.
func (h *handoff) waitRegistered(d time.Duration) {
	for deadline := time.Now().Add(d); h.unregistered.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// listener returns a listener for a new server.
func (h *handoff) listener() net.Listener {
	return &genListener{h: h, done: make(chan struct{})}
}

// close closes the socket.
func (h *handoff) close() {
	h.once.Do(func() {
		h.stopping.Store(true)
		h.ln.Close()
	})
}

// genListener is one server's view of a handoff; closing it (the
// server's Shutdown does) leaves the socket open.
type genListener struct {
	h    *handoff
	done chan struct{}
	once sync.Once
	took bool // a connection was handed out; only the accept loop's goroutine touches it
}

func (g *genListener) Accept() (net.Conn, error) {
	// The server's accept loop calls Accept again only once it has
	// registered the connection it took last.
	if g.took {
		g.took = false
		g.h.unregistered.Add(-1)
	}
	select {
	case <-g.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case r := <-g.h.ch:
		g.took = r.c != nil
		if !g.took {
			g.h.unregistered.Add(-1)
		}
		return r.c, r.err
	case <-g.done:
		return nil, net.ErrClosed
	}
}

func (g *genListener) Close() error {
	g.once.Do(func() { close(g.done) })
	return nil
}

func (g *genListener) Addr() net.Addr { return g.h.ln.Addr() }

// stdinConn returns standard input as a connection when it is a connected
// socket (inetd, systemd Accept=yes).
func stdinConn() (net.Conn, bool) {
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil, false
	}
	if v, err := syscall.GetsockoptInt(0, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || v != 0 {
		return nil, false // a listening socket: not one connection
	}
	c, err := net.FileConn(os.Stdin)
	if err != nil {
		return nil, false
	}
	return c, true
}

// serveInetd serves the one connection c and returns when its session has
// ended (after UPDATE, if the client sent QUIT).
func (s *service) serveInetd(c net.Conn, srv *gateway.Server) error {
	if s.cfg.Log == "" && sameFile(0, 2) {
		s.log.SetOutput(discard{}) // standard error is the client's socket
	}
	if err := dropPrivileges(s.cfg, s.log); err != nil {
		c.Close()
		return err
	}
	l := &oneConnListener{done: make(chan struct{})}
	l.c = &closeNotifyConn{Conn: c, l: l}
	err := srv.Serve(l)
	if err != nil && !errors.Is(err, gateway.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// sameFile reports whether descriptors a and b are the same file.
func sameFile(a, b int) bool {
	var sa, sb syscall.Stat_t
	return syscall.Fstat(a, &sa) == nil && syscall.Fstat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// oneConnListener accepts its one connection, then reports itself closed
// once that connection is.
type oneConnListener struct {
	c    net.Conn
	used bool
	done chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.used {
		l.used = true
		return l.c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }

// closeNotifyConn closes its listener when the session closes it.
type closeNotifyConn struct {
	net.Conn
	l *oneConnListener
}

func (c *closeNotifyConn) Close() error {
	err := c.Conn.Close()
	c.l.Close()
	return err
}
