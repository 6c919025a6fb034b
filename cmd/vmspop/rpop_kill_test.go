package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRPOPKill SIGKILLs "vmspop rpop poll" at random instants, round after
// round, while it drains a Dovecot mailbox of 500 messages, with and
// without Leave; a last poll runs to the end. Every message must then be
// in NEWMAIL exactly once (body byte for byte) and, without Leave, gone
// from the remote. Rounds: RPOP_KILL_ROUNDS (default 20, about 40 s; the
// issue's 100 took 233 s on a loaded 2-core machine).
func TestRPOPKill(t *testing.T) {
	rounds := 20
	if v, err := strconv.Atoi(os.Getenv("RPOP_KILL_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	const n = 500
	d := startDovecot(t, dovecotOptions{TLS: true, APOP: true})
	site := newRPOPSite(t)
	site.Bin = plainBinary(t)
	modes := []struct {
		name  string
		leave bool
	}{{"killdel", false}, {"killleave", true}}
	msgs := map[string][]string{}
	for _, m := range modes {
		msgs[m.name] = genMessages(m.name, n, m.name+"@remote.example")
		d.addUser(t, m.name, "pw", msgs[m.name])
	}
	time.Sleep(1100 * time.Millisecond) // Dovecot's passwd-file change detection (see TestRPOPDovecot)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			user := "U" + m.name
			args := []string{"--host", d.Plain, "--account", m.name}
			if m.leave {
				args = append(args, "--leave")
			}
			site.add(t, user, "pw", args...)
			// How long an uninterrupted poll would take, measured on a
			// copy of the mailbox: kills land anywhere in [0, 1.3 x that].
			full := site.timePoll(t, d, user, m.name, msgs[m.name])
			t.Logf("a full poll of %d messages takes %v", n, full)
			killed := 0 // polls that died of the signal, not of their own end
			for r := 0; r < rounds; r++ {
				cmd := exec.Command(site.Bin, "rpop", "poll", user)
				cmd.Env = site.Env
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(rand.Int64N(int64(full) * 13 / 10)))
				cmd.Process.Kill()
				cmd.Wait()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					killed++
				}
			}
			// The last poll must complete; Dovecot may still be busy with
			// the session of a killed poll (its mbox lock), so a failure
			// is retried a few times.
			for try := 1; ; try++ {
				rc, errs := site.poll(t, user)
				if rc == 0 {
					break
				}
				if try == 5 {
					t.Fatalf("last poll: %d %s", rc, errs)
				}
				t.Logf("last poll, try %d: %s", try, errs)
				time.Sleep(time.Second)
			}
			site.checkOnce(t, user, msgs[m.name])
			left := d.inboxCount(t, m.name)
			if m.leave && left != n || !m.leave && left != 0 {
				t.Errorf("remote holds %d messages (leave %v)", left, m.leave)
			}
			t.Logf("%d rounds, %d polls killed", rounds, killed)
		})
	}
}

// timePoll times one whole poll of user's record, then puts the remote
// back as it was and empties the local folders and the record's state.
func (s *rpopSite) timePoll(t testing.TB, d *dovecot, user, account string, msgs []string) time.Duration {
	t.Helper()
	start := time.Now()
	if rc, errs := s.poll(t, user); rc != 0 {
		t.Fatalf("poll: %d %s", rc, errs)
	}
	el := time.Since(start)
	d.writeInbox(t, account, msgs)
	os.RemoveAll(filepath.Join(s.Spool, strings.ToUpper(user)))
	os.RemoveAll(filepath.Join(s.Dir, "rpop.state"))
	return el
}
