package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/tracelog"

	"github.com/vmspop/vmspop/logicals"
)

func TestLogrusLevel(t *testing.T) {
	tests := []struct {
		level   logicals.LogLevel
		trace   bool
		want    logrus.Level
		wantErr bool
	}{
		{logicals.LogError, false, logrus.ErrorLevel, false},
		{logicals.LogError, true, logrus.InfoLevel, false}, // TRACE lines are at Info
		{logicals.LogInformational, false, logrus.InfoLevel, false},
		{logicals.LogInformational, true, logrus.InfoLevel, false},
		{logicals.LogThread, false, logrus.DebugLevel, false},
		{logicals.LogThread, true, logrus.DebugLevel, false}, // never lowered
		{logicals.LogDebug, false, logrus.TraceLevel, false},
		{logicals.LogDebug, true, logrus.TraceLevel, false},
		{logicals.LogLevel(42), false, 0, true},
		{logicals.LogLevel(-1), true, 0, true},
	}
	for _, tt := range tests {
		got, err := logrusLevel(tt.level, tt.trace)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("logrusLevel(%d, %v) = %v, %v; want %v, error %v", tt.level, tt.trace, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNewLoggerLevelAndFormat(t *testing.T) {
	tests := []struct {
		level    logicals.LogLevel
		format   string
		trace    bool
		want     logrus.Level
		wantJSON bool
		wantErr  string
	}{
		{logicals.LogInformational, "TEXT", false, logrus.InfoLevel, false, ""},
		{logicals.LogInformational, "", false, logrus.InfoLevel, false, ""},
		{logicals.LogThread, "json", false, logrus.DebugLevel, true, ""},
		{logicals.LogError, " Json ", true, logrus.InfoLevel, true, ""},
		{logicals.LogDebug, "text", false, logrus.TraceLevel, false, ""},
		{logicals.LogInformational, "XML", false, 0, false, "unknown log format"},
		{logicals.LogLevel(9), "TEXT", false, 0, false, "unknown log level"},
	}
	for _, tt := range tests {
		log, r, err := newLogger(tt.level, tt.format, "", tt.trace)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "vmspop: ") {
				t.Errorf("newLogger(%d, %q) error = %v; want one containing %q", tt.level, tt.format, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("newLogger(%d, %q) = %v", tt.level, tt.format, err)
		}
		if log.GetLevel() != tt.want {
			t.Errorf("newLogger(%d, %q, trace %v) level = %v; want %v", tt.level, tt.format, tt.trace, log.GetLevel(), tt.want)
		}
		_, isJSON := log.Formatter.(*logrus.JSONFormatter)
		if isJSON != tt.wantJSON {
			t.Errorf("newLogger(%d, %q) formatter %T; want JSON %v", tt.level, tt.format, log.Formatter, tt.wantJSON)
		}
		if r == nil || log.Out != r {
			t.Errorf("newLogger(%d, %q): Out is %T, not the reopener", tt.level, tt.format, log.Out)
		}
		if err := r.Reopen(); err != nil {
			t.Errorf("Reopen on standard error = %v; want nil", err)
		}
	}
}

func TestNewLoggerBadFile(t *testing.T) {
	_, _, err := newLogger(logicals.LogInformational, "TEXT", filepath.Join(t.TempDir(), "no", "such", "dir", "x.log"), false)
	if err == nil || !strings.HasPrefix(err.Error(), "vmspop: open log file") {
		t.Fatalf("newLogger(missing dir) = %v; want a vmspop: open log file error", err)
	}
}

// TestNewLoggerFileRoundTrip writes through the real logger into a file and
// reads it back with the trace parser, for both formats.
func TestNewLoggerFileRoundTrip(t *testing.T) {
	for _, format := range []string{"TEXT", "JSON"} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "server.log")
			log, r, err := newLogger(logicals.LogInformational, format, path, true)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			log.WithFields(logrus.Fields{"session": "0a1b2c3d4e5f", "remote": "127.0.0.1:1"}).Info(`S: +OK "hi" = ünï`)
			log.Debug("not written at Info")
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm&^0o640 != 0 || perm&0o600 != 0o600 {
				t.Errorf("log file mode %v; want at most 0640 and owner rw", perm)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("log file has %d lines; want 1:\n%s", len(lines), data)
			}
			e, ok := tracelog.ParseLine([]byte(lines[0]))
			if !ok {
				t.Fatalf("tracelog.ParseLine(%q) failed", lines[0])
			}
			if e.Msg != `S: +OK "hi" = ünï` || e.Level != logrus.InfoLevel || e.Fields["session"] != "0a1b2c3d4e5f" || e.Time.IsZero() {
				t.Errorf("parsed %+v; want the entry written", e)
			}
			if time.Since(e.Time) > time.Minute || time.Since(e.Time) < -time.Minute {
				t.Errorf("parsed time %v is not now", e.Time)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkRotated asserts that old holds exactly the lines before the rotation
// and path the lines after it.
func checkRotated(t *testing.T, path, old string, before, after []string) {
	t.Helper()
	oldData, newData := readFile(t, old), readFile(t, path)
	for _, l := range before {
		if !strings.Contains(oldData, l) {
			t.Errorf("moved file lacks %q:\n%s", l, oldData)
		}
		if strings.Contains(newData, l) {
			t.Errorf("new file has pre-rotation line %q:\n%s", l, newData)
		}
	}
	for _, l := range after {
		if !strings.Contains(newData, l) {
			t.Errorf("new file lacks %q:\n%s", l, newData)
		}
		if strings.Contains(oldData, l) {
			t.Errorf("moved file has post-rotation line %q:\n%s", l, oldData)
		}
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path, old := filepath.Join(dir, "server.log"), filepath.Join(dir, "server.log.1")
	log, r, err := newLogger(logicals.LogInformational, "TEXT", path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	log.Info("before rotation")
	if err := os.Rename(path, old); err != nil {
		t.Fatal(err)
	}
	log.Info("still to the moved file")
	if err := r.Reopen(); err != nil {
		t.Fatalf("Reopen = %v", err)
	}
	log.Info("after rotation")
	checkRotated(t, path, old, []string{"before rotation", "still to the moved file"}, []string{"after rotation"})

	// A reopen that cannot open the path keeps writing to the old file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil { // a directory cannot be opened for writing
		t.Fatal(err)
	}
	if err := r.Reopen(); err == nil {
		t.Fatal("Reopen onto a directory = nil; want an error")
	}
	if _, err := fmt.Fprintln(r, "after failed reopen"); err != nil {
		t.Errorf("write after a failed Reopen = %v; want the old file kept", err)
	}

	if err := r.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	if _, err := r.Write([]byte("x\n")); err == nil {
		t.Error("Write after Close = nil; want an error")
	}
	if err := r.Reopen(); err == nil {
		t.Error("Reopen after Close = nil; want an error")
	}
}

func TestReopenerFallback(t *testing.T) {
	var buf bytes.Buffer
	r, err := openReopener("", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.Reopen(); err != nil {
		t.Errorf("Reopen without a path = %v; want nil", err)
	}
	if buf.String() != "hello\n" {
		t.Errorf("fallback got %q; want %q", buf.String(), "hello\n")
	}
}

// TestReopenConcurrent writes from many goroutines while the file is rotated
// again and again: run with -race; no line may be lost or torn.
func TestReopenConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.log")
	log, r, err := newLogger(logicals.LogInformational, "TEXT", path, false)
	if err != nil {
		t.Fatal(err)
	}
	const writers, perWriter, rotations = 8, 200, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				log.WithField("w", w).Infof("line %d", i)
			}
		}()
	}
	for i := range rotations {
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i)); err != nil {
			t.Fatal(err)
		}
		if err := r.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(path + "*")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range files {
		for _, line := range strings.Split(strings.TrimSuffix(readFile(t, f), "\n"), "\n") {
			if line == "" {
				continue
			}
			if _, ok := tracelog.ParseLine([]byte(line)); !ok {
				t.Errorf("%s: torn line %q", f, line)
			}
			total++
		}
	}
	if total != writers*perWriter {
		t.Errorf("found %d lines in %d files; want %d", total, len(files), writers*perWriter)
	}
}

// TestWatchSIGHUP sends a real SIGHUP to the test process.
func TestWatchSIGHUP(t *testing.T) {
	// Keep a handler of our own for the whole test, so that a SIGHUP can
	// never take the default action (terminate) whatever watchSIGHUP does.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	dir := t.TempDir()
	path, old := filepath.Join(dir, "server.log"), filepath.Join(dir, "server.log.1")
	log, r, err := newLogger(logicals.LogInformational, "TEXT", path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchSIGHUP(ctx, r, log)

	log.Info("before rotation")
	if err := os.Rename(path, old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), "log file reopened") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reopened log file 5s after SIGHUP")
		}
		time.Sleep(5 * time.Millisecond)
	}
	log.Info("after rotation")
	checkRotated(t, path, old, []string{"before rotation"}, []string{"log file reopened", "after rotation"})
}
