package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// traceLogs holds the trace fixtures and goldens (written by the tests of
// tracelog).
var traceLogs = filepath.Join("..", "..", "testdata", "logs")

// runTraceUTC runs the command with times read in UTC.
func runTraceUTC(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runTraceIn(args, strings.NewReader(stdin), &out, &errOut, time.UTC)
	return out.String(), errOut.String(), code
}

func traceGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(traceLogs, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTraceArgs: each flag reaches tracelog, in any place among the file
// names, in both spellings (-user, --session=ID), times in any form.
func TestTraceArgs(t *testing.T) {
	log := filepath.Join(traceLogs, "server.log")
	tests := []struct {
		args   []string
		golden string
	}{
		{[]string{log}, "all.golden"},
		{[]string{log, "--session=0A1B2C3D4E5F"}, "session-0a1b.golden"},
		{[]string{"-user", "Smith", log}, "user-smith.golden"},
		{[]string{log, "--client", "127.0.0.0/8"}, "client-loopback4.golden"},
		{[]string{"--since", "2026-11-25 17:21:00", log}, "since-1721.golden"},
		{[]string{log, "--until", "25-nov-2026 17:20:30.00"}, "until-1720.golden"},
		{[]string{"--since", "2026-11-25T17:25:00Z", log, "--until", "2026-11-25T18:25:00+01:00"}, "window.golden"},
		{[]string{"--failed", "--user", "jones", log}, "failed-jones.golden"},
		{[]string{log, "--failed", "--summary"}, "summary-failed.golden"},
	}
	for _, tt := range tests {
		out, errOut, code := runTraceUTC(t, "", tt.args...)
		if code != 0 || errOut != "" {
			t.Errorf("trace %q = exit %d, stderr %q; want 0 and nothing", tt.args, code, errOut)
		}
		if want := traceGolden(t, tt.golden); out != want {
			t.Errorf("trace %q differs from %s:\n--- got\n%s--- want\n%s", tt.args, tt.golden, out, want)
		}
	}
}

// TestTraceStdinAndDoubleDash: no file or "-" reads standard input; after
// "--" a name that looks like a flag is a file.
func TestTraceStdinAndDoubleDash(t *testing.T) {
	data := traceGolden(t, "server.json")
	for _, args := range [][]string{{"--failed"}, {"--failed", "-"}} {
		out, errOut, code := runTraceUTC(t, data, args...)
		if code != 0 || out != traceGolden(t, "failed.golden") {
			t.Errorf("trace %q on stdin = exit %d, stderr %q, output:\n%s", args, code, errOut, out)
		}
	}
	name := filepath.Join(t.TempDir(), "--failed")
	if err := os.WriteFile(name, []byte(traceGolden(t, "server.log")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runTraceUTC(t, "", "--summary", "--", name)
	if code != 0 || out != traceGolden(t, "summary.golden") {
		t.Errorf("trace --summary -- %s = exit %d, stderr %q, output:\n%s", name, code, errOut, out)
	}
}

// TestTraceErrors: the exit status and what standard error says.
func TestTraceErrors(t *testing.T) {
	log := filepath.Join(traceLogs, "server.log")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown flag", []string{"--bogus", log}, 2, "flag provided but not defined"},
		{"missing file", []string{filepath.Join(t.TempDir(), "nope.log")}, 2, "vmspop trace: open"},
		{"bad since", []string{"--since", "yesterday", log}, 2, `vmspop trace: bad time "yesterday"`},
		{"bad until", []string{"--until", "31-FOO-2026", log}, 2, "bad time"},
		{"until before since", []string{"--since", "2026-11-26", "--until", "2026-11-25", log}, 2, "--until 2026-11-25 is before --since 2026-11-26"},
		{"empty client", []string{"--client", " ", log}, 2, "vmspop trace: empty --client"},
		{"flag missing value", []string{log, "--user"}, 2, "flag needs an argument"},
		{"help", []string{"-h"}, 0, "usage: vmspop trace"},
		{"no match", []string{"--user", "nobody", log}, 1, "vmspop trace: no matching session"},
		{"no match summary", []string{"--summary", "--user", "nobody", log}, 1, "no matching session"},
		{"empty input", nil, 1, "no matching session"},
		{"skipped lines", []string{filepath.Join(traceLogs, "garbage.log")}, 0, "vmspop trace: skipped "},
	}
	for _, tt := range tests {
		out, errOut, code := runTraceUTC(t, "", tt.args...)
		if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%s: trace %q = exit %d, stderr %q; want %d and %q", tt.name, tt.args, code, errOut, tt.wantCode, tt.wantErr)
		}
		if tt.wantCode != 0 && out != "" {
			t.Errorf("%s: printed %q on stdout; want nothing", tt.name, out)
		}
	}
}
