package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunTrace goes through the entry point main calls.
func TestRunTrace(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runTrace([]string{"--session", "0a1b", filepath.Join("..", "..", "testdata", "logs", "server.json")}, strings.NewReader(""), &out, &errOut)
	if code != 0 || errOut.Len() != 0 {
		t.Fatalf("runTrace = exit %d, stderr %q; want 0 and nothing", code, errOut.String())
	}
	if !strings.Contains(out.String(), "0a1b2c3d4e5f") || !strings.Contains(out.String(), "C: USER smith") {
		t.Errorf("runTrace output lacks session 0a1b2c3d4e5f's transcript:\n%s", out.String())
	}
}
