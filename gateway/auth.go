package gateway

import (
	"errors"
	"fmt"
	"strings"
)

// AuthFailure is the cause of a failed authorization, as the Authenticator
// reports it. Server.Classify maps an Authenticator error to it.
type AuthFailure int

// The causes of a failed authorization.
const (
	// FailSystem means the check itself failed (for example the accounts
	// file could not be read); the client gets "-ERR [SYS/TEMP] ..." and
	// the attempt does not count.
	FailSystem      AuthFailure = iota
	FailUnknownUser             // no such account
	FailBadPassword             // wrong password
	FailDisUser                 // the account has the DISUSER flag
	FailDisMail                 // the account has the DISMAIL flag
	FailExpired                 // the account has expired
	FailNoSecret                // no APOP/CRAM-MD5 secret is set
	FailBadDigest               // wrong APOP or CRAM-MD5 digest

	// Causes found by the gateway itself, never returned by Classify.
	failMalformed   // bad base64 or a malformed SASL response
	failBadIdentity // PLAIN authorization identity differs from the user
)

// Login methods, as named in Server.AuthMethods and Server.AuthTLSOnly.
const (
	MethodUser    = "USER"
	MethodAPOP    = "APOP"
	MethodPlain   = "PLAIN"
	MethodCRAMMD5 = "CRAM-MD5"
)

// saslMechanisms lists the SASL mechanisms in the order CAPA shows them.
var saslMechanisms = [...]string{MethodPlain, MethodCRAMMD5, MethodLogin, MethodExternal}

// classify maps an Authenticator error to its cause.
func (s *Server) classify(err error) AuthFailure {
	if errors.Is(err, errUnknownLoginName) {
		return FailUnknownUser
	}
	if s.Classify == nil {
		return FailBadPassword
	}
	return s.Classify(err)
}

// friendlyText is the FRIENDLY answer (and the logged reason) for cause.
// name is already sanitised.
func friendlyText(cause AuthFailure, method, name, detail string) string {
	switch cause {
	case FailUnknownUser:
		return fmt.Sprintf("user %q is unknown", name)
	case FailBadPassword:
		return fmt.Sprintf("password supplied for %q is incorrect", name)
	case FailDisUser:
		return fmt.Sprintf("account %q is disabled", name)
	case FailDisMail:
		return fmt.Sprintf("mail is disabled for %q", name)
	case FailExpired:
		return fmt.Sprintf("account %q has expired", name)
	case FailNoSecret:
		return fmt.Sprintf("no APOP secret is set for %q", name)
	case FailBadDigest:
		return fmt.Sprintf("%s digest supplied for %q is incorrect", method, name)
	case failMalformed:
		return detail
	case failBadIdentity:
		return fmt.Sprintf("authorization identity %q is not allowed for %q", detail, name)
	default:
		return "authorization failed"
	}
}

// sanitize makes a client-supplied name safe to echo: printable ASCII
// only (others become '?'; so does '"'), at most 40 characters.
func sanitize(s string) string {
	const max = 40
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\' {
			clean = false
			break
		}
	}
	if clean && len(s) <= max {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// methodIn reports whether method is in list (case-insensitive).
func methodIn(list []string, method string) bool {
	for _, m := range list {
		if strings.EqualFold(strings.TrimSpace(m), method) {
			return true
		}
	}
	return false
}

// methodAllowed reports whether method is in AuthMethods (nil = all).
func (s *Server) methodAllowed(method string) bool {
	return s.AuthMethods == nil || methodIn(s.AuthMethods, method)
}

// methodNeedsTLS reports whether method is restricted to TLS sessions.
// With TLS configured and AuthTLSOnly nil, the methods that send the
// password itself (USER/PASS, PLAIN, LOGIN) are.
func (s *Server) methodNeedsTLS(method string) bool {
	if s.AuthTLSOnly == nil && s.TLSConfig != nil {
		return method == MethodUser || method == MethodPlain || method == MethodLogin
	}
	return methodIn(s.AuthTLSOnly, method)
}
