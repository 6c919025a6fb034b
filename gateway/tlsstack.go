package gateway

// A TLS handshake (the hybrid X25519MLKEM768 key exchange above all) grows
// a goroutine's stack to 16 KiB; the session goroutine then waits for
// commands with that stack until a garbage collection halves it, and an
// idle session needs only 8 KiB. The handshake therefore runs on a
// goroutine of its own, which ends with it: its stack goes back to the
// runtime's stack cache at once, for the next handshake to reuse, and the
// session's stack never grows for it (TestTLSIdleServerMemory, make bench:
// 16 KiB of stack per idle session before a GC, 8 KiB after this).

// onOwnStack runs f on a goroutine of its own and returns its result; a
// panic in f is raised again in the caller.
func onOwnStack(f func() error) error {
	type result struct {
		err error
		p   any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.p = recover()
			done <- r
		}()
		r.err = f()
	}()
	r := <-done
	if r.p != nil {
		panic(r.p)
	}
	return r.err
}
