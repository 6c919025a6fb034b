package main

import (
	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
)

// newExtensions builds the gateway's CommuniGate Pro / Mailismus
// extensions from the logicals (docs/extensions.md).
func newExtensions(cfg *logicals.Config, log *logrus.Logger) (*gateway.Extensions, error) {
	x := &gateway.Extensions{Greeting: cfg.Greeting}
	if cfg.SubstituteDomain != "" {
		x.Domains = append(x.Domains, cfg.SubstituteDomain)
	}
	x.Domains = append(x.Domains, cfg.LocalNames...)
	return x, nil
}
