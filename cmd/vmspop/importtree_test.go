package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// treeFolders are the folders of a generated export.
var treeFolders = []string{"NEWMAIL", "MAIL", "PROJECTS"}

// genExport writes users x folders EXTRACT files as VMSPOP_EXPORT.COM
// does (DIR/USER/FOLDER.TXT, and its ACCOUNTS.TXT, SYSUAF.LIS and log
// beside them) and returns the message count of each USER/FOLDER.
func genExport(t *testing.T, dir string, users int) map[string]int {
	t.Helper()
	want := map[string]int{}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"ACCOUNTS.TXT":      vmsExport,
		"SYSUAF.LIS":        authorizeListing,
		"VMSPOP_EXPORT.LOG": "VMSPOP_EXPORT started  1-DEC-2026 14:02:11.23\nVMSPOP_EXPORT finished  1-DEC-2026 14:09:40.02\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for u := range users {
		user := fmt.Sprintf("USER%02d", u)
		if err := os.MkdirAll(filepath.Join(dir, user), 0o755); err != nil {
			t.Fatal(err)
		}
		for f, folder := range treeFolders {
			n := 1 + (u*3+f)%7
			msgs := genSiteMessagesFrom(user, f*100, n)
			name := folder + ".TXT"
			if u%2 == 1 {
				name = strings.ToLower(folder) + ".txt"
			}
			if err := os.WriteFile(filepath.Join(dir, user, name), []byte(extractFile(msgs)), 0o644); err != nil {
				t.Fatal(err)
			}
			want[user+"/"+folder] = n
		}
	}
	return want
}

// spoolCounts returns the message count of each USER/FOLDER in the spool.
func spoolCounts(t *testing.T, root string) map[string]int {
	t.Helper()
	got := map[string]int{}
	users, _ := os.ReadDir(root)
	for _, u := range users {
		fs, err := spool.New(root).Folders(context.Background(), u.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			got[u.Name()+"/"+f.Name] = f.Messages
		}
	}
	return got
}

func checkCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s holds %d messages, want %d", k, got[k], n)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected folder %s (%d messages)", k, got[k])
		}
	}
}

func treeCmd(t *testing.T, spoolDir string, args ...string) *exec.Cmd {
	cmd := exec.Command(vmspopBinary(t), append([]string{"import"}, args...)...)
	cmd.Env = append(os.Environ(), "TCPIP_POP_SPOOL="+spoolDir, "GORACE=atexit_sleep_ms=0")
	return cmd
}

