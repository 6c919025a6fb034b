package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
)

// lastNewmail returns the last message of user's NEWMAIL and how many
// there are.
func lastNewmail(t *testing.T, root, user string) (string, int) {
	t.Helper()
	msgs, err := spool.New(root).ReadFolder(context.Background(), user, spool.NewMail)
	if err != nil || len(msgs) == 0 {
		return "", 0
	}
	return string(msgs[len(msgs)-1]), len(msgs)
}

// TestPostmasterAfterExit2: `vmspop serve` with a bad logical exits with
// status 2 and the postmasters get the failure, naming the logical; with
// a bad log file too. When the spool is not writable, stderr says so.
func TestPostmasterAfterExit2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, bad, want string
	}{
		{"bad logical", "TCPIP$POP_LOG_LEVEL=LOUD", "TCPIP$POP_LOG_LEVEL"},
		{"two bad logicals", "TCPIP$POP_MAXIMUM_THREADS=0", "TCPIP$POP_MAXIMUM_THREADS"},
		{"bad log file", "TCPIP$POP_LOG=/nonexistent/dir/pop.log", "/nonexistent/dir/pop.log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := lgPrepare(t)
			env := []string{"TCPIP$POP_LISTEN=" + freePort(t), "TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF,
				"TCPIP$POP_HOSTNAME=vms.example", "TCPIP$POP_POSTMASTER=jones,smith", tc.bad}
			if tc.name == "two bad logicals" {
				env = append(env, "TCPIP$POP_LOG_LEVEL=LOUD")
			}
			_, stderr, code := lgRun(t, []string{"serve"}, env...)
			if code != 2 {
				t.Fatalf("exit status %d, want 2; stderr:\n%s", code, stderr)
			}
			for user, before := range map[string]int{"JONES": 0, "SMITH": len(fixtureMessages)} {
				last, n := lastNewmail(t, s.Spool, user)
				if n != before+1 {
					t.Fatalf("%s NEWMAIL holds %d messages, want %d; stderr:\n%s", user, n, before+1, stderr)
				}
				for _, w := range []string{"Subj:\tvmspop POP server exited with an error", "To:\t" + user, tc.want} {
					if !strings.Contains(last, w) {
						t.Errorf("%s's failure message lacks %q:\n%s", user, w, last)
					}
				}
			}
		})
	}
	t.Run("spool not writable", func(t *testing.T) {
		t.Parallel()
		s := lgPrepare(t)
		spoolFile := filepath.Join(s.Dir, "not-a-dir")
		lgWrite(t, spoolFile, "")
		_, stderr, code := lgRun(t, []string{"serve"}, "TCPIP$POP_LISTEN="+freePort(t), "TCPIP$POP_SPOOL="+spoolFile,
			"TCPIP$POP_UAF="+s.UAF, "TCPIP$POP_POSTMASTER=JONES", "TCPIP$POP_LOG_LEVEL=LOUD")
		if code != 2 || !strings.Contains(stderr, "could not notify the postmaster") || !strings.Contains(stderr, "user=JONES") {
			t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
		}
	})
	t.Run("bad postmaster", func(t *testing.T) {
		t.Parallel()
		s := lgPrepare(t)
		_, stderr, code := lgRun(t, []string{"serve"}, "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_POSTMASTER=a/b")
		if code != 2 || !strings.Contains(stderr, "postmaster not notified") {
			t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
		}
	})
}

// TestPostmasterAfterPanic: a panic in serve's goroutine is logged, the
// postmasters get the failure and the status is exitPanic; before the
// configuration is read, the environment's POSTMASTER and SPOOL are used.
func TestPostmasterAfterPanic(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "JONES"), 0o700)
	cfg := logicals.Default()
	cfg.Spool, cfg.Postmaster = root, []string{"JONES"}
	var stderr bytes.Buffer
	log := stderrLogger(&stderr)
	run := func(c *logicals.Config, env map[string]string) int {
		return func() (code int) {
			defer recoverServe(&code, func() *logicals.Config { return c }, func() *logrus.Logger { return log },
				func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &stderr)
			panic("boom")
		}()
	}
	if code := run(cfg, nil); code != exitPanic {
		t.Fatalf("status %d, want %d", code, exitPanic)
	}
	if last, n := lastNewmail(t, root, "JONES"); n != 1 || !strings.Contains(last, "panic: boom") {
		t.Fatalf("JONES NEWMAIL: %d messages, last %q", n, last)
	}
	if !strings.Contains(stderr.String(), "server panicked") || !strings.Contains(stderr.String(), "goroutine") {
		t.Errorf("the panic and its stack are not logged:\n%s", stderr.String())
	}
	if code := run(nil, map[string]string{"TCPIP$POP_SPOOL": root, "TCPIP_POP_POSTMASTER": "jones"}); code != exitPanic {
		t.Fatalf("status %d, want %d", code, exitPanic)
	}
	if _, n := lastNewmail(t, root, "JONES"); n != 2 {
		t.Fatalf("JONES NEWMAIL holds %d messages after a panic before the configuration, want 2", n)
	}
}
