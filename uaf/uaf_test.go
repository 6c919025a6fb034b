package uaf

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// hashOf returns a cheap bcrypt hash of pw for tests.
func hashOf(t testing.TB, pw string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// writeDB writes accounts to a new file in a temporary directory.
func writeDB(t *testing.T, path string, accts ...*Account) {
	t.Helper()
	db := NewDB()
	for _, a := range accts {
		db.Put(a)
	}
	if err := db.WriteFile(path); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
}

// newTestStore returns a Store over accts with a cheap dummy hash.
func newTestStore(t *testing.T, accts ...*Account) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accounts")
	writeDB(t, path, accts...)
	s, err := NewStore(path)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	s.dummy = hashOf(t, "dummy")
	return s, path
}

func TestDummyHashIsDefaultCost(t *testing.T) {
	cost, err := bcrypt.Cost([]byte(dummyHash))
	if err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("bcrypt.Cost(dummyHash) = %d, %v; want %d", cost, err, bcrypt.DefaultCost)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		in      string
		want    Flags
		str     string
		wantErr bool
	}{
		{"", 0, "", false},
		{"  ", 0, "", false},
		{"DISUSER", DisUser, "DISUSER", false},
		{"dismail", DisMail, "DISMAIL", false},
		{"DISMAIL, disuser", DisUser | DisMail, "DISUSER,DISMAIL", false},
		{"DISUSER,DISUSER", DisUser, "DISUSER", false},
		{"DISUSER,", 0, "", true},
		{"NOSUCH", 0, "", true},
		{"(DISUSER)", 0, "", true},
	}
	for _, tt := range tests {
		got, err := ParseFlags(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseFlags(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
			continue
		}
		if !tt.wantErr && got.String() != tt.str {
			t.Errorf("ParseFlags(%q).String() = %q; want %q", tt.in, got.String(), tt.str)
		}
	}
	if s := Flags(0x81).String(); s != "DISUSER,0x80" {
		t.Errorf("Flags(0x81).String() = %q; want DISUSER,0x80", s)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"SMITH", true},
		{"smith_2", true},
		{"SYS$MGR", true},
		{"a-b", true},
		{strings.Repeat("A", 31), true},
		{strings.Repeat("A", 32), false},
		{"", false},
		{"../x", false},
		{"a/b", false},
		{"a.b", false},
		{"a b", false},
		{"a:b", false},
		{"ÄB", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.in); got != tt.want {
			t.Errorf("ValidName(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseGood(t *testing.T) {
	h := string(hashOf(t, "pw"))
	secret := base64.StdEncoding.EncodeToString([]byte("tanstaaf"))
	in := "# comment\n\n   \n  # indented comment\r\n" +
		"smith:" + h + ":apop=" + secret + ":flags=DISUSER,DISMAIL:expires=2027-01-31\r\n" +
		"JONES:" + h + "\n" +
		"NOPW::expires=2030-12-31:flags=:apop=\n" +
		"\tSYS$X:" + h + ":flags=dismail  \n"
	db, err := Parse(strings.NewReader(in), "test")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if db.Len() != 4 {
		t.Fatalf("Len = %d; want 4", db.Len())
	}
	a, ok := db.Lookup("Smith")
	if !ok {
		t.Fatal("Lookup(Smith) not found")
	}
	if a.Name != "SMITH" || string(a.Hash) != h || string(a.Secret) != "tanstaaf" ||
		a.Flags != DisUser|DisMail || !a.Expires.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.Local)) {
		t.Errorf("SMITH = %+v", a)
	}
	if a.ExpiryDate() != "2027-01-31" {
		t.Errorf("ExpiryDate = %q", a.ExpiryDate())
	}
	j, _ := db.Lookup("jones")
	if j.Secret != nil || j.Flags != 0 || !j.Expires.IsZero() {
		t.Errorf("JONES = %+v", j)
	}
	n, _ := db.Lookup("NOPW")
	if n.Hash != nil || n.Secret != nil || n.Flags != 0 || n.ExpiryDate() != "2030-12-31" {
		t.Errorf("NOPW = %+v", n)
	}
	if x, ok := db.Lookup("sys$x"); !ok || x.Flags != DisMail {
		t.Errorf("SYS$X = %+v, %v", x, ok)
	}
	var names []string
	for _, a := range db.Accounts() {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, " "); got != "JONES NOPW SMITH SYS$X" {
		t.Errorf("Accounts() = %s", got)
	}
	// Lookup returns a copy.
	a.Hash[0] = 'X'
	if b, _ := db.Lookup("SMITH"); b.Hash[0] != '$' {
		t.Error("Lookup returned shared storage")
	}
}

