package mail11

import (
	"bytes"
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
			if m.From == "" || m.Date.IsZero() {
				t.Fatalf("#%d: accepted without From/date: %+v", i, m)
			}
		}
	})
}
