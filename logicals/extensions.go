package logicals

import (
	"errors"
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

var extensionEntries = []entry{
	{name: "GREETING", origin: "vmspop", parse: parseGreeting,
		show: func(c *Config) (string, bool) { return c.Greeting, c.Greeting != "" }},
	{name: "SMTP_RELAY", origin: "vmspop", parse: parseRelay,
		show: func(c *Config) (string, bool) { return c.SMTPRelay, c.SMTPRelay != "" }},
	stringEntry("CLIENT_CA", false, func(c *Config) *string { return &c.ClientCA }),
}