// The example in the package doc must parse.
func TestParseDocExample(t *testing.T) {
	in := "SMITH:$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy:apop=dGFuc3RhYWY=:flags=DISMAIL:expires=2027-01-31\n" +
		"JONES:$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\n"
	db, err := Parse(strings.NewReader(in), "doc")
	if err != nil {
		t.Fatalf("Parse(doc example): %v", err)
	}
	if a, _ := db.Lookup("SMITH"); string(a.Secret) != "tanstaaf" {
		t.Errorf("secret = %q", a.Secret)
	}
}

func TestParseErrors(t *testing.T) {
	h := string(hashOf(t, "pw"))
	good := "GOOD:" + h + "\n"
	tests := []struct {
		name, line, want string
	}{
		{"one field", "SMITH", "want NAME:HASH"},
		{"bad name", "../x:" + h, "bad user name"},
		{"name slash", "a/b:" + h, "bad user name"},
		{"name too long", strings.Repeat("A", 32) + ":" + h, "bad user name"},
		{"empty name", ":" + h, "bad user name"},
		{"plain password", "SMITH:secret", "not a bcrypt hash"},
		{"md5 crypt", "SMITH:$1$abcdefgh$0123456789012345678901", "not a bcrypt hash"},
		{"truncated hash", "SMITH:" + h[:59], "not a bcrypt hash"},
		{"bad hash char", "SMITH:" + h[:59] + "!", "not a bcrypt hash"},
		{"bad cost", "SMITH:" + h[:4] + "99" + h[6:], "bcrypt"},
		{"not key=value", "SMITH:" + h + ":DISUSER", "not key=value"},
		{"empty trailing field", "SMITH:" + h + ":", "not key=value"},
		{"unknown key", "SMITH:" + h + ":shell=/bin/sh", "unknown field"},
		{"dup key", "SMITH:" + h + ":flags=DISUSER:flags=", "duplicate field"},
		{"bad flag", "SMITH:" + h + ":flags=CAPTIVE", "bad flags"},
		{"bad base64", "SMITH:" + h + ":apop=***", "base64"},
		{"unpadded base64", "SMITH:" + h + ":apop=dGFuc3RhYWY", "base64"},
		{"bad date", "SMITH:" + h + ":expires=31-JAN-2027", "bad expires"},
		{"impossible date", "SMITH:" + h + ":expires=2027-02-30", "bad expires"},
		{"date with time", "SMITH:" + h + ":expires=2027-01-31T00:00", "bad expires"},
		{"duplicate user", "good:" + h, "duplicate user GOOD"},
		{"long line", "SMITH:" + h + ":apop=" + strings.Repeat("A", maxLine), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "# header\n" + good + "\n" + tt.line + "\n" + "LATER:" + h + "\n"
			db, err := Parse(strings.NewReader(in), "/etc/accounts")
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil; want error", tt.line, db)
			}
			if db != nil {
				t.Errorf("Parse returned a DB with the error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != 4 || pe.File != "/etc/accounts" {
				t.Fatalf("Parse error = %#v; want *ParseError at line 4", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "uaf: /etc/accounts:4: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q; want prefix %q and %q", msg, "uaf: /etc/accounts:4: ", tt.want)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	db, err := Parse(strings.NewReader(""), "x")
	if err != nil || db.Len() != 0 {
		t.Fatalf("Parse(\"\") = %v, %v; want empty DB", db, err)
	}
}

func TestExpiry(t *testing.T) {
	exp, err := ParseDate("2027-01-31")
	if err != nil {
		t.Fatal(err)
	}
	a := &Account{Expires: exp}
	tests := []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2027, 1, 31, 0, 0, 0, 0, time.Local), false},
		{time.Date(2027, 1, 31, 23, 59, 59, 999999999, time.Local), false},
		{time.Date(2027, 2, 1, 0, 0, 0, 0, time.Local), true},
		{time.Date(2030, 1, 1, 0, 0, 0, 0, time.Local), true},
	}
	for _, tt := range tests {
		if got := a.Expired(tt.now); got != tt.want {
			t.Errorf("Expired(%v) = %v; want %v", tt.now, got, tt.want)
		}
	}
	if (&Account{}).Expired(time.Now()) {
		t.Error("zero Expires is expired")
	}
	// A rewrite rounds an odd instant down, never extending the account.
	odd := &Account{Expires: time.Date(2027, 2, 1, 10, 0, 0, 0, time.Local)}
	if d := odd.ExpiryDate(); d != "2027-01-31" {
		t.Errorf("ExpiryDate(Feb 1 10:00) = %q; want 2027-01-31", d)
	}
	for _, bad := range []string{"", "none", "2027-1-31", "2027-13-01", " 2027-01-31"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) succeeded", bad)
		}
	}
}

func TestWriteFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts")
	exp, _ := ParseDate("2027-01-31")
	in := []*Account{
		{Name: "smith", Hash: hashOf(t, "pw"), Secret: []byte("tan:st\naaf"), Flags: DisMail, Expires: exp},
		{Name: "JONES", Hash: hashOf(t, "pw2")},
		{Name: "NOPW"},
	}
	writeDB(t, path, in...)
	db, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := db.Accounts()
	if len(got) != 3 {
		t.Fatalf("got %d accounts", len(got))
	}
	s := got[2]
	if s.Name != "SMITH" || !bytes.Equal(s.Hash, in[0].Hash) || string(s.Secret) != "tan:st\naaf" ||
		s.Flags != DisMail || !s.Expires.Equal(exp) {
		t.Errorf("SMITH round trip = %+v", s)
	}
	if got[1].Hash != nil || got[1].Name != "NOPW" {
		t.Errorf("NOPW round trip = %+v", got[1])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (temp file left?)", len(entries))
	}
}

func TestWriteFileMode(t *testing.T) {
	// Not parallel: the umask is process-wide.
	for _, mask := range []int{0, 0o022, 0o277} {
		old := syscall.Umask(mask)
		path := filepath.Join(t.TempDir(), "accounts")
		writeDB(t, path, &Account{Name: "A", Hash: hashOf(t, "x")})
		// A rewrite over an existing file with a wider mode narrows it too.
		os.Chmod(path, 0o644)
		writeDB(t, path, &Account{Name: "B", Hash: hashOf(t, "x")})
		syscall.Umask(old)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("umask %03o: mode = %v; want 0600", mask, fi.Mode().Perm())
		}
	}
}

