// The runtime's start, for a process that lives a few milliseconds and
// sets GOMAXPROCS to 1 itself: no goroutine for GOMAXPROCS updates, no
// prctl naming each memory mapping.

//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command vmspop-deliver is vmspop's local delivery agent on its own: the
// same code, flags, exit statuses and configuration as "vmspop deliver"
// (package internal/delivercmd), in a small binary that links only what
// delivery needs, so that an MTA that starts a process per message pays
// little for the start (as dovecot-lda beside dovecot).
//
// Usage:
//
//	vmspop-deliver [-f SENDER] [--lock-timeout DURATION] USER...
package main

import (
	"os"

	_ "github.com/emersion/go-message/charset" // decode any charset in RFC 822 headers, as vmspop does

	"github.com/vmspop/vmspop/internal/delivercmd"
)

func main() {
	os.Exit(delivercmd.Run("vmspop-deliver", os.Args[1:], os.LookupEnv, os.Stdin, os.Stderr))
}
