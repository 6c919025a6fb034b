package main

// The "vmspop deliver" subcommand: the local delivery agent of package
// internal/delivercmd, the same code as the vmspop-deliver binary (which
// an MTA should prefer: it starts in a fraction of the time).

import (
	"io"

	"github.com/vmspop/vmspop/internal/delivercmd"
)

// runDeliver runs "vmspop deliver" with args, the arguments after
// "deliver", reading the message from stdin. It returns a sysexits.h
// status. env looks up environment variables.
func runDeliver(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	return delivercmd.Run("vmspop deliver", args, env, stdin, stderr)
}
