package main

import (
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
