package spool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

// alertDir is the directory of a user's pending alerts, inside the user's
// spool directory. Its lower-case name keeps it out of the folder list.
const alertDir = "alerts"

// MaxAlert bounds the text of an alert, in octets.
const MaxAlert = 400

// QueueAlert adds an alert for user (CommuniGate Pro's "Notification
// Alerts", docs/extensions.md): one file per alert, named so that they
// sort in the order queued, written to a temporary name, fsynced and
// renamed, so that a crash leaves the alert whole or absent. The text must
// be one line of at most MaxAlert octets.
func (s *Spool) QueueAlert(ctx context.Context, user, text string, now time.Time) error {
	if text == "" || len(text) > MaxAlert || strings.ContainsAny(text, "\r\n\x00") {
		return fmt.Errorf("spool: an alert is one line of 1 to %d octets", MaxAlert)
	}
	dir, err := s.alertDir(user, true)
	if err != nil {
		return mapErr(err)
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("%020d-%s", now.UnixNano(), hex.EncodeToString(rnd[:]))
	if err := writeFileSync(filepath.Join(dir, name), []byte(text)); err != nil {
		os.Remove(filepath.Join(dir, name+".new"))
		return mapErr(err)
	}
	return atomicfile.SyncDir(filepath.Dir(dir))
}

// alertDir returns the alert directory of user, made (owned like the
// user's directory) when create is set. The user directory must pass
// checkUserDir, and the alert directory must be a directory, not a link.
func (s *Spool) alertDir(user string, create bool) (string, error) {
	udir, err := s.UserDir(user)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(udir, alertDir)
	if create {
		if err := mkdirOwned(udir); err != nil {
			return "", err
		}
	} else if _, err := os.Lstat(dir); err != nil {
		// No alerts, the usual case at login: one stat(2), nothing read.
		return "", err
	}
	if err := checkUserDir(s.Root, udir); err != nil {
		return "", err
	}
	if create {
		if err := mkdirOwned(dir); err != nil {
			return "", err
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("spool: %s is not a directory (a symbolic link?): %w", dir, ErrUnsafe)
	}
	return dir, nil
}

// TakeAlert removes the oldest pending alert of user and returns its
// text; "" when none is pending. Two sessions never get the same alert:
// the one whose remove succeeds has it.
func (s *Spool) TakeAlert(ctx context.Context, user string) (string, error) {
	dir, err := s.alertDir(user, false)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for {
		names, err := pendingAlerts(dir)
		if err != nil || len(names) == 0 {
			return "", err
		}
		for _, name := range names {
			path := filepath.Join(dir, name)
			text, err := readNoFollow(path)
			if errors.Is(err, os.ErrNotExist) {
				continue // taken by another session
			}
			if err != nil {
				return "", err
			}
			if err := os.Remove(path); errors.Is(err, os.ErrNotExist) {
				continue
			} else if err != nil {
				return "", err
			}
			if err := atomicfile.SyncDir(dir); err != nil {
				return "", err
			}
			return string(text), nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
}

// PendingAlerts returns how many alerts wait for user.
func (s *Spool) PendingAlerts(user string) (int, error) {
	dir, err := s.alertDir(user, false)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	names, err := pendingAlerts(dir)
	return len(names), err
}

// pendingAlerts lists the alert files of dir, oldest first; temporary
// files of an interrupted QueueAlert are ignored.
func pendingAlerts(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		ts, _, ok := strings.Cut(n, "-")
		if _, err := strconv.ParseUint(ts, 10, 64); err != nil || !ok || strings.HasSuffix(n, ".new") {
			continue
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}
