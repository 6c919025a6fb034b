package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeliverBreaksReusedPIDDotlock: a NEWMAIL.lock left by a killed
// process whose PID now belongs to another live process (here our parent,
// written with a start time that is not its own, as after a container
// restart where PID 1 comes back) is broken, and deliver succeeds at once
// instead of exiting 75 until the MTA bounces the mail.
func TestDeliverBreaksReusedPIDDotlock(t *testing.T) {
	e := newDlEnv(t)
	dir := filepath.Join(e.spool, "SMITH")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	lock := filepath.Join(dir, "NEWMAIL.lock")
	if err := os.WriteFile(lock, []byte(fmt.Sprintf("%d 1 %s\n", os.Getppid(), host)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr := e.deliver(t, "From: a@b.example\n\nx\n", "--lock-timeout", "5s", "SMITH")
	if code != 0 {
		t.Fatalf("deliver over a reused PID's dotlock = %d, %q; want 0", code, stderr)
	}
	if n := len(e.folder(t, "SMITH", "NEWMAIL")); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Error("dotlock left behind")
	}
	// The same lock with the parent's real start time is a live holder.
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", os.Getppid()))
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if err := os.WriteFile(lock, []byte(fmt.Sprintf("%d %s %s\n", os.Getppid(), f[19], host)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stderr := e.deliver(t, "From: a@b.example\n\nx\n", "--lock-timeout", "200ms", "SMITH"); code != 75 {
		t.Fatalf("deliver under a live dotlock = %d, %q; want 75", code, stderr)
	}
}
