package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"

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
	if cfg.SMTPRelay != "" {
		domain := cfg.SubstituteDomain
		if domain == "" {
			domain = srv.Hostname
		}
		x.Submit = &smtpSubmitter{Addr: cfg.SMTPRelay, Helo: srv.Hostname, Domain: domain}
		log.WithField("relay", cfg.SMTPRelay).Info("XTND XMIT on")
	}
	if len(cfg.UnifiedDomains) > 0 {
		x.Views = gateway.DomainViews(cfg.UnifiedDomains)
	}
	x.ViewField = cfg.ViewField
	srv.Extensions = x
	srv.Auth = uafAuth{store}
	if cfg.ClientCA != "" {
		if err := configureClientCA(srv, cfg); err != nil {
			return err
		}
	}
	return nil
}

// configureClientCA makes TLS ask for client certificates signed by the
// CAs of TCPIP$POP_CLIENT_CA (SASL EXTERNAL), and offers EXTERNAL unless
// TCPIP$POP_AUTH_METHODS says which methods to offer.
func configureClientCA(srv *gateway.Server, cfg *logicals.Config) error {
	if srv.TLSConfig == nil {
		return errors.New("TCPIP$POP_CLIENT_CA needs TLS (TCPIP$POP_CERT and TCPIP$POP_KEY)")
	}
	pem, err := os.ReadFile(cfg.ClientCA)
	if err != nil {
		return fmt.Errorf("TCPIP$POP_CLIENT_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("TCPIP$POP_CLIENT_CA %s: no PEM certificate in it", cfg.ClientCA)
	}
	srv.TLSConfig.ClientCAs = pool
	srv.TLSConfig.ClientAuth = tls.VerifyClientCertIfGiven
	if _, set := cfg.Sources["TCPIP$POP_AUTH_METHODS"]; !set && !slices.Contains(srv.AuthMethods, gateway.MethodExternal) {
		srv.AuthMethods = append(slices.Clone(srv.AuthMethods), gateway.MethodExternal)
	}
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
