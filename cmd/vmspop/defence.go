package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/maildrop"
	"github.com/vmspop/vmspop/metrics"
	"github.com/vmspop/vmspop/penalty"
)

// newPenaltyTable returns the login penalty table of cfg
// (docs/defence.md). One table serves every server of a run, so that a
// reload forgets no failure.
func newPenaltyTable(cfg *logicals.Config) *penalty.Table {
	pt := &penalty.Table{Cap: time.Duration(cfg.AuthPenalty) * time.Second}
	if cfg.AuthPenalty == 0 {
		pt.Cap = -1 // failures still counted, for the status page
	}
	return pt
}

// defend sets the server's defences from the logicals, with the penalty
// table pt (nil: a new one).
func defend(srv *gateway.Server, cfg *logicals.Config, pt *penalty.Table) {
	if pt == nil {
		pt = newPenaltyTable(cfg)
	}
	srv.Guard = pt
	srv.MaxPerAddress = cfg.MaximumPerAddress
	srv.LoginTimeout = time.Duration(cfg.LoginTimeout) * time.Second
	srv.TLSHandshakeTimeout = time.Duration(cfg.TLSHandshakeTimeout) * time.Second
}

// plaintextMethods lists the login methods of cfg that send the password
// itself and may be used without TLS on the plain port.
func plaintextMethods(cfg *logicals.Config) []string {
	var out []string
	for _, m := range []string{"USER", "PLAIN", "LOGIN"} {
		if m == "USER" && cfg.DisUserPass {
			continue
		}
		if !slices.Contains(cfg.AuthMethods, m) {
			continue
		}
		if cfg.Cert != "" && slices.Contains(cfg.AuthTLSOnly, m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// warnPlaintext warns when the plain listener at addr is reachable from
// other hosts and passwords may cross it in clear.
func warnPlaintext(log *logrus.Logger, cfg *logicals.Config, addr net.Addr) {
	m := plaintextMethods(cfg)
	if len(m) == 0 {
		return
	}
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return
	}
	why := "no TLS certificate (TCPIP$POP_CERT)"
	if cfg.Cert != "" {
		why = "TCPIP$POP_AUTH_TLS_ONLY allows them in clear"
	}
	log.WithFields(logrus.Fields{"addr": addr.String(), "methods": strings.Join(m, ",")}).
		Warn("passwords may be sent in clear on a non-loopback address: " + why)
}

// observe starts what TCPIP$POP_METRICS_LISTEN asks for (/metrics,
// /healthz and the status page) and the admin socket of
// TCPIP$POP_ADMIN_SOCKET, for whichever server current returns (a reload
// replaces it). attach wires a server to the metrics before it serves;
// stop stops them; m is nil when there is no metrics listener. The
// deliveries counted in dlv (LMTP's, and vmspop deliver's through the
// admin socket) go to the metrics.
func observe(cfg *logicals.Config, log *logrus.Logger, current func() *gateway.Server, pt *penalty.Table, dlv *deliveryCount) (attach func(*gateway.Server), stop func(), m *metrics.Metrics, err error) {
	stopAdmin, err := startAdmin(cfg, log, current, dlv)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.MetricsListen == "" {
		return func(*gateway.Server) {}, stopAdmin, nil, nil
	}
	m = metrics.New(Version, pt.Len)
	dlv.set(m.Delivered)
	registerPasswordChecks(m.Registry, current)
	attach = func(srv *gateway.Server) {
		srv.Observer = m
		if sb, ok := srv.Backend.(*maildrop.SpoolBackend); ok {
			sb.Spool.Events = m.SpoolEvents()
		}
		srv.Backend = m.WrapBackend(srv.Backend)
	}
	errs := metrics.NewErrorLog(20)
	log.AddHook(errs)
	h := m.Handler(metrics.Sources{
		Sessions: func() []gateway.SessionInfo {
			if srv := current(); srv != nil {
				return srv.Sessions()
			}
			return nil
		},
		Penalised: pt.Top,
		Healthy: func() error {
			srv := current()
			if srv == nil {
				return errors.New("not started")
			}
			return healthy(srv, cfg.Spool)
		},
		Errors:  errs,
		Version: "vmspop " + Version,
	})
	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		stopAdmin()
		return nil, nil, nil, fmt.Errorf("TCPIP$POP_METRICS_LISTEN: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	log.WithField("addr", ln.Addr().String()).Info("metrics and status page listening")
	return attach, func() {
		stopAdmin()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}, m, nil
}

// healthy reports why the server cannot serve: no listener accepting, or
// a spool it cannot write.
func healthy(srv *gateway.Server, spoolDir string) error {
	if !srv.Listening() {
		return errors.New("not accepting connections")
	}
	f, err := os.CreateTemp(spoolDir, ".healthz-*")
	if err != nil {
		return fmt.Errorf("spool not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
