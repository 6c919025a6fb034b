package gateway

// PollStats returns the busy-poll counters: polls ended by data, by
// timeout and by giving way, and the sessions now busy and polling.
func (s *Server) PollStats() (data, timeout, stopped uint64, busy, pollers int32) {
	return s.polls[pollData].Load(), s.polls[pollTimeout].Load(), s.polls[pollStopped].Load(),
		s.busy.Load(), s.pollers.Load()
}
