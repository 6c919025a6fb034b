package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vmspop/vmspop/uaf"
)

// uafRun is the result of one "vmspop uaf" run.
type uafRun struct {
	code           int
	stdout, stderr string
}

// runUAFTest runs "vmspop uaf args" with a cheap bcrypt cost, the given
// environment and stdin, at a fixed time.
func runUAFTest(t *testing.T, env map[string]string, stdin string, args ...string) uafRun {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &uafCmd{
		env:    func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		stdin:  strings.NewReader(stdin),
		stdout: &out, stderr: &errOut,
		cost: bcrypt.MinCost,
		now:  func() time.Time { return time.Date(2027, 6, 1, 12, 0, 0, 0, time.Local) },
	}
	code := c.main(args)
	return uafRun{code, out.String(), errOut.String()}
}

// uafEnv returns an environment naming a fresh accounts file.
func uafEnv(t *testing.T) (map[string]string, string) {
	path := filepath.Join(t.TempDir(), "accounts")
	return map[string]string{"TCPIP$POP_UAF": path}, path
}

// loadStore opens path as the server would, with a check time.
func loadStore(t *testing.T, path string) *uaf.Store {
	t.Helper()
	s, err := uaf.NewStore(path)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

// The real entry point, with the real bcrypt cost, as the brief's example:
// printf 'pw\n' | vmspop uaf add SMITH --password-stdin
func TestRunUAFAddDefaultCost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts")
	env := func(k string) (string, bool) {
		if k == "TCPIP_POP_UAF" {
			return path, true
		}
		return "", false
	}
	var out, errOut bytes.Buffer
	if code := runUAF([]string{"add", "smith", "--password-stdin"}, env, strings.NewReader("pw\n"), &out, &errOut); code != 0 {
		t.Fatalf("runUAF add = %d, stderr %q", code, errOut.String())
	}
	a, ok := mustLoad(t, path).Lookup("SMITH")
	if !ok {
		t.Fatal("SMITH not added")
	}
	if cost, _ := bcrypt.Cost(a.Hash); cost != bcrypt.DefaultCost {
		t.Errorf("hash cost = %d; want %d", cost, bcrypt.DefaultCost)
	}
	if u, err := loadStore(t, path).CheckPassword("smith", "pw", time.Now()); err != nil || u != "SMITH" {
		t.Errorf("CheckPassword after add = %q, %v", u, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", fi.Mode().Perm())
	}
}

// mustLoad loads the accounts file or fails.
func mustLoad(t *testing.T, path string) *uaf.DB {
	t.Helper()
	db, err := uaf.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return db
}

func TestRunUAFEndToEnd(t *testing.T) {
	env, path := uafEnv(t)
	now := time.Date(2027, 6, 1, 12, 0, 0, 0, time.Local)
	const ts = "<1896.697170952@dbc.mtview.ca.us>"

	// add with password and APOP secret on stdin (CRLF line ends too).
	r := runUAFTest(t, env, "s3cret pw\r\ntanstaaf\r\n", "add", "jones", "--password-stdin", "--apop-secret-stdin", "--flags", "dismail", "--expires", "2027-12-31")
	if r.code != 0 || !strings.Contains(r.stdout, "JONES added") {
		t.Fatalf("add = %+v", r)
	}
	// flags before the user name work too.
	if r := runUAFTest(t, env, "pw2", "add", "--password-stdin", "SMITH"); r.code != 0 {
		t.Fatalf("add SMITH = %+v", r)
	}
	s := loadStore(t, path)
	if _, err := s.CheckPassword("JONES", "s3cret pw", now); err != uaf.ErrDisMail {
		t.Errorf("JONES password check = %v; want ErrDisMail (good password, DISMAIL)", err)
	}
	if _, err := s.CheckAPOP("JONES", ts, "c4c9334bac560ecc979e58001b3e22fb", now); err != uaf.ErrDisMail {
		t.Errorf("JONES APOP = %v; want ErrDisMail", err)
	}
	if u, err := s.CheckPassword("smith", "pw2", now); err != nil || u != "SMITH" {
		t.Errorf("SMITH = %q, %v", u, err)
	}

	// add of an existing user fails and leaves it alone.
	if r := runUAFTest(t, env, "other\n", "add", "Smith", "--password-stdin"); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("add existing = %+v", r)
	}

	// show and list.
	r = runUAFTest(t, env, "", "show", "jones")
	for _, want := range []string{"Username:    JONES", "Flags:       DISMAIL", "Expires:     2027-12-31", "Password:    set", "APOP secret: set"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show JONES output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runUAFTest(t, env, "", "list")
	if r.code != 0 || r.stdout != "JONES  DISMAIL  2027-12-31\nSMITH  -        none\n" {
		t.Errorf("list = %+v", r)
	}

	// modify: clear flags, set expiry, change password, drop secret.
	if r := runUAFTest(t, env, "", "modify", "JONES", "--flags", ""); r.code != 0 {
		t.Fatalf("modify --flags \"\" = %+v", r)
	}
	if u, err := s.CheckPassword("JONES", "s3cret pw", now); err != nil || u != "JONES" {
		t.Errorf("after clearing flags: %q, %v", u, err)
	}
	if r := runUAFTest(t, env, "", "modify", "jones", "--flags", "DISUSER,DISMAIL", "--expires", "2027-05-31"); r.code != 0 {
		t.Fatalf("modify flags+expires = %+v", r)
	}
	if _, err := s.CheckPassword("JONES", "s3cret pw", now); err != uaf.ErrDisUser {
		t.Errorf("after DISUSER: %v", err)
	}
	r = runUAFTest(t, env, "", "show", "JONES")
	if !strings.Contains(r.stdout, "DISUSER,DISMAIL") || !strings.Contains(r.stdout, "2027-05-31 (expired)") {
		t.Errorf("show after modify:\n%s", r.stdout)
	}
	if r := runUAFTest(t, env, "", "modify", "JONES", "--flags=", "--expires", "none"); r.code != 0 {
		t.Fatalf("modify --expires none = %+v", r)
	}
	if a, _ := mustLoad(t, path).Lookup("JONES"); a.Flags != 0 || !a.Expires.IsZero() {
		t.Errorf("after --expires none: %+v", a)
	}
	if r := runUAFTest(t, env, "newpw\n", "modify", "JONES", "--password-stdin", "--no-apop-secret"); r.code != 0 {
		t.Fatalf("modify password = %+v", r)
	}
	if _, err := s.CheckPassword("JONES", "s3cret pw", now); err != uaf.ErrBadPassword {
		t.Errorf("old password after change: %v", err)
	}
	if _, err := s.CheckPassword("JONES", "newpw", now); err != nil {
		t.Errorf("new password: %v", err)
	}
	if s.HasSecret("JONES") {
		t.Error("secret kept after --no-apop-secret")
	}
	if r := runUAFTest(t, env, "tanstaaf\n", "modify", "JONES", "--apop-secret-stdin"); r.code != 0 {
		t.Fatalf("modify secret = %+v", r)
	}
	if _, err := s.CheckAPOP("JONES", ts, "c4c9334bac560ecc979e58001b3e22fb", now); err != nil {
		t.Errorf("APOP after setting secret: %v", err)
	}

	// remove.
	if r := runUAFTest(t, env, "", "remove", "smith"); r.code != 0 || !strings.Contains(r.stdout, "SMITH removed") {
		t.Fatalf("remove = %+v", r)
	}
	if s.UserExists("SMITH") {
		t.Error("SMITH still exists")
	}
	if r := runUAFTest(t, env, "", "remove", "smith"); r.code != 1 || !strings.Contains(r.stderr, "no user SMITH") {
		t.Errorf("second remove = %+v", r)
	}
	if r := runUAFTest(t, env, "", "show", "SMITH"); r.code != 1 || !strings.Contains(r.stderr, "no user SMITH") {
		t.Errorf("show removed = %+v", r)
	}
	if r := runUAFTest(t, env, "", "modify", "SMITH", "--flags", ""); r.code != 1 || !strings.Contains(r.stderr, "no user SMITH") {
		t.Errorf("modify removed = %+v", r)
	}
}

// No secret, hash or base64 of a secret ever reaches stdout or stderr.
func TestRunUAFNeverPrintsSecrets(t *testing.T) {
	env, path := uafEnv(t)
	const pw, secret = "Sup3rPassw0rd", "MySharedSecret"
	var all strings.Builder
	for _, r := range []uafRun{
		runUAFTest(t, env, pw+"\n"+secret+"\n", "add", "SMITH", "--password-stdin", "--apop-secret-stdin"),
		runUAFTest(t, env, "", "show", "SMITH"),
		runUAFTest(t, env, "", "list"),
		runUAFTest(t, env, pw+"\n"+secret+"\n", "modify", "SMITH", "--password-stdin", "--apop-secret-stdin"),
		runUAFTest(t, env, pw+"\n", "add", "SMITH", "--password-stdin"),
		runUAFTest(t, env, "", "add", "X", "--apop-secret-stdin", "--password-stdin"),
	} {
		all.WriteString(r.stdout + r.stderr)
	}
	a, _ := mustLoad(t, path).Lookup("SMITH")
	for _, bad := range []string{pw, secret, string(a.Hash[7:20]), "TXlTaGFyZWRTZWNyZXQ"} {
		if strings.Contains(all.String(), bad) {
			t.Errorf("output contains %q:\n%s", bad, all.String())
		}
	}
	if !strings.Contains(all.String(), "APOP secret: set") {
		t.Errorf("show output missing:\n%s", all.String())
	}
}

func TestRunUAFErrors(t *testing.T) {
	env, path := uafEnv(t)
	if r := runUAFTest(t, env, "pw\n", "add", "SMITH", "--password-stdin"); r.code != 0 {
		t.Fatalf("setup add = %+v", r)
	}
	before, _ := os.ReadFile(path)
	tests := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		code  int
		want  string // in stderr
	}{
		{"no command", env, "", nil, 2, "missing command"},
		{"unknown command", env, "", []string{"frob"}, 2, "unknown command"},
		{"no file", map[string]string{}, "", []string{"list"}, 2, "TCPIP$POP_UAF"},
		{"env conflict", map[string]string{"TCPIP$POP_UAF": path, "TCPIP_POP_UAF": path + "x"}, "", []string{"list"}, 2, "both set"},
		{"flag conflicts env", env, "", []string{"--uaf", path + "x", "list"}, 2, "conflicts"},
		{"missing file", map[string]string{"TCPIP_POP_UAF": path + ".none"}, "", []string{"list"}, 1, "no such file"},
		{"dotdot name", env, "pw\n", []string{"add", "../x", "--password-stdin"}, 1, "invalid user name"},
		{"slash name", env, "pw\n", []string{"add", "a/b", "--password-stdin"}, 1, "invalid user name"},
		{"long name", env, "pw\n", []string{"add", strings.Repeat("A", 32), "--password-stdin"}, 1, "invalid user name"},
		{"show bad name", env, "", []string{"show", "a/b"}, 1, "invalid user name"},
		{"remove bad name", env, "", []string{"remove", "../SMITH"}, 1, "invalid user name"},
		{"no user", env, "", []string{"show"}, 2, "exactly one user"},
		{"two users", env, "", []string{"remove", "A", "B"}, 2, "exactly one user"},
		{"list args", env, "", []string{"list", "A"}, 2, "no arguments"},
		{"password in argv", env, "", []string{"add", "X", "--password", "pw"}, 2, "not defined: -password"},
		{"no password source", env, "", []string{"add", "X"}, 1, "use --password-stdin"},
		{"empty stdin", env, "", []string{"add", "X", "--password-stdin"}, 1, "no password on standard input"},
		{"empty line", env, "\n", []string{"add", "X", "--password-stdin"}, 1, "no password"},
		{"missing secret line", env, "pw\n", []string{"add", "X", "--password-stdin", "--apop-secret-stdin"}, 1, "no apop secret"},
		{"long password", env, strings.Repeat("p", 73) + "\n", []string{"add", "X", "--password-stdin"}, 1, "72 bytes"},
		{"huge line", env, strings.Repeat("p", 5000) + "\n", []string{"add", "X", "--password-stdin"}, 1, "longer than"},
		{"bad flags", env, "pw\n", []string{"add", "X", "--password-stdin", "--flags", "CAPTIVE"}, 2, "unknown flag"},
		{"bad date", env, "pw\n", []string{"add", "X", "--password-stdin", "--expires", "31-DEC-2027"}, 2, "--expires"},
		{"nothing to modify", env, "", []string{"modify", "SMITH"}, 2, "nothing to change"},
		{"contradiction", env, "s\n", []string{"modify", "SMITH", "--apop-secret-stdin", "--no-apop-secret"}, 2, "contradict"},
		{"no-apop-secret on add", env, "pw\n", []string{"add", "X", "--password-stdin", "--no-apop-secret"}, 2, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runUAFTest(t, tt.env, tt.stdin, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("vmspop uaf %q = %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
			}
			if !strings.HasPrefix(r.stderr, "vmspop uaf: ") {
				t.Errorf("stderr %q lacks the vmspop uaf: prefix", r.stderr)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("a failed command changed the accounts file")
			}
		})
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "accounts" && e.Name() != "accounts.lock" {
			t.Errorf("stray file %s (a user file from a path-trick name?)", e.Name())
		}
	}
}

