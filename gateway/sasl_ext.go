package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"strings"

	"github.com/emersion/go-sasl"
)

// The login methods the extensions add (docs/extensions.md).
const (
	// MethodLogin is SASL LOGIN (draft-murchison-sasl-login), which
	// Outlook and older clients use.
	MethodLogin = "LOGIN"
	// MethodExternal is SASL EXTERNAL (RFC 4422 appendix A) with a TLS
	// client certificate, as in Mailismus.
	MethodExternal = "EXTERNAL"
)

// extPolicy refuses LOGIN and EXTERNAL without Extensions, and EXTERNAL
// without a verified TLS client certificate or an AccountChecker.
func (c *conn) extPolicy(method string) error {
	if method != MethodLogin && method != MethodExternal {
		return nil
	}
	if c.srv.Extensions == nil {
		return errf(CodeAuth, "mechanism %s is not supported", method)
	}
	if method == MethodExternal {
		if _, ok := c.srv.Auth.(AccountChecker); !ok {
			return errf(CodeAuth, "%s is not allowed", method)
		}
		if c.clientCert() == nil {
			return errf(CodeAuth, "EXTERNAL needs a TLS client certificate")
		}
	}
	return nil
}

// clientCert returns the verified TLS client certificate, or nil.
func (c *conn) clientCert() *x509.Certificate {
	tc, ok := c.nc.(*tls.Conn)
	if !ok || !c.tls {
		return nil
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return nil
	}
	return st.VerifiedChains[0][0]
}

// certNames returns the account names a client certificate names: its
// subject CN, then the local part of each e-mail SAN in a local domain.
func (c *conn) certNames(cert *x509.Certificate) []string {
	var names []string
	if validName(cert.Subject.CommonName) {
		names = append(names, cert.Subject.CommonName)
	}
	for _, e := range cert.EmailAddresses {
		at := strings.LastIndexByte(e, '@')
		if at > 0 && validName(e[:at]) && domainIn(c.srv.Extensions.Domains, e[at+1:]) {
			names = append(names, e[:at])
		}
	}
	return names
}

// authLogin runs SASL LOGIN: "Username:" and "Password:" challenges, each
// answered in base64; an initial response is the user name. go-sasl no
// longer has a LOGIN server, so the exchange is done here.
func (c *conn) authLogin(ir string) error {
	read := func(prompt string) ([]byte, error) {
		line, err := c.challenge(base64.StdEncoding.EncodeToString([]byte(prompt)))
		if err != nil {
			return nil, err
		}
		if line == nil {
			return nil, errCancelled
		}
		b, err := decodeBase64(line)
		if err != nil {
			return nil, c.authFailed(MethodLogin, "", failMalformed, err, "malformed base64")
		}
		return b, nil
	}
	var user []byte
	var err error
	switch ir {
	case "":
		if user, err = read("Username:"); err != nil {
			return err
		}
	case "=":
		user = []byte{}
	default:
		if user, err = decodeBase64([]byte(ir)); err != nil {
			return c.authFailed(MethodLogin, "", failMalformed, err, "malformed base64")
		}
	}
	pass, err := read("Password:")
	if err != nil {
		return err
	}
	name := string(user)
	canonical, err := c.auth().CheckPassword(name, string(pass), c.srv.now())
	if err != nil {
		return c.authFailed(MethodLogin, name, c.srv.classify(err), err, "")
	}
	return c.login(MethodLogin, name, canonical)
}

// authExternal runs SASL EXTERNAL with go-sasl's server. The certificate
// names the account (certNames); an authorization identity, if sent, is
// a login name (it may select a folder) whose account must be one the
// certificate names.
func (c *conn) authExternal(ir string) error {
	resp, err := c.saslResponse(MethodExternal, ir)
	if err != nil {
		return err
	}
	var identity string
	srv := sasl.NewExternalServer(func(id string) error { identity = id; return nil })
	if _, _, err := srv.Next(resp); err != nil {
		return c.authFailed(MethodExternal, "", failMalformed, err, "malformed EXTERNAL response")
	}
	names := c.certNames(c.clientCert())
	if len(names) == 0 {
		return c.authFailed(MethodExternal, "", failMalformed, nil, "the client certificate names no account")
	}
	name := identity
	if name == "" {
		name = names[0]
	} else {
		sel, err := c.srv.parseLoginName(identity)
		ok := false
		for _, n := range names {
			ok = ok || err == nil && strings.EqualFold(n, sel.account)
		}
		if !ok {
			return c.authFailed(MethodExternal, names[0], failBadIdentity, nil, sanitize(identity))
		}
	}
	canonical, err := nameAuth{c}.checkAccount(name, c.srv.now())
	if err != nil {
		return c.authFailed(MethodExternal, name, c.srv.classify(err), err, "")
	}
	return c.login(MethodExternal, name, canonical)
}
