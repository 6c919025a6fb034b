package gateway_test

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/internal/poptest"
	"github.com/vmspop/vmspop/penalty"
)

// dialFrom is dial with a chosen local (client) address: every 127/8
// address is the loopback on Linux, so a test has as many clients as it
// wants.
func dialFrom(t testing.TB, local, addr string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("Dial from %s: %v", local, err)
	}
	return &client{poptest.NewClient(t, nc)}
}

// penaltyWaits returns the wait_ms of the "login penalty" log entries.
func penaltyWaits(env *testEnv) []int64 {
	var out []int64
	for _, e := range env.entries("login penalty") {
		out = append(out, e.Data["wait_ms"].(int64))
	}
	return out
}

// TestPenalty: an address that fails n times waits 2^n units before each
// further attempt (the reply unchanged), across connections, and a
// success releases it.
func TestPenalty(t *testing.T) {
	const unit = 25 * time.Millisecond
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.Guard = &penalty.Table{Unit: unit, Cap: time.Hour}
	})
	fail := func(c *client) time.Duration {
		t.Helper()
		start := time.Now()
		c.send("USER alice", "PASS wrong")
		c.expect("+OK")
		if l := c.line(); l != `-ERR [AUTH] password supplied for "alice" is incorrect` {
			t.Fatalf("failure reply changed: %q", l)
		}
		return time.Since(start)
	}
	for i := 0; i < 2; i++ {
		c := dial(t, env.addr)
		c.expect("+OK POP server ready")
		fail(c)
		if d := fail(c); d < time.Duration(1<<(2*i+1))*unit {
			t.Errorf("attempt %d answered after %v, before its penalty", 2*i+2, d)
		}
		c.expectClosed()
	}
	c := dial(t, env.addr)
	c.expect("+OK POP server ready")
	start := time.Now()
	c.send("USER alice", "PASS wonderland")
	c.expect("+OK")
	c.expect("+OK maildrop")
	if d := time.Since(start); d < 16*unit {
		t.Errorf("login after 4 failures answered after %v, want at least %v", d, 16*unit)
	}
	c.send("QUIT")
	c.expect("+OK")
	c2 := dial(t, env.addr)
	c2.login("alice", "wonderland") // released: no penalty
	c2.send("QUIT")
	c2.expect("+OK")
	want := []int64{50, 100, 200, 400}
	if got := penaltyWaits(env); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("penalty waits = %v ms, want %v (2^n units, none after the success)", got, want)
	}
}

// TestPenaltySecure: in SECURE mode the penalty is the same for an
// unknown user as for a wrong password, and the reply text is the same
// as without penalty.
func TestPenaltySecure(t *testing.T) {
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.Security = gateway.Secure
		s.Guard = &penalty.Table{Unit: time.Millisecond}
	})
	replies := map[string]string{}
	for _, user := range []string{"alice", "nosuchuser"} {
		c := dialFrom(t, map[string]string{"alice": "127.0.0.3", "nosuchuser": "127.0.0.4"}[user], env.addr)
		c.expect("+OK POP server ready")
		for i := 0; i < 2; i++ {
			c.send("USER "+user, "PASS wrong")
			c.expect("+OK")
			replies[user] += c.line() + "\n"
		}
	}
	if a, n := replies["alice"], replies["nosuchuser"]; strings.ReplaceAll(a, "alice", "X") != strings.ReplaceAll(n, "nosuchuser", "X") {
		t.Errorf("SECURE replies differ:\n%s\n%s", a, n)
	}
	waits := penaltyWaits(env)
	if len(waits) != 2 || waits[0] != waits[1] {
		t.Errorf("penalty waits = %v, want one equal wait per second attempt", waits)
	}
}

// slowAuth makes every password check cost a bcrypt comparison and
// counts the checks of the flood's user.
type slowAuth struct {
	*fakeAuth
	hash   []byte
	flood  atomic.Int64 // checks of BIG started
	onGood func()
}

func (a *slowAuth) CheckPassword(user, password string, now time.Time) (string, error) {
	if strings.EqualFold(user, "big") {
		a.flood.Add(1)
	} else if a.onGood != nil {
		a.onGood()
	}
	bcrypt.CompareHashAndPassword(a.hash, []byte(password))
	return a.fakeAuth.CheckPassword(user, password, now)
}

// TestFloodQueues: 1,000 parallel bad logins from one address queue
// behind each other; a good login from another address is checked after
// a handful more of theirs, not after the whole queue, and answered
// within 1 s.
func TestFloodQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	auth := &slowAuth{fakeAuth: newFakeAuth(), hash: hash}
	var atSend, atCheck atomic.Int64
	atCheck.Store(-1)
	auth.onGood = func() { atCheck.Store(auth.flood.Load()) }
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.Auth = auth
		s.MaxAuthChecks = 2
		s.Guard = &penalty.Table{Cap: -1} // counted, no waits: all 1,000 checks queue
	})
	const n = 1000
	var sent atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", env.addr, 30*time.Second)
			if err != nil {
				t.Errorf("flood dial: %v", err)
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(60 * time.Second))
			r := &poptest.Client{T: t, Conn: nc, R: bufio.NewReader(nc)}
			if _, err := r.ReadLine(); err != nil {
				t.Errorf("flood greeting: %v", err)
				return
			}
			nc.Write([]byte("USER big\r\nPASS wrong\r\n"))
			sent.Add(1)
			r.ReadLine()
			r.ReadLine()
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for sent.Load() < n*9/10 || auth.flood.Load() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("flood did not start: %d sent, %d checked", sent.Load(), auth.flood.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := dialFrom(t, "127.0.0.2", env.addr)
	c.expect("+OK POP server ready")
	c.send("USER alice")
	c.expect("+OK")
	atSend.Store(auth.flood.Load())
	start := time.Now()
	c.send("PASS wonderland")
	c.expect("+OK maildrop")
	latency := time.Since(start)
	wg.Wait()
	t.Logf("flood over after %v", time.Since(start))
	jumped := atCheck.Load() - atSend.Load()
	t.Logf("good login: %v; flood checks started %d before it was sent, %d more before its check", latency, atSend.Load(), jumped)
	// Round-robin lets through about one flood check per slot while the
	// good login's PASS travels and is read; first come first served
	// would let through every queued one (hundreds). 100 leaves room for
	// a loaded machine.
	if jumped > 100 {
		t.Errorf("%d flood checks went before the good login's, want a handful", jumped)
	}
	if atCheck.Load() > n/2 {
		t.Errorf("good login checked after %d of %d flood checks: the flood was not waiting", atCheck.Load(), n)
	}
	if latency >= time.Second {
		t.Errorf("good login took %v during the flood, want under 1 s", latency)
	}
}