func TestImportTree(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	want := genExport(t, export, 50)
	// What is refused: a malformed folder file (its user's other folder is
	// imported), a stray file, a folder name VMS does not allow.
	os.MkdirAll(filepath.Join(export, "ZBROKEN"), 0o755)
	os.WriteFile(filepath.Join(export, "ZBROKEN", "NEWMAIL.TXT"), []byte("From:\tSMITH  no date here\nSubj:\tx\n\nbody\n"), 0o644)
	os.WriteFile(filepath.Join(export, "ZBROKEN", "MAIL.TXT"), []byte(extractFile(genSiteMessages("ZBROKEN", 2))), 0o644)
	want["ZBROKEN/MAIL"] = 2
	os.WriteFile(filepath.Join(export, "README"), []byte("export of 1-DEC-2026\n"), 0o644)
	os.WriteFile(filepath.Join(export, "USER00", "TWO WORDS.TXT"), []byte(""), 0o644)
	spoolDir := filepath.Join(dir, "spool")
	os.Mkdir(spoolDir, 0o700)

	total := 0
	for _, n := range want {
		total += n
	}
	for run := 1; run <= 2; run++ {
		cmd := treeCmd(t, spoolDir, "--tree", export)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if code := exitCode(t, cmd); code != 1 {
			t.Fatalf("run %d: exit %d, want 1 (something refused)\n%s\n%s", run, code, stdout.String(), stderr.String())
		}
		checkCounts(t, spoolCounts(t, spoolDir), want)
		out := stdout.String()
		imported := total
		if run == 2 {
			imported = 0 // a second run adds nothing
		}
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^Total 51 +152 +%d +%d +%d +1$`, total, imported, total-imported)).MatchString(out) {
			t.Errorf("run %d: no total line for %d messages, %d imported:\n%s", run, total, imported, out)
		}
		for _, w := range []string{"ZBROKEN/NEWMAIL.TXT refused", "no valid VMS date", "README: not a user directory", "TWO WORDS.TXT: not a valid folder name"} {
			if !strings.Contains(out, w) {
				t.Errorf("run %d: report lacks %q:\n%s", run, w, out)
			}
		}
		// The export procedure's own files are not mail, nor refused.
		for _, f := range []string{"ACCOUNTS.TXT", "SYSUAF.LIS", "VMSPOP_EXPORT.LOG"} {
			if strings.Contains(out, f) {
				t.Errorf("run %d: the report names the export's %s:\n%s", run, f, out)
			}
		}
		if !regexp.MustCompile(`(?m)^USER07 +3 +[0-9]+ `).MatchString(out) {
			t.Errorf("run %d: no line for USER07 (lower-case file names):\n%s", run, out)
		}
		// Not a terminal: plain lines, one per user, no bar.
		if e := stderr.String(); strings.Contains(e, "\r") || strings.Count(e, " done (") != 51 || !strings.Contains(e, "51/51 users") {
			t.Errorf("run %d: progress on a pipe:\n%q", run, e)
		}
	}
}

// TestImportTreeKilled kills an import with SIGKILL after some users and
// runs it again: every message is in the spool exactly once.
func TestImportTreeKilled(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	want := genExport(t, export, 50)
	spoolDir := filepath.Join(dir, "spool")
	os.Mkdir(spoolDir, 0o700)

	cmd := treeCmd(t, spoolDir, "--tree", export, "--jobs", "1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	done := 0
	for done < 5 && sc.Scan() {
		if strings.Contains(sc.Text(), " done (") {
			done++
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() {
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the import ended before it was killed (%v)", cmd.ProcessState)
	}
	partial := spoolCounts(t, spoolDir)
	if len(partial) < 15 || len(partial) >= len(want) {
		t.Fatalf("after the kill %d folders of %d imported, want some", len(partial), len(want))
	}
	cmd = treeCmd(t, spoolDir, "--tree", export)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("resumed import: exit %d\n%s", code, out.String())
	}
	checkCounts(t, spoolCounts(t, spoolDir), want)
	checkOnce(t, spoolDir, want) // exactly once: no message twice in a folder
}

// TestImportTreeKilledAnyInstant kills import --tree (two users at a
// time) at instants spread over the run, several times in a row, each run
// starting where the last was killed: after every kill each folder is
// either not there or whole (one atomic update per folder file) and holds
// no message twice; a last run completes the import, every message once.
func TestImportTreeKilledAnyInstant(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	want := genExport(t, export, 50)
	spoolDir := filepath.Join(dir, "spool")
	os.Mkdir(spoolDir, 0o700)
	rounds := 4
	if s := os.Getenv("IMPORT_KILL_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	killed, ran := 0, 0
	for round := range rounds {
		cmd := treeCmd(t, spoolDir, "--tree", export, "--jobs", "2")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of finished users and a random
		// pause of up to 30 ms, so that the kill lands anywhere: between
		// users, while a folder file is read, appended or synced.
		// Users are imported in order of their names, so the first
		// users still to do come after the finished ones.
		got := spoolCounts(t, spoolDir)
		finished := 0
		for u := range len(want) / len(treeFolders) {
			whole := true
			for _, f := range treeFolders {
				k := fmt.Sprintf("USER%02d/%s", u, f)
				whole = whole && got[k] == want[k]
			}
			if whole {
				finished++
			}
		}
		users := len(want) / len(treeFolders)
		if finished == users {
			break // every run before was killed late: done
		}
		after := finished + rng.IntN(users-finished)
		pause := time.Duration(rng.IntN(30_000)) * time.Microsecond
		sc := bufio.NewScanner(stderr)
		for done := 0; done < after && sc.Scan(); {
			if strings.Contains(sc.Text(), " done (") {
				done++
			}
		}
		time.Sleep(pause)
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() {
		}
		cmd.Wait()
		ran++
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		}
		got = spoolCounts(t, spoolDir)
		whole := 0
		for k, n := range got {
			// An empty folder file may stay where the kill came before
			// the folder's append was complete.
			if n != want[k] && n != 0 {
				t.Errorf("round %d (killed after %d users and %v): %s holds %d messages, want 0 or %d", round, after, pause, k, n, want[k])
			}
			if n == want[k] {
				whole++
			}
		}
		checkOnce(t, spoolDir, got)
		t.Logf("round %d: killed after %d users and %v: %d of %d folders imported", round, after, pause, whole, len(want))
	}
	if killed < (ran+1)/2 {
		t.Fatalf("only %d of %d runs were killed before they ended", killed, ran)
	}
	if t.Failed() {
		t.FailNow()
	}
	cmd := treeCmd(t, spoolDir, "--tree", export)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("resumed import: exit %d\n%s", code, out.String())
	}
	got := spoolCounts(t, spoolDir)
	checkCounts(t, got, want)
	checkOnce(t, spoolDir, got)
}

// checkOnce fails if a folder of folders (USER/FOLDER keys) holds a
// message twice.
func checkOnce(t *testing.T, spoolDir string, folders map[string]int) {
	t.Helper()
	for k := range folders {
		user, folder, _ := strings.Cut(k, "/")
		msgs, err := spool.New(spoolDir).ReadFolder(context.Background(), user, folder)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range msgs {
			if seen[string(m)] {
				t.Errorf("%s holds a message twice", k)
			}
			seen[string(m)] = true
		}
	}
}

// TestImportTreeProgressTTY runs the import of 50 users x 3 folders on a
// pseudo-terminal (script(1)): the progress bar is redrawn in place.
func TestImportTreeProgressTTY(t *testing.T) {
	requireTool(t, "script")
	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	want := genExport(t, export, 50)
	spoolDir := filepath.Join(dir, "spool")
	os.Mkdir(spoolDir, 0o700)
	cmd := exec.Command("script", "-qec", fmt.Sprintf("'%s' import --tree '%s'", vmspopBinary(t), export), "/dev/null")
	cmd.Env = append(os.Environ(), "TCPIP_POP_SPOOL="+spoolDir, "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	s := string(out)
	for _, w := range []string{"\r[###", "100%", "50/50 users", "ETA", "messages", "MB", "Total 50 "} {
		if !strings.Contains(s, w) {
			t.Errorf("terminal output lacks %q:\n%q", w, s)
		}
	}
	if strings.Contains(s, " done (") {
		t.Errorf("plain progress lines on a terminal:\n%q", s)
	}
	checkCounts(t, spoolCounts(t, spoolDir), want)
}
