package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// TestServePlantedLinksRefused: serve started as root (dropping to the
// spool owner, and kept root with TCPIP$POP_USER=root) and deliver run as
// root refuse a folder that is a symbolic link and a planted journal that
// asks to cut a linked folder to nothing: the login gets -ERR [SYS/TEMP],
// deliver exits 75, and the files the links point at (outside the spool,
// writable by root and by the spool owner) keep their bytes, size and
// modification time.
func TestServePlantedLinksRefused(t *testing.T) {
	for _, mode := range []struct{ name, env string }{{"dropped", ""}, {"kept-root", "TCPIP$POP_USER=root"}} {
		t.Run(mode.name, func(t *testing.T) {
			o, s := ownedSpool(t, lowPort(t))
			const text = "precious, not mail\n"
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			victims := t.TempDir()
			victim := func(name string) (path string, check func()) {
				path = filepath.Join(victims, name)
				if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				os.Chown(path, o.UID, o.GID)
				os.Chtimes(path, old, old)
				return path, func() {
					t.Helper()
					fi, err := os.Stat(path)
					b, _ := os.ReadFile(path)
					if err != nil || string(b) != text || !fi.ModTime().Equal(old) {
						t.Errorf("%s, a link's target, was touched: %q, %v", path, b, err)
					}
				}
			}
			// SMITH's NEWMAIL is a link.
			newmail, checkNewmail := victim("newmail")
			link := filepath.Join(s.Spool, "SMITH", spool.NewMail)
			os.Remove(link)
			if err := os.Symlink(newmail, link); err != nil {
				t.Fatal(err)
			}
			// JONES's MAIL is a link, and a planted journal asks to cut it
			// to nothing.
			mail, checkMail := victim("mail")
			dir := filepath.Join(s.Spool, "JONES")
			os.Remove(filepath.Join(dir, spool.Mail))
			if err := os.Symlink(mail, filepath.Join(dir, spool.Mail)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, ".journal"), []byte("vmspop-journal 1\nstate prepare\nsize MAIL 0\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			o.chownTree(t, s.Spool)

			var env []string
			if mode.env != "" {
				env = append(env, mode.env)
			}
			s.start(t, env...)
			for _, user := range []string{"smith", "jones"} {
				p := dialPOP(t, s.Addr)
				p.cmd("USER %s", user)
				if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [SYS/TEMP]") {
					t.Errorf("login of %s with a planted link: %s", user, r)
				}
			}
			for _, user := range []string{"SMITH", "JONES"} {
				cmd := exec.Command(vmspopBinary(t), "deliver", user)
				cmd.Env = append([]string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, "GORACE=atexit_sleep_ms=0"}, env...)
				cmd.Stdin = strings.NewReader("From: a@example.org\nSubject: s\n\nHello.\n")
				var out strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &out
				if code := exitCode(t, cmd); code != 75 || !strings.Contains(out.String(), "unsafe") {
					t.Errorf("deliver %s as root with a planted link: exit %d, %s", user, code, out.String())
				}
			}
			checkNewmail()
			checkMail()
			log, _ := os.ReadFile(s.Log)
			if !strings.Contains(string(log), "unsafe file") {
				t.Errorf("the log does not name the unsafe file:\n%s", log)
			}
		})
	}
}
