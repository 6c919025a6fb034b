package main

// A private Dovecot POP3 server for tests (the "old server" of a
// migration): its own configuration, state and mbox spool in a temporary
// directory, on a loopback port, stopped when the test ends. As
// ../shared/bench/dovecot.sh does it.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

type dovecotServer struct {
	Addr string
	Dir  string
	cmd  *exec.Cmd
}

// Log returns what Dovecot logged so far.
func (d *dovecotServer) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(b)
}

// startDovecot serves, for each user, the mbox text given as INBOX, with
// the password "pw-"+user (lower case), POP3 in clear on a free port.
func startDovecot(t *testing.T, mboxes map[string]string) *dovecotServer {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/dovecot"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("dovecot is not installed (CI installs it in .ci/run)")
			}
			t.Skip("dovecot is not installed")
		}
		bin = "/usr/sbin/dovecot"
	}
	if os.Getuid() != 0 {
		t.Skip("a private Dovecot needs root here (its mail processes run as the mail user)")
	}
	uid, gid := 8, 8
	if u, err := user.Lookup("mail"); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	dir := t.TempDir()
	// The mail user must reach the spool and homes under the test's
	// temporary directory.
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	for _, d := range []string{"run", "state", "spool", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var passwd bytes.Buffer
	for u, text := range mboxes {
		home := filepath.Join(dir, "home", u)
		if err := os.MkdirAll(filepath.Join(home, "mail"), 0o700); err != nil {
			t.Fatal(err)
		}
		inbox := filepath.Join(dir, "spool", u)
		if err := os.WriteFile(inbox, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{home, filepath.Join(home, "mail"), inbox} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&passwd, "%s:{PLAIN}pw-%s:%d:%d::%s\n", u, u, uid, gid, home)
	}
	os.Chown(filepath.Join(dir, "spool"), uid, gid)
	if err := os.WriteFile(filepath.Join(dir, "passwd"), passwd.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf(`instance_name = vmspop-test-%d
base_dir = %[2]s/run
state_dir = %[2]s/state
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = /dev/stderr
first_valid_uid = 1
first_valid_gid = 1
mail_location = mbox:~/mail:INBOX=%[2]s/spool/%%u
pop3_uidl_format = %%08Xu%%08Xv
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[2]s/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[2]s/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[3]s
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
`, os.Getpid(), dir, port)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dovecot.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	d := &dovecotServer{Addr: addr, Dir: dir}
	d.cmd = exec.Command(bin, "-F", "-c", confPath)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return d
		}
		select {
		case <-done:
			t.Fatalf("dovecot exited: %s", d.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dovecot did not start: %v\n%s", err, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
