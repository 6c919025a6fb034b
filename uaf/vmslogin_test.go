package uaf

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestVMSPasswordLogin: an account imported with its VMS hash logs in with
// the old password, which then becomes a bcrypt hash in the file.
func TestVMSPasswordLogin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uaf")
	db := NewDB()
	h, _ := ParseVMSHash("3,04D2,2CEF674777A54880") // JRANDOM / wibble (Authen::Passphrase)
	db.Put(&Account{Name: "JRANDOM", VMS: h, Flags: DisMail})
	if err := db.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := s.CheckPassword("jrandom", "wobble", now); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if st := s.Stats(); st.BcryptCompares != 1 {
		t.Errorf("a failed VMS login cost %d bcrypt comparisons, want 1 (timing)", st.BcryptCompares)
	}
	// Right password: credentials first, then the flags.
	if _, err := s.CheckPassword("jrandom", "wibble", now); !errors.Is(err, ErrDisMail) {
		t.Fatalf("good VMS password: %v, want ErrDisMail", err)
	}
	if st := s.Stats(); st.VMSUpgrades != 1 || st.VMSUpgradeErrs != 0 {
		t.Fatalf("stats %+v", st)
	}
	after, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := after.Lookup("JRANDOM")
	if a.VMS != nil || len(a.Hash) == 0 || a.Flags != DisMail {
		t.Fatalf("account after the first login: %+v", a)
	}
	// From now on bcrypt: the password as typed.
	if _, err := s.CheckPassword("JRANDOM", "wibble", now.Add(time.Hour)); !errors.Is(err, ErrDisMail) {
		t.Errorf("bcrypt login: %v", err)
	}
	if _, err := s.CheckPassword("JRANDOM", "wobble", now.Add(time.Hour)); !errors.Is(err, ErrBadPassword) {
		t.Errorf("wrong password after the upgrade: %v", err)
	}
	if st := s.Stats(); st.VMSUpgrades != 1 {
		t.Errorf("upgraded again: %+v", st)
	}
}
