package main

import (
	"testing"

	"github.com/vmspop/vmspop/internal/poptest"
)

// plainBinary builds vmspop without the race detector, whose shadow
// memory would swamp a memory measurement and whose slowness a test that
// runs the binary many times would pay each time.
func plainBinary(t *testing.T) string {
	t.Helper()
	return poptest.BuildPlain(t, "github.com/vmspop/vmspop/cmd/vmspop")
}
