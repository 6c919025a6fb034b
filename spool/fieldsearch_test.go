package spool

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestFindFieldValues: values are found in any folder, only on lines that
// start with the field; folders planted as links are not read, and a line
// longer than the read buffer is skipped whole (its tail is not a line).
func TestFindFieldValues(t *testing.T) {
	s := New(t.TempDir())
	ctx := context.Background()
	add := func(folder, text string) {
		t.Helper()
		err := s.Append(ctx, "SMITH", folder, []NewMessage{{Envelope: "a@example.org", Date: time.Now(), Text: strings.NewReader(text)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	add(NewMail, "From: a\nX-Key: k1\n\nbody X-Key: k2\n")
	add(Mail, "X-Key: k3\r\n\r\nbody\n")
	long := strings.Repeat("x", 100<<10) + "\nX-Key: k4 tail\n"
	add(Mail, "Subject: "+long+"\nX-Key-Not: k5\n")
	planted := filepath.Join(t.TempDir(), "planted")
	if err := os.WriteFile(planted, []byte("X-Key: k6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(planted, filepath.Join(s.Root, "SMITH", "LINKED")); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindFieldValues(ctx, "smith", "X-Key", []string{"k1", "k2", "k3", "k4 tail", "k5", "k6", "k7"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"k1": true, "k3": true, "k4 tail": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found %v, want %v", got, want)
	}
	got, err = s.FindFieldValues(ctx, "NOBODY", "X-Key", []string{"k1"})
	if err != nil || len(got) != 0 {
		t.Errorf("user without a directory: %v, %v", got, err)
	}
	if _, err := s.FindFieldValues(ctx, "../etc", "X-Key", []string{"k1"}); err == nil {
		t.Error("a bad user name was accepted")
	}
}
