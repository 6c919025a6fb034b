package gateway

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"
)

// Guard slows down password guessing across connections (package penalty
// implements it). addr is the client's IP address without port; user is
// the name the client gave, "" when it gave none.
type Guard interface {
	// Delay returns how long an attempt must wait before its credentials
	// are checked.
	Delay(addr, user string) time.Duration
	// Failed records a failed attempt.
	Failed(addr, user string)
	// Succeeded records a successful one.
	Succeeded(addr, user string)
}

// clientIP returns the IP address of a remote address, without port.
func clientIP(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// addrKey groups client addresses as the limits count them: an IPv4
// address alone, an IPv6 address by its /64 network.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// checkQueue bounds the credential checks that run at once (a bcrypt
// comparison takes a CPU for tens of milliseconds). Waiting checks are
// served round-robin by client address, so a flood from a few addresses
// queues behind itself and a login from elsewhere waits for at most one
// check per other waiting address.
type checkQueue struct {
	mu      sync.Mutex
	free    int
	order   []string                   // addresses with waiters, in service order
	waiters map[string][]chan struct{} // by address, first come first
}

func newCheckQueue(n int) *checkQueue {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	return &checkQueue{free: n, waiters: make(map[string][]chan struct{})}
}

// acquire waits for a slot for key; on error (ctx done) it holds none.
func (q *checkQueue) acquire(ctx context.Context, key string) error {
	q.mu.Lock()
	if q.free > 0 && len(q.order) == 0 {
		q.free--
		q.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if len(q.waiters[key]) == 0 {
		q.order = append(q.order, key)
	}
	q.waiters[key] = append(q.waiters[key], ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	w := q.waiters[key]
	for i, c := range w {
		if c == ch {
			q.waiters[key] = append(w[:i:i], w[i+1:]...)
			if len(q.waiters[key]) == 0 {
				delete(q.waiters, key)
				q.dropKey(key)
			}
			q.mu.Unlock()
			return ctx.Err()
		}
	}
	q.mu.Unlock()
	q.release() // granted meanwhile: hand the slot on
	return ctx.Err()
}

// dropKey removes key from the service order.
func (q *checkQueue) dropKey(key string) {
	for i, k := range q.order {
		if k == key {
			q.order = append(q.order[:i], q.order[i+1:]...)
			return
		}
	}
}

// release frees a slot, handing it to the next address in turn.
func (q *checkQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		q.free++
		return
	}
	key := q.order[0]
	q.order = q.order[1:]
	w := q.waiters[key]
	close(w[0])
	if len(w) > 1 {
		q.waiters[key] = w[1:]
		q.order = append(q.order, key)
	} else {
		delete(q.waiters, key)
	}
}

// checks returns the server's check queue.
func (s *Server) checks() *checkQueue {
	s.checkOnce.Do(func() { s.checkQ = newCheckQueue(s.MaxAuthChecks) })
	return s.checkQ
}

// waitPenalty makes an attempt from a penalised address (or for a
// penalised account) wait, once per attempt: USER and PASS pay once. The
// wait moves the failure-delay clock on, so SECURE's equal timing is kept.
func (c *conn) waitPenalty(name string) error {
	g := c.srv.Guard
	if g == nil || c.paid {
		return nil
	}
	c.paid = true
	d := g.Delay(c.ip, name)
	if d <= 0 {
		return nil
	}
	c.log.WithField("wait_ms", d.Milliseconds()).Info("login penalty")
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
	c.cmdTime = c.cmdTime.Add(d)
	return nil
}

// check runs one credential check: after the penalty wait, in the check
// queue.
func (c *conn) check(name string, fn func() (string, error)) (string, error) {
	if err := c.waitPenalty(name); err != nil {
		return "", err
	}
	q := c.srv.checks()
	if err := q.acquire(c.ctx, addrKey(c.ip)); err != nil {
		return "", err
	}
	defer q.release()
	return fn()
}

// attemptOver ends an attempt for the guard: failed (ok false) or not.
func (c *conn) attemptOver(name string, ok bool) {
	c.paid = false
	if g := c.srv.Guard; g != nil {
		if ok {
			g.Succeeded(c.ip, name)
		} else {
			g.Failed(c.ip, name)
		}
	}
}
