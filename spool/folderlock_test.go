package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPerFolderSessionLocks: sessions on two folders of one user run at
// once; each folder's lock file (.pop.lock for NEWMAIL, .pop-MAIL.lock)
// names this host like every lock file, is refreshed while held, refuses
// a second session on the same folder, and is gone after Close.
func TestPerFolderSessionLocks(t *testing.T) {
	s := New(t.TempDir())
	s.LockHost = "pop1.example"
	s.LockRefresh = 50 * time.Millisecond
	appendN(t, s, "SMITH", NewMail, 0, 1)
	appendN(t, s, "SMITH", Mail, 0, 1)
	ctx := context.Background()
	nb, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.OpenBox(ctx, "smith", "mail", OpenOptions{})
	if err != nil {
		t.Fatalf("MAIL while NEWMAIL is open: %v", err)
	}
	mailLock := filepath.Join(s.Root, "SMITH", ".pop-MAIL.lock")
	for _, p := range []string{filepath.Join(s.Root, "SMITH", ".pop.lock"), mailLock} {
		b, err := os.ReadFile(p)
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(b)), " pop1.example") {
			t.Errorf("%s = %q, %v; want PID, start time and host", p, b, err)
		}
	}
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(mailLock, past, past); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fi, err := os.Stat(mailLock)
		if err == nil && fi.ModTime().After(past.Add(time.Minute)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MAIL session lock not refreshed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = s.OpenBox(cctx, "SMITH", Mail, OpenOptions{})
	cancel()
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second session on MAIL = %v, want ErrLocked", err)
	}
	mb.Close()
	nb.Close()
	for _, n := range []string{".pop.lock", ".pop-MAIL.lock"} {
		if _, err := os.Stat(filepath.Join(s.Root, "SMITH", n)); !os.IsNotExist(err) {
			t.Errorf("%s left after Close", n)
		}
	}
}
