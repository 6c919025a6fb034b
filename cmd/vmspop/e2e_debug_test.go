package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	logMsgRE   = regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*"|\S+)`)
	apopTimeRE = regexp.MustCompile(`<[^<>]*@[^<>]*>`)
)

// logMsgs returns the msg= of every line of a logfmt log, counted.
func logMsgs(log string) map[string]int {
	out := map[string]int{}
	for _, l := range strings.Split(log, "\n") {
		if m := logMsgRE.FindStringSubmatch(l); m != nil {
			out[apopTimeRE.ReplaceAllString(strings.Trim(m[1], `"`), "<timestamp>")]++
		}
	}
	return out
}

// TestLogLevelDebugVsThread: the same sessions against a server at
// TCPIP$POP_LOG_LEVEL=THREAD and one at DEBUG. DEBUG writes every line
// THREAD writes, and more: the folder scans and index use, lock waits,
// the header rebuilt for each message, and each command's time.
func TestLogLevelDebugVsThread(t *testing.T) {
	t.Parallel()
	logs := map[string]string{}
	for _, level := range []string{"THREAD", "DEBUG"} {
		s := lgServer(t, "TCPIP$POP_LOG_LEVEL="+level, "TCPIP$POP_TRACE=0", "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
		p := dialPOP(t, s.Addr)
		p.login("smith", "demo")
		p.cmd("STAT")
		lgRetr(p, 1)
		// A second session for SMITH waits for the first one's lock, then
		// is refused.
		q := dialPOP(t, s.Addr)
		q.cmd("USER smith")
		if r := q.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [IN-USE]") {
			t.Fatalf("%s: second session: %s", level, r)
		}
		q.conn.Close()
		p.cmd("QUIT")
		// Again: the index is now in memory.
		p = dialPOP(t, s.Addr)
		p.login("smith", "demo")
		p.cmd("QUIT")
		logs[level] = lgStopLog(t, s)
	}
	thread, debug := logMsgs(logs["THREAD"]), logMsgs(logs["DEBUG"])
	for msg, n := range thread {
		if debug[msg] < n {
			t.Errorf("THREAD logs %q %d times, DEBUG %d times", msg, n, debug[msg])
		}
	}
	for _, want := range []string{"folder open", "command done", "header rebuilt"} {
		if thread[want] != 0 {
			t.Errorf("THREAD logs %q", want)
		}
		if debug[want] == 0 {
			t.Errorf("DEBUG does not log %q:\n%s", want, logs["DEBUG"])
		}
	}
	d := logs["DEBUG"]
	if n := len(lgLogLines(d, `msg="header rebuilt"`)); n != len(fixtureMessages) {
		t.Errorf("DEBUG: %d header rebuilt lines, want one per message (%d)", n, len(fixtureMessages))
	}
	opens := lgLogLines(d, `msg="folder open"`)
	if len(opens) != 3 || !strings.Contains(opens[0], "index=rebuilt") || !strings.Contains(opens[0], "scanned=6") ||
		!strings.Contains(opens[2], "index=memory") || !strings.Contains(opens[2], "scanned=0") {
		t.Fatalf("DEBUG folder open lines:\n%s", strings.Join(opens, "\n"))
	}
	// The refused session waited about 2 s for the lock.
	m := regexp.MustCompile(`lock_wait_us=(\d+)`).FindStringSubmatch(opens[1])
	if w, _ := strconv.Atoi(m[1]); !strings.Contains(opens[1], "error=") || w < 1000000 {
		t.Errorf("refused session's open: %s", opens[1])
	}
	for _, cmd := range []string{"USER", "PASS", "STAT", "RETR", "QUIT"} {
		if len(lgLogLines(d, `msg="command done"`, "command="+cmd, "us=")) == 0 {
			t.Errorf("DEBUG: no timing of %s", cmd)
		}
	}
}
