package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testMsg(id int) []byte {
	return []byte(fmt.Sprintf("From:\tNODE::USER%d \"User %d\"  2-JUL-1992 21:17:08.%02d\nTo:\tSMITH\nCC:\t\nSubj:\tmessage %d\n\nbody of %d\nFrom the start\n>From quoted\n.\n", id, id, id%100, id, id))
}

func appendN(t testing.TB, s *Spool, user, folder string, from, n int) {
	t.Helper()
	var msgs []NewMessage
	for i := from; i < from+n; i++ {
		msgs = append(msgs, NewMessage{Envelope: "user@example.org", Date: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Text: bytes.NewReader(testMsg(i))})
	}
	if err := s.Append(context.Background(), user, folder, msgs); err != nil {
		t.Fatal(err)
	}
}

// ids returns the message numbers found in a folder.
func ids(t testing.TB, s *Spool, user, folder string) []int {
	t.Helper()
	msgs, err := s.ReadFolder(context.Background(), user, folder)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range msgs {
		var id int
		i := bytes.Index(m, []byte("Subj:\tmessage "))
		if i < 0 {
			t.Fatalf("unexpected message %q", m)
		}
		fmt.Sscanf(string(m[i+len("Subj:\tmessage "):]), "%d", &id)
		if !bytes.Equal(m, testMsg(id)) {
			t.Fatalf("message %d changed: %q", id, m)
		}
		out = append(out, id)
	}
	return out
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"SMITH", "smith", "A$B_C-1", strings.Repeat("X", 31)} {
		if !ValidName(n) {
			t.Errorf("ValidName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "../etc", "a/b", ".", "..", "a b", strings.Repeat("X", 32), "ü", "a\x00", "ſmith", "ımap"} {
		if ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
	s := New(t.TempDir())
	if _, err := s.OpenBox(context.Background(), "../x", NewMail, OpenOptions{}); !errors.Is(err, ErrBadUser) {
		t.Errorf("OpenBox(../x) = %v, want ErrBadUser", err)
	}
}

func TestBoxCommit(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	appendN(t, s, "smith", NewMail, 0, 10)
	b, err := s.OpenBox(ctx, "Smith", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 10 {
		t.Fatalf("%d messages, want 10", b.Len())
	}
	// A second session is refused; delivery still works meanwhile.
	if _, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenBox = %v, want ErrLocked", err)
	}
	appendN(t, s, "SMITH", NewMail, 100, 2)
	rc, err := b.Body(3)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	if want := "body of 3\r\nFrom the start\r\n>From quoted\r\n.\r\n"; string(body) != want {
		t.Fatalf("Body(3) = %q, want %q", body, want)
	}
	if int64(len(body)) != b.Message(3).BodySize {
		t.Fatalf("BodySize %d, sent %d", b.Message(3).BodySize, len(body))
	}
	h, _ := b.Header(3)
	if !bytes.HasPrefix(h, []byte("From:\tNODE::USER3")) || !bytes.HasSuffix(h, []byte("Subj:\tmessage 3\n")) {
		t.Fatalf("Header(3) = %q", h)
	}
	if err := b.Commit(ctx, []int{0, 1}, []int{2, 3}, false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := fmt.Sprint(ids(t, s, "SMITH", NewMail)); got != "[4 5 6 7 8 9 100 101]" {
		t.Errorf("NEWMAIL = %s", got)
	}
	if got := fmt.Sprint(ids(t, s, "SMITH", Mail)); got != "[2 3]" {
		t.Errorf("MAIL = %s", got)
	}
	if got := fmt.Sprint(ids(t, s, "SMITH", Wastebasket)); got != "[0 1]" {
		t.Errorf("WASTEBASKET = %s", got)
	}
	// Purge drops deleted messages.
	b, err = s.OpenBox(ctx, "smith", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, []int{0}, nil, true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := fmt.Sprint(ids(t, s, "SMITH", NewMail)); got != "[5 6 7 8 9 100 101]" {
		t.Errorf("NEWMAIL after purge = %s", got)
	}
	if got := fmt.Sprint(ids(t, s, "SMITH", Wastebasket)); got != "[0 1]" {
		t.Errorf("WASTEBASKET after purge = %s", got)
	}
	infos, err := s.Folders(ctx, "smith")
	if err != nil || len(infos) != 3 {
		t.Fatalf("Folders = %v, %v", infos, err)
	}
}

func TestCommitRefusesReplacedFolder(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	appendN(t, s, "JONES", NewMail, 0, 3)
	b, err := s.OpenBox(ctx, "JONES", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := filepath.Join(s.Root, "JONES", NewMail)
	data, _ := os.ReadFile(p)
	os.WriteFile(p+".x", data[:len(data)/2], 0o600)
	os.Rename(p+".x", p)
	if err := b.Commit(ctx, []int{0}, nil, false); err == nil {
		t.Fatal("Commit on a replaced folder succeeded")
	}
}

func TestRecoverUndoesPrepare(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	appendN(t, s, "JONES", NewMail, 0, 3)
	dir := filepath.Join(s.Root, "JONES")
	p := filepath.Join(dir, NewMail)
	fi, _ := os.Stat(p)
	// A torn append: journal written, half a message appended.
	j := &journal{dir: dir, sizes: map[string]int64{NewMail: fi.Size()}}
	if err := j.write("prepare"); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("From torn@x Wed Nov 25 10:00:00 2026\nFrom:\tTORN")
	f.Close()
	if got := fmt.Sprint(ids(t, s, "JONES", NewMail)); got != "[0 1 2]" {
		t.Fatalf("after recovery NEWMAIL = %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ".journal")); !os.IsNotExist(err) {
		t.Fatal("journal left behind")
	}
	_ = ctx
}

// TestBodyBufferReuse reads bodies one after another through the
// buffer pool: a returned buffer must come back usable.
func TestBodyBufferReuse(t *testing.T) {
	s := New(t.TempDir())
	appendN(t, s, "SMITH", NewMail, 0, 5)
	b, err := s.OpenBox(context.Background(), "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for round := 0; round < 3; round++ {
		for i := range b.Len() {
			rc, err := b.Body(i)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || int64(len(got)) != b.Message(i).BodySize {
				t.Fatalf("round %d message %d: %d octets, %v; want %d", round, i, len(got), err, b.Message(i).BodySize)
			}
		}
	}
}

// TestSessionLockAcrossProcesses: a session lock file left by a dead
// process is broken; one held by a live process refuses the login.
func TestSessionLockAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	appendN(t, s, "SMITH", NewMail, 0, 1)
	lock := filepath.Join(s.Root, "SMITH", ".pop.lock")
	// A live process: PID 1, with its real start time.
	os.WriteFile(lock, []byte(fmt.Sprintf("1 %s\n", procStart(1))), 0o600)
	if _, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenBox with a live owner = %v, want ErrLocked", err)
	}
	// PID 1 with another start time: the PID was reused, the lock is stale.
	os.WriteFile(lock, []byte("1 0\n"), 0o600)
	b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatalf("OpenBox over a reused PID's lock: %v", err)
	}
	b.Close()
	// A dead process.
	cmd := exec.Command("true")
	cmd.Run()
	os.WriteFile(lock, []byte(fmt.Sprintf("%d x\n", cmd.Process.Pid)), 0o600)
	b, err = s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
	if err != nil {
		t.Fatalf("OpenBox over a dead process's lock: %v", err)
	}
	b.Close()
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatal("session lock file left after Close")
	}
}
