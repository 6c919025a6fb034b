package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestUAFLoginDelayAndGrants: modify --login-delay, --grant and --revoke
// reach the file, show them, and the Store answers from them.
func TestUAFLoginDelayAndGrants(t *testing.T) {
	env, path := uafEnv(t)
	for _, u := range []string{"boss", "smith", "jones"} {
		if r := runUAFTest(t, env, "pw\n", "add", u, "--password-stdin"); r.code != 0 {
			t.Fatalf("add %s: %+v", u, r)
		}
	}
	steps := [][]string{
		{"modify", "smith", "--login-delay", "5m"},
		{"modify", "boss", "--grant", "smith:read,delete", "--grant", "jones:read"},
		{"modify", "boss", "--revoke", "smith", "--grant", "smith:read"},
	}
	for _, s := range steps {
		if r := runUAFTest(t, env, "", s...); r.code != 0 {
			t.Fatalf("%v: %+v", s, r)
		}
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), ":logindelay=5m0s") || !strings.Contains(string(b), ":grants=JONES/read,SMITH/read\n") {
		t.Errorf("accounts file:\n%s", b)
	}
	r := runUAFTest(t, env, "", "show", "boss")
	if !strings.Contains(r.stdout, "Grant:       JONES (read)") || !strings.Contains(r.stdout, "Grant:       SMITH (read)") {
		t.Errorf("show boss:\n%s", r.stdout)
	}
	st := loadStore(t, path)
	if d, ok := st.LoginDelay("smith"); !ok || d != 5*time.Minute {
		t.Errorf("LoginDelay(smith) = %v, %v", d, ok)
	}
	if _, ok := st.LoginDelay("jones"); ok {
		t.Error("LoginDelay(jones) set")
	}
	if rd, del := st.Rights("boss", "smith"); !rd || del {
		t.Errorf("Rights(boss, smith) = %v, %v; want read only", rd, del)
	}
	if rd, _ := st.Rights("smith", "boss"); rd {
		t.Error("Rights(smith, boss): boss was never granted access")
	}
	if r := runUAFTest(t, env, "", "modify", "smith", "--login-delay", "none"); r.code != 0 {
		t.Fatalf("--login-delay none: %+v", r)
	}
	if _, ok := loadStore(t, path).LoginDelay("smith"); ok {
		t.Error("login delay still set after --login-delay none")
	}
	for _, bad := range [][]string{
		{"modify", "smith", "--login-delay", "-5m"},
		{"modify", "smith", "--login-delay", "1.5s"},
		{"modify", "smith", "--grant", "jones:write"},
		{"modify", "smith", "--grant", "../x:read"},
	} {
		if r := runUAFTest(t, env, "", bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", bad, r.code, r.stderr)
		}
	}
}
