package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/maildrop"
	"github.com/vmspop/vmspop/penalty"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/ticketkeys"
	"github.com/vmspop/vmspop/uaf"
)

// shutdownGrace is the default of serve --grace: how long open sessions
// may go on after SIGTERM/SIGINT before they are closed without UPDATE.
const shutdownGrace = 30 * time.Second

// loadConfig reads the logicals; on error it prints one line per problem.
func loadConfig(args []string, name string, env func(string) (string, bool), stderr io.Writer, flags ...func(*flag.FlagSet)) (*logicals.Config, []logicals.Warning, []string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, f := range flags {
		f(fs)
	}
	startup := fs.String("startup", "", "DCL startup file (TCPIP$POP_SYSTARTUP.COM) read before the environment")
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, false
	}
	environ := os.Environ()
	if env != nil {
		environ = environFrom(env, environ)
	}
	cfg, warns, err := logicals.LoadEnviron(environ, *startup)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "vmspop:", strings.TrimPrefix(line, "logicals: "))
		}
		return nil, nil, nil, false
	}
	return cfg, warns, fs.Args(), true
}

// environFrom lists the TCPIP$POP_/TCPIP_POP_ variables env gives for the
// names in environ (env may be a test's map).
func environFrom(env func(string) (string, bool), environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := env(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func runLogicals(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	cfg, warns, _, ok := loadConfig(args, "logicals", env, stderr)
	if !ok {
		return 2
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, "vmspop: warning:", w.String())
	}
	if err := cfg.Show(stdout); err != nil {
		fmt.Fprintln(stderr, "vmspop:", err)
		return 1
	}
	return 0
}

func runServe(args []string, env func(string) (string, bool), stdout, stderr io.Writer) (code int) {
	var cfg *logicals.Config
	var log *logrus.Logger
	defer recoverServe(&code, func() *logicals.Config { return cfg }, func() *logrus.Logger { return log }, env, stderr)
	grace, inetd, cpuprofile := shutdownGrace, false, ""
	var cfgErr strings.Builder
	cfg, warns, _, ok := loadConfig(args, "serve", env, io.MultiWriter(stderr, &cfgErr), serveFlags(&grace, &inetd, &cpuprofile))
	if !ok {
		notifyStartFailure(env, stderr, errors.New(strings.TrimSpace(cfgErr.String())))
		return 2
	}
	log, logFile, err := newLogger(cfg.LogLevel, cfg.LogFormat, cfg.Log, cfg.Trace)
	if err != nil {
		fmt.Fprintln(stderr, err)
		notifyPostmaster(cfg, stderrLogger(stderr), err)
		return 2
	}
	defer logFile.Close()
	for _, w := range warns {
		log.Warn(w.String())
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "vmspop: --cpuprofile:", err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	watchSIGHUP(ctx, logFile, log)

	err = runService(ctx, &service{cfg: cfg, log: log, grace: grace, inetd: inetd, reload: func() (*logicals.Config, []logicals.Warning, error) {
		var msg strings.Builder
		var g time.Duration
		var i bool
		c, w, _, ok := loadConfig(args, "serve", env, &msg, serveFlags(&g, &i, new(string)))
		if !ok {
			return nil, nil, errors.New(strings.TrimSpace(msg.String()))
		}
		return c, w, nil
	}})
	if err == nil {
		return 0
	}
	log.WithError(err).Error("server exited with an error")
	fmt.Fprintln(stderr, "vmspop:", err)
	notifyPostmaster(cfg, log, err)
	return 1
}

// newServer builds the server cfg describes, on the spool sp, with the
// penalty table pt (nil: a new one) and, unless TCPIP$POP_TLS_TICKET_KEYS
// names a file, the session ticket keys tickets (nil: crypto/tls's own);
// service.go listens and runs it.
func newServer(cfg *logicals.Config, log *logrus.Logger, sp *spool.Spool, pt *penalty.Table, tickets *ticketkeys.Keys) (*gateway.Server, error) {
	host := cfg.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host name: %w (set TCPIP$POP_HOSTNAME)", err)
		}
		host = h
	}
	store, err := uaf.NewStore(cfg.UAF)
	if err != nil {
		return nil, err
	}
	store.SetCacheLifetime(time.Duration(cfg.AuthCacheTTL) * time.Second)
	rw := &rewrite.Settings{
		Hostname:         host,
		SubstituteDomain: cfg.SubstituteDomain,
		LocalNames:       cfg.LocalNames,
		DECnet:           cfg.DECnetRewrite,
		QuotedDECnet:     cfg.QuotedDECnetRewrite,
		PersonalName:     cfg.PersonalName,
		SendIDHeaders:    cfg.SendIDHeaders,
		Server:           fmt.Sprintf("%s (vmspop %s)", host, Version),
	}
	rw.Resolve = newNodeResolver(net.DefaultResolver.LookupCNAME, host, log).Resolve
	if cfg.DECnetNodes != "" {
		f, err := os.Open(cfg.DECnetNodes)
		if err != nil {
			return nil, fmt.Errorf("TCPIP$POP_DECNET_NODES: %w", err)
		}
		rw.Nodes, err = rewrite.ParseNodeTable(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("TCPIP$POP_DECNET_NODES %s: %w", cfg.DECnetNodes, err)
		}
	}
	if fi, err := os.Stat(cfg.Spool); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("TCPIP$POP_SPOOL %s is not a directory", cfg.Spool)
	}
	if cfg.FastScan {
		// VMS estimated sizes to save a pass over the mail file; the folder
		// index makes exact sizes just as cheap, so they stay exact.
		log.Info("TCPIP$POP_FAST_SCAN: sizes are exact anyway (the folder index makes them cheap)")
	}
	folder := spool.NewMail
	if cfg.UseMailFolder {
		folder = spool.Mail
	}
	srv := &gateway.Server{
		Addr:     cfg.Listen,
		Hostname: host,
		Version:  "vmspop " + Version,
		Backend: &maildrop.SpoolBackend{
			Spool:               sp,
			Rewrite:             rw,
			Folder:              folder,
			LeaveInNewmail:      cfg.LeaveInNewmail,
			PurgeReclaim:        cfg.PurgeReclaim,
			IgnoreMail11Headers: cfg.IgnoreMail11Headers,
			Logger:              log,
		},
		Auth:           store,
		Classify:       classifyUAF,
		Logger:         log,
		IdleTimeout:    cfg.LinkIdleTimeout,
		Security:       gatewaySecurity(cfg.Security),
		DisUserPass:    cfg.DisUserPass,
		AuthMethods:    cfg.AuthMethods,
		AuthTLSOnly:    cfg.AuthTLSOnly,
		Trace:          cfg.Trace,
		MessageMaximum: cfg.MessageMaximum,
		MaxSessions:    cfg.MaximumThreads,
		SndBuf:         cfg.SndBuf,
		Expire:         cfg.Expire,
		LoginDelay:     time.Duration(cfg.LoginDelay) * time.Second,
		BusyPoll:       time.Duration(cfg.BusyPoll) * time.Microsecond,
	}
	defend(srv, cfg, pt)
	if cfg.Cert != "" {
		cr, err := newCertReloader(cfg.Cert, cfg.Key, log)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cr.get}
		if cfg.TicketKeys != "" {
			if tickets, err = ticketkeys.Open(cfg.TicketKeys, log); err != nil {
				return nil, fmt.Errorf("TCPIP$POP_TLS_TICKET_KEYS: %w", err)
			}
		}
		if tickets != nil {
			tickets.Install(srv.TLSConfig)
		}
	}
	if err := configureExtensions(srv, cfg, store, log); err != nil {
		return nil, err
	}
	return srv, nil
}

