package main

import (
	"fmt"
	"io"

	"github.com/vmspop/vmspop/logicals"
)

// loadToolConfig reads the logical names for the tool "vmspop <tool>": it
// prints each warning and the error, if any, to stderr prefixed with the
// tool's name, and reports whether the configuration is usable (else the
// tool exits 1).
func loadToolConfig(tool string, env func(string) (string, bool), stderr io.Writer) (*logicals.Config, bool) {
	cfg, warns, err := logicals.Load(env, "")
	for _, w := range warns {
		fmt.Fprintf(stderr, "vmspop %s: warning: %s\n", tool, w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmspop %s: %v\n", tool, err)
		return nil, false
	}
	return cfg, true
}
