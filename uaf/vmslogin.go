package uaf

// Logins with an OpenVMS password hash (Account.VMS): checked once, then
// replaced by a bcrypt hash of the same password.

import (
	"time"

	"golang.org/x/crypto/bcrypt"
)

// vmsUpgradeLockWait bounds the wait for the accounts file's writers' lock
// when a VMS hash is replaced.
const vmsUpgradeLockWait = 10 * time.Second

// checkVMS is CheckPassword for an account that has only a VMS hash. It
// costs at least one bcrypt comparison, like any other login, so that
// timing does not tell such accounts apart. A good password is written to
// the file as a bcrypt hash (the VMS hash is dropped); if that fails the
// login still succeeds and the next one tries again.
func (s *Store) checkVMS(snap *snapshot, a *Account, password string, now time.Time) (string, error) {
	k := snap.cache.keyOf(a.Name, password)
	if s.cached(snap, k, now) {
		return admit(a, now)
	}
	s.compare(s.dummy, password)
	if !a.VMS.Check(a.Name, password) {
		return "", ErrBadPassword
	}
	s.remember(snap, k, now)
	if err := s.replaceVMSHash(a.Name, *a.VMS, password); err != nil {
		s.vmsUpgradeErrs.Add(1)
	} else {
		s.vmsUpgrades.Add(1)
	}
	return admit(a, now)
}

// replaceVMSHash gives user a bcrypt hash of password in place of the VMS
// hash old, under the writers' lock, unless the account changed meanwhile.
func (s *Store) replaceVMSHash(user string, old VMSHash, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	lock, err := LockFile(s.path, vmsUpgradeLockWait)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	db, err := Load(s.path)
	if err != nil {
		return err
	}
	a, ok := db.Lookup(user)
	if !ok || len(a.Hash) > 0 || a.VMS == nil || *a.VMS != old {
		return nil // changed by someone else: leave it
	}
	a.Hash, a.VMS = hash, nil
	db.Put(a)
	if err := db.WriteFile(s.path); err != nil {
		return err
	}
	return lock.Unlock()
}
