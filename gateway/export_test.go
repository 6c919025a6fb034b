package gateway

// SetMaxFetching sets how many sessions may be fetching for them to poll,
// in place of half the CPUs.
func (s *Server) SetMaxFetching(n int) { s.maxFetching = int32(n) }

// PollStats returns the busy-poll counters: polls ended by data, by
// timeout and by giving way, and the sessions now busy and fetching.
func (s *Server) PollStats() (data, timeout, stopped uint64, busy, fetching int32) {
	return s.polls[pollData].Load(), s.polls[pollTimeout].Load(), s.polls[pollStopped].Load(),
		s.busy.Load(), s.fetching.Load()
}
