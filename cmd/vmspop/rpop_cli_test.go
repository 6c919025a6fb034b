package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRPOPCLI: add, list, show, modify, remove; the file is mode 0600;
// the user-set limits.
func TestRPOPCLI(t *testing.T) {
	// The binary, with its environment: run()'s env map only overrides
	// names the process environment has, and the records must not land
	// next to the default accounts file.
	site := newRPOPSite(t, "TCPIP$POP_RPOP_MAXIMUM_ACCOUNTS=2", "TCPIP$POP_RPOP_MINIMUM_PERIOD=0 00:05:00")
	dir := site.Dir
	rp := func(stdin string, args ...string) (int, string, string) {
		return site.run(t, stdin, append([]string{"rpop"}, args...)...)
	}
	rc, out, errs := rp("s3cret\n", "add", "alice", "--host", "pop.example.com", "--account", "alice7", "--password-stdin", "--leave", "--stls", "--period", "15m")
	if rc != 0 {
		t.Fatalf("add: %d %s", rc, errs)
	}
	id := strings.TrimSpace(out)
	fi, err := os.Stat(filepath.Join(dir, "rpop"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("records file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "rpop")); !bytes.Contains(b, []byte("s3cret")) {
		t.Fatal("password not stored")
	}
	_, out, _ = rp("", "list")
	for _, w := range []string{id, "ALICE", "15m0s", "alice7", "pop.example.com", "leave,stls", "not yet"} {
		if !strings.Contains(out, w) {
			t.Errorf("list lacks %q:\n%s", w, out)
		}
	}
	_, out, _ = rp("", "show", id)
	if strings.Contains(out, "s3cret") || !strings.Contains(out, "Password:  (set, 6 characters)") {
		t.Errorf("show:\n%s", out)
	}
	if rc, _, errs := rp("", "modify", id, "--period", "disabled", "--tls"); rc != 0 {
		t.Fatalf("modify: %s", errs)
	}
	if _, out, _ = rp("", "list", "ALICE"); !strings.Contains(out, "disabled") || !strings.Contains(out, "leave,tls") {
		t.Errorf("list after modify:\n%s", out)
	}
	// --unified alone is the default special field, X-Real-To.
	if rc, out, errs := rp("p\n", "add", "postmaster", "--host", "h", "--account", "dw", "--password-stdin", "--unified", "--leave"); rc != 0 {
		t.Errorf("add --unified (no field): %d %s", rc, errs)
	} else if _, show, _ := rp("", "show", strings.TrimSpace(out)); !strings.Contains(show, "leave,unified=X-Real-To") {
		t.Errorf("--unified alone; want unified=X-Real-To:\n%s", show)
	} else {
		rp("", "remove", strings.TrimSpace(out))
	}
	// modify turns options off too, and leaves alone those not given.
	if rc, _, errs := rp("", "modify", id, "--leave=false", "--apop"); rc != 0 {
		t.Fatalf("modify --leave=false --apop: %s", errs)
	}
	if _, out, _ = rp("", "show", id); !regexp.MustCompile(`Options: +apop,tls\n`).MatchString(out) {
		t.Errorf("show after --leave=false --apop; want options apop,tls:\n%s", out)
	}
	if rc, _, errs := rp("", "modify", id, "--apop=false"); rc != 0 {
		t.Fatalf("modify --apop=false: %s", errs)
	}
	if _, out, _ = rp("", "show", id); !regexp.MustCompile(`Options: +tls\n`).MatchString(out) {
		t.Errorf("show after --apop=false; want options tls:\n%s", out)
	}
	// User-set limits: the minimum period, then the maximum count.
	if rc, _, errs := rp("p\n", "add", "bob", "--host", "h", "--account", "b", "--password-stdin", "--user-set", "--period", "1m"); rc == 0 || !strings.Contains(errs, "minimum") {
		t.Errorf("user-set period under the minimum: %d %s", rc, errs)
	}
	for i := 0; i < 2; i++ {
		if rc, _, errs := rp("p\n", "add", "bob", "--host", "h", "--account", "b", "--password-stdin", "--user-set"); rc != 0 {
			t.Fatalf("user-set add %d: %s", i, errs)
		}
	}
	if rc, _, errs := rp("p\n", "add", "bob", "--host", "h", "--account", "b", "--password-stdin", "--user-set"); rc == 0 || !strings.Contains(errs, "maximum") {
		t.Errorf("third user-set record: %d %s", rc, errs)
	}
	if rc, _, errs := rp("", "add", "bob", "--host", "h", "--account", "b"); rc == 0 || !strings.Contains(errs, "password-stdin") {
		t.Errorf("add without a password: %d %s", rc, errs)
	}
	if rc, _, errs := rp("", "remove", id); rc != 0 {
		t.Fatalf("remove: %s", errs)
	}
	if _, out, _ = rp("", "list", "ALICE"); strings.Contains(out, id) {
		t.Errorf("removed record still listed:\n%s", out)
	}
	if rc, _, errs := rp("", "poll", "NOBODY"); rc == 0 || !strings.Contains(errs, "no records") {
		t.Errorf("poll of a user without records: %d %s", rc, errs)
	}
}
