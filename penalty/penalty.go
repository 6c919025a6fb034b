// Package penalty slows down password guessing across connections, as
// Dovecot's auth penalty and fail2ban do: failed logins are counted per
// client address (an IPv6 address by its /64 network, which one host
// usually holds whole) and per account, and each further attempt from a
// penalised address, or for a penalised account, waits 2^n seconds (n
// failures), up to a cap. A successful login clears its address and
// account.
//
// The waits are the same whatever the cause of the failures (unknown user,
// wrong password, disabled account), so they reveal nothing new in
// SECURE mode.
package penalty

import (
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Defaults.
const (
	// DefaultCap is the longest wait (TCPIP$POP_AUTH_PENALTY).
	DefaultCap = 15 * time.Second
	// DefaultForget is how long a record is kept after its last failure.
	DefaultForget = 15 * time.Minute
	// DefaultMaxEntries bounds each table (addresses, accounts).
	DefaultMaxEntries = 100000
)

// Table counts failures. The zero value is ready to use with the
// defaults; fields must not change once it is in use. It is safe for
// concurrent use.
type Table struct {
	// Cap is the longest wait; zero means DefaultCap, negative means no
	// wait at all (failures are still counted, for the status page).
	Cap time.Duration
	// Forget drops a record this long after its last failure; zero means
	// DefaultForget.
	Forget time.Duration
	// MaxEntries bounds the number of addresses and of accounts kept;
	// zero means DefaultMaxEntries.
	MaxEntries int
	// Unit is the wait after one failure, halved: the wait after n
	// failures is Unit * 2^n. Zero means one second.
	Unit time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	addrs map[string]*record
	accts map[string]*record
}

// record is the failures of one address or account.
type record struct {
	n    int
	last time.Time
}

// Entry is one penalised address, for the status page and metrics.
type Entry struct {
	Key      string    // the address, or its /64 network as "2001:db8::/64"
	Failures int       // failed logins since the last success
	Last     time.Time // the last failure
	Wait     time.Duration
}

// Key returns the address key of ip (an IP address without port): the
// address itself for IPv4, its /64 network for IPv6. Anything that does
// not parse as an address is its own key.
func Key(ip string) string {
	a, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

func (t *Table) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Table) forget() time.Duration {
	if t.Forget > 0 {
		return t.Forget
	}
	return DefaultForget
}

func (t *Table) cap() time.Duration {
	if t.Cap == 0 {
		return DefaultCap
	}
	return t.Cap
}

// wait is the wait after n failures: 2^n seconds, at most the cap.
func (t *Table) wait(n int) time.Duration {
	c := t.cap()
	if n <= 0 || c < 0 {
		return 0
	}
	unit := t.Unit
	if unit <= 0 {
		unit = time.Second
	}
	if n > 30 {
		return c
	}
	return min(time.Duration(1<<n)*unit, c)
}

// count returns the live failure count of key in m.
func (t *Table) count(m map[string]*record, key string, now time.Time) int {
	r := m[key]
	if r == nil {
		return 0
	}
	if now.Sub(r.last) >= t.forget() {
		delete(m, key)
		return 0
	}
	return r.n
}

// Delay returns how long an attempt from addr (see Key) for user must
// wait before its credentials are checked. user may be "".
func (t *Table) Delay(addr, user string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.count(t.addrs, Key(addr), now)
	if user != "" {
		n = max(n, t.count(t.accts, strings.ToUpper(user), now))
	}
	return t.wait(n)
}

// Failed records a failed login from addr for user (may be "").
func (t *Table) Failed(addr, user string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.addrs == nil {
		t.addrs = make(map[string]*record)
		t.accts = make(map[string]*record)
	}
	t.bump(t.addrs, Key(addr), now)
	if user != "" {
		t.bump(t.accts, strings.ToUpper(user), now)
	}
}

// bump adds a failure to key in m, making room when m is full.
func (t *Table) bump(m map[string]*record, key string, now time.Time) {
	t.count(m, key, now) // drops an expired record
	r := m[key]
	if r == nil {
		t.makeRoom(m, now)
		r = &record{}
		m[key] = r
	}
	r.n++
	r.last = now
}

// makeRoom keeps m under MaxEntries: expired records go first, then
// whatever the map yields (an attacker with more addresses than the table
// holds gets no more than the cap anyway).
func (t *Table) makeRoom(m map[string]*record, now time.Time) {
	limit := t.MaxEntries
	if limit <= 0 {
		limit = DefaultMaxEntries
	}
	if len(m) < limit {
		return
	}
	for k, r := range m {
		if now.Sub(r.last) >= t.forget() {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < limit {
			break
		}
		delete(m, k)
	}
}

// Succeeded records a successful login from addr for user: both are
// cleared (the account's owner should not keep paying for a guesser).
func (t *Table) Succeeded(addr, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.addrs, Key(addr))
	delete(t.accts, strings.ToUpper(user))
}

// Len returns the number of penalised addresses.
func (t *Table) Len() int {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, r := range t.addrs {
		if now.Sub(r.last) < t.forget() {
			n++
		}
	}
	return n
}

// Top returns at most n penalised addresses, the most failures first.
func (t *Table) Top(n int) []Entry {
	now := t.now()
	t.mu.Lock()
	var out []Entry
	for k, r := range t.addrs {
		if now.Sub(r.last) < t.forget() {
			out = append(out, Entry{Key: k, Failures: r.n, Last: r.last, Wait: t.wait(r.n)})
		}
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Failures != out[j].Failures {
			return out[i].Failures > out[j].Failures
		}
		return out[i].Key < out[j].Key
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
