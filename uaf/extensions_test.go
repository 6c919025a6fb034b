package uaf

import (
	"strings"
	"testing"
	"time"
)

func TestParseExtensionFields(t *testing.T) {
	db, err := Parse(strings.NewReader("BOSS::logindelay=90s:grants=smith/read+delete,JONES/read\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := db.Lookup("boss")
	if !a.HasLoginDelay || a.LoginDelay != 90*time.Second {
		t.Errorf("login delay = %v, %v", a.LoginDelay, a.HasLoginDelay)
	}
	want := []Grant{{User: "JONES"}, {User: "SMITH", Delete: true}}
	if len(a.Grants) != 2 || a.Grants[0] != want[0] || a.Grants[1] != want[1] {
		t.Errorf("grants = %+v, want %+v", a.Grants, want)
	}
	var b strings.Builder
	if _, err := db.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "BOSS::logindelay=1m30s:grants=JONES/read,SMITH/read+delete\n") {
		t.Errorf("written:\n%s", b.String())
	}
	for _, bad := range []string{"A::logindelay=5", "A::logindelay=-1s", "A::logindelay=25h", "A::grants=B/write", "A::grants=../x/read"} {
		if _, err := Parse(strings.NewReader(bad+"\n"), "t"); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
