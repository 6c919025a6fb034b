package main

// Tests run as root with a real spool owner account: what the server, run
// as root, leaves behind must stay usable by the delivery agent run as the
// spool owner (the README's Postfix set-up).

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// spoolOwner is a system account made for one test.
type spoolOwner struct {
	Name     string
	UID, GID int
}

// requireRoot skips a test that must run as root (CI runs as root).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates a system account and runs vmspop as root and as that account (CI runs as root)")
	}
}

// newSpoolOwner creates a system account with a unique name, removed when
// the test ends.
func newSpoolOwner(t *testing.T) *spoolOwner {
	t.Helper()
	requireRoot(t)
	useradd := requireTool(t, "useradd")
	b := make([]byte, 4)
	rand.Read(b)
	name := "vmspopt" + hex.EncodeToString(b)
	if out, err := retryLocked(useradd, "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := retryLocked("userdel", name); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	o := &spoolOwner{Name: name}
	o.UID, _ = strconv.Atoi(u.Uid)
	o.GID, _ = strconv.Atoi(u.Gid)
	return o
}

// retryLocked runs useradd or userdel, again while another process (a
// test running at the same time) holds the lock of /etc/passwd (exit 10
// for both, "cannot lock").
func retryLocked(name string, args ...string) ([]byte, error) {
	for i := 0; ; i++ {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err == nil || i == 50 || !strings.Contains(string(out), "lock") {
			return out, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// chownTree gives root and everything under it to o.
func (o *spoolOwner) chownTree(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, o.UID, o.GID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cmd returns an exec.Cmd that runs as o.
func (o *spoolOwner) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(o.UID), Gid: uint32(o.GID)}}
	return c
}

// traversable makes dir and its parents up to / searchable by everyone
// (test temporary directories are 0700), so another account can reach
// what is inside.
func traversable(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkOwned fails for every file under root not owned by o.
func (o *spoolOwner) checkOwned(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != o.UID || int(st.Gid) != o.GID {
			t.Errorf("%s is owned by %d:%d, want the spool owner %s (%d:%d)", p, st.Uid, st.Gid, o.Name, o.UID, o.GID)
		}
		return nil
	})
}

// ownedSpool makes a new spool owner, a fixture spool and accounts file
// that are its own and that it can reach, and a server (not started) on
// addr.
func ownedSpool(t *testing.T, addr string) (*spoolOwner, *e2eServer) {
	t.Helper()
	o := newSpoolOwner(t)
	traversable(t, filepath.Dir(vmspopBinary(t)))
	dir := t.TempDir()
	traversable(t, dir)
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: addr}
	writeFixtureSpool(t, s.Spool)
	writeUAF(t, s.UAF, defaultAccounts)
	o.chownTree(t, s.Spool)
	o.chownTree(t, s.UAF)
	return o, s
}

// updateSession logs in as smith on p, reads message 2, deletes message 1
// and quits: an UPDATE that rewrites NEWMAIL and creates MAIL and
// WASTEBASKET. It returns what STAT said after the login.
func updateSession(t *testing.T, p *popClient) (stat string) {
	t.Helper()
	p.login("smith", "demo")
	stat = p.cmd("STAT")
	if r := p.cmd("RETR 2"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR 2: %s", r)
	}
	p.multi()
	if r := p.cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE 1: %s", r)
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	return stat
}

// deliver runs `vmspop deliver user` as o on s's spool with msg, and fails
// the test if it does not succeed.
func (o *spoolOwner) deliver(t *testing.T, s *e2eServer, user, msg string) {
	t.Helper()
	cmd := o.cmd(vmspopBinary(t), "deliver", "-f", "a@example.org", user)
	cmd.Env = []string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, "GORACE=atexit_sleep_ms=0", "PATH=/usr/bin:/bin"}
	cmd.Stdin = strings.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vmspop deliver %s as %s: %v\n%s", user, o.Name, err, out)
	}
}

// TestOwnerKeptAfterRootUpdate is the README's Postfix set-up: the server
// runs as root (and stays root), `vmspop deliver` as the spool owner. A session's UPDATE
// rewrites NEWMAIL and creates MAIL and WASTEBASKET; they must stay the
// spool owner's, or every later delivery is deferred (EX_TEMPFAIL).
func TestOwnerKeptAfterRootUpdate(t *testing.T) {
	o, s := ownedSpool(t, freePort(t))
	// TCPIP$POP_USER=root keeps the server root, as it ran before
	// the privilege model: every file it writes must still be the spool
	// owner's.
	s.start(t, "TCPIP$POP_USER=root")

	updateSession(t, dialPOP(t, s.Addr))
	for _, f := range []string{spool.NewMail, spool.Mail, spool.Wastebasket} {
		if _, err := os.Stat(filepath.Join(s.Spool, "SMITH", f)); err != nil {
			t.Fatalf("after UPDATE: %v", err)
		}
	}
	o.checkOwned(t, s.Spool)

	for _, u := range []string{"SMITH", "JONES"} {
		o.deliver(t, s, u, "From: a@example.org\nTo: smith@vms.example\nSubject: after the update\n\nHello.\n")
	}
	o.checkOwned(t, s.Spool)
	if got := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); len(got) != len(fixtureMessages)-1 || !strings.Contains(got[len(got)-1], "after the update") {
		t.Errorf("NEWMAIL after delivery = %q", got)
	}
}
