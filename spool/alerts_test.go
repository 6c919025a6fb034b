package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAlerts(t *testing.T) {
	s := New(t.TempDir())
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, text := range []string{"first", "second", "third"} {
		if err := s.QueueAlert(ctx, "smith", text, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// A temporary file left by a crash is not an alert.
	os.WriteFile(filepath.Join(s.Root, "SMITH", alertDir, "00000000000000000001-dead.new"), []byte("half"), 0o600)
	if n, _ := s.PendingAlerts("SMITH"); n != 3 {
		t.Fatalf("%d pending, want 3", n)
	}
	for _, want := range []string{"first", "second", "third", ""} {
		got, err := s.TakeAlert(ctx, "SMITH")
		if err != nil || got != want {
			t.Fatalf("TakeAlert = %q, %v; want %q", got, err, want)
		}
	}
	// The alert directory is no folder.
	fs, err := s.Folders(ctx, "SMITH")
	if err != nil || len(fs) != 0 {
		t.Errorf("Folders = %+v, %v", fs, err)
	}
	for _, bad := range []string{"", "two\nlines", string(make([]byte, MaxAlert+1))} {
		if err := s.QueueAlert(ctx, "SMITH", bad, now); err == nil {
			t.Errorf("QueueAlert(%q) accepted", bad)
		}
	}
	if err := s.QueueAlert(ctx, "../x", "hi", now); err == nil {
		t.Error("QueueAlert for a bad user name accepted")
	}
}

// TestSessionLockPerFolder: sessions on different folders of one user
// run at once; a second session on the same folder is refused.
func TestSessionLockPerFolder(t *testing.T) {
	s := New(t.TempDir())
	ctx := context.Background()
	a, err := s.OpenBox(ctx, "BOSS", NewMail, OpenOptions{NoIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := s.OpenBox(ctx, "BOSS", Mail, OpenOptions{NoIndex: true})
	if err != nil {
		t.Fatalf("MAIL while NEWMAIL is open: %v", err)
	}
	defer b.Close()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.OpenBox(cctx, "BOSS", NewMail, OpenOptions{NoIndex: true}); err != ErrLocked {
		t.Errorf("second NEWMAIL session: %v, want ErrLocked", err)
	}
}

// TestAlertsRefuseLinks: an alert directory planted as a symbolic link is
// neither written through nor read through.
func TestAlertsRefuseLinks(t *testing.T) {
	s := New(t.TempDir())
	ctx := context.Background()
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "00000000000000000001-beef"), []byte("planted"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(s.Root, "SMITH"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(s.Root, "SMITH", alertDir)); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueAlert(ctx, "SMITH", "hello", time.Now()); !errors.Is(err, ErrUnsafe) {
		t.Errorf("QueueAlert through a link: %v, want ErrUnsafe", err)
	}
	if got, err := s.TakeAlert(ctx, "SMITH"); !errors.Is(err, ErrUnsafe) || got != "" {
		t.Errorf("TakeAlert through a link = %q, %v; want ErrUnsafe", got, err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 1 {
		t.Errorf("the link's target has %d files, want the planted one only", len(ents))
	}
}
