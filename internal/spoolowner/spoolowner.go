//go:build unix

// Package spoolowner is the privilege model of docs/service.md: one
// account, the spool owner, owns the spool and the accounts file. serve
// started as root opens its listeners and then runs as that account for
// good, before it reads any mail; deliver, import and folders started as
// root run as it from the start. Since Go 1.16 syscall.Setuid, Setgid and
// Setgroups change every thread of the process, not only the calling one.
//
// It is shared by cmd/vmspop and cmd/vmspop-deliver, and imports no
// package of the project but logicals.
package spoolowner

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/vmspop/vmspop/logicals"
)

// Account is the account vmspop acts as.
type Account struct {
	Name     string
	UID, GID int
	// FromSpool: TCPIP$POP_USER is undefined and this is the spool
	// directory's owner.
	FromSpool bool
}

func (a *Account) String() string {
	return fmt.Sprintf("%s (uid %d, gid %d)", a.Name, a.UID, a.GID)
}

// Resolve returns the spool owner account: TCPIP$POP_USER and
// TCPIP$POP_GROUP (default: that account's primary group), or, with no
// TCPIP$POP_USER, the owner and group of the spool directory.
func Resolve(cfg *logicals.Config) (*Account, error) {
	a, err := resolve(cfg)
	if err == nil && a.FromSpool {
		a.lookupName()
	}
	return a, err
}

// resolve is Resolve without the look-up of the spool directory owner's
// name: Name is the uid.
func resolve(cfg *logicals.Config) (*Account, error) {
	a := &Account{}
	if cfg.User == "" {
		fi, err := os.Stat(cfg.Spool)
		if err != nil {
			return nil, fmt.Errorf("TCPIP$POP_SPOOL: %w", err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		a.UID, a.GID, a.FromSpool = int(st.Uid), int(st.Gid), true
		a.Name = strconv.Itoa(a.UID)
	} else {
		u, err := lookupUser(cfg.User)
		if err != nil {
			return nil, fmt.Errorf("TCPIP$POP_USER %q: %w", cfg.User, err)
		}
		a.Name = u.Username
		a.UID, _ = strconv.Atoi(u.Uid)
		a.GID, _ = strconv.Atoi(u.Gid)
	}
	if cfg.Group != "" {
		g, err := lookupGroup(cfg.Group)
		if err != nil {
			return nil, fmt.Errorf("TCPIP$POP_GROUP %q: %w", cfg.Group, err)
		}
		a.GID, _ = strconv.Atoi(g.Gid)
	}
	return a, nil
}

// lookupName sets Name to the account name of UID, when it has one.
func (a *Account) lookupName() {
	if u, err := user.LookupId(strconv.Itoa(a.UID)); err == nil {
		a.Name = u.Username
	}
}

// lookupUser finds an account by name, or by number.
func lookupUser(s string) (*user.User, error) {
	u, err := user.Lookup(s)
	if err == nil {
		return u, nil
	}
	if _, nerr := strconv.Atoi(s); nerr == nil {
		if u, err := user.LookupId(s); err == nil {
			return u, nil
		}
		return &user.User{Uid: s, Gid: s, Username: s}, nil // a bare uid, as in a container
	}
	return nil, err
}

// lookupGroup finds a group by name, or by number.
func lookupGroup(s string) (*user.Group, error) {
	g, err := user.LookupGroup(s)
	if err == nil {
		return g, nil
	}
	if _, nerr := strconv.Atoi(s); nerr == nil {
		return &user.Group{Gid: s, Name: s}, nil
	}
	return nil, err
}

// Become makes the whole process run as a, for good: no supplementary
// groups, then the group, then the user (in that order: after setuid,
// setgid is no longer allowed). The caller is root.
func Become(a *Account) error {
	if err := syscall.Setgroups([]int{}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(a.GID); err != nil {
		return fmt.Errorf("setgid %d: %w", a.GID, err)
	}
	if err := syscall.Setuid(a.UID); err != nil {
		return fmt.Errorf("setuid %d: %w", a.UID, err)
	}
	// Setuid from root sets the real, effective and saved ids; check that
	// root cannot be had back.
	if syscall.Setuid(0) == nil || os.Getuid() != a.UID || os.Geteuid() != a.UID || os.Getegid() != a.GID {
		return errors.New("vmspop: root privileges could not be dropped")
	}
	return nil
}

// CheckRoot refuses a spool directory that is not a directory, is
// writable by others, or belongs to another account than a (root may own
// it when a is root).
func CheckRoot(spoolDir string, a *Account) error {
	fi, err := os.Stat(spoolDir)
	if err != nil {
		return fmt.Errorf("TCPIP$POP_SPOOL: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("TCPIP$POP_SPOOL %s is not a directory", spoolDir)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("TCPIP$POP_SPOOL %s is writable by others (mode %o): make it 0700 or 0750, owned by %s", spoolDir, fi.Mode().Perm(), a.Name)
	}
	if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != a.UID && a.UID != 0 {
		return fmt.Errorf("TCPIP$POP_SPOOL %s is owned by uid %d, not by the spool owner %s: chown it, or set TCPIP$POP_USER", spoolDir, uid, a)
	}
	return nil
}

// ActAs is the first step of deliver, import (also --tree), folders,
// purge and alert: run as root, they become the spool owner, so that what
// they create is the owner's; run as another account they go on as it
// (the file modes decide).
func ActAs(cfg *logicals.Config) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if _, err := os.Stat(cfg.Spool); cfg.User == "" && errors.Is(err, os.ErrNotExist) {
		return nil // no spool yet, no owner: the spool makes it as it always did
	}
	// The owner's name is looked up (in /etc/passwd) only for a message.
	a, err := resolve(cfg)
	if err != nil {
		return fmt.Errorf("run as root, it acts as the spool owner, but: %w", err)
	}
	if a.UID == 0 {
		return nil
	}
	if err := Become(a); err != nil {
		if a.FromSpool {
			a.lookupName()
		}
		return fmt.Errorf("run as root, it acts as the spool owner %s, but: %w", a, err)
	}
	return nil
}
