package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// appendAt adds MAIL-11 messages with the given arrival dates to a
// user's folder.
func appendAt(t *testing.T, root, user, folder string, dates []time.Time, subjects ...string) {
	t.Helper()
	var msgs []spool.NewMessage
	for i, subj := range subjects {
		msgs = append(msgs, spool.NewMessage{Envelope: "sender@example.org", Date: dates[i],
			Text: strings.NewReader("From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\t" + subj + "\n\nbody\n")})
	}
	if err := spool.New(root).Append(context.Background(), user, folder, msgs); err != nil {
		t.Fatal(err)
	}
}

func wastebasketSize(t *testing.T, root, user string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, user, spool.Wastebasket))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestPurgeReclaimSession: with TCPIP$POP_PURGE_RECLAIM a session that
// deleted mail ends with WASTEBASKET empty (what was there before too) and
// its space given back; a session that deleted nothing leaves it alone.
func TestPurgeReclaimSession(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	appendAt(t, s.Spool, "SMITH", spool.Wastebasket, []time.Time{old, old}, "old one", "old two")
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_PURGE_RECLAIM=1", "TCPIP$POP_LEAVE_IN_NEWMAIL=1")

	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	lgRetr(p, 1)
	p.cmd("QUIT")
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); len(got) != 2 {
		t.Fatalf("a session without DELE changed WASTEBASKET: %q", got)
	}

	p = dialPOP(t, s.Addr)
	p.login("smith", "demo")
	if r := p.cmd("DELE 2"); !strings.HasPrefix(r, "+OK") {
		t.Fatal(r)
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatal(r)
	}
	if n := wastebasketSize(t, s.Spool, "SMITH"); n != 0 {
		t.Fatalf("WASTEBASKET holds %d bytes after a session that deleted mail", n)
	}
	if nm := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); len(nm) != len(fixtureMessages)-1 || lgHas(nm, "Federation news") {
		t.Errorf("NEWMAIL = %q, want message 2 gone", nm)
	}
	log := lgStopLog(t, s)
	if len(lgLogLines(log, "PURGE_RECLAIM: WASTEBASKET emptied", "purged=2", "user=SMITH")) != 1 {
		t.Errorf("want one PURGE_RECLAIM line with purged=2:\n%s", log)
	}
}

// TestPurgeCommand: `vmspop purge USER --older-than DAYS`, `--all`, and
// its usage errors.
func TestPurgeCommand(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	now := time.Now()
	old, recent := now.Add(-40*24*time.Hour), now.Add(-2*24*time.Hour)
	appendAt(t, s.Spool, "SMITH", spool.Wastebasket, []time.Time{old, recent, old}, "old one", "recent", "old two")
	appendAt(t, s.Spool, "JONES", spool.Wastebasket, []time.Time{recent}, "jones recent")
	env := []string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF}
	before := wastebasketSize(t, s.Spool, "SMITH")

	out, stderr, code := lgRun(t, []string{"purge", "smith", "--older-than", "30"}, env...)
	if code != 0 || !strings.Contains(out, "SMITH: 2 message(s) purged, 1 kept") {
		t.Fatalf("purge --older-than 30: %d\n%s%s", code, out, stderr)
	}
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); strings.Join(got, "|") != "recent" {
		t.Fatalf("SMITH WASTEBASKET = %q", got)
	}
	if n := wastebasketSize(t, s.Spool, "SMITH"); n >= before || !strings.Contains(out, " bytes reclaimed") {
		t.Fatalf("WASTEBASKET %d -> %d bytes: %s", before, n, out)
	}

	out, stderr, code = lgRun(t, []string{"purge", "--all"}, env...)
	if code != 0 || !strings.Contains(out, "JONES: 1 message(s) purged") || !strings.Contains(out, "SMITH: 1 message(s) purged") ||
		!strings.Contains(out, "total: 2 user(s), 2 message(s) purged") {
		t.Fatalf("purge --all: %d\n%s%s", code, out, stderr)
	}
	for _, u := range []string{"SMITH", "JONES"} {
		if n := wastebasketSize(t, s.Spool, u); n != 0 {
			t.Errorf("%s WASTEBASKET holds %d bytes after purge --all", u, n)
		}
	}
	// NEWMAIL is never touched.
	if got := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); len(got) != len(fixtureMessages) {
		t.Errorf("NEWMAIL holds %d messages", len(got))
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"purge"}, 2},
		{[]string{"purge", "smith", "--all"}, 2},
		{[]string{"purge", "smith", "jones"}, 2},
		{[]string{"purge", "smith", "--older-than", "-1"}, 2},
		{[]string{"purge", "--bogus"}, 2},
		{[]string{"purge", "sm/ith"}, 1},
		{[]string{"purge", "NOBODY"}, 1},
	} {
		if _, stderr, code := lgRun(t, tc.args, env...); code != tc.code || stderr == "" {
			t.Errorf("vmspop %q: exit %d (stderr %q), want %d", tc.args, code, stderr, tc.code)
		}
	}
}