func TestWriteFileRefusesInvalid(t *testing.T) {
	tests := []struct {
		name string
		a    *Account
	}{
		{"bad name", &Account{Name: "../etc", Hash: hashOf(t, "x")}},
		{"bad hash", &Account{Name: "A", Hash: []byte("plaintext")}},
		{"bad flags", &Account{Name: "A", Flags: 0x80}},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "accounts")
		os.WriteFile(path, []byte("KEEP::\n"), 0o600)
		db := NewDB()
		db.Put(tt.a)
		if err := db.WriteFile(path); err == nil {
			t.Errorf("%s: WriteFile succeeded", tt.name)
		}
		if b, _ := os.ReadFile(path); string(b) != "KEEP::\n" {
			t.Errorf("%s: file changed to %q", tt.name, b)
		}
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	err := NewDB().WriteFile(filepath.Join(t.TempDir(), "no", "accounts"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile in missing dir = %v; want ErrNotExist", err)
	}
}

func TestPutRemove(t *testing.T) {
	db := NewDB()
	db.Put(&Account{Name: "smith"})
	db.Put(nil)
	if _, ok := db.Lookup("SMITH"); !ok {
		t.Fatal("Put(smith) not found as SMITH")
	}
	if !db.Remove("Smith") || db.Remove("SMITH") || db.Len() != 0 {
		t.Fatal("Remove did not remove exactly once")
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts")
	l, err := LockFile(path, time.Second)
	if err != nil {
		t.Fatalf("LockFile: %v", err)
	}
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file = %v, %v; want mode 0600", fi, err)
	}
	if _, err := LockFile(path, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second LockFile = %v; want locked error", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockFile(path, time.Second)
	if err != nil {
		t.Fatalf("LockFile after Unlock: %v", err)
	}
	l2.Unlock()
	if err := l2.Unlock(); err != nil {
		t.Errorf("second Unlock = %v", err)
	}
}

func TestNewStoreErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewStore(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewStore(missing) = %v; want ErrNotExist", err)
	}
	path := filepath.Join(dir, "corrupt")
	os.WriteFile(path, []byte("# ok\nSMITH:plain\n"), 0o600)
	_, err := NewStore(path)
	if err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("NewStore(corrupt) = %v; want error naming %s:2", err, path)
	}
}

func TestStoreReload(t *testing.T) {
	s, path := newTestStore(t, &Account{Name: "SMITH", Hash: hashOf(t, "old")})
	if !s.UserExists("smith") || s.UserExists("JONES") {
		t.Fatal("initial contents wrong")
	}
	writeDB(t, path, &Account{Name: "JONES", Hash: hashOf(t, "x")})
	if s.UserExists("SMITH") || !s.UserExists("JONES") {
		t.Fatal("Store did not see the rewritten file")
	}
	// An in-place rewrite (same inode, new size) is seen too.
	if err := os.WriteFile(path, []byte("BROWN:\n# padding\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !s.UserExists("BROWN") || s.UserExists("JONES") {
		t.Fatal("Store did not see the in-place rewrite")
	}
	// An unchanged file is not re-read.
	before := s.Stats().Reloads
	for i := 0; i < 3; i++ {
		s.DB()
	}
	if got := s.Stats().Reloads; got != before {
		t.Errorf("Reloads went from %d to %d without a change", before, got)
	}
}

func TestStoreFailsClosed(t *testing.T) {
	s, path := newTestStore(t, &Account{Name: "SMITH", Hash: hashOf(t, "pw")})
	now := time.Now()
	if _, err := s.CheckPassword("SMITH", "pw", now); err != nil {
		t.Fatalf("CheckPassword before corruption: %v", err)
	}
	// Corrupt the file: every call fails, the cached credential included.
	tmp := path + ".new"
	os.WriteFile(tmp, []byte("SMITH:garbage\n"), 0o600)
	os.Rename(tmp, path)
	for i := 0; i < 2; i++ {
		if _, err := s.DB(); err == nil || !strings.Contains(err.Error(), path+":1:") {
			t.Fatalf("DB() after corruption = %v; want line error", err)
		}
		user, err := s.CheckPassword("SMITH", "pw", now)
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || user != "" {
			t.Fatalf("CheckPassword on corrupt file = %q, %v; want parse error", user, err)
		}
		if _, err := s.CheckAPOP("SMITH", "<1@x>", "00", now); !errors.As(err, &pe) {
			t.Fatalf("CheckAPOP on corrupt file = %v", err)
		}
		if s.UserExists("SMITH") || s.HasSecret("SMITH") {
			t.Fatal("UserExists/HasSecret true on corrupt file")
		}
	}
	// Removed: still fails.
	os.Remove(path)
	if _, err := s.CheckPassword("SMITH", "pw", now); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("CheckPassword on missing file = %v; want ErrNotExist", err)
	}
	// Fixed: works again.
	writeDB(t, path, &Account{Name: "SMITH", Hash: hashOf(t, "pw")})
	if u, err := s.CheckPassword("smith", "pw", now); err != nil || u != "SMITH" {
		t.Fatalf("CheckPassword after repair = %q, %v", u, err)
	}
}

