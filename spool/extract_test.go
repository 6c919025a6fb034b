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

func TestParseExtract(t *testing.T) {
	type want struct {
		line int
		from string
		date time.Time
		subj string
		text string
	}
	d1 := time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, time.UTC)
	d2 := time.Date(2026, 11, 25, 10, 15, 32, 450_000_000, time.UTC)
	m1 := "From:\tVAXA::JONES \"Fred Jones\"  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tHello\n\nbody 1\n"
	m2 := "From:\tSMTP%\"a@b.example\" 25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\tTwo\n\nbody 2\n\nmore\n"
	tests := []struct {
		name string
		in   string
		want []want
	}{
		{"empty", "", nil},
		{"only form feeds", "\f\n\n\f\n", nil},
		{"one", m1, []want{{1, "VAXA::JONES", d1, "Hello", m1}}},
		{"two", m1 + "\f\n" + m2, []want{{1, "VAXA::JONES", d1, "Hello", m1}, {8, `SMTP%"a@b.example"`, d2, "Two", m2}}},
		{"leading form feed and blank lines", "\f\n\n" + m1 + "\f\n\n\n" + m2 + "\f\n",
			[]want{{3, "VAXA::JONES", d1, "Hello", m1}, {12, `SMTP%"a@b.example"`, d2, "Two", m2}}},
		{"form feed glued to From:", "\f" + m1, []want{{1, "VAXA::JONES", d1, "Hello", m1}}},
		{"CRLF", strings.ReplaceAll(m1, "\n", "\r\n") + "\f\r\n" + m2,
			[]want{{1, "VAXA::JONES", d1, "Hello", strings.ReplaceAll(m1, "\n", "\r\n")}, {8, `SMTP%"a@b.example"`, d2, "Two", m2}}},
		{"no final newline", strings.TrimSuffix(m1, "\n"), []want{{1, "VAXA::JONES", d1, "Hello", strings.TrimSuffix(m1, "\n")}}},
		{"header only, empty body", "From:\tNODE::U  2-JUL-1992 21:17:08.08\n\n\f\n",
			[]want{{1, "NODE::U", d1, "", "From:\tNODE::U  2-JUL-1992 21:17:08.08\n\n"}}},
		{"form feed inside a line is text", strings.Replace(m1, "body 1", "a\fb\n\f x", 1),
			[]want{{1, "VAXA::JONES", d1, "Hello", strings.Replace(m1, "body 1", "a\fb\n\f x", 1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtractIn(strings.NewReader(tt.in), "f.txt", time.UTC)
			if err != nil {
				t.Fatalf("ParseExtract: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d messages, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				text := tt.in[g.Offset : g.Offset+g.Length]
				if g.Line != w.line || g.From != w.from || !g.Date.Equal(w.date) || g.Subj != w.subj || text != w.text {
					t.Errorf("#%d = line %d from %q date %v subj %q text %q\nwant line %d from %q date %v subj %q text %q",
						i, g.Line, g.From, g.Date, g.Subj, text, w.line, w.from, w.date, w.subj, w.text)
				}
				if g.Key != MessageKey([]byte(text)) {
					t.Errorf("#%d: Key is not MessageKey of the text", i)
				}
			}
		})
	}
}

func TestParseExtractErrors(t *testing.T) {
	good := "From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\n\nok\n"
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error, in order
	}{
		{"no From: line", "To:\tSMITH\nSubj:\tx\n\nbody\n", []string{"f.txt:1: message has no From: line"}},
		{"bad date", good + "\f\nTo:\tX\nFrom:\tVAXA::JONES 31-FEB-1992\n\nb\n", []string{"f.txt:7: From: line has no valid VMS date"}},
		{"no date", "From:\tVAXA::JONES\n\nb\n", []string{"f.txt:1: From: line has no valid VMS date"}},
		{"truncated by EOF", good + "\f\nFrom:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tX\n", []string{"f.txt:6: message header is truncated by the end of the file"}},
		{"truncated by form feed", "From:\tA::B  2-JUL-1992\nTo:\tX\n\f\n" + good, []string{"f.txt:1: message header is truncated: form feed at line 3"}},
		{"header line too long", "From:\tA::B  2-JUL-1992 " + strings.Repeat("x", maxExtractHeader+10) + "\n\nbody\n\f\n" + good,
			[]string{"f.txt:1: header line longer than"}},
		{"several, all reported", "To:\tX\n\nb\n\f\nFrom:\tA::B 99-JAN-1992\n\nb\n\f\n" + good,
			[]string{"f.txt:1: message has no From: line", "f.txt:5: From: line has no valid VMS date"}},
		{"binary garbage", "\x00\x01\x02\xff\n\x00\n", []string{"f.txt:1: message header is truncated by the end of the file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtractIn(strings.NewReader(tt.in), "f.txt", time.UTC)
			if err == nil {
				t.Fatalf("no error; %d messages", len(got))
			}
			if got != nil {
				t.Errorf("messages returned with an error: %d", len(got))
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
			if n := strings.Count(msg, "f.txt:"); n != len(tt.want) {
				t.Errorf("error %q reports %d problems, want %d", msg, n, len(tt.want))
			}
		})
	}
}

func TestParseExtractTooManyErrors(t *testing.T) {
	in := strings.Repeat("To:\tX\n\nb\n\f\n", 100)
	_, err := ParseExtractIn(strings.NewReader(in), "f.txt", time.UTC)
	if err == nil || !strings.Contains(err.Error(), "too many errors") {
		t.Fatalf("err = %v, want too many errors", err)
	}
	if n := strings.Count(err.Error(), "no From: line"); n != maxExtractErrors {
		t.Errorf("%d errors reported, want %d", n, maxExtractErrors)
	}
}

// TestParseExtractLargeBody: a body far larger than the read buffer, with a
// line longer than it, is located exactly and hashed as a whole.
func TestParseExtractLargeBody(t *testing.T) {
	body := strings.Repeat("y", 300<<10) + "\r\n" + strings.Repeat("line\n", 50000)
	m := "From:\tA::B  2-JUL-1992 21:17:08.08\n\n" + body
	in := m + "\f\n" + m
	got, err := ParseExtractIn(strings.NewReader(in), "big", time.UTC)
	if err != nil || len(got) != 2 {
		t.Fatalf("ParseExtract = %d messages, %v", len(got), err)
	}
	for i, g := range got {
		if text := in[g.Offset : g.Offset+g.Length]; text != m {
			t.Errorf("#%d: text of %d octets, want %d", i, len(text), len(m))
		}
		if g.Key != MessageKey([]byte(m)) {
			t.Errorf("#%d: wrong key", i)
		}
	}
}

func TestExtractTestdata(t *testing.T) {
	counts := map[string]int{"decnet.txt": 4, "smtp.txt": 2, "8bit.txt": 2}
	for name, n := range counts {
		f, err := os.Open(filepath.Join("..", "testdata", "extract", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseExtractIn(f, name, time.UTC)
		f.Close()
		if err != nil || len(got) != n {
			t.Errorf("%s: %d messages, %v; want %d", name, len(got), err, n)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "extract", "malformed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseExtractIn(bytes.NewReader(data), "malformed.txt", time.UTC)
	for _, w := range []string{"malformed.txt:8:", "malformed.txt:13:", "malformed.txt:18:"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("malformed.txt: err = %v, want it to name %s", err, w)
		}
	}
}

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

func keyed(t *testing.T, in string) []KeyedMessage {
	t.Helper()
	got, err := ParseExtractIn(strings.NewReader(in), "x", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var out []KeyedMessage
	for _, m := range got {
		out = append(out, KeyedMessage{
			NewMessage: NewMessage{Envelope: m.From, Date: m.Date, Text: strings.NewReader(in[m.Offset : m.Offset+m.Length])},
			Key:        m.Key,
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

func FuzzParseExtract(f *testing.F) {
	f.Add([]byte("From:\tA::B  2-JUL-1992 21:17:08.08\nTo:\tX\n\nbody\n\f\nFrom:\tSMTP%\"a@b\" 1-JAN-2000\n\nx"))
	f.Add([]byte("\f\n\fFrom:\tA::B 2-JUL-1992\r\n\r\n\r\r\n\f\r\n"))
	f.Add([]byte("To: x\n\n\f\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs, err := ParseExtractIn(bytes.NewReader(in), "fuzz", time.UTC)
		if err != nil && msgs != nil {
			t.Fatal("messages with an error")
		}
		var prev int64
		for i, m := range msgs {
			if m.Offset < prev || m.Length < 0 || m.Offset+m.Length > int64(len(in)) {
				t.Fatalf("#%d: bad extent %d+%d of %d", i, m.Offset, m.Length, len(in))
			}
			prev = m.Offset + m.Length
			text := in[m.Offset : m.Offset+m.Length]
			if m.Key != MessageKey(text) {
				t.Fatalf("#%d: key mismatch", i)
			}
			if m.From == "" || m.Date.IsZero() {
				t.Fatalf("#%d: accepted without From/date: %+v", i, m)
			}
		}
	})
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
