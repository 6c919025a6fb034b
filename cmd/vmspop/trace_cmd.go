package main

import (
	"io"
	"time"

	"github.com/vmspop/vmspop/tracelog"
)

// runTrace runs `vmspop trace` with args (the words after "trace") and
// returns the exit status. Times without a zone are read as local time.
func runTrace(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return tracelog.Main(args, stdin, stdout, stderr, time.Local)
}
