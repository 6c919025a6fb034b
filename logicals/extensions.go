package logicals

import (
	"errors"
	"slices"
	"strings"
)

// maxGreeting bounds TCPIP$POP_GREETING, so that with the APOP timestamp
// the greeting stays under the 512 octets of RFC 2449 §4.
const maxGreeting = 300

// parseGreeting accepts printable ASCII text of at most maxGreeting
// octets (TCPIP$POP_GREETING).
func parseGreeting(c *Config, v string) (string, error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return "", errors.New("must not be empty")
	}
	if len(t) > maxGreeting {
		return "", errors.New("must be at most 300 characters")
	}
	for i := 0; i < len(t); i++ {
		if t[i] < 0x20 || t[i] > 0x7e {
			return "", errors.New("must be printable ASCII text")
		}
	}
	c.Greeting = t
	return "", nil
}

// parseRelay accepts host:port with a host (TCPIP$POP_SMTP_RELAY).
func parseRelay(c *Config, v string) (string, error) {
	t := strings.TrimSpace(v)
	if err := checkAddr(t); err != nil || strings.HasPrefix(t, ":") {
		return "", errors.New(`must be host:port of an SMTP relay (e.g. "smtp.example.com:587", "127.0.0.1:25")`)
	}
	c.SMTPRelay = t
	return "", nil
}

// parseUnifiedDomains accepts "domain=ACCOUNT, ..." (TCPIP$POP_UNIFIED_DOMAINS).
func parseUnifiedDomains(c *Config, v string) (string, error) {
	msg := errors.New(`must be a list of domain=ACCOUNT (e.g. "client1.com=CL1, client2.com=CL2")`)
	m := map[string]string{}
	for _, item := range strings.Split(v, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		d, acct, ok := strings.Cut(item, "=")
		d, acct = strings.ToLower(strings.TrimSpace(d)), strings.ToUpper(strings.TrimSpace(acct))
		if !ok || !isHostName(d) || !validUser(acct) {
			return "", msg
		}
		m[d] = acct
	}
	if len(m) == 0 {
		return "", msg
	}
	c.UnifiedDomains = m
	return "", nil
}

// validUser reports whether s is a VMS user name.
func validUser(s string) bool {
	if s == "" || len(s) > 31 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '$' || r == '-') {
			return false
		}
	}
	return true
}

// showUnifiedDomains shows the map sorted by domain.
func showUnifiedDomains(c *Config) (string, bool) {
	var items []string
	for d, a := range c.UnifiedDomains {
		items = append(items, d+"="+a)
	}
	slices.Sort(items)
	return strings.Join(items, ", "), len(items) > 0
}

// parseViewField accepts a header field name (TCPIP$POP_VIEW_FIELD).
func parseViewField(c *Config, v string) (string, error) {
	t := strings.TrimSpace(v)
	if t == "" || strings.ContainsAny(t, ": \t") {
		return "", errors.New("must be a header field name (e.g. X-Real-To)")
	}
	for _, r := range t {
		if r < 0x21 || r > 0x7e {
			return "", errors.New("must be a header field name (e.g. X-Real-To)")
		}
	}
	c.ViewField = t
	return "", nil
}

var extensionEntries = []entry{
	{name: "GREETING", origin: "vmspop", parse: parseGreeting,
		show: func(c *Config) (string, bool) { return c.Greeting, c.Greeting != "" }},
	{name: "SMTP_RELAY", origin: "vmspop", parse: parseRelay,
		show: func(c *Config) (string, bool) { return c.SMTPRelay, c.SMTPRelay != "" }},
	stringEntry("CLIENT_CA", false, func(c *Config) *string { return &c.ClientCA }),
	{name: "UNIFIED_DOMAINS", origin: "vmspop", parse: parseUnifiedDomains, show: showUnifiedDomains},
	{name: "VIEW_FIELD", origin: "vmspop", parse: parseViewField,
		show: func(c *Config) (string, bool) { return c.ViewField, c.ViewField != "" }},
}
