package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// buildRevision is the VCS revision the Makefile passes with -ldflags -X
// for builds the toolchain cannot stamp (a git worktree, -buildvcs=false).
var buildRevision string

// printVersion writes the version, and the module version and VCS revision
// the Go toolchain recorded in the binary.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, "vmspop", Version)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "build info: none (not built with module support)")
		return
	}
	fmt.Fprintf(w, "module %s %s\n", bi.Main.Path, bi.Main.Version)
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" && buildRevision != "" {
		rev, modified = buildRevision, ""
	}
	if rev == "" {
		fmt.Fprintln(w, "revision unknown (built without VCS information)")
	} else {
		if modified == "true" {
			rev += " (modified)"
		}
		fmt.Fprintln(w, strings.TrimSpace("revision "+rev+" "+at))
	}
	fmt.Fprintln(w, bi.GoVersion)
}
