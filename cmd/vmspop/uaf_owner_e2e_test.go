package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUAFAsRootThenOwner: `vmspop uaf add` run as root keeps the accounts
// file and its lock file the spool owner's, so that the spool owner (and
// serve running as it, which takes the same lock to replace a VMS hash)
// can still take the lock and rewrite the file afterwards.
func TestUAFAsRootThenOwner(t *testing.T) {
	o := newSpoolOwner(t)
	traversable(t, filepath.Dir(vmspopBinary(t)))
	dir := filepath.Join(t.TempDir(), "etc")
	os.Mkdir(dir, 0o700)
	traversable(t, filepath.Dir(dir))
	path := filepath.Join(dir, "uaf")
	os.WriteFile(path, nil, 0o600)
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, o.UID, o.GID); err != nil {
			t.Fatal(err)
		}
	}
	add := func(cmd *exec.Cmd, user string) {
		t.Helper()
		cmd.Env = []string{"TCPIP$POP_UAF=" + path, "GORACE=atexit_sleep_ms=0"}
		cmd.Stdin = strings.NewReader("secret\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("vmspop uaf add %s: %v\n%s", user, err, out)
		}
	}
	add(exec.Command(vmspopBinary(t), "uaf", "add", "SMITH", "--password-stdin"), "SMITH (as root)")
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != o.UID || int(st.Gid) != o.GID {
			t.Errorf("%s is owned by %d:%d after vmspop uaf as root, want the spool owner %d:%d", p, st.Uid, st.Gid, o.UID, o.GID)
		}
	}
	add(o.cmd(vmspopBinary(t), "uaf", "add", "JONES", "--password-stdin"), "JONES (as the spool owner)")
	list := o.cmd(vmspopBinary(t), "uaf", "list")
	list.Env = []string{"TCPIP$POP_UAF=" + path, "GORACE=atexit_sleep_ms=0"}
	out, err := list.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SMITH") || !strings.Contains(string(out), "JONES") {
		t.Errorf("vmspop uaf list: %v\n%s", err, out)
	}
}
