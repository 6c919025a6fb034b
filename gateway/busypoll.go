package gateway

import (
	"runtime"
	"syscall"
)

// Busy polling.
//
// A POP client fetching mail sends RETR, reads the whole reply and only
// then sends the next RETR. On loopback or a fast LAN that next command
// arrives some tens of microseconds after the reply has gone, and a
// session that has gone to sleep in the network poller pays the wake-up
// (epoll, a futex, a scheduler hop) on every message. Watching the socket
// for a few tens of microseconds before sleeping catches most of those
// commands, and the session skips the wake-up.
//
// Polling burns a CPU, so it is bounded: only after a RETR, TOP or DELE (a
// fetch in progress); for at most Server.BusyPoll; only while no more
// sessions are fetching than half the CPUs (with several fetches at once,
// their clients, often on the same host, need the CPU that polling would
// take); and never while another session has a command in hand. A
// session whose client keeps missing the window (a slow link) stops
// polling and only tries again now and then.

// pollResult is how a poll ended.
type pollResult int

const (
	pollData    pollResult = iota // the socket became readable (data, EOF or an error)
	pollTimeout                   // nothing arrived within the window
	pollStopped                   // stop said to give up, or polling is not possible
)

// pollGate decides, per session, whether polling is worth it: each data
// arrival within the window earns credit, each timeout costs more, and a
// session without credit polls only on every probeEvery'th chance.
type pollGate struct {
	credit      int8
	tries       uint8
	polls, hits uint32 // for the session summary
}

const (
	pollCreditStart = 4
	pollCreditMax   = 8
	pollMissCost    = 2
	probeEvery      = 64
)

func newPollGate() pollGate { return pollGate{credit: pollCreditStart} }

// want reports whether to poll this time.
func (g *pollGate) want() bool {
	if g.credit > 0 {
		return true
	}
	g.tries++
	return g.tries%probeEvery == 0
}

// record books the outcome of a poll.
func (g *pollGate) record(r pollResult) {
	g.polls++
	switch r {
	case pollData:
		g.hits++
		if g.credit < pollCreditMax {
			g.credit++
		}
		if g.credit <= 0 { // a probe hit: poll again
			g.credit = 1
		}
	case pollTimeout:
		if g.credit > 0 {
			g.credit -= pollMissCost
		}
	}
}

// maxFetching is how many sessions may be fetching at once for them to
// poll: half the CPUs Go may use, so none with a single CPU (the client
// would be waiting for the CPU the session spins on).
func maxFetching() int32 { return int32(runtime.GOMAXPROCS(0) / 2) }

// pollNext watches the connection for the client's next command before
// the session goes to sleep in its read, when polling is on and likely to
// pay. Under TLS it watches the socket under the TLS layer: a client that
// sends several records at once may leave some in that layer, where the
// socket does not show them; the poll then runs out its window and costs
// the session credit, so such a client soon stops being polled for.
func (c *conn) pollNext() {
	s := c.srv
	if s.BusyPoll <= 0 || c.rc == nil || s.fetching.Load() > c.maxFetching || !c.gate.want() {
		return
	}
	if !c.tls {
		c.in.armed = true // the next read polls, reading (pollread.go)
		return
	}
	c.book(pollReadable(c.rc, s.BusyPoll, func() bool { return s.busy.Load() > 0 }))
}

// book counts a poll's outcome.
func (c *conn) book(r pollResult) {
	c.srv.polls[r].Add(1)
	c.gate.record(r)
}

// rawConnOf returns the socket under nc for polling, or nil.
func rawConnOf(nc any) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