func TestCheckPassword(t *testing.T) {
	now := time.Date(2027, 1, 15, 12, 0, 0, 0, time.Local)
	past, _ := ParseDate("2027-01-14")
	future, _ := ParseDate("2027-01-15")
	h := hashOf(t, "pw")
	s, _ := newTestStore(t,
		&Account{Name: "OK", Hash: h, Expires: future},
		&Account{Name: "DU", Hash: h, Flags: DisUser | DisMail, Expires: past},
		&Account{Name: "DM", Hash: h, Flags: DisMail, Expires: past},
		&Account{Name: "EXP", Hash: h, Expires: past},
		&Account{Name: "NOPW"},
	)
	tests := []struct {
		user, pw string
		want     error
	}{
		{"ok", "pw", nil},
		{"OK", "PW", ErrBadPassword},
		{"OK", "", ErrBadPassword},
		{"nobody", "pw", ErrUnknownUser},
		{"../x", "pw", ErrUnknownUser},
		{"DU", "pw", ErrDisUser},
		{"DU", "bad", ErrBadPassword}, // flags not disclosed without the password
		{"DM", "pw", ErrDisMail},
		{"DM", "bad", ErrBadPassword},
		{"EXP", "pw", ErrExpired},
		{"EXP", "bad", ErrBadPassword},
		{"NOPW", "", ErrBadPassword},
		{"NOPW", "pw", ErrBadPassword},
		{"OK", "pw" + strings.Repeat("x", 80), ErrBadPassword},
	}
	for _, tt := range tests {
		user, err := s.CheckPassword(tt.user, tt.pw, now)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("CheckPassword(%q, %q) = %q, %v; want %v", tt.user, tt.pw, user, err, tt.want)
		}
		if err == nil && user != strings.ToUpper(tt.user) {
			t.Errorf("CheckPassword(%q) user = %q", tt.user, user)
		}
		if err != nil && user != "" {
			t.Errorf("CheckPassword(%q) returned user %q with error", tt.user, user)
		}
	}
	// At exactly the expiry instant OK is expired.
	if _, err := s.CheckPassword("OK", "pw", future); !errors.Is(err, ErrExpired) {
		t.Errorf("CheckPassword at expiry = %v; want ErrExpired", err)
	}
}

// An unknown user, a user without a password and a wrong password each cost
// exactly one bcrypt comparison.
func TestBcryptPerFailure(t *testing.T) {
	s, _ := newTestStore(t, &Account{Name: "SMITH", Hash: hashOf(t, "pw")}, &Account{Name: "NOPW"})
	for _, tt := range []struct{ user, pw string }{
		{"NOBODY", "pw"}, {"NOPW", "pw"}, {"SMITH", "bad"}, {"SMITH", strings.Repeat("p", 100)},
	} {
		before := s.Stats().BcryptCompares
		s.CheckPassword(tt.user, tt.pw, time.Now())
		if got := s.Stats().BcryptCompares - before; got != 1 {
			t.Errorf("CheckPassword(%q, %q) ran %d bcrypt comparisons; want 1", tt.user, tt.pw, got)
		}
	}
}

