package main

import (
	"strings"
	"testing"
	"time"
)

// passwordChecks returns vmspop_password_checks_total by bcrypt and by
// cache hit, from the metrics at base.
func passwordChecks(t *testing.T, base string) (bcrypts, hits float64) {
	t.Helper()
	m := scrape(t, base+"/metrics")
	return metricValue(m, "vmspop_password_checks_total", "by=bcrypt"), metricValue(m, "vmspop_password_checks_total", "by=cache")
}

// wantChecks fails unless the server at base has made bcrypts bcrypt
// comparisons and hits cache hits so far.
func wantChecks(t *testing.T, base, what string, bcrypts, hits float64) {
	t.Helper()
	if b, h := passwordChecks(t, base); b != bcrypts || h != hits {
		t.Errorf("%s: %v bcrypt comparisons, %v cache hits; want %v, %v", what, b, h, bcrypts, hits)
	}
}

// loginQuit logs in as user with pass on a new connection and quits; it
// returns the reply to PASS.
func loginQuit(t *testing.T, addr, user, pass string) string {
	t.Helper()
	p := dialPOP(t, addr)
	defer p.conn.Close()
	p.cmd("USER %s", user)
	r := p.cmd("PASS %s", pass)
	p.cmd("QUIT")
	return r
}

// TestLogicalAuthCacheTTL: with the default TTL a reconnect's good password
// is a cache hit (no bcrypt), a wrong one still costs its bcrypt and fails,
// a password changed in the accounts file is refused at once; with TTL 1
// an entry expires; with 0 every login pays its bcrypt.
func TestLogicalAuthCacheTTL(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		maddr := freePort(t)
		s := lgServer(t, "TCPIP$POP_METRICS_LISTEN="+maddr, "TCPIP$POP_AUTH_PENALTY=0")
		base := "http://" + maddr
		wantChecks(t, base, "at start", 0, 0)
		for i := range 3 {
			if r := loginQuit(t, s.Addr, "smith", "demo"); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("login %d: PASS = %q", i+1, r)
			}
		}
		wantChecks(t, base, "3 logins", 1, 2)
		if r := loginQuit(t, s.Addr, "smith", "wrong"); !strings.HasPrefix(r, "-ERR [AUTH]") {
			t.Fatalf("wrong password: PASS = %q", r)
		}
		wantChecks(t, base, "then a wrong password", 2, 2)
		// The password changes in the accounts file: the cached one is
		// refused at the next login.
		writeUAF(t, s.UAF, []e2eAccount{{Name: "SMITH", Password: "changed"}, {Name: "JONES", Password: "demo"}})
		if r := loginQuit(t, s.Addr, "smith", "demo"); !strings.HasPrefix(r, "-ERR [AUTH]") {
			t.Fatalf("old password after the change: PASS = %q", r)
		}
		if r := loginQuit(t, s.Addr, "smith", "changed"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("new password: PASS = %q", r)
		}
		if r := loginQuit(t, s.Addr, "smith", "changed"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("new password again: PASS = %q", r)
		}
		wantChecks(t, base, "after the change", 4, 3)
	})
	t.Run("1s", func(t *testing.T) {
		t.Parallel()
		maddr := freePort(t)
		s := lgServer(t, "TCPIP$POP_METRICS_LISTEN="+maddr, "TCPIP$POP_AUTH_CACHE_TTL=1")
		base := "http://" + maddr
		loginQuit(t, s.Addr, "smith", "demo")
		time.Sleep(1100 * time.Millisecond) // the entry's lifetime is over (any longer wait too)
		if r := loginQuit(t, s.Addr, "smith", "demo"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("login after the TTL: PASS = %q", r)
		}
		wantChecks(t, base, "2 logins 1.1 s apart", 2, 0)
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		maddr := freePort(t)
		s := lgServer(t, "TCPIP$POP_METRICS_LISTEN="+maddr, "TCPIP$POP_AUTH_CACHE_TTL=0")
		base := "http://" + maddr
		for i := range 3 {
			if r := loginQuit(t, s.Addr, "smith", "demo"); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("login %d: PASS = %q", i+1, r)
			}
		}
		wantChecks(t, base, "3 logins, cache off", 3, 0)
	})
}
