package uaf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestLoadUsers finds each wanted account as Load does, nothing else, and
// fails on a damaged line anywhere, but not on a bad field of another
// account.
func TestLoadUsers(t *testing.T) {
	const h = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	file := "# accounts\n\nSMITH:" + h + ":apop=dGFuc3RhYWY=:expires=2027-01-31\n  jones:" + h + "\nNOMAIL::flags=DISMAIL\n"
	dir := t.TempDir()
	p := filepath.Join(dir, "uaf")
	os.WriteFile(p, []byte(file), 0o600)
	all, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	db, err := LoadUsers(p, "smith", "NoMail", "NOBODY", "bad name")
	if err != nil {
		t.Fatal(err)
	}
	if db.Len() != 2 {
		t.Errorf("LoadUsers holds %d accounts, want 2", db.Len())
	}
	for _, n := range []string{"SMITH", "NOMAIL"} {
		got, ok1 := db.Lookup(n)
		want, ok2 := all.Lookup(n)
		if !ok1 || !ok2 || !reflect.DeepEqual(got, want) {
			t.Errorf("LoadUsers %s = %+v, %v; Load gives %+v, %v", n, got, ok1, want, ok2)
		}
	}
	if _, ok := db.Lookup("JONES"); ok {
		t.Error("JONES, not asked for, is in the DB")
	}

	for _, c := range []struct {
		name, file string
		fails      bool
	}{
		{"garbage line", file + "garbage line\n", true},
		{"bad name", file + "a/b:" + h + "\n", true},
		{"bad field of the user", file + "OTHER:" + h + "\nWANTED:" + h + ":flags=NOPE\n", true},
		{"duplicate user", file + "WANTED:\nwanted:\n", true},
		{"bad field of another user", file + "OTHER:" + h + ":flags=NOPE\nWANTED:\n", false},
	} {
		os.WriteFile(p, []byte(c.file), 0o600)
		_, err := LoadUsers(p, "WANTED")
		var pe *ParseError
		if c.fails != errors.As(err, &pe) {
			t.Errorf("%s: LoadUsers = %v, want a ParseError: %v", c.name, err, c.fails)
		}
	}
	if _, err := LoadUsers(filepath.Join(dir, "none"), "SMITH"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}
