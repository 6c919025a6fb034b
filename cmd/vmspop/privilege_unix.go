//go:build unix

package main

// The privilege model (docs/service.md): one account, the spool owner,
// owns the spool and the accounts file. serve started as root opens its
// listeners and then runs as that account for good, before it reads any
// mail; deliver, import and folders started as root run as it from the
// start. Since Go 1.16 syscall.Setuid, Setgid and Setgroups change every
// thread of the process, not only the calling one.

import (
	"fmt"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/internal/spoolowner"
	"github.com/vmspop/vmspop/logicals"
)

// The spool owner account and the privilege steps are package
// spoolowner's, shared with cmd/vmspop-deliver.
type spoolAccount = spoolowner.Account

func resolveSpoolAccount(cfg *logicals.Config) (*spoolAccount, error) { return spoolowner.Resolve(cfg) }

func becomeAccount(a *spoolAccount) error { return spoolowner.Become(a) }

func checkSpoolRoot(spoolDir string, a *spoolAccount) error { return spoolowner.CheckRoot(spoolDir, a) }

func actAsSpoolOwner(cfg *logicals.Config) error { return spoolowner.ActAs(cfg) }

// dropPrivileges is serve's step after its listeners are open: as root it
// becomes the spool owner (staying root only when that is root, with a
// warning); as another account it checks that it is the spool owner. It
// then checks the spool directory.
func dropPrivileges(cfg *logicals.Config, log *logrus.Logger) error {
	a, err := resolveSpoolAccount(cfg)
	if err != nil {
		return err
	}
	switch euid := os.Geteuid(); {
	case euid == 0 && a.UID == 0:
		log.Warn("running as root: the spool belongs to root (or TCPIP$POP_USER names root); see docs/service.md for a spool owner account")
	case euid == 0:
		if cfg.Log != "" {
			// The log file was opened as root: it must stay writable
			// when it is reopened after a rotation.
			os.Chown(cfg.Log, a.UID, a.GID)
		}
		if err := becomeAccount(a); err != nil {
			return err
		}
		log.WithFields(logrus.Fields{"user": a.Name, "uid": a.UID, "gid": a.GID}).Info("root privileges dropped: running as the spool owner")
	case euid != a.UID:
		if !a.FromSpool {
			return fmt.Errorf("TCPIP$POP_USER is %s, but vmspop was started as uid %d, not root: start it as that account or as root", a, euid)
		}
		return fmt.Errorf("TCPIP$POP_SPOOL %s is owned by %s, not by uid %d that vmspop runs as", cfg.Spool, a, euid)
	}
	return checkSpoolRoot(cfg.Spool, a)
}