func TestRunUAFUAFFlagAndHelp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts")
	none := map[string]string{}
	if r := runUAFTest(t, none, "pw\n", "--uaf", path, "add", "A", "--password-stdin"); r.code != 0 {
		t.Fatalf("--uaf before command = %+v", r)
	}
	if r := runUAFTest(t, none, "pw\n", "add", "B", "--uaf", path, "--password-stdin"); r.code != 0 {
		t.Fatalf("--uaf after command = %+v", r)
	}
	// Same file in env and flag is no conflict; "--" ends the flags.
	env := map[string]string{"TCPIP$POP_UAF": path}
	if r := runUAFTest(t, env, "", "--uaf", path, "remove", "--", "B"); r.code != 0 {
		t.Fatalf("remove -- B = %+v", r)
	}
	if r := runUAFTest(t, none, "", "list", "--uaf", path); r.code != 0 || r.stdout != "A  -  none\n" {
		t.Errorf("list = %+v", r)
	}
	for _, args := range [][]string{{"-h"}, {"add", "--help"}} {
		if r := runUAFTest(t, none, "", args...); r.code != 0 || !strings.Contains(r.stdout, "usage: vmspop uaf") {
			t.Errorf("%q = %+v", args, r)
		}
	}
}

// Two writers in turn (the lock file is left behind and reused) and a
// writer blocked by a held lock.
func TestRunUAFLocked(t *testing.T) {
	env, path := uafEnv(t)
	l, err := uaf.LockFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan uafRun)
	go func() { done <- runUAFTest(t, env, "pw\n", "add", "A", "--password-stdin") }()
	select {
	case r := <-done:
		t.Fatalf("add finished while the file was locked: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	l.Unlock()
	if r := <-done; r.code != 0 {
		t.Fatalf("add after unlock = %+v", r)
	}
	if _, ok := mustLoad(t, path).Lookup("A"); !ok {
		t.Error("A not added")
	}
}

// TestUpdateAccounts: the accounts file changes only when the change
// succeeds, and is created only when asked.
func TestUpdateAccounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uaf")
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string) func(*uaf.DB) error {
		return func(db *uaf.DB) error {
			db.Put(&uaf.Account{Name: name, Hash: hash})
			return nil
		}
	}
	if err := updateAccounts(path, false, put("SMITH")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("update of a missing file without create: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file was created: %v", err)
	}
	if err := updateAccounts(path, true, put("SMITH")); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil || len(before) == 0 {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = updateAccounts(path, false, func(db *uaf.DB) error {
		put("JONES")(db)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed change: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatalf("a failed change was written:\n%s\nwas:\n%s", after, before)
	}
	db, err := uaf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Lookup("SMITH"); !ok || db.Len() != 1 {
		t.Fatalf("accounts after the updates: %d", db.Len())
	}
}
