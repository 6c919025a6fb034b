package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/internal/delivercmd"
	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
)

// dlEnv is a test environment: a spool and an accounts file path (which
// need not exist).
type dlEnv struct {
	spool, uaf string
	extra      map[string]string
}

func newDlEnv(t *testing.T) *dlEnv {
	dir := t.TempDir()
	return &dlEnv{spool: filepath.Join(dir, "spool"), uaf: filepath.Join(dir, "uaf"), extra: map[string]string{}}
}

func (e *dlEnv) lookup(k string) (string, bool) {
	switch k {
	case "TCPIP$POP_SPOOL":
		return e.spool, true
	case "TCPIP$POP_UAF":
		return e.uaf, true
	}
	v, ok := e.extra[k]
	return v, ok
}

// deliverArrival is the arrival time the deliver tests use.
var deliverArrival = time.Date(2026, 11, 25, 10, 15, 32, 450_000_000, time.UTC)

// deliver runs "vmspop deliver" in-process at a fixed arrival time.
func (e *dlEnv) deliver(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	c := &delivercmd.Command{Name: "vmspop deliver", Env: e.lookup, Stdin: strings.NewReader(stdin), Stderr: &stderr,
		Now: func() time.Time { return deliverArrival }}
	return c.Main(args), stderr.String()
}

func (e *dlEnv) folder(t *testing.T, user, folder string) [][]byte {
	t.Helper()
	msgs, err := spool.New(e.spool).ReadFolder(context.Background(), user, folder)
	if err != nil {
		t.Fatalf("ReadFolder %s %s: %v", user, folder, err)
	}
	return msgs
}

// envelopes returns the From_ line senders of a folder.
func (e *dlEnv) envelopes(t *testing.T, user, folder string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.spool, user, folder))
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := spool.Scan(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, strings.Fields(m.Envelope)[0])
	}
	return out
}

func readRFC822(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rfc822Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeliverStoresMail11AndOriginal(t *testing.T) {
	e := newDlEnv(t)
	raw := readRFC822(t, "plain.eml")
	if code, stderr := e.deliver(t, raw, "smith", "JONES"); code != 0 {
		t.Fatalf("deliver = %d, stderr %q", code, stderr)
	}
	wantHead := "From:\tSMTP%\"john.smith@example.com\" \"John Smith\"  25-NOV-2026 10:15:32.45\n" +
		"To:\tJones <jones@vms.example.com>\nCC:\tField <field@vms.example.com>\nSubj:\tLunch on Friday?\n\n"
	for _, u := range []string{"SMITH", "JONES"} {
		msgs := e.folder(t, u, "NEWMAIL")
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages, want 1", u, len(msgs))
		}
		if got, want := string(msgs[0]), wantHead+raw; got != want {
			t.Errorf("%s: stored\n%q\nwant\n%q", u, got, want)
		}
		if env := e.envelopes(t, u, "NEWMAIL"); env[0] != "john.smith@example.com" {
			t.Errorf("%s: envelope %q, want the Return-Path", u, env[0])
		}
	}
}

// TestDeliverTestdata: every RFC 5322 test message is stored byte for byte
// after a MAIL-11 header that rewrite parses back.
func TestDeliverTestdata(t *testing.T) {
	e := newDlEnv(t)
	names := []string{"plain.eml", "alternative.eml", "utf8.eml", "quoted-local.eml", "fromlines.eml"}
	wantFrom := []string{"john.smith@example.com", "news@example.org", "jm@example.de", `"john q\"public"@example.com`, "tester@example.net"}
	wantSubj := []string{"Lunch on Friday?", "November news", "Grüße aus Köln €", "A sender with quotes in the local part", "From lines and dots"}
	for _, n := range names {
		if code, stderr := e.deliver(t, readRFC822(t, n), "SMITH"); code != 0 {
			t.Fatalf("%s: deliver = %d, %s", n, code, stderr)
		}
	}
	msgs := e.folder(t, "SMITH", "NEWMAIL")
	if len(msgs) != len(names) {
		t.Fatalf("%d messages, want %d", len(msgs), len(names))
	}
	s := &rewrite.Settings{Hostname: "vms.example.com"}
	for i, m := range msgs {
		head, body, ok := bytes.Cut(m, []byte("\n\n"))
		if !ok || string(body) != readRFC822(t, names[i]) {
			t.Errorf("%s: body after the MAIL-11 header differs from the input", names[i])
		}
		mm, err := mail11.ParseIn(head, time.UTC)
		if err != nil {
			t.Errorf("%s: ParseMail11: %v", names[i], err)
		}
		if addr, _ := s.RewriteFrom(mm.From); addr != wantFrom[i] {
			t.Errorf("%s: From: %q rewrites to %q, want %q", names[i], mm.From, addr, wantFrom[i])
		}
		if mm.Subj != wantSubj[i] {
			t.Errorf("%s: Subj %q, want %q", names[i], mm.Subj, wantSubj[i])
		}
	}
}

