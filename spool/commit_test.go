package spool

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommitRanges checks the folder file an UPDATE writes byte for byte:
// the kept messages as they stood on disk (copied in ranges), a last
// message without a final newline given one, and mail appended during the
// session kept after them.
func TestCommitRanges(t *testing.T) {
	ctx := context.Background()
	msgs := []string{"From a\nm0\n\n", "From b\nm1\n\n", "From c\nm2\n\n", "From d\nm3\n\n", "From e\nm4\n\n", "From f\nlast"}
	for _, c := range []struct {
		name   string
		del    []int
		append bool
		want   string
	}{
		{"interleaved", []int{0, 2, 3}, false, msgs[1] + msgs[4] + msgs[5] + "\n"},
		{"tail", []int{4, 5}, false, strings.Join(msgs[:4], "")},
		{"head and appended", []int{0}, true, strings.Join(msgs[1:], "") + "\n"},
		{"all but the last", []int{0, 1, 2, 3, 4}, true, msgs[5] + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(t.TempDir())
			dir, path, err := s.folderPath("SMITH", NewMail)
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(dir, 0o700)
			if err := os.WriteFile(path, []byte(strings.Join(msgs, "")), 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := s.OpenBox(ctx, "SMITH", NewMail, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			want := c.want
			if c.append {
				before, _ := os.ReadFile(path)
				err := s.Append(ctx, "SMITH", NewMail, []NewMessage{{Envelope: "x@y", Date: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Text: strings.NewReader("new\n")}})
				if err != nil {
					t.Fatal(err)
				}
				after, _ := os.ReadFile(path)
				want += string(after[len(before):])
			}
			if err := b.Commit(ctx, c.del, nil, true); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(dir, NewMail))
			if string(got) != want {
				t.Fatalf("NEWMAIL after deleting %v:\n%q\nwant\n%q", c.del, got, want)
			}
		})
	}
}
