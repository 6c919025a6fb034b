package gateway_test

import (
	"strings"
	"testing"

	"github.com/vmspop/vmspop/gateway"
)

// TestGreetingLength: the greeting stays within 512 octets, CRLF
// included (RFC 2449 §4), whatever the host name and version, and its
// timestamp still serves APOP.
func TestGreetingLength(t *testing.T) {
	label := strings.Repeat("a", 63)
	longest := strings.Join([]string{label, label, label, label[:61]}, ".") // 253 octets, a valid DNS name
	for _, tc := range []struct {
		name, host, version string
		full                bool // "[host, ip]" kept
	}{
		{"usual", "host.example", "", true},
		{"longest DNS name", longest, "", false},
		{"longer than DNS allows", strings.Repeat("h", 600), "", false},
		{"long version", longest, "vmspop " + strings.Repeat("V", 400), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
				s.Hostname, s.Version = tc.host, tc.version
			})
			c := dial(t, env.addr)
			greet := c.line()
			if len(greet)+2 > 512 || !strings.HasPrefix(greet, "+OK POP server ready ") {
				t.Fatalf("greeting of %d octets with CRLF: %q", len(greet)+2, greet)
			}
			if strings.Contains(greet, "["+tc.host+", 127.0.0.1]") != tc.full {
				t.Errorf("greeting %q: host in brackets %v, want %v", greet, !tc.full, tc.full)
			}
			ts := timestampRE.FindString(greet)
			if !strings.HasPrefix(ts, "<") || !strings.Contains(ts, "@"+tc.host[:min(len(tc.host), 200)]) {
				t.Fatalf("greeting %q: timestamp %q", greet, ts)
			}
			c.send("APOP alice " + apopDigest(ts, "alicesecret"))
			c.expect("+OK maildrop")
			c.send("QUIT")
			c.expect("+OK")
		})
	}
}
