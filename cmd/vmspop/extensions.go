package main

import (
	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/uaf"
)

// configureExtensions turns on the gateway's CommuniGate Pro / Mailismus
// extensions (docs/extensions.md) from the logicals, and puts the
// accounts file behind the add-on interfaces they use.
func configureExtensions(srv *gateway.Server, cfg *logicals.Config, store *uaf.Store, log *logrus.Logger) error {
	x := &gateway.Extensions{Greeting: cfg.Greeting}
	if cfg.SubstituteDomain != "" {
		x.Domains = append(x.Domains, cfg.SubstituteDomain)
	}
	x.Domains = append(x.Domains, cfg.LocalNames...)
	srv.Extensions = x
	srv.Auth = uafAuth{store}
	return nil
}

// uafAuth is the accounts file as the gateway's Authenticator with the
// extensions' add-ons: grants, per-account login delays, and admission
// without a credential (SASL EXTERNAL).
type uafAuth struct{ *uaf.Store }

var (
	_ gateway.Granter        = uafAuth{}
	_ gateway.LoginDelayer   = uafAuth{}
	_ gateway.AccountChecker = uafAuth{}
)

// Rights returns what user may do with owner's folders.
func (a uafAuth) Rights(owner, user string) gateway.Rights {
	r, d := a.Store.Rights(owner, user)
	return gateway.Rights{Read: r, Delete: d}
}
