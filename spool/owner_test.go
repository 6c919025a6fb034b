//go:build unix

package spool

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOwnerKept: run as root on a spool owned by another account, every
// file a delivery and an UPDATE create or rewrite belongs to that account,
// and a rewritten folder keeps its mode. (The end-to-end version with a real
// account and `vmspop deliver` is in cmd/vmspop.)
func TestOwnerKept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own files as another account (CI runs as root)")
	}
	const uid, gid = 4242, 4343 // need not exist: chown takes numbers
	root := t.TempDir()
	if err := os.Chown(root, uid, gid); err != nil {
		t.Fatal(err)
	}
	s := New(root)
	ctx := context.Background()
	appendN(t, s, "SMITH", NewMail, 1, 4) // makes SMITH/ and NEWMAIL as root
	nm := filepath.Join(root, "SMITH", NewMail)
	if err := os.Chmod(nm, 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := s.OpenBox(ctx, "smith", NewMail, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, []int{0}, []int{1}, false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := ids(t, s, "SMITH", NewMail); len(got) != 2 {
		t.Fatalf("NEWMAIL = %v", got)
	}
	n := 0
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(p)
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
		n++
		return nil
	})
	if n < 5 { // root, SMITH, NEWMAIL, MAIL, WASTEBASKET, lock files
		t.Errorf("only %d files checked", n)
	}
	for name, want := range map[string]os.FileMode{NewMail: 0o640, Mail: 0o600, Wastebasket: 0o600, "": 0o700} {
		fi, err := os.Stat(filepath.Join(root, "SMITH", name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s/SMITH/%s has mode %o, want %o", root, name, fi.Mode().Perm(), want)
		}
	}
}

// victim is a file outside the spool that a planted link points at.
func victim(t *testing.T) (path string, check func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "victim")
	const text = "precious, not mail\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, func() {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil || string(b) != text {
			t.Errorf("the link's target was touched: %q, %v", b, err)
		}
	}
}

// TestPlantedLinksRefused: a folder, a user directory or a journal's
// folder that is a symbolic link is refused (ErrUnsafe), and what it
// points at is neither read nor written.
func TestPlantedLinksRefused(t *testing.T) {
	ctx := context.Background()
	msg := []NewMessage{{Envelope: "a@example.org", Text: bytes.NewReader(testMsg(1))}}

	t.Run("folder", func(t *testing.T) {
		s := New(t.TempDir())
		appendN(t, s, "SMITH", Mail, 1, 1)
		target, check := victim(t)
		if err := os.Symlink(target, filepath.Join(s.Root, "SMITH", NewMail)); err != nil {
			t.Fatal(err)
		}
		if b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{}); !errors.Is(err, ErrUnsafe) {
			if b != nil {
				b.Close()
			}
			t.Errorf("OpenBox on a linked NEWMAIL = %v, want ErrUnsafe", err)
		}
		if err := s.Append(ctx, "SMITH", NewMail, msg); !errors.Is(err, ErrUnsafe) {
			t.Errorf("Append to a linked NEWMAIL = %v, want ErrUnsafe", err)
		}
		check()
	})
	t.Run("journal", func(t *testing.T) {
		s := New(t.TempDir())
		appendN(t, s, "SMITH", NewMail, 1, 1)
		target, check := victim(t)
		dir := filepath.Join(s.Root, "SMITH")
		if err := os.Symlink(target, filepath.Join(dir, Mail)); err != nil {
			t.Fatal(err)
		}
		// A planted journal asks to cut MAIL (the link) to nothing.
		if err := os.WriteFile(filepath.Join(dir, ".journal"), []byte("vmspop-journal 1\nstate prepare\nsize MAIL 0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{}); !errors.Is(err, ErrUnsafe) {
			if b != nil {
				b.Close()
			}
			t.Errorf("OpenBox with a planted journal = %v, want ErrUnsafe", err)
		}
		if err := s.Append(ctx, "SMITH", NewMail, msg); !errors.Is(err, ErrUnsafe) {
			t.Errorf("Append with a planted journal = %v, want ErrUnsafe", err)
		}
		check()
		// A planted journal naming a link as the new folder file.
		os.Remove(filepath.Join(dir, Mail))
		if err := os.Symlink(target, filepath.Join(dir, "NEWMAIL.tmp")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, ".journal"), []byte("vmspop-journal 1\nstate commit\nrename NEWMAIL.tmp NEWMAIL\n"), 0o600)
		if b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{}); !errors.Is(err, ErrUnsafe) {
			if b != nil {
				b.Close()
			}
			t.Errorf("OpenBox of NEWMAIL renamed from a link = %v, want ErrUnsafe", err)
		}
		check()
	})
	t.Run("userdir", func(t *testing.T) {
		s := New(t.TempDir())
		elsewhere := t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Join(s.Root, "EVIL")); err != nil {
			t.Fatal(err)
		}
		if b, err := s.OpenBox(ctx, "EVIL", NewMail, OpenOptions{}); !errors.Is(err, ErrUnsafe) {
			if b != nil {
				b.Close()
			}
			t.Errorf("OpenBox of a linked user directory = %v, want ErrUnsafe", err)
		}
		if err := s.Append(ctx, "EVIL", NewMail, msg); !errors.Is(err, ErrUnsafe) {
			t.Errorf("Append to a linked user directory = %v, want ErrUnsafe", err)
		}
		if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
			t.Errorf("files made through the link: %v", ents)
		}
	})
	t.Run("world-writable", func(t *testing.T) {
		s := New(t.TempDir())
		appendN(t, s, "SMITH", NewMail, 1, 1)
		os.Chmod(filepath.Join(s.Root, "SMITH"), 0o777)
		if err := s.Append(ctx, "SMITH", NewMail, msg); !errors.Is(err, ErrUnsafe) {
			t.Errorf("Append to a world-writable user directory = %v, want ErrUnsafe", err)
		}
	})
}
