package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/uaf"
)

// registerPasswordChecks adds vmspop_password_checks_total to reg: the
// passwords checked by the current server's accounts store, by how (a
// bcrypt comparison, or a hit of the cache of verified passwords that
// TCPIP$POP_AUTH_CACHE_TTL sets). A reload starts a new store, and the
// counts start again from 0.
func registerPasswordChecks(reg *prometheus.Registry, current func() *gateway.Server) {
	stats := func() uaf.Stats {
		if srv := current(); srv != nil {
			if st, ok := srv.Auth.(interface{ Stats() uaf.Stats }); ok { // *uaf.Store, uafAuth
				return st.Stats()
			}
		}
		return uaf.Stats{}
	}
	opts := func(by string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Name: "vmspop_password_checks_total",
			Help:        "Passwords checked since the accounts store was (re)loaded, by how: bcrypt, or a hit of the verified-password cache.",
			ConstLabels: prometheus.Labels{"by": by}}
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(opts("bcrypt"), func() float64 { return float64(stats().BcryptCompares) }),
		prometheus.NewCounterFunc(opts("cache"), func() float64 { return float64(stats().CacheHits) }))
}
