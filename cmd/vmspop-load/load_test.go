package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vmspop/vmspop/internal/poptest"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

// loadRows parses the table printed by "vmspop-load run": one map from
// column name to value per row.
func loadRows(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("no table in the output:\n%s", out)
	}
	head := strings.Fields(lines[0])
	if len(head) == 0 || head[0] != "mode" {
		t.Fatalf("no table header in the output:\n%s", out)
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != len(head) {
			t.Fatalf("row %q has %d columns, the header %d:\n%s", l, len(f), len(head), out)
		}
		row := make(map[string]string)
		for i, h := range head {
			row[h] = f[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// loadRow parses a one-row table and checks the given columns.
func loadRow(t *testing.T, out string, want map[string]string) map[string]string {
	t.Helper()
	rows := loadRows(t, out)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1:\n%s", len(rows), out)
	}
	for k, v := range want {
		if rows[0][k] != v {
			t.Errorf("column %s = %q, want %q\n%s", k, rows[0][k], v, out)
		}
	}
	return rows[0]
}

func TestLoadUsage(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"load"}, 2, "missing mode"},
		{[]string{"load", "bogus"}, 2, `unknown mode "bogus"`},
		{[]string{"load", "-h"}, 0, ""},
		{[]string{"load", "run", "-h"}, 0, ""},
		{[]string{"load", "populate", "--users", "1", "--messages", "1"}, 2, "--spool is required"},
		{[]string{"load", "populate", "--spool", "x", "--users", "0", "--messages", "1"}, 2, "--users 0"},
		{[]string{"load", "populate", "--spool", "x", "--users", "1", "--messages", "1", "--size", "10"}, 2, "--size 10"},
		{[]string{"load", "populate", "--spool", "x", "--users", "1", "--messages", "1", "--uaf", "u"}, 2, "--uaf and --password go together"},
		{[]string{"load", "populate", "--spool", "x", "--users", "1", "--messages", "1", "--users-prefix", "A/B"}, 2, "--users-prefix"},
		{[]string{"load", "populate", "--spool", "x", "--users", "1", "--messages", "1", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"load", "populate", "--nosuch"}, 2, "flag provided but not defined: -nosuch"},
		{[]string{"load", "run", "--nusers", "3", "--password", "pw"}, 2, "--addr is required"},
		{[]string{"load", "run", "--addr", "127.0.0.1:1", "--password", "pw"}, 2, "--nusers is required"},
		{[]string{"load", "run", "--addr", "127.0.0.1:1", "--nusers", "3"}, 2, "--password is required"},
		{[]string{"load", "run", "--addr", "127.0.0.1:1", "--nusers", "3", "--password", "pw", "--mode", "dele"}, 2, `--mode "dele"`},
		{[]string{"load", "run", "--addr", "127.0.0.1:1", "--nusers", "3", "--password", "pw", "--clients", "4"}, 2, "exceeds --nusers 3"},
		{[]string{"load", "run", "--addr", "127.0.0.1:1", "--nusers", "3", "--password", "pw", "--sessions", "0"}, 2, "--sessions 0"},
		{[]string{"load", "run", "--addr", "127.0.0.1:1", "--nusers", "3", "--password", "pw", "--pipeline", "0"}, 2, "--pipeline 0"},
		{[]string{"load", "run", "--addr", "localhost", "--nusers", "3", "--password", "pw"}, 2, `--addr "localhost"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := runLoad(tt.args[1:], &stdout, &stderr)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.code, stdout.String(), stderr.String())
			continue
		}
		if tt.code == 0 {
			if !strings.Contains(stdout.String(), "usage: vmspop-load populate") || stderr.Len() > 0 {
				t.Errorf("%q: stdout %q, stderr %q; want the usage on stdout", tt.args, stdout.String(), stderr.String())
			}
			continue
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); !strings.Contains(first, tt.wantErr) || !strings.Contains(stderr.String(), `Run "vmspop-load -h" for usage.`) {
			t.Errorf("%q: stderr %q, want a first line containing %q and the usage hint", tt.args, stderr.String(), tt.wantErr)
		}
	}
}

// TestLoadPopulate checks what populate writes: the users, message counts,
// spread sizes, the awkward lines, the accounts.
func TestLoadPopulate(t *testing.T) {
	dir := t.TempDir()
	root, uafPath := filepath.Join(dir, "spool"), filepath.Join(dir, "uaf")
	writeUAF(t, uafPath, "SMITH", "demo")
	var stdout, stderr bytes.Buffer
	args := []string{"load", "populate", "--spool", root, "--users", "2", "--messages", "40", "--size", "2000",
		"--users-prefix", "lt", "--uaf", uafPath, "--password", "secret", "--bcrypt-cost", "4"}
	if code := runLoad(args[1:], &stdout, &stderr); code != 0 {
		t.Fatalf("populate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "LT001-002: 40 messages each, 80 in all") {
		t.Errorf("populate said %q", stdout.String())
	}
	for _, user := range []string{"LT001", "LT002"} {
		msgs, err := spool.New(root).ReadFolder(context.Background(), user, spool.NewMail)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 40 {
			t.Fatalf("%s NEWMAIL holds %d messages, want 40", user, len(msgs))
		}
		var total, lo, hi int
		lo = 1 << 30
		var dot, from, smtp int
		for _, m := range msgs {
			total += len(m)
			lo, hi = min(lo, len(m)), max(hi, len(m))
			if !bytes.HasPrefix(m, []byte("From:\t")) || !bytes.Contains(m, []byte("\nSubj:\tLoad test message ")) {
				t.Fatalf("%s: not a MAIL-11 message: %.200q", user, m)
			}
			dot += bytes.Count(m, []byte("\n."))
			from += bytes.Count(m, []byte("\nFrom the desk")) + bytes.Count(m, []byte("\n>From a quoted"))
			if bytes.HasPrefix(m, []byte("From:\tSMTP%")) {
				smtp++
			}
		}
		if avg := total / len(msgs); avg < 1600 || avg > 2400 || lo > 1500 || hi < 2500 {
			t.Errorf("%s: sizes %d..%d, average %d; want spread around 2000", user, lo, hi, avg)
		}
		if dot == 0 || from == 0 || smtp == 0 {
			t.Errorf("%s: %d lines starting with '.', %d From lines, %d SMTP messages; want some of each", user, dot, from, smtp)
		}
	}
	db, err := uaf.Load(uafPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SMITH", "LT001", "LT002"} {
		if _, ok := db.Lookup(name); !ok {
			t.Errorf("no account %s after populate", name)
		}
	}
	if a, _ := db.Lookup("LT002"); a == nil || bcrypt.CompareHashAndPassword(a.Hash, []byte("secret")) != nil {
		t.Errorf("LT002's password is not %q", "secret")
	}
}

// fakePOP serves one scripted session: STAT/LIST announce 3 messages of 7,
// 10 and 300,003 octets; message 1 has a stuffed line, message 2 is 7
// octets (not 10), message 3 is one 300,001-octet line that starts with a
// stuffed dot (longer than the client's buffer).
func fakePOP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	long := "." + strings.Repeat("x", 300000)
	bodies := []string{"a\r\n..b\r\n", "hello\r\n", "." + long + "\r\n"}
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		w := bufio.NewWriter(c)
		w.WriteString("+OK fake ready\r\n")
		w.Flush()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch verb {
			case "USER", "PASS":
				w.WriteString("+OK\r\n")
			case "STAT":
				fmt.Fprintf(w, "+OK 3 %d\r\n", 7+10+len(long)+2)
			case "UIDL":
				w.WriteString("+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n")
			case "LIST":
				fmt.Fprintf(w, "+OK\r\n1 7\r\n2 10\r\n3 %d\r\n.\r\n", len(long)+2)
			case "RETR":
				n, _ := strconv.Atoi(arg)
				w.WriteString("+OK\r\n" + bodies[n-1] + ".\r\n")
			case "QUIT":
				w.WriteString("+OK bye\r\n")
				w.Flush()
				return
			default:
				w.WriteString("-ERR unknown\r\n")
			}
			w.Flush()
		}
	}()
	return l.Addr().String()
}

// TestLoadDetectsMismatch runs the client in-process against a fake server
// that lies about one size: exactly that message must be reported.
func TestLoadDetectsMismatch(t *testing.T) {
	addr := fakePOP(t)
	var stdout, stderr bytes.Buffer
	code := runLoad([]string{"load", "run", "--addr", addr, "--nusers", "1", "--password", "x"}[1:], &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	loadRow(t, stdout.String(), map[string]string{"mode": "drain", "users": "LOAD001", "sessions": "1", "messages": "3", "errors": "1"})
	if want := "LOAD001: message 2: RETR sent 7 octets (dot-unstuffed), LIST said 10"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// TestLoadRun populates a spool with the real binary, serves it with the
// real server and drives it with "vmspop-load run" in both modes.
func TestLoadRun(t *testing.T) {
	bin := poptest.Build(t, "github.com/vmspop/vmspop/cmd/vmspop-load")
	server := poptest.Build(t, "github.com/vmspop/vmspop/cmd/vmspop")
	dir := t.TempDir()
	spoolDir, uafPath := filepath.Join(dir, "spool"), filepath.Join(dir, "uaf")
	out, err := exec.Command(bin, "populate", "--spool", spoolDir, "--users", "3", "--messages", "50",
		"--size", "4096", "--uaf", uafPath, "--password", "loadpw", "--bcrypt-cost", "4").CombinedOutput()
	if err != nil {
		t.Fatalf("populate: %v\n%s", err, out)
	}
	nodes := filepath.Join(dir, "nodes")
	if err := os.WriteFile(nodes, []byte("VAXA vaxa.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Read mail stays in NEWMAIL, so every drain sees all 50 messages.
	s := poptest.Serve(t, server, filepath.Join(dir, "server.log"), false, "TCPIP$POP_SPOOL="+spoolDir, "TCPIP$POP_UAF="+uafPath,
		"TCPIP$POP_HOSTNAME=vms.example", "TCPIP$POP_LEAVE_IN_NEWMAIL=1", "TCPIP$POP_TRACE=0", "TCPIP$POP_DECNET_NODES="+nodes)

	load := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"run", "--addr", s.Addr, "--nusers", "3"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if code := exitCode(t, cmd); code != wantCode {
			// Not s.stderr: the server is still writing to it.
			log, _ := os.ReadFile(s.Log)
			t.Fatalf("load run %q: exit %d, want %d\n%s%s\nserver log (end):\n%s", args, code, wantCode, stdout.String(), stderr.String(), log[max(0, len(log)-2000):])
		}
		return stdout.String(), stderr.String()
	}

	// One session per user, three at once: 3 × 50 messages.
	stdout, _ := load(0, "--password", "loadpw", "--clients", "3", "--mode", "drain")
	row := loadRow(t, stdout, map[string]string{"mode": "drain", "users": "LOAD001-003", "clients": "3", "sessions": "3", "messages": "150", "errors": "0"})
	if mb, _ := strconv.ParseFloat(row["MB"], 64); mb < 0.5 { // 150 × about 4 KiB
		t.Errorf("drain moved %s MB, want about 0.6", row["MB"])
	}
	// One client, every user in turn, 8 RETRs in flight.
	stdout, _ = load(0, "--password", "loadpw", "--sessions", "3", "--pipeline", "8", "--header=false")
	if strings.Contains(stdout, "mode") {
		t.Errorf("--header=false printed a header:\n%s", stdout)
	}
	loadRow(t, "mode users clients sessions messages MB seconds MB/s sessions/s sess-p50ms sess-p95ms login-p50ms login-p95ms errors\n"+stdout,
		map[string]string{"clients": "1", "sessions": "3", "messages": "150", "errors": "0"})
	// Logins only.
	stdout, _ = load(0, "--password", "loadpw", "--clients", "3", "--sessions", "10", "--mode", "login")
	row = loadRow(t, stdout, map[string]string{"mode": "login", "sessions": "30", "messages": "0", "errors": "0"})
	if row["login-p50ms"] == "-" {
		t.Errorf("login run has no login times:\n%s", stdout)
	}
	testReplay(t, bin, s.Addr)
	testHold(t, bin, s.Addr)
	// A wrong password fails every session.
	stdout, stderr := load(1, "--password", "wrong", "--clients", "3", "--sessions", "2", "--mode", "login")
	loadRow(t, stdout, map[string]string{"sessions": "6", "errors": "6"})
	if !strings.Contains(stderr, "LOAD001: PASS: -ERR [AUTH]") || !strings.Contains(stderr, "6 error(s) in 6 session(s)") {
		t.Errorf("stderr after a wrong password:\n%s", stderr)
	}
}

// testHold holds the three users' sessions with "load hold" from two
// local addresses: while they are held a login as one of them is refused
// (the maildrop is locked), and after SIGTERM the sessions have QUIT and
// the login works again.
func testHold(t *testing.T, bin, addr string) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(bin, "hold", "--addr", addr, "--nusers", "3", "--password", "loadpw", "--sources", "2", "--ready", ready)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("hold ended before its sessions were ready: %v\n%s%s", err, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hold not ready after 60 s\n%s%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	login := func() (int, string) {
		c := exec.Command(bin, "run", "--addr", addr, "--nusers", "1", "--password", "loadpw", "--mode", "login")
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		return exitCode(t, c), out.String()
	}
	if code, out := login(); code != 1 || !strings.Contains(out, "[IN-USE]") {
		t.Errorf("login beside the held sessions: exit %d, want 1 with [IN-USE]\n%s", code, out)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Fatalf("hold after SIGTERM: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if want := "holding 3 sessions (LOAD001-003) from 2 address(es)"; !strings.Contains(stdout.String(), want) {
		t.Errorf("hold printed %q, want %q", stdout.String(), want)
	}
	if _, err := os.Stat(ready); !os.IsNotExist(err) {
		t.Errorf("ready file left behind: %v", err)
	}
	if code, out := login(); code != 0 {
		t.Errorf("login after hold ended: exit %d\n%s", code, out)
	}
}

// testReplay records LOAD001's session from the server at addr, drains
// the replay with "load run", checks that a RETR reply from the replay is
// byte for byte the server's, and stops the replay with SIGINT.
func testReplay(t *testing.T, bin, addr string) {
	t.Helper()
	// A refused login is reported by its verb, without the password.
	cmd := exec.Command(bin, "replay", "--from", addr, "--user", "LOAD001", "--password", "wrong-secret")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if code := exitCode(t, cmd); code != 1 || !strings.Contains(errOut.String(), "PASS: ") || strings.Contains(errOut.String(), "wrong-secret") {
		t.Errorf("replay with a wrong password: exit %d, stderr %q", code, errOut.String())
	}
	cmd = exec.Command(bin, "replay", "--from", addr, "--user", "LOAD001", "--password", "loadpw")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("replay: %v; stderr: %s", err, stderr.String())
	}
	// "replaying 50 messages of LOAD001 (recorded from ...) on 127.0.0.1:N"
	f := strings.Fields(first)
	if len(f) < 2 || f[1] != "50" {
		t.Fatalf("replay says %q, want 50 messages", first)
	}
	replayAddr := f[len(f)-1]
	out, err := exec.Command(bin, "run", "--addr", replayAddr, "--nusers", "1", "--password", "any", "--sessions", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("load run against the replay: %v\n%s", err, out)
	}
	loadRow(t, string(out), map[string]string{"sessions": "2", "messages": "100", "errors": "0"})
	if a, b := retrRaw(t, addr, 7), retrRaw(t, replayAddr, 7); !bytes.Equal(a, b) {
		t.Errorf("RETR 7: replay sent %d octets, server %d, or different ones", len(b), len(a))
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("replay after SIGINT: %v; stderr: %s", err, stderr.String())
	}
}

// retrRaw logs in as LOAD001 and returns RETR n's reply as sent.
func retrRaw(t *testing.T, addr string, n int) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "USER LOAD001\r\nPASS loadpw\r\nRETR %d\r\nQUIT\r\n", n)
	all, _ := io.ReadAll(c)
	// greeting, USER and PASS replies, then RETR's reply up to ".\r\n".
	lines := bytes.SplitAfterN(all, []byte("\n"), 4)
	if len(lines) < 4 {
		t.Fatalf("%s: %q", addr, all)
	}
	reply, _, ok := bytes.Cut(lines[3], []byte("\r\n.\r\n"))
	if !ok || !bytes.HasPrefix(reply, []byte("+OK")) {
		t.Fatalf("%s: RETR %d: %.200q", addr, n, lines[3])
	}
	return reply
}

// writeUAF writes an accounts file holding user with password.
func writeUAF(t *testing.T, path, user, password string) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	db := uaf.NewDB()
	db.Put(&uaf.Account{Name: user, Hash: h})
	if err := db.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

// exitCode runs cmd and returns its exit status; a failure to run it at
// all ends the test.
func exitCode(t testing.TB, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", cmd.Path, err)
	return -1
}
