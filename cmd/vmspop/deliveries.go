package main

import (
	"sync/atomic"

	"github.com/vmspop/vmspop/internal/delivercmd"
)

// deliveryCount counts deliveries by exit status (sysexits.h, as vmspop
// deliver exits) for the metrics: LMTP's in this process, and those that
// vmspop deliver reports through the admin socket. Nothing is counted
// until the metrics are started (TCPIP$POP_METRICS_LISTEN).
type deliveryCount struct {
	fn atomic.Pointer[func(status int)]
}

// set makes fn receive the counts from now on.
func (d *deliveryCount) set(fn func(status int)) { d.fn.Store(&fn) }

// status counts one delivery with its exit status.
func (d *deliveryCount) status(code int) {
	if d == nil {
		return
	}
	if fn := d.fn.Load(); fn != nil {
		(*fn)(code)
	}
}

// result counts one delivery that ended with err (nil: delivered), with
// the exit status vmspop deliver would have given.
func (d *deliveryCount) result(err error) {
	code := delivercmd.ExOK
	if err != nil {
		code = delivercmd.ExitCode(err)
	}
	d.status(code)
}
