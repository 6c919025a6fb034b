package gateway

import (
	"syscall"
	"time"
)

// pollReadable peeks at the socket without blocking until a byte can be
// read, d has passed, or stop returns true. Nothing is consumed: the
// session's next read gets the data.
func pollReadable(rc syscall.RawConn, d time.Duration, stop func() bool) pollResult {
	r, _ := pollRead(rc, d, stop, nil)
	return r
}

// pollRead is pollReadable that, given p, reads what arrives into p and
// returns its length, so that the command costs no second system call.
// End of file and errors are left for the session's read (n is 0).
func pollRead(rc syscall.RawConn, d time.Duration, stop func() bool, p []byte) (pollResult, int) {
	r, got := pollStopped, 0
	deadline := time.Now().Add(d)
	var b [1]byte
	buf, flags := p, syscall.MSG_DONTWAIT
	if len(p) == 0 {
		buf, flags = b[:], flags|syscall.MSG_PEEK
	}
	err := rc.Control(func(fd uintptr) {
		for i := 0; ; i++ {
			n, _, err := syscall.Recvfrom(int(fd), buf, flags)
			if n > 0 || err == nil || (err != syscall.EAGAIN && err != syscall.EINTR) {
				r = pollData // data, end of file, or an error for the read to report
				if n > 0 && flags&syscall.MSG_PEEK == 0 {
					got = n
				}
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
		return pollStopped, 0
	}
	return r, got
}
