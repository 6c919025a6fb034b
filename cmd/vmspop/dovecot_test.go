package main

// A private Dovecot POP3 server for tests: the old server of the migration
// tests and the remote of the RPOP tests. It has its own configuration,
// state and mbox spool in a short temporary directory (Dovecot's sockets
// must fit in sun_path), listens on loopback ports and is stopped when the
// test ends, as ../shared/bench/dovecot.sh runs it. Users, with plain
// passwords in a passwd-file (so that APOP can work), are added with
// addUser while it runs.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dovecotOptions chooses what a private Dovecot offers beyond POP3 in
// clear with USER/PASS and AUTH PLAIN/LOGIN.
type dovecotOptions struct {
	// TLS offers STLS on the plain listener and adds an implicit-TLS
	// listener, with a self-signed certificate (dovecot.CA).
	TLS bool
	// APOP offers APOP (a timestamp in the greeting).
	APOP bool
}

type dovecot struct {
	Dir      string
	Plain    string // 127.0.0.1:port, STLS offered with TLS
	TLS      string // 127.0.0.1:port, implicit TLS; "" without TLS
	CA       string // PEM file of its self-signed certificate; "" without TLS
	uid, gid int
	cmd      *exec.Cmd
}

// dovecotConf is the configuration of a private Dovecot in dir: POP3 on
// the plain listener pport and, when tport is not "", implicit TLS there.
func dovecotConf(dir, pport, tport, cert, key string, o dovecotOptions) string {
	ssl, pop3s := "ssl = no\n", "    port = 0\n"
	if o.TLS {
		ssl = fmt.Sprintf("ssl = yes\nssl_cert = <%s\nssl_key = <%s\nssl_min_protocol = TLSv1.2\n", cert, key)
		pop3s = fmt.Sprintf("    address = 127.0.0.1\n    port = %s\n    ssl = yes\n", tport)
	}
	mechs := "plain login"
	if o.APOP {
		mechs += " apop"
	}
	return fmt.Sprintf(`instance_name = vmspop-test-%[2]s
base_dir = %[1]s/run
state_dir = %[1]s/state
protocols = pop3
listen = 127.0.0.1
%[3]sdisable_plaintext_auth = no
auth_verbose = yes
auth_mechanisms = %[4]s
log_path = %[1]s/dovecot.log
first_valid_uid = 1
first_valid_gid = 1
mail_location = mbox:~/mail:INBOX=%[1]s/spool/%%u
pop3_uidl_format = %%08Xu%%08Xv
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/passwd
}
protocol pop3 {
  mail_max_userip_connections = 1000
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[2]s
  }
  inet_listener pop3s {
%[5]s  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
`, dir, pport, ssl, mechs, pop3s)
}

// startDovecot starts a private Dovecot with no users.
func startDovecot(t testing.TB, o dovecotOptions) *dovecot {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/dovecot"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("dovecot is not installed (CI installs dovecot-pop3d in .ci/run)")
			}
			t.Skip("dovecot is not installed (.ci/run installs dovecot-pop3d)")
		}
	}
	dir, err := os.MkdirTemp("", "vdc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	d := &dovecot{Dir: dir, Plain: freePort(t)}
	// Mail runs as "mail" (Dovecot refuses uid 0) or as ourselves when not root.
	d.uid, d.gid = os.Getuid(), os.Getgid()
	if d.uid == 0 {
		u, err := user.Lookup("mail")
		if err != nil {
			t.Skipf("no mail user to run Dovecot's mail processes as: %v", err)
		}
		d.uid, _ = strconv.Atoi(u.Uid)
		d.gid, _ = strconv.Atoi(u.Gid)
	}
	for _, s := range []string{"run", "state", "spool", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(filepath.Join(dir, "spool"), d.uid, d.gid)
	os.Chown(filepath.Join(dir, "home"), d.uid, d.gid)
	var cert, key, tport string
	if o.TLS {
		cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		cliWriteCert(t, cert, key, "127.0.0.1", time.Now().UnixNano())
		d.CA, d.TLS = cert, freePort(t)
		_, tport, _ = net.SplitHostPort(d.TLS)
	}
	_, pport, _ := net.SplitHostPort(d.Plain)
	conf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(conf, []byte(dovecotConf(dir, pport, tport, cert, key, o)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "-F", "-c", conf)
	// A file, not a pipe: Dovecot's children inherit it, and a pipe would
	// keep cmd.Wait waiting for them.
	outFile, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	d.cmd.Stdout, d.cmd.Stderr = outFile, outFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if t.Failed() {
			log := d.Log()
			t.Logf("dovecot.log (last 3000 octets):\n%s", log[max(0, len(log)-3000):])
		}
		// SIGTERM stops the master and its children; anything left of
		// the process group after 15 s is killed.
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	for _, a := range []string{d.Plain, d.TLS} {
		if a == "" {
			continue
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				t.Fatalf("dovecot exited:\n%s", d.Log())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("dovecot did not listen on %s: %v\n%s", a, err, d.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return d
}

// Log returns what Dovecot wrote so far: its standard output and error,
// then its log.
func (d *dovecot) Log() string {
	out, _ := os.ReadFile(filepath.Join(d.Dir, "stdout"))
	log, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(out) + string(log)
}

// addUser creates a Dovecot user whose INBOX holds msgs (RFC 5322 texts,
// LF line ends).
func (d *dovecot) addUser(t testing.TB, name, pass string, msgs []string) {
	t.Helper()
	line := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s/home/%s\n", name, pass, d.uid, d.gid, d.Dir, name)
	f, err := os.OpenFile(filepath.Join(d.Dir, "passwd"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(d.Dir, "home", name, "mail")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(filepath.Join(d.Dir, "home", name), d.uid, d.gid)
	os.Chown(home, d.uid, d.gid)
	d.writeInbox(t, name, msgs)
}

// writeInbox replaces name's INBOX with msgs in mbox form.
func (d *dovecot) writeInbox(t testing.TB, name string, msgs []string) {
	t.Helper()
	var b bytes.Buffer
	for _, m := range msgs {
		b.WriteString("From sender@example.org Thu Nov 26 10:00:00 2026\n")
		// Dovecot reads mboxo and does not unquote ">From ": the test
		// messages have no body line starting "From ".
		if strings.Contains(m, "\nFrom ") {
			t.Fatalf("test message with a From_ line in its body")
		}
		b.WriteString(m)
		if !strings.HasSuffix(m, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	d.writeMbox(t, name, b.String())
}

// writeMbox replaces name's INBOX with the mbox text.
func (d *dovecot) writeMbox(t testing.TB, name, text string) {
	t.Helper()
	p := filepath.Join(d.Dir, "spool", name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, d.uid, d.gid); err != nil {
		t.Fatal(err)
	}
}

// inboxCount counts the messages left in name's INBOX.
func (d *dovecot) inboxCount(t testing.TB, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Dir, "spool", name))
	if err != nil {
		t.Fatal(err)
	}
	// Dovecot keeps a pseudo message of folder data ("DON'T DELETE THIS
	// MESSAGE") at the top of an mbox it has written.
	return strings.Count("\n"+string(b), "\nFrom ") - strings.Count(string(b), "FOLDER INTERNAL DATA")
}