func TestCredentialCache(t *testing.T) {
	now := time.Date(2027, 1, 15, 12, 0, 0, 0, time.Local)
	exp, _ := ParseDate("2027-01-15") // expires at midnight
	s, path := newTestStore(t, &Account{Name: "SMITH", Hash: hashOf(t, "pw"), Expires: exp})

	check := func(pw string, at time.Time, want error, bcrypts, hits uint64) {
		t.Helper()
		b0, h0 := s.Stats().BcryptCompares, s.Stats().CacheHits
		_, err := s.CheckPassword("smith", pw, at)
		if !errors.Is(err, want) || (err == nil) != (want == nil) {
			t.Fatalf("CheckPassword(%q, %v) = %v; want %v", pw, at, err, want)
		}
		if db, dh := s.Stats().BcryptCompares-b0, s.Stats().CacheHits-h0; db != bcrypts || dh != hits {
			t.Fatalf("CheckPassword(%q, %v): %d bcrypts, %d hits; want %d, %d", pw, at, db, dh, bcrypts, hits)
		}
	}
	check("pw", now, nil, 1, 0)                                // verified, cached
	check("pw", now.Add(time.Minute), nil, 0, 1)               // hit
	check("PW", now.Add(time.Minute), ErrBadPassword, 1, 0)    // wrong never hits
	check("PW", now.Add(time.Minute), ErrBadPassword, 1, 0)    // failures never cached
	check("pw", now.Add(4*time.Minute), nil, 0, 1)             // still within 5 minutes
	check("pw", now.Add(5*time.Minute+time.Second), nil, 1, 0) // lifetime over, re-verified and re-cached
	// A hit still applies the expiry of the account (midnight is < 5 min away).
	check("pw", now.Add(12*time.Hour-time.Minute), nil, 1, 0)
	check("pw", now.Add(12*time.Hour+time.Minute), ErrExpired, 0, 1)

	// A changed password in the file invalidates the cache.
	writeDB(t, path, &Account{Name: "SMITH", Hash: hashOf(t, "new")})
	check("pw", now, ErrBadPassword, 1, 0)
	check("new", now, nil, 1, 0)
	check("new", now, nil, 0, 1)
	// So does a new flag, even with the same password hash.
	a, _ := s.mustDB(t).Lookup("SMITH")
	a.Flags = DisUser
	writeDB(t, path, a)
	check("new", now, ErrDisUser, 1, 0)
}

