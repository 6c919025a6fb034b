package gateway_test

import (
	"encoding/base64"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/uaf"
)

// classifyUAF maps the accounts file's errors as cmd/vmspop does.
func classifyUAF(err error) gateway.AuthFailure {
	switch {
	case errors.Is(err, uaf.ErrUnknownUser):
		return gateway.FailUnknownUser
	case errors.Is(err, uaf.ErrBadPassword):
		return gateway.FailBadPassword
	}
	return gateway.FailSystem
}

// TestSecureTimingDelayedSASL: in SECURE mode a client that waits longer
// than the failure delay before it answers the PLAIN challenge still sees
// the same time for an unknown user as for a wrong password: the delay
// runs from its last line, and the unknown user's dummy hash has the
// accounts file's highest cost (here 4, not the default 10). A sample of
// each kind is taken at the same time, so that load hits both alike.
func TestSecureTimingDelayedSASL(t *testing.T) {
	if testing.Short() {
		t.Skip("timing samples")
	}
	path := filepath.Join(t.TempDir(), "uaf")
	db := uaf.NewDB()
	h, err := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	db.Put(&uaf.Account{Name: "ALICE", Hash: h})
	if err := db.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	store, err := uaf.NewStore(path)
	if err != nil {
		t.Fatal(err)
	}
	// The check (a bcrypt at cost 4: over 200 ms under -race on a loaded
	// machine) must end well within the delay for the delay to be what
	// the client sees.
	const delay = 600 * time.Millisecond
	env := startServer(t, func(s *gateway.Server, _ *fakeBackend) {
		s.Auth = store
		s.Classify = classifyUAF
		s.Security = gateway.Secure
		s.FailureDelay = delay
	})
	sample := func(user string) time.Duration {
		c := dial(t, env.addr)
		c.expect("+OK POP server ready")
		c.send("AUTH PLAIN")
		c.expect("+ ")
		time.Sleep(delay + 50*time.Millisecond) // longer than the failure delay
		start := time.Now()
		c.send(base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00wrong")))
		c.expect("-ERR [AUTH] access to user account")
		d := time.Since(start)
		c.Conn.Close()
		return d
	}
	// A round is 9 pairs; the medians must be within 5 % in one of 3
	// rounds (a burst of load on a shared machine can skew one round),
	// and no reply may ever come before the delay.
	const n, rounds = 9, 3
	for round := 1; ; round++ {
		known, unknown := make([]time.Duration, n), make([]time.Duration, n)
		for i := 0; i < n; i++ {
			done := make(chan struct{})
			go func() { defer close(done); unknown[i] = sample("nobody") }()
			known[i] = sample("alice")
			<-done
		}
		slices.Sort(known)
		slices.Sort(unknown)
		mk, mu := known[n/2], unknown[n/2]
		t.Logf("round %d medians: wrong password %v, unknown user %v", round, mk, mu)
		if known[0] < delay || unknown[0] < delay {
			t.Fatalf("a reply came before the failure delay after the client's last line: %v, %v", known[0], unknown[0])
		}
		diff := float64(mk-mu) / float64(max(mk, mu))
		if diff >= -0.05 && diff <= 0.05 {
			return
		}
		if round == rounds {
			t.Errorf("medians differ by %.1f %% (wrong password %v, unknown user %v), want within 5 %%", 100*diff, mk, mu)
			return
		}
	}
}
