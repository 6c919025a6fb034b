package main

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
)

// TestE2ENameNotFolded: a user name outside [A-Za-z0-9_$-] is refused
// before it is upper-cased or looked up. strings.ToUpper("ſmith") is
// "SMITH", whose password is "demo": no login method may let ſmith in
// as SMITH, in FRIENDLY or SECURE mode.
func TestE2ENameNotFolded(t *testing.T) {
	for _, security := range []string{"FRIENDLY", "SECURE"} {
		t.Run(security, func(t *testing.T) {
			s := startServer(t, "TCPIP$POP_SECURITY="+security)

			// The same password logs SMITH in: the refusal is the name's.
			p := dialPOP(t, s.Addr)
			p.login("smith", "demo")
			p.cmd("QUIT")

			p = dialPOP(t, s.Addr)
			r := p.cmd("USER ſmith")
			if security == "FRIENDLY" {
				if !strings.HasPrefix(r, "-ERR [AUTH]") {
					t.Fatalf("USER ſmith = %q; want -ERR [AUTH]", r)
				}
			} else {
				if !strings.HasPrefix(r, "+OK") { // SECURE: unknown names are not revealed
					t.Fatalf("USER ſmith = %q; want +OK", r)
				}
				if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [AUTH]") {
					t.Fatalf("PASS demo for ſmith = %q; want -ERR [AUTH]", r)
				}
			}

			// APOP with SMITH's secret.
			greet := dialGreeting(t, s.Addr)
			ts := greet.ts
			sum := md5.Sum([]byte(ts + "apop-demo"))
			if r := greet.p.cmd("APOP ſmith %s", hex.EncodeToString(sum[:])); !strings.HasPrefix(r, "-ERR [AUTH]") {
				t.Fatalf("APOP ſmith = %q; want -ERR [AUTH]", r)
			}
		})
	}
}

type greeted struct {
	p  *popClient
	ts string // the APOP timestamp
}

// dialGreeting connects and returns the client with the greeting's APOP
// timestamp.
func dialGreeting(t *testing.T, addr string) greeted {
	t.Helper()
	p := dialPOPRaw(t, addr)
	g := p.line()
	i, j := strings.LastIndexByte(g, '<'), strings.LastIndexByte(g, '>')
	if !strings.HasPrefix(g, "+OK") || i < 0 || j < i {
		t.Fatalf("greeting %q has no APOP timestamp", g)
	}
	return greeted{p: p, ts: g[i : j+1]}
}