// mustDB returns the current DB or fails the test.
func (s *Store) mustDB(t *testing.T) *DB {
	t.Helper()
	db, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestCredCacheBound(t *testing.T) {
	c := newCredCache([]byte("k"), 3)
	now := time.Now()
	for i := 0; i < 10; i++ {
		c.add(c.keyOf("U", string(rune('a'+i))), now, DefaultCacheLifetime)
		if c.len() > 3 {
			t.Fatalf("cache holds %d entries; max 3", c.len())
		}
	}
	if !c.hit(c.keyOf("U", "j"), now) {
		t.Error("the newest entry was evicted")
	}
	// Expired entries go first.
	c = newCredCache([]byte("k"), 2)
	c.add(c.keyOf("U", "old"), now.Add(-10*time.Minute), DefaultCacheLifetime)
	c.add(c.keyOf("U", "a"), now, DefaultCacheLifetime)
	c.add(c.keyOf("U", "b"), now, DefaultCacheLifetime)
	if !c.hit(c.keyOf("U", "a"), now) || !c.hit(c.keyOf("U", "b"), now) {
		t.Error("a live entry was evicted while an expired one was present")
	}
	if c.keyOf("A", "pw") == c.keyOf("B", "pw") || c.keyOf("A", "pw") == newCredCache([]byte("k2"), 2).keyOf("A", "pw") {
		t.Error("cache key ignores the user or the HMAC key")
	}
}

const (
	rfc1939Timestamp = "<1896.697170952@dbc.mtview.ca.us>"
	rfc1939Digest    = "c4c9334bac560ecc979e58001b3e22fb"
	rfc2195Challenge = "<1896.697170952@postoffice.reston.mci.net>"
	rfc2195Digest    = "b913a602c7eda7a495b4e6e7334d3890"
)

func TestCheckAPOP(t *testing.T) {
	now := time.Date(2027, 1, 15, 12, 0, 0, 0, time.Local)
	past, _ := ParseDate("2027-01-14")
	sec := []byte("tanstaaf")
	s, _ := newTestStore(t,
		&Account{Name: "MROSE", Secret: sec},
		&Account{Name: "NOSEC", Hash: hashOf(t, "pw")},
		&Account{Name: "DU", Secret: sec, Flags: DisUser},
		&Account{Name: "DM", Secret: sec, Flags: DisMail},
		&Account{Name: "EXP", Secret: sec, Expires: past},
	)
	tests := []struct {
		user, ts, digest string
		want             error
	}{
		{"mrose", rfc1939Timestamp, rfc1939Digest, nil},
		{"MROSE", rfc1939Timestamp, strings.ToUpper(rfc1939Digest), nil},
		{"MROSE", "<1897.697170952@dbc.mtview.ca.us>", rfc1939Digest, ErrBadDigest},
		{"MROSE", rfc1939Timestamp, rfc1939Digest[:31], ErrBadDigest},
		{"MROSE", rfc1939Timestamp, "", ErrBadDigest},
		{"NOBODY", rfc1939Timestamp, rfc1939Digest, ErrUnknownUser},
		{"NOSEC", rfc1939Timestamp, rfc1939Digest, ErrNoSecret},
		{"DU", rfc1939Timestamp, rfc1939Digest, ErrDisUser},
		{"DU", rfc1939Timestamp, "00", ErrBadDigest},
		{"DM", rfc1939Timestamp, rfc1939Digest, ErrDisMail},
		{"EXP", rfc1939Timestamp, rfc1939Digest, ErrExpired},
		{"EXP", rfc1939Timestamp, "00", ErrBadDigest},
	}
	for _, tt := range tests {
		user, err := s.CheckAPOP(tt.user, tt.ts, tt.digest, now)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("CheckAPOP(%q, %q, %q) = %q, %v; want %v", tt.user, tt.ts, tt.digest, user, err, tt.want)
		}
		if err == nil && user != "MROSE" {
			t.Errorf("CheckAPOP user = %q; want MROSE", user)
		}
	}
	if !s.HasSecret("mrose") || s.HasSecret("NOSEC") || s.HasSecret("NOBODY") {
		t.Error("HasSecret wrong")
	}
	if s.Stats().BcryptCompares != 0 {
		t.Error("APOP ran bcrypt")
	}
}

func TestCheckCRAMMD5(t *testing.T) {
	now := time.Date(2027, 1, 15, 12, 0, 0, 0, time.Local)
	sec := []byte("tanstaaftanstaaf")
	s, _ := newTestStore(t,
		&Account{Name: "tim", Secret: sec},
		&Account{Name: "NOSEC"},
		&Account{Name: "DU", Secret: sec, Flags: DisUser},
		&Account{Name: "DM", Secret: sec, Flags: DisMail},
	)
	tests := []struct {
		user, ch, digest string
		want             error
	}{
		{"tim", rfc2195Challenge, rfc2195Digest, nil},
		{"TIM", rfc2195Challenge, rfc2195Digest, nil},
		{"tim", rfc2195Challenge + "x", rfc2195Digest, ErrBadDigest},
		{"tim", rfc2195Challenge, rfc1939Digest, ErrBadDigest},
		{"tom", rfc2195Challenge, rfc2195Digest, ErrUnknownUser},
		{"NOSEC", rfc2195Challenge, rfc2195Digest, ErrNoSecret},
		{"DU", rfc2195Challenge, rfc2195Digest, ErrDisUser},
		{"DU", rfc2195Challenge, "x", ErrBadDigest},
		{"DM", rfc2195Challenge, rfc2195Digest, ErrDisMail},
	}
	for _, tt := range tests {
		user, err := s.CheckCRAMMD5(tt.user, tt.ch, tt.digest, now)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("CheckCRAMMD5(%q, %q, %q) = %q, %v; want %v", tt.user, tt.ch, tt.digest, user, err, tt.want)
		}
		if err == nil && user != "TIM" {
			t.Errorf("CheckCRAMMD5 user = %q; want TIM", user)
		}
	}
}

