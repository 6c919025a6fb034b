package gateway_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/uaf"
	"golang.org/x/crypto/bcrypt"
)

// BenchmarkSecureFailure measures, in SECURE mode with the real accounts
// file (bcrypt at its default cost) and the default failure delay, how long
// the failure reply to PASS takes for an unknown user and for a wrong
// password. The medians must be indistinguishable (issue #4):
//
//	go test -run '^$' -bench SecureFailure -benchtime 15x ./gateway
func BenchmarkSecureFailure(b *testing.B) {
	dir := b.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	db := uaf.NewDB()
	db.Put(&uaf.Account{Name: "JONES", Hash: h})
	path := filepath.Join(dir, "uaf")
	if err := db.WriteFile(path); err != nil {
		b.Fatal(err)
	}
	store, err := uaf.NewStore(path)
	if err != nil {
		b.Fatal(err)
	}
	env := startServer(b, func(s *gateway.Server, _ *fakeBackend) {
		s.Auth = store
		s.Classify = uafClassify
		s.Security = gateway.Secure
		s.FailureDelay = 0 // the default: 1 s in SECURE mode
	})
	for _, tc := range []struct{ name, user string }{{"unknown-user", "nosuch"}, {"wrong-password", "jones"}} {
		b.Run(tc.name, func(b *testing.B) {
			var times []time.Duration
			for i := 0; i < b.N; i++ {
				c := dial(b, env.addr)
				if l := c.line(); !strings.HasPrefix(l, "+OK POP server ready") {
					b.Fatalf("greeting: %q", l)
				}
				c.send("USER " + tc.user)
				if l := c.line(); !strings.HasPrefix(l, "+OK") {
					b.Fatalf("USER: %q", l)
				}
				start := time.Now()
				c.send("PASS wrong")
				if l := c.line(); !strings.HasPrefix(l, "-ERR [AUTH] access to user account") {
					b.Fatalf("PASS: %q", l)
				}
				times = append(times, time.Since(start))
				c.Conn.Close()
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
		})
	}
}

func uafClassify(err error) gateway.AuthFailure {
	switch {
	case err == nil:
		return gateway.FailSystem
	case errors.Is(err, uaf.ErrUnknownUser):
		return gateway.FailUnknownUser
	case errors.Is(err, uaf.ErrBadPassword):
		return gateway.FailBadPassword
	}
	return gateway.FailSystem
}
