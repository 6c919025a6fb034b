package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFail2banFilter runs Debian's fail2ban-regex with
// dist/fail2ban/filter.d/vmspop.conf against the log of a real server, in
// both log formats: every guessed password is matched, with the client's
// address; a refusal that is not a guess (login delay) is not.
func TestFail2banFilter(t *testing.T) {
	f2b := requireTool(t, "fail2ban-regex")
	filter, err := filepath.Abs("../../dist/fail2ban/filter.d/vmspop.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"TEXT", "JSON"} {
		t.Run(format, func(t *testing.T) {
			s := startServer(t, "TCPIP$POP_LOG_FORMAT="+format, "TCPIP$POP_AUTH_PENALTY=0", "TCPIP$POP_LOGIN_DELAY=3600")
			p := dialPOP(t, s.Addr)
			p.cmd("USER smith")
			if r := p.cmd("PASS wrong"); !strings.HasPrefix(r, "-ERR") {
				t.Fatalf("PASS wrong: %s", r)
			}
			p.cmd("USER nosuch")
			p = dialPOP(t, s.Addr)
			p.login("smith", "demo")
			p.cmd("QUIT")
			p = dialPOP(t, s.Addr)
			p.cmd("USER smith")
			if r := p.cmd("PASS demo"); !strings.Contains(r, "LOGIN-DELAY") {
				t.Fatalf("second login: %s, want [LOGIN-DELAY]", r)
			}
			p.cmd("QUIT")
			s.stop()
			out, err := exec.Command(f2b, "-v", s.Log, filter).CombinedOutput()
			if err != nil {
				t.Fatalf("fail2ban-regex: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`Lines: \d+ lines, (\d+) ignored, (\d+) matched`).FindSubmatch(out)
			if m == nil || string(m[1]) != "1" || string(m[2]) != "2" {
				t.Errorf("want 2 lines matched (bad password, unknown user) and 1 ignored (login delay):\n%s", out)
			}
			if !strings.Contains(string(out), "127.0.0.1") {
				t.Errorf("no address 127.0.0.1 in the matches:\n%s", out)
			}
		})
	}
}