// gatewaySecurity maps TCPIP$POP_SECURITY to the gateway's mode.
func gatewaySecurity(s logicals.Security) gateway.Security {
	if s == logicals.Secure {
		return gateway.Secure
	}
	return gateway.Friendly
}

// classifyUAF maps the accounts file's errors to the gateway's causes.
func classifyUAF(err error) gateway.AuthFailure {
	switch {
	case errors.Is(err, uaf.ErrUnknownUser):
		return gateway.FailUnknownUser
	case errors.Is(err, uaf.ErrBadPassword):
		return gateway.FailBadPassword
	case errors.Is(err, uaf.ErrDisUser):
		return gateway.FailDisUser
	case errors.Is(err, uaf.ErrDisMail):
		return gateway.FailDisMail
	case errors.Is(err, uaf.ErrExpired):
		return gateway.FailExpired
	case errors.Is(err, uaf.ErrNoSecret):
		return gateway.FailNoSecret
	case errors.Is(err, uaf.ErrBadDigest):
		return gateway.FailBadDigest
	}
	return gateway.FailSystem
}

// certReloader serves the certificate in cert/key files, loading them again
// when either file changes (checked at most once a second).
type certReloader struct {
	certFile, keyFile string
	log               *logrus.Logger
	mu                sync.Mutex
	cert              *tls.Certificate
	mod               time.Time
	checked           time.Time
}

func newCertReloader(certFile, keyFile string, log *logrus.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) modTime() time.Time {
	var t time.Time
	for _, p := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}

func (c *certReloader) load() error {
	mod := c.modTime()
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s / key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.mod = &cert, mod
	return nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= time.Second {
		c.checked = now
		if c.modTime().After(c.mod) {
			if err := c.load(); err != nil {
				c.log.WithError(err).Error("TLS certificate not reloaded; keeping the old one")
			} else {
				c.log.Info("TLS certificate reloaded")
			}
		}
	}
	return c.cert, nil
}

// notifyPostmaster delivers a failure message to each TCPIP$POP_POSTMASTER
// user's NEWMAIL (manual Table 15-2).
func notifyPostmaster(cfg *logicals.Config, log *logrus.Logger, cause error) {
	if len(cfg.Postmaster) == 0 {
		return
	}
	sp := spool.New(cfg.Spool)
	now := time.Now()
	for _, user := range cfg.Postmaster {
		text := fmt.Sprintf("From:\tTCPIP$POP \"POP server\"  %s\nTo:\t%s\nCC:\t\nSubj:\tvmspop POP server exited with an error\n\n"+
			"The vmspop POP server stopped at %s with this error:\n\n    %v\n\nPOP clients cannot fetch mail until it is restarted.\n",
			mail11.FormatVMSDate(now), user, now.Format(time.RFC1123Z), cause)
		msg := spool.NewMessage{Envelope: "TCPIP$POP", Date: now, Text: strings.NewReader(text)}
		if err := sp.Append(context.Background(), user, spool.NewMail, []spool.NewMessage{msg}); err != nil {
			log.WithError(err).WithField("user", user).Error("could not notify the postmaster")
		} else {
			log.WithField("user", user).Info("postmaster notified of the failure")
		}
	}
}
