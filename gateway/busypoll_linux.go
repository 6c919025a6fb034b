package gateway

import (
	"syscall"
	"time"
)

// pollReadable peeks at the socket without blocking until a byte can be
// read, d has passed, or stop returns true. Nothing is consumed: the
// session's next read gets the data.
func pollReadable(rc syscall.RawConn, d time.Duration, stop func() bool) pollResult {
	r := pollStopped
	deadline := time.Now().Add(d)
	var b [1]byte
	err := rc.Control(func(fd uintptr) {
		for i := 0; ; i++ {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if n > 0 || err == nil || (err != syscall.EAGAIN && err != syscall.EINTR) {
				r = pollData // data, end of file, or an error for the read to report
				return
			}
			if stop() {
				return
			}
			if i%8 == 7 && time.Now().After(deadline) {
				r = pollTimeout
				return
			}
		}
	})
	if err != nil {
		return pollStopped
	}
	return r
}
