package logicals

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestLMTPAndProxyNames(t *testing.T) {
	for _, c := range []struct {
		name, value string
		check       func(*Config) bool
		err         string
	}{
		{"LMTP_LISTEN", "/run/vmspop/lmtp, 127.0.0.1:2424", func(c *Config) bool {
			return reflect.DeepEqual(c.LMTPListen, []string{"/run/vmspop/lmtp", "127.0.0.1:2424"})
		}, ""},
		{"LMTP_LISTEN", "lmtp.sock", nil, `logicals: TCPIP$POP_LMTP_LISTEN "lmtp.sock": "lmtp.sock": ` + errAddr.Error()},
		{"LMTP_LISTEN", " , ", nil, `logicals: TCPIP$POP_LMTP_LISTEN " , ": must be one or more Unix socket paths (starting with /) or host:port addresses, separated by commas`},
		{"LMTP_MAXIMUM_SIZE", "1048576", func(c *Config) bool { return c.LMTPMaximumSize == 1<<20 }, ""},
		{"LMTP_MAXIMUM_SIZE", "10", nil, `logicals: TCPIP$POP_LMTP_MAXIMUM_SIZE "10": must be a number of octets from 1024 to 1099511627776`},
		{"PROXY_TRUSTED", "10.1.2.3/8 ::1", func(c *Config) bool {
			return reflect.DeepEqual(c.ProxyTrusted, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
		}, ""},
		{"PROXY_TRUSTED", "10.0.0.0/33", nil, `logicals: TCPIP$POP_PROXY_TRUSTED "10.0.0.0/33": "10.0.0.0/33": must be one or more networks (e.g. 10.0.0.0/8, ::1/128) or addresses, separated by commas or spaces`},
	} {
		cfg, _, err := LoadEnviron([]string{"TCPIP$POP_" + c.name + "=" + c.value}, "")
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s=%q: error %v, want %s", c.name, c.value, err, c.err)
			}
			continue
		}
		if err != nil || !c.check(cfg) {
			t.Errorf("%s=%q: %v, config %+v", c.name, c.value, err, cfg)
		}
	}
	if cfg := Default(); cfg.LMTPMaximumSize != DefaultLMTPMaximumSize || cfg.LMTPListen != nil {
		t.Errorf("defaults: %d %v", cfg.LMTPMaximumSize, cfg.LMTPListen)
	}
}
