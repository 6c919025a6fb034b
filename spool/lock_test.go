package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// age sets a file's modification time to d ago.
func age(t *testing.T, path string, d time.Duration) {
	t.Helper()
	then := time.Now().Add(-d)
	if err := os.Chtimes(path, then, then); err != nil {
		t.Fatal(err)
	}
}

func tryOpen(s *Spool, user string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	b, err := s.OpenBox(ctx, user, NewMail, OpenOptions{})
	if err == nil {
		b.Close()
	}
	return err
}

func tryAppend(s *Spool, user string) error {
	msg := NewMessage{Envelope: "a@b.example", Date: time.Now(), Text: bytes.NewReader(testMsg(1))}
	return s.Append(context.Background(), user, NewMail, []NewMessage{msg})
}

// TestForeignHostLocks: a session lock and a dotlock naming another host
// are respected while they are refreshed, whatever their PID (here a dead
// one: a PID means nothing on another host), and broken once they have not
// been refreshed for LockStale.
func TestForeignHostLocks(t *testing.T) {
	s := New(t.TempDir())
	s.LockStale = time.Minute
	s.LockTimeout = 100 * time.Millisecond
	s.LockHost = "pop1.example"
	appendN(t, s, "SMITH", NewMail, 0, 1)
	content := []byte(fmt.Sprintf("%d 12345 pop2.example\n", deadPID(t)))

	sess := filepath.Join(s.Root, "SMITH", ".pop.lock")
	if err := os.WriteFile(sess, content, 0o600); err != nil {
		t.Fatal(err)
	}
	age(t, sess, 50*time.Second) // refreshed 50 s ago: within the bound
	if err := tryOpen(s, "SMITH"); !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenBox under another host's live session lock = %v, want ErrLocked", err)
	}
	age(t, sess, 61*time.Second)
	if err := tryOpen(s, "SMITH"); err != nil {
		t.Fatalf("OpenBox under another host's stale session lock: %v", err)
	}
	if _, err := os.Stat(sess); !os.IsNotExist(err) {
		t.Fatal("session lock left after Close")
	}

	dot := filepath.Join(s.Root, "SMITH", "NEWMAIL.lock")
	if err := os.WriteFile(dot, content, 0o600); err != nil {
		t.Fatal(err)
	}
	age(t, dot, 50*time.Second)
	if err := tryAppend(s, "SMITH"); !errors.Is(err, ErrLocked) {
		t.Fatalf("Append under another host's live dotlock = %v, want ErrLocked", err)
	}
	age(t, dot, 61*time.Second)
	if err := tryAppend(s, "SMITH"); err != nil {
		t.Fatalf("Append under another host's stale dotlock: %v", err)
	}
	if got := len(ids(t, s, "SMITH", NewMail)); got != 2 {
		t.Errorf("%d messages, want 2", got)
	}
}

// TestLockRefreshedWhileHeld: a session held by one instance keeps its
// lock file fresh, so another host's instance with a short staleness bound
// keeps respecting it long after the bound; once the session ends the
// other instance gets the mailbox.
func TestLockRefreshedWhileHeld(t *testing.T) {
	root := t.TempDir()
	a := &Spool{Root: root, LockHost: "pop1.example", LockRefresh: 10 * time.Millisecond}
	b := &Spool{Root: root, LockHost: "pop2.example", LockStale: 500 * time.Millisecond}
	appendN(t, a, "SMITH", NewMail, 0, 1)
	box, err := a.OpenBox(context.Background(), "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sess := filepath.Join(root, "SMITH", ".pop.lock")
	content, err := os.ReadFile(sess)
	if err != nil || !bytes.HasSuffix(content, []byte(" pop1.example\n")) {
		t.Fatalf("session lock holds %q (%v), want PID, start time and host", content, err)
	}
	// Age the file far past b's bound; the holder's refresh must bring it
	// back.
	age(t, sess, time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Stat(sess)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(fi.ModTime()) < time.Minute {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session lock was not refreshed while held")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tryOpen(b, "SMITH"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second instance's OpenBox while the first holds it = %v, want ErrLocked", err)
	}
	box.Close()
	if err := tryOpen(b, "SMITH"); err != nil {
		t.Fatalf("second instance's OpenBox after the session ended: %v", err)
	}
}

// TestLocalDotlockStaleness: on this host a dotlock is broken when its PID
// is gone, is our own PID (we hold the flock, so it is a dead
// incarnation's), or has another start time (PID reuse), or when it is
// older than the bound; one naming a live process is respected.
func TestLocalDotlockStaleness(t *testing.T) {
	s := New(t.TempDir())
	s.LockTimeout = 100 * time.Millisecond
	s.LockStale = time.Minute
	appendN(t, s, "SMITH", NewMail, 0, 1)
	host := s.lockHost()
	ppid := os.Getppid()
	dot := filepath.Join(s.Root, "SMITH", "NEWMAIL.lock")
	for _, c := range []struct {
		name    string
		content string
		age     time.Duration
		broken  bool
	}{
		{"live parent", fmt.Sprintf("%d %s %s\n", ppid, procStart(ppid), host), 0, false},
		{"live parent, bare PID", fmt.Sprintf("%d\n", ppid), 0, false},
		{"live parent, not refreshed", fmt.Sprintf("%d %s %s\n", ppid, procStart(ppid), host), 2 * time.Minute, true},
		{"reused PID", fmt.Sprintf("%d 1 %s\n", ppid, host), 0, true},
		{"own PID", fmt.Sprintf("%d %s %s\n", os.Getpid(), procStart(os.Getpid()), host), 0, true},
		{"dead PID", fmt.Sprintf("%d 1 %s\n", deadPID(t), host), 0, true},
		{"no PID, fresh", "", 0, false},
		{"no PID, old", "", 2 * time.Minute, true},
	} {
		if err := os.WriteFile(dot, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		age(t, dot, c.age)
		err := tryAppend(s, "SMITH")
		if c.broken && err != nil {
			t.Errorf("%s: Append = %v, want the lock broken", c.name, err)
		}
		if !c.broken && !errors.Is(err, ErrLocked) {
			t.Errorf("%s: Append = %v, want ErrLocked", c.name, err)
		}
		os.Remove(dot)
	}
}
