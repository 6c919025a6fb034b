//go:build unix

package spool

import (
	"context"
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