// Concurrent logins during rewrites: run with -race.
func TestStoreConcurrent(t *testing.T) {
	h := hashOf(t, "pw")
	s, path := newTestStore(t, &Account{Name: "SMITH", Hash: h})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.CheckPassword("SMITH", "pw", time.Now()); err != nil {
					t.Errorf("CheckPassword during rewrite: %v", err)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		writeDB(t, path, &Account{Name: "SMITH", Hash: h, Secret: []byte{byte(i + 1)}})
	}
	close(stop)
	wg.Wait()
}

func FuzzParse(f *testing.F) {
	h := "$2a$04$Z5UCPbAFrBBsMvYDUJ2ld.0t7CEVE1grSWgcYSl.6QojL5ZxDZKnu"
	f.Add("SMITH:" + h + ":apop=dGFuc3RhYWY=:flags=DISUSER,DISMAIL:expires=2027-01-31\n")
	f.Add("# c\n\nJONES::flags=dismail\r\nX:" + h + "\n")
	f.Add("A:\nA:\n")
	f.Add("A:" + h + ":expires=2027-02-30")
	f.Fuzz(func(t *testing.T, in string) {
		db, err := Parse(strings.NewReader(in), "fuzz")
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && (pe.Line < 1 || !strings.HasPrefix(err.Error(), "uaf: fuzz:")) {
				t.Fatalf("bad ParseError %q", err)
			}
			return
		}
		// Whatever parses must write and re-parse to the same accounts.
		var buf bytes.Buffer
		if _, err := db.WriteTo(&buf); err != nil {
			t.Fatalf("WriteTo of parsed DB: %v", err)
		}
		db2, err := Parse(&buf, "again")
		if err != nil {
			t.Fatalf("re-Parse: %v\n%s", err, buf.String())
		}
		a1, a2 := db.Accounts(), db2.Accounts()
		if len(a1) != len(a2) {
			t.Fatalf("%d accounts, then %d", len(a1), len(a2))
		}
		for i := range a1 {
			x, y := a1[i], a2[i]
			if x.Name != y.Name || !bytes.Equal(x.Hash, y.Hash) || !bytes.Equal(x.Secret, y.Secret) ||
				x.Flags != y.Flags || !x.Expires.Equal(y.Expires) {
				t.Fatalf("round trip changed %+v to %+v", x, y)
			}
		}
	})
}

// TestDummyHashHighestCost: the dummy hash an unknown user costs has the
// highest cost in the file (lower or higher than the default), so that
// unknown names take as long as the most expensive account.
func TestDummyHashHighestCost(t *testing.T) {
	for _, costs := range [][]int{{bcrypt.MinCost, bcrypt.MinCost + 1}, {bcrypt.DefaultCost + 1}, nil} {
		db := NewDB()
		for i, c := range costs {
			h, err := bcrypt.GenerateFromPassword([]byte("pw"), c)
			if err != nil {
				t.Fatal(err)
			}
			db.Put(&Account{Name: fmt.Sprintf("U%d", i), Hash: h})
		}
		want := bcrypt.DefaultCost
		if len(costs) > 0 {
			want = costs[len(costs)-1]
		}
		if got, err := bcrypt.Cost(dummyFor(db)); err != nil || got != want {
			t.Errorf("costs %v: dummy cost %d, %v; want %d", costs, got, err, want)
		}
	}
}