func TestDeliverEnvelope(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		input string
		want  string
	}{
		{"-f wins", []string{"-f", "other@x.example"}, "Return-Path: <rp@x.example>\nFrom: a@b.example\n\nx\n", "other@x.example"},
		{"Return-Path", nil, "Return-Path: <rp@x.example>\nFrom: a@b.example\n\nx\n", "rp@x.example"},
		{"From: address", nil, "From: A <a@b.example>\n\nx\n", "a@b.example"},
		{"null sender", []string{"-f", ""}, "From: MAILER-DAEMON@x.example\n\nbounce\n", "MAILER-DAEMON"},
		{"mbox From_ line stripped", nil, "From env@x.example Wed Nov 25 10:15:32 2026\nFrom: a@b.example\n\nx\n", "a@b.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDlEnv(t)
			if code, stderr := e.deliver(t, tt.input, append(tt.args, "SMITH")...); code != 0 {
				t.Fatalf("deliver = %d, %s", code, stderr)
			}
			if got := e.envelopes(t, "SMITH", "NEWMAIL"); got[0] != tt.want {
				t.Errorf("envelope %q, want %q", got[0], tt.want)
			}
			msg := e.folder(t, "SMITH", "NEWMAIL")[0]
			if bytes.Contains(msg, []byte("Wed Nov 25 10:15:32 2026")) {
				t.Errorf("the mbox From_ line was stored: %q", msg)
			}
		})
	}
}

