package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSocketActivateRestartLoop: systemd-socket-activate holds the
// listening socket (as vmspop.socket does) and passes it to a supervisor
// loop that starts serve again each time it stops (as systemd restarts
// vmspop.service); two clients keep connecting while the server is
// stopped with SIGTERM and started again three times, and every session
// succeeds: no connection is refused or dropped.
func TestSocketActivateRestartLoop(t *testing.T) {
	requireTool(t, "systemd-socket-activate")
	s := lgPrepare(t)
	addr := freePort(t)
	pidFile, stopFile := filepath.Join(s.Dir, "serve.pid"), filepath.Join(s.Dir, "stop")
	// Each serve is a new process with the passed socket (fd 3) and its
	// own pid as LISTEN_PID, as systemd gives a restarted service.
	loop := `while [ ! -e "$1" ]; do sh -c 'echo $$ > "$1.new" && mv "$1.new" "$1" && LISTEN_PID=$$ exec "$2" serve' sh "$2" "$3"; done`
	args := append([]string{"-l", addr, "--fdname=pop3"}, svcSetEnv(svcEnv(s, "TCPIP_POP_LISTEN=192.0.2.1:1"))...)
	args = append(args, "sh", "-c", loop, "sh", stopFile, pidFile, vmspopBinary(t))
	out := svcWait(t, exec.Command("systemd-socket-activate", args...))
	serverPID := func() int {
		b, _ := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
	t.Cleanup(func() {
		os.WriteFile(stopFile, nil, 0o644)
		if pid := serverPID(); pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	})
	svcListening(t, addr)

	load := startSessionLoad(addr, 2)
	waitSessions := func(n int64) {
		t.Helper()
		want := load.ok.Load() + n
		for deadline := time.Now().Add(60 * time.Second); load.ok.Load() < want; {
			if time.Now().After(deadline) {
				load.stop()
				t.Fatalf("no %d more sessions within 60 s (%d failed, first: %v)\n%s", n, load.failed.Load(), load.firstErr.Load(), out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var pids []int
	for range 3 {
		waitSessions(5)
		pid := serverPID()
		pids = append(pids, pid)
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM to serve %d: %v", pid, err)
		}
		// The next server: another pid in the file.
		for deadline := time.Now().Add(60 * time.Second); serverPID() == pid; {
			if time.Now().After(deadline) {
				t.Fatalf("no new server after serve %d stopped\n%s", pid, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSessions(5) // the clients that waited in the backlog, and more
	load.stop()
	load.check(t, "across 3 restarts")
	log, _ := os.ReadFile(s.Log)
	if n := strings.Count(string(log), "socket activation"); n < 4 {
		t.Errorf("%d servers logged socket activation, want 4:\n%s", n, log)
	}
	t.Logf("%d sessions across 3 restarts of serve (pids %v then %d), none refused", load.ok.Load(), pids, serverPID())
}
