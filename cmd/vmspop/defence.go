package main

import (
	"net"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/penalty"
)

// defend sets the server's defences from the logicals (docs/defence.md)
// and returns the penalty table.
func defend(srv *gateway.Server, cfg *logicals.Config, log *logrus.Logger) *penalty.Table {
	pt := &penalty.Table{Cap: time.Duration(cfg.AuthPenalty) * time.Second}
	if cfg.AuthPenalty == 0 {
		pt.Cap = -1 // failures still counted, for the status page
	}
	srv.Guard = pt
	srv.MaxPerAddress = cfg.MaximumPerAddress
	srv.LoginTimeout = time.Duration(cfg.LoginTimeout) * time.Second
	srv.TLSHandshakeTimeout = time.Duration(cfg.TLSHandshakeTimeout) * time.Second
	return pt
}

// plaintextMethods lists the login methods of cfg that send the password
// itself and may be used without TLS on the plain port.
func plaintextMethods(cfg *logicals.Config) []string {
	var out []string
	for _, m := range []string{"USER", "PLAIN"} {
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