func TestDeliverExitCodes(t *testing.T) {
	const ok = "From: a@b.example\nSubject: x\n\nbody\n"
	uafFile := "SMITH:\nJONES:\nNOMAIL::flags=DISMAIL\n"
	tests := []struct {
		name   string
		uaf    string // "" = no accounts file
		env    map[string]string
		args   []string
		input  string
		code   int
		stderr string
	}{
		{"ok without UAF", "", nil, []string{"ANYONE"}, ok, 0, ""},
		{"ok with UAF", uafFile, nil, []string{"smith"}, ok, 0, ""},
		{"no user", "", nil, nil, ok, 64, "no user given"},
		{"bad flag", "", nil, []string{"-x", "SMITH"}, ok, 64, "flag provided but not defined"},
		{"bad lock timeout", "", nil, []string{"--lock-timeout", "soon", "SMITH"}, ok, 64, "invalid value"},
		{"invalid name", "", nil, []string{"../etc"}, ok, 67, "invalid user name"},
		{"unknown user", uafFile, nil, []string{"SMITH", "NOBODY"}, ok, 67, "no such user NOBODY"},
		{"DISMAIL", uafFile, nil, []string{"NOMAIL"}, ok, 69, "DISMAIL"},
		{"bad UAF", "garbage line\n", nil, []string{"SMITH"}, ok, 75, "uaf"},
		{"bad configuration", "", map[string]string{"TCPIP$POP_SECURITY": "BOGUS"}, []string{"SMITH"}, ok, 75, "configuration"},
		{"empty input", "", nil, []string{"SMITH"}, "", 65, "no header"},
		{"no header block", "", nil, []string{"SMITH"}, "\nbody only\n", 65, "no header"},
		{"binary garbage", "", nil, []string{"SMITH"}, "\x00\x01\x02\xff\xfe garbage\n\nx", 65, "bad message header"},
		{"not a header line", "", nil, []string{"SMITH"}, "Hello there, this is not mail\n", 65, "bad message header"},
		{"continuation first", "", nil, []string{"SMITH"}, " folded: x\n\nb", 65, "bad message header"},
		{"envelope only", "", nil, []string{"SMITH"}, "From x@y Wed Nov 25 10:15:32 2026", 65, "envelope line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDlEnv(t)
			if tt.uaf != "" {
				if err := os.WriteFile(e.uaf, []byte(tt.uaf), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range tt.env {
				e.extra[k] = v
			}
			code, stderr := e.deliver(t, tt.input, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("deliver %v = %d, stderr %q; want %d with %q", tt.args, code, stderr, tt.code, tt.stderr)
			}
			if code != 0 {
				// Nothing was delivered to anyone.
				if ents, _ := os.ReadDir(e.spool); len(ents) != 0 {
					t.Errorf("exit %d but the spool holds %v", code, ents)
				}
			}
		})
	}
}

func TestDeliverHeaderTooLong(t *testing.T) {
	e := newDlEnv(t)
	in := "From: a@b.example\nX-Long: " + strings.Repeat("x", delivery.MaxHeader) + "\n\nbody\n"
	if code, stderr := e.deliver(t, in, "SMITH"); code != 65 || !strings.Contains(stderr, "longer than") {
		t.Fatalf("deliver = %d, %q; want 65", code, stderr)
	}
}

// TestDeliverLockTimeout: a folder lock held elsewhere (a dotlock of a live
// process) makes deliver give up with EX_TEMPFAIL after --lock-timeout,
// without delivering; once the lock is gone it delivers.
func TestDeliverLockTimeout(t *testing.T) {
	e := newDlEnv(t)
	dir := filepath.Join(e.spool, "SMITH")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "NEWMAIL.lock")
	if err := os.WriteFile(lock, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, stderr := e.deliver(t, "From: a@b.example\n\nx\n", "--lock-timeout", "200ms", "SMITH")
	if code != 75 || !strings.Contains(stderr, "locked") {
		t.Fatalf("deliver with the folder locked = %d, %q; want 75", code, stderr)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("gave up after %v, want about 200ms", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "NEWMAIL")); err == nil {
		if msgs := e.folder(t, "SMITH", "NEWMAIL"); len(msgs) != 0 {
			t.Errorf("%d messages delivered despite the lock", len(msgs))
		}
	}
	os.Remove(lock)
	if code, stderr := e.deliver(t, "From: a@b.example\n\nx\n", "--lock-timeout", "200ms", "SMITH"); code != 0 {
		t.Fatalf("deliver after unlock = %d, %q", code, stderr)
	}
}

// TestDeliverPartialFailure: with two users, one of them locked, the other
// gets the message and the exit status is 75 (the MTA will retry both).
func TestDeliverPartialFailure(t *testing.T) {
	e := newDlEnv(t)
	dir := filepath.Join(e.spool, "JONES")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "NEWMAIL.lock"), []byte(strconv.Itoa(os.Getppid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr := e.deliver(t, "From: a@b.example\n\nx\n", "--lock-timeout", "100ms", "SMITH", "JONES")
	if code != 75 || !strings.Contains(stderr, "JONES") {
		t.Fatalf("deliver = %d, %q; want 75 naming JONES", code, stderr)
	}
	if n := len(e.folder(t, "SMITH", "NEWMAIL")); n != 1 {
		t.Errorf("SMITH has %d messages, want 1", n)
	}
}

// TestDeliverDiskFull: on a full file system deliver exits 75 and every
// message delivered before still decodes; nothing torn is left behind.
func TestDeliverDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	e := newDlEnv(t)
	if err := os.MkdirAll(e.spool, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", e.spool).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); skipping the full-disk test", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", e.spool).Run() })

	small := func(i int) string {
		return fmt.Sprintf("From: a@b.example\nSubject: small %d\n\n%s\n", i, strings.Repeat("z", 20<<10))
	}
	var delivered int
	for i := 0; i < 100; i++ {
		code, stderr := e.deliver(t, small(i), "SMITH")
		if code == 75 {
			if !strings.Contains(stderr, "no space") {
				t.Errorf("exit 75 with %q, want a full-disk message", stderr)
			}
			break
		}
		if code != 0 {
			t.Fatalf("deliver #%d = %d, %q", i, code, stderr)
		}
		delivered++
	}
	if delivered == 0 || delivered == 100 {
		t.Fatalf("delivered %d messages before the disk was full", delivered)
	}
	// A big message now fails too.
	if code, _ := e.deliver(t, "From: a@b.example\n\n"+strings.Repeat("big\n", 100<<10), "SMITH"); code != 75 {
		t.Errorf("big message on a full disk: exit %d, want 75", code)
	}
	msgs := e.folder(t, "SMITH", "NEWMAIL")
	if len(msgs) != delivered {
		t.Fatalf("%d messages in NEWMAIL, want %d", len(msgs), delivered)
	}
	for i, m := range msgs {
		if _, body, _ := bytes.Cut(m, []byte("\n\n")); string(body) != small(i) {
			t.Errorf("message %d is damaged", i)
		}
	}
	if _, err := os.Stat(filepath.Join(e.spool, "SMITH", ".journal")); err == nil {
		t.Error("a journal was left behind")
	}
}

// TestDeliverSIGKILL kills the real `vmspop deliver` at random instants: no
// run may leave a torn message or store its message twice, and every run
// that exited 0 has its message in the folder.
func TestDeliverSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	bin := plainBinary(t)
	e := newDlEnv(t)
	body := strings.Repeat("0123456789abcdef\n", 8<<10) // 136 KiB
	msg := func(i int) string { return fmt.Sprintf("From: a@b.example\nSubject: run %d\n\n%s", i, body) }
	rng := rand.New(rand.NewPCG(1, 2))
	// How long one run takes, to spread the kills over it.
	run := func(i int, kill time.Duration) (exited bool) {
		cmd := exec.Command(bin, "deliver", "SMITH")
		cmd.Env = []string{"TCPIP$POP_SPOOL=" + e.spool, "TCPIP$POP_UAF=" + e.uaf, "PATH=" + os.Getenv("PATH")}
		cmd.Stdin = strings.NewReader(msg(i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d failed before the kill: %v", i, err)
			}
			return true
		case <-time.After(kill):
			cmd.Process.Signal(syscall.SIGKILL)
			return <-done == nil
		}
	}
	start := time.Now()
	run(-1, time.Minute)
	typical := time.Since(start)
	completed := map[int]bool{}
	for i := 0; i < 50; i++ {
		kill := time.Duration(rng.Int64N(int64(typical) * 3 / 2))
		if run(i, kill) {
			completed[i] = true
		}
	}
	msgs := e.folder(t, "SMITH", "NEWMAIL")
	seen := map[int]int{}
	for _, m := range msgs {
		head, rest, _ := bytes.Cut(m, []byte("\n\n"))
		if _, err := mail11.ParseIn(head, time.UTC); err != nil {
			t.Errorf("bad MAIL-11 header: %v", err)
		}
		var i int
		if _, err := fmt.Sscanf(string(rest), "From: a@b.example\nSubject: run %d\n", &i); err != nil {
			t.Fatalf("torn message: %.80q", rest)
		}
		if string(rest) != msg(i) {
			t.Errorf("run %d: message torn (%d octets, want %d)", i, len(rest), len(msg(i)))
		}
		seen[i]++
	}
	for i, n := range seen {
		if n > 1 {
			t.Errorf("run %d stored %d times", i, n)
		}
	}
	for i := range completed {
		if seen[i] != 1 {
			t.Errorf("run %d exited 0 but its message is missing", i)
		}
	}
	if seen[-1] != 1 {
		t.Error("the timing run's message is missing")
	}
	t.Logf("%d of 50 runs completed, %d messages stored; a run takes %v", len(completed), len(msgs), typical)
}
