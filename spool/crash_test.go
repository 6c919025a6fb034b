package spool

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash tests run a child copy of the test binary that updates a spool
// and kill it with SIGKILL at many instants.

func TestMain(m *testing.M) {
	if mode := os.Getenv("VMSPOP_CRASH_CHILD"); mode != "" {
		crashChild(mode, os.Getenv("VMSPOP_CRASH_ROOT"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashChild(mode, root string) {
	ctx := context.Background()
	s := New(root)
	switch mode {
	case "commit":
		v := &visits{}
		b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{Visit: v.visit, IndexKey: "k"})
		if err != nil {
			panic(err)
		}
		var del, move []int
		for i := range b.Len() {
			switch i % 3 {
			case 0:
				del = append(del, i)
			case 1:
				move = append(move, i)
			}
		}
		fmt.Println("ready")
		if err := b.Commit(ctx, del, move, false); err != nil {
			panic(err)
		}
		fmt.Println("done")
	case "purge":
		fmt.Println("ready")
		if _, err := s.Purge(ctx, "SMITH", purgeBefore); err != nil {
			panic(err)
		}
		fmt.Println("done")
	case "append":
		start, _ := strconv.Atoi(os.Getenv("VMSPOP_CRASH_START"))
		for i := start; ; i++ {
			appendN(nopTB{}, s, "SMITH", NewMail, i, 1)
			fmt.Println(i) // acknowledged: on disk
		}
	case "deliver":
		start, _ := strconv.Atoi(os.Getenv("VMSPOP_CRASH_START"))
		deliverChild(s, start)
	case "redo":
		start, _ := strconv.Atoi(os.Getenv("VMSPOP_CRASH_START"))
		redoChild(s, start, os.Getenv("VMSPOP_CRASH_POINT"), os.Getenv("VMSPOP_CRASH_AT"))
	}
}

type nopTB struct{ testing.TB }

func (nopTB) Helper()           {}
func (nopTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		if e.IsDir() {
			copyTree(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600)
	}
}

func runChild(t *testing.T, mode, root string, killAfter time.Duration, env ...string) (time.Duration, []byte) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VMSPOP_CRASH_CHILD="+mode, "VMSPOP_CRASH_ROOT="+root)
	cmd.Env = append(cmd.Env, env...)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The kill timer starts when the child says "ready" (commit, purge) or at
	// once (append).
	var start time.Time
	var timer *time.Timer
	arm := func() {
		start = time.Now()
		if killAfter > 0 {
			timer = time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
		}
	}
	if mode == "append" || mode == "deliver" || mode == "redo" {
		arm()
	}
	var took time.Duration
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := out.Read(buf)
		got = append(got, buf[:n]...)
		if start.IsZero() && strings.Contains(string(got), "ready\n") {
			arm()
		}
		if strings.Contains(string(got), "done\n") && took == 0 {
			took = time.Since(start)
		}
		if err != nil {
			break
		}
	}
	cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	return took, got
}

func TestCrashDuringCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const n = 5000
	tmpl := t.TempDir()
	appendN(t, New(tmpl), "SMITH", NewMail, 0, n)
	// How long an uninterrupted commit takes.
	full := filepath.Join(t.TempDir(), "full")
	copyTree(t, tmpl, full)
	took, _ := runChild(t, "commit", full, 0)
	check := func(root string) (moved int) {
		seen := map[int]string{}
		for _, folder := range []string{NewMail, Mail, Wastebasket} {
			for _, id := range ids(t, New(root), "SMITH", folder) {
				if prev, dup := seen[id]; dup {
					t.Fatalf("message %d in %s and %s", id, prev, folder)
				}
				seen[id] = folder
			}
		}
		if len(seen) != n {
			t.Fatalf("%d messages survive, want %d", len(seen), n)
		}
		for _, f := range seen {
			if f != NewMail {
				moved++
			}
		}
		return moved
	}
	if got := check(full); got != n*2/3+1 {
		t.Fatalf("uninterrupted commit moved %d messages", got)
	}
	t.Logf("a full commit of %d messages takes %v", n, took)
	const tries = 24
	states := map[bool]int{}
	for i := 0; i < tries; i++ {
		root := filepath.Join(t.TempDir(), strconv.Itoa(i))
		copyTree(t, tmpl, root)
		// Spread the kills from the start of the child to past the end.
		runChild(t, "commit", root, time.Duration(int64(took)*int64(i)/(tries-4))+time.Microsecond)
		states[check(root) > 0]++
		// The index the child wrote before it was killed is either still
		// right or detected as stale: never a wrong size or message.
		checkAgainstScan(t, New(root), "k")
	}
	t.Logf("killed %d times: %d left the folders as before, %d finished the update", tries, states[false], states[true])
}

func TestCrashDuringAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	root := t.TempDir()
	appendN(t, New(root), "SMITH", NewMail, 0, 10)
	acked := map[int]bool{}
	for i := 0; i < 50; i++ {
		// Each child appends its own range of ids: a duplicate is a bug.
		_, out := runChild(t, "append", root, time.Duration(5+i%20)*time.Millisecond, fmt.Sprintf("VMSPOP_CRASH_START=%d", 10000+1000*i))
		var id int
		for _, line := range splitLines(out) {
			if _, err := fmt.Sscanf(line, "%d", &id); err == nil {
				acked[id] = true
			}
		}
		checkCensus(t, root, acked, fmt.Sprintf("kill %d", i), NewMail)
	}
}

// checkCensus fails t unless every message in SMITH's folders is whole
// (ids checks content) and there once, and every acknowledged one is
// there; after says after what (for the failure message).
func checkCensus(t *testing.T, root string, acked map[int]bool, after string, folders ...string) {
	t.Helper()
	seen := map[int]bool{}
	for _, folder := range folders {
		for _, id := range ids(t, New(root), "SMITH", folder) {
			if seen[id] {
				t.Fatalf("message %d twice after %s", id, after)
			}
			seen[id] = true
		}
	}
	for id := range acked {
		if !seen[id] {
			t.Fatalf("acknowledged message %d lost after %s", id, after)
		}
	}
}

func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return out
}
