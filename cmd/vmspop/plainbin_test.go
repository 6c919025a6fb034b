package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	plainOnce sync.Once
	plainPath string
	plainErr  error
)

// plainBinary builds vmspop without the race detector, whose shadow
// memory would swamp a memory measurement.
func plainBinary(t *testing.T) string {
	t.Helper()
	plainOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vmspop-plain")
		if err != nil {
			plainErr = err
			return
		}
		plainPath = filepath.Join(dir, "vmspop")
		if out, err := exec.Command("go", "build", "-o", plainPath, ".").CombinedOutput(); err != nil {
			plainErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plainPath
}
