package logicals

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// DefaultLMTPMaximumSize is the default of TCPIP$POP_LMTP_MAXIMUM_SIZE.
const DefaultLMTPMaximumSize = 64 << 20

// showProxyTrusted shows TCPIP$POP_PROXY_TRUSTED.
func showProxyTrusted(c *Config) (string, bool) {
	var l []string
	for _, p := range c.ProxyTrusted {
		l = append(l, p.String())
	}
	return showList(l)
}

// parseLMTPListen: a comma-separated list of Unix socket paths (starting
// with /) and host:port addresses.
func parseLMTPListen(c *Config, v string) (string, error) {
	const msg = "must be one or more Unix socket paths (starting with /) or host:port addresses, separated by commas"
	var out []string
	for _, it := range strings.Split(v, ",") {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if !strings.HasPrefix(it, "/") {
			if err := checkAddr(it); err != nil {
				return "", fmt.Errorf("%q: %w", it, err)
			}
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		return "", errors.New(msg)
	}
	c.LMTPListen = out
	return "", nil
}

func parseLMTPMaximumSize(c *Config, v string) (string, error) {
	n, err := parseInt(v, 1024, 1<<40)
	if err != nil {
		return "", errors.New("must be a number of octets from 1024 to 1099511627776")
	}
	c.LMTPMaximumSize = int64(n)
	return "", nil
}

// parseProxyTrusted: networks (CIDR) or addresses, separated by commas or
// spaces.
func parseProxyTrusted(c *Config, v string) (string, error) {
	const msg = "must be one or more networks (e.g. 10.0.0.0/8, ::1/128) or addresses, separated by commas or spaces"
	items := splitList(v)
	if len(items) == 0 {
		return "", errors.New(msg)
	}
	var out []netip.Prefix
	for _, it := range items {
		p, err := netip.ParsePrefix(it)
		if err != nil {
			a, aerr := netip.ParseAddr(it)
			if aerr != nil {
				return "", fmt.Errorf("%q: %s", it, msg)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	c.ProxyTrusted = out
	return "", nil
}
