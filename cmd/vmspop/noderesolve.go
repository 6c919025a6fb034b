package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Translating a DECnet node name that is not in TCPIP$POP_DECNET_NODES
// to a TCP/IP host name for TCPIP$POP_DECNET_REWRITE=TRANSFORM, as the VMS
// server did: the system resolver (hosts file included) is asked for the
// node name, then for the node name under the local domain (the host
// name without its first label). The first that resolves gives its
// canonical name. Answers, found or not, are cached for resolveTTL; all
// the lookups of one node take at most resolveTimeout.
const (
	resolveTimeout = 2 * time.Second
	resolveTTL     = 10 * time.Minute
	resolveMax     = 4096 // cached nodes; the cache is emptied when full
)

// nodeResolver is rewrite.Settings.Resolve for the server.
type nodeResolver struct {
	// lookup returns the canonical name of host (net.Resolver.LookupCNAME).
	lookup func(ctx context.Context, host string) (string, error)
	domain string // local domain, "" if the host name has a single label
	log    logrus.FieldLogger
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]resolved
}

type resolved struct {
	host string // "" when neither name resolved
	at   time.Time
}

// newNodeResolver returns a resolver for a server whose host name is
// hostname.
func newNodeResolver(lookup func(ctx context.Context, host string) (string, error), hostname string, log logrus.FieldLogger) *nodeResolver {
	_, domain, _ := strings.Cut(strings.ToLower(strings.TrimSuffix(hostname, ".")), ".")
	return &nodeResolver{lookup: lookup, domain: domain, log: log, now: time.Now, cache: map[string]resolved{}}
}

// Resolve returns the host name of a DECnet node, or "".
func (r *nodeResolver) Resolve(node string) string {
	node = strings.ToLower(node)
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[node]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < resolveTTL {
		return c.host
	}
	names := []string{node}
	if r.domain != "" && !strings.HasSuffix(node, "."+r.domain) {
		names = append(names, node+"."+r.domain)
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	host := ""
	var errs []string
	for _, name := range names {
		cname, err := r.lookup(ctx, name)
		cname = strings.ToLower(strings.TrimSuffix(cname, "."))
		if err == nil && cname != "" {
			host = cname
			break
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	fields := logrus.Fields{"node": strings.ToUpper(node), "names": strings.Join(names, " "), "ms": time.Since(now).Milliseconds()}
	if host == "" {
		r.log.WithFields(fields).WithField("errors", strings.Join(errs, "; ")).
			Warn("DECnet node not in the node table and not resolved; its From: addresses take the GENERIC form")
	} else {
		r.log.WithFields(fields).WithField("host", host).Trace("DECnet node resolved")
	}
	r.mu.Lock()
	if len(r.cache) >= resolveMax {
		clear(r.cache)
	}
	r.cache[node] = resolved{host: host, at: now}
	r.mu.Unlock()
	return host
}
