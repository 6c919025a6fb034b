package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNormHashMatchesMessageKey(t *testing.T) {
	tests := []string{"", "a", "a\r", "a\r\r", "a\r\n", "a\rb", "\r\r\n\r", "x\n\r\ny\r\r\rz\r\n\r",
		"a\n\n", "a\n\r\n\n", "\n\n", "a\n\rb\n\n", "\n\r", "a\n\n\rb"}
	for _, in := range tests {
		// Feed it in every split, to cross chunk boundaries.
		for cut := 0; cut <= len(in); cut++ {
			h := newNormHash()
			h.Write([]byte(in[:cut]))
			h.Write([]byte(in[cut:]))
			if h.Sum() != MessageKey([]byte(in)) {
				t.Errorf("normHash(%q split at %d) != MessageKey", in, cut)
			}
		}
	}
}

// keyed splits in at form feed lines into messages keyed with ReaderKey.
func keyed(t *testing.T, in string) []KeyedMessage {
	t.Helper()
	var out []KeyedMessage
	for _, text := range strings.Split(in, "\f\n") {
		key, err := ReaderKey(strings.NewReader(text))
		if err != nil || key != MessageKey([]byte(text)) {
			t.Fatalf("ReaderKey(%q) = %x, %v; want MessageKey %x", text, key, err, MessageKey([]byte(text)))
		}
		out = append(out, KeyedMessage{
			NewMessage: NewMessage{Envelope: "A::B", Date: time.Date(1992, 7, 2, 21, 17, 8, 0, time.UTC), Text: strings.NewReader(text)},
			Key:        key,
		})
	}
	return out
}

func TestAppendUnique(t *testing.T) {
	s := New(t.TempDir())
	ctx := context.Background()
	m1 := "From:\tA::B  2-JUL-1992 21:17:08.08\r\nSubj:\tcrlf\r\n\r\nFrom the start\r\n>From x\r\n"
	m2 := "From:\tA::C  3-JUL-1992 21:17:08.08\n\nno newline"
	m3 := "From:\tA::D  4-JUL-1992 21:17:08.08\n\n\x00binary\r\n\n\n"
	in := m1 + "\f\n" + m3 + "\f\n" + m2 // m2 last: it has no final newline
	n, err := s.AppendUnique(ctx, "SMITH", "MAIL", keyed(t, in))
	if err != nil || n != 3 {
		t.Fatalf("first AppendUnique = %d, %v; want 3", n, err)
	}
	// Again, plus the same message twice in one batch: nothing new.
	n, err = s.AppendUnique(ctx, "SMITH", "MAIL", append(keyed(t, in), keyed(t, m2)...))
	if err != nil || n != 0 {
		t.Fatalf("second AppendUnique = %d, %v; want 0", n, err)
	}
	// A new message among old ones: only it is added.
	m4 := "From:\tA::E  5-JUL-1992 21:17:08.08\n\nnew\n"
	n, err = s.AppendUnique(ctx, "SMITH", "MAIL", keyed(t, m4+"\f\n"+m2))
	if err != nil || n != 1 {
		t.Fatalf("third AppendUnique = %d, %v; want 1", n, err)
	}
	got, err := s.ReadFolder(ctx, "SMITH", "MAIL")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{m1, m3, m2, m4}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], roundTripped([]byte(want[i]))) {
			t.Errorf("#%d = %q, want %q", i, got[i], roundTripped([]byte(want[i])))
		}
	}
	if _, err := s.AppendUnique(ctx, "../x", "MAIL", nil); !errors.Is(err, ErrBadUser) {
		t.Errorf("bad user: err = %v, want ErrBadUser", err)
	}
	if _, err := s.AppendUnique(ctx, "SMITH", "a/b", nil); err == nil {
		t.Error("bad folder: no error")
	}
}

// TestAppendUniqueLegacyFolder: a folder of the old encoding gives its
// messages back with extra trailing newlines; importing the same messages
// again adds none of them.
func TestAppendUniqueLegacyFolder(t *testing.T) {
	s := New(t.TempDir())
	ctx := context.Background()
	texts := []string{"From:\tA::B  2-JUL-1992 21:17:08.08\n\nno newline", "From:\tA::C  2-JUL-1992 21:17:08.08\n\ntwo\n\n", "From:\tA::D  2-JUL-1992 21:17:08.08\n\none\n"}
	var raw [][]byte
	for _, m := range texts {
		raw = append(raw, []byte(m))
	}
	os.MkdirAll(filepath.Join(s.Root, "SMITH"), 0o700)
	if err := os.WriteFile(filepath.Join(s.Root, "SMITH", "MAIL"), writeLegacy(t, raw...), 0o600); err != nil {
		t.Fatal(err)
	}
	var msgs []KeyedMessage
	for _, m := range texts {
		msgs = append(msgs, KeyedMessage{NewMessage: NewMessage{Envelope: "x", Date: time.Now(), Text: strings.NewReader(m)}, Key: MessageKey([]byte(m))})
	}
	if n, err := s.AppendUnique(ctx, "SMITH", "MAIL", msgs); err != nil || n != 0 {
		t.Fatalf("AppendUnique into the legacy folder = %d, %v; want 0", n, err)
	}
}
