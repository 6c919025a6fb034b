package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lowPort returns a free 127.0.0.1 address with a port below 1024, which
// only root may bind.
func lowPort(t *testing.T) string {
	t.Helper()
	start := 600 + rand.IntN(300)
	for i := range 424 {
		p := 600 + (start-600+i)%424
		if p == 995 || p == 993 || p == 636 || p == 631 {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port below 1024")
	return ""
}

// procIDs returns the Uid:, Gid: and Groups: lines of /proc/PID/status.
func procIDs(t *testing.T, pid int) (uids, gids, groups []string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "Uid":
			uids = strings.Fields(v)
		case "Gid":
			gids = strings.Fields(v)
		case "Groups":
			groups = strings.Fields(v)
		}
	}
	return uids, gids, groups
}

// privServe starts serve as root with TCPIP$POP_USER (and GROUP when
// group is not ""), on a port below 1024, and checks that every thread
// of it runs as the spool owner with no supplementary group; a session
// with an UPDATE then leaves every file the owner's, and deliver as the
// owner succeeds.
func privServe(t *testing.T, group string) {
	o, s := ownedSpool(t, lowPort(t))
	wantGID := o.GID
	env := []string{"TCPIP$POP_USER=" + o.Name}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			t.Skipf("no group %s here: %v", group, err)
		}
		wantGID, _ = strconv.Atoi(g.Gid)
		env = append(env, "TCPIP_POP_GROUP="+group)
		// The spool is then that group's.
		o.GID = wantGID
		o.chownTree(t, s.Spool)
		o.chownTree(t, s.UAF)
	}
	s.start(t, env...)
	// A greeting means the accept loop runs, which starts after the drop
	// (the socket accepts into its backlog as soon as it listens).
	p := dialPOP(t, s.Addr)

	pid := s.cmd.Process.Pid
	uids, gids, groups := procIDs(t, pid)
	want := func(what string, ids []string, id int) {
		t.Helper()
		if len(ids) != 4 {
			t.Fatalf("/proc/%d/status %s: %q", pid, what, ids)
		}
		for _, v := range ids {
			if v != strconv.Itoa(id) {
				t.Errorf("/proc/%d/status %s = %q, want all %d (real, effective, saved, fs)", pid, what, ids, id)
			}
		}
	}
	want("Uid", uids, o.UID)
	want("Gid", gids, wantGID)
	if len(groups) != 0 {
		t.Errorf("/proc/%d/status Groups = %q, want none", pid, groups)
	}
	// Every thread, not only the main one.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if len(tasks) < 2 {
		t.Errorf("only %d threads found", len(tasks))
	}
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		if !strings.Contains(string(b), fmt.Sprintf("\nUid:\t%d\t%d\t%d\t%d\n", o.UID, o.UID, o.UID, o.UID)) {
			t.Errorf("%s does not run as uid %d", task, o.UID)
		}
	}

	updateSession(t, p)
	o.checkOwned(t, s.Spool)
	o.deliver(t, s, "SMITH", "From: a@example.org\nSubject: after\n\nHello.\n")
	o.checkOwned(t, s.Spool)
	log, _ := os.ReadFile(s.Log)
	if !strings.Contains(string(log), "root privileges dropped") {
		t.Errorf("no log line for the drop:\n%s", log)
	}
}

// TestServeDropsPrivileges: serve started as root with TCPIP$POP_USER binds
// a port below 1024 and serves as the spool owner.
func TestServeDropsPrivileges(t *testing.T) { privServe(t, "") }

// TestServeDropsToSpoolOwner: with no TCPIP$POP_USER, serve started as root
// runs as the owner of the spool directory.
func TestServeDropsToSpoolOwner(t *testing.T) {
	o, s := ownedSpool(t, lowPort(t))
	s.start(t)
	p := dialPOP(t, s.Addr) // the accept loop starts after the drop
	if uids, _, _ := procIDs(t, s.cmd.Process.Pid); len(uids) != 4 || uids[1] != strconv.Itoa(o.UID) {
		t.Fatalf("serve runs as %q, want the spool owner %d", uids, o.UID)
	}
	p.login("smith", "demo")
	if r := p.cmd("STAT"); !strings.HasPrefix(r, "+OK 6 ") {
		t.Fatalf("STAT: %s", r)
	}
}

// TestServeRefusesUnsafeSpool: a spool writable by others, or owned by
// another account than TCPIP$POP_USER, stops serve before it serves.
func TestServeRefusesUnsafeSpool(t *testing.T) {
	o, s := ownedSpool(t, lowPort(t))
	run := func(env ...string) string {
		t.Helper()
		cmd := exec.Command(vmspopBinary(t), "serve")
		cmd.Env = append([]string{"TCPIP$POP_LISTEN=127.0.0.1:0", "TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF,
			"TCPIP$POP_HOSTNAME=vms.example", "GORACE=atexit_sleep_ms=0"}, env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("serve %v started", env)
		}
		return string(out)
	}
	os.Chmod(s.Spool, 0o777)
	if out := run(); !strings.Contains(out, "writable by others") {
		t.Errorf("world-writable spool: %s", out)
	}
	os.Chmod(s.Spool, 0o700)
	if out := run("TCPIP$POP_USER=nobody"); !strings.Contains(out, "not by the spool owner") {
		t.Errorf("spool of %s, TCPIP$POP_USER=nobody: %s", o.Name, out)
	}
	if out := run("TCPIP$POP_USER=no-such-account-here"); !strings.Contains(out, "TCPIP$POP_USER") {
		t.Errorf("unknown TCPIP$POP_USER: %s", out)
	}
}

// TestToolsActAsSpoolOwner: deliver and import run as root make files the
// spool owner's; with an unknown TCPIP$POP_USER deliver refuses with
// EX_TEMPFAIL (the MTA keeps the message) and a message naming it.
func TestToolsActAsSpoolOwner(t *testing.T) {
	o, s := ownedSpool(t, lowPort(t))
	deliver := func(env ...string) (int, string) {
		cmd := exec.Command(vmspopBinary(t), "deliver", "JONES")
		cmd.Env = append([]string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, "GORACE=atexit_sleep_ms=0"}, env...)
		cmd.Stdin = strings.NewReader("From: a@example.org\nSubject: s\n\nHello.\n")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		return exitCode(t, cmd), out.String()
	}
	if code, out := deliver(); code != 0 {
		t.Fatalf("deliver as root: exit %d\n%s", code, out)
	}
	o.checkOwned(t, s.Spool)
	if code, out := deliver("TCPIP$POP_USER=no-such-account-here"); code != 75 || !strings.Contains(out, "spool owner") {
		t.Errorf("deliver with an unknown TCPIP$POP_USER: exit %d, %s", code, out)
	}
	// purge and import --tree rewrite folders too: as root they act as
	// the spool owner, or refuse when there is none to act as.
	tree := t.TempDir()
	for _, args := range [][]string{{"purge", "JONES"}, {"import", "--tree", tree}} {
		cmd := exec.Command(vmspopBinary(t), args...)
		cmd.Env = []string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, "GORACE=atexit_sleep_ms=0"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s as root: %v\n%s", args[0], err, out)
		}
		cmd = exec.Command(vmspopBinary(t), args...)
		cmd.Env = []string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, "TCPIP$POP_USER=no-such-account-here", "GORACE=atexit_sleep_ms=0"}
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "spool owner") {
			t.Errorf("%s with an unknown TCPIP$POP_USER: %v, %s", args[0], err, out)
		}
	}
	o.checkOwned(t, s.Spool)
}
