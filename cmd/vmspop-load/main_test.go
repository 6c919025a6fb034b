package main

import (
	"os"
	"testing"

	"github.com/vmspop/vmspop/internal/poptest"
)

// TestMain removes the commands the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	poptest.RemoveBuilt()
	os.Exit(code)
}
