package main

import (
	"net"
	"testing"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/vmspop/vmspop/logicals"
)

// TestWarnPlaintext: a warning at start exactly when passwords may cross
// a non-loopback plain listener in clear.
func TestWarnPlaintext(t *testing.T) {
	public := &net.TCPAddr{IP: net.IPv4zero, Port: 110}
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110}
	load := func(env map[string]string) *logicals.Config {
		c, _, err := logicals.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cert := map[string]string{"TCPIP$POP_CERT": "/c", "TCPIP$POP_KEY": "/k"}
	certClear := map[string]string{"TCPIP$POP_CERT": "/c", "TCPIP$POP_KEY": "/k", "TCPIP$POP_AUTH_TLS_ONLY": "-"}
	apopOnly := map[string]string{"TCPIP$POP_AUTH_METHODS": "APOP"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		addr net.Addr
		warn bool
	}{
		{"no cert, public", nil, public, true},
		{"no cert, loopback", nil, loop, false},
		{"cert, default", cert, public, false},
		{"cert, AUTH_TLS_ONLY -", certClear, public, true},
		{"APOP only", apopOnly, public, false},
	} {
		log, hook := logtest.NewNullLogger()
		warnPlaintext(log, load(tc.env), tc.addr)
		if got := len(hook.AllEntries()) == 1; got != tc.warn {
			t.Errorf("%s: warned %v, want %v (%v)", tc.name, got, tc.warn, hook.AllEntries())
		}
	}
}
