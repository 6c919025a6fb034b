package gateway

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in        string
		verb, arg string
		wantErr   error
	}{
		{"USER alice", "USER", "alice", nil},
		{"user alice", "USER", "alice", nil},
		{"uSeR  alice ", "USER", " alice ", nil},
		{"PASS pass word", "PASS", "pass word", nil},
		{"STAT", "STAT", "", nil},
		{"TOP 1 2", "TOP", "1 2", nil},
		{"top", "TOP", "", nil},
		{"CAPA", "CAPA", "", nil},
		{"AUTH", "AUTH", "", nil},
		{"AUTH PLAIN =", "AUTH", "PLAIN =", nil},
		{"PASS \xff\xfe", "PASS", "\xff\xfe", nil},
		{"", "", "", errEmptyCommand},
		{"FOO", "", "", errUnknownCommand},
		{"USERS alice", "", "", errUnknownCommand},
		{"USE", "", "", errUnknownCommand},
		{" USER alice", "", "", errUnknownCommand},
		{"USER\talice", "", "", errUnknownCommand},
		{"USER a\x00b", "", "", errBadCharacter},
		{"NOOP\x7f", "", "", errBadCharacter},
		{"NOOP\r", "", "", errBadCharacter},
	}
	for _, tt := range tests {
		verb, arg, err := parseCommand([]byte(tt.in))
		if verb != tt.verb || arg != tt.arg || err != tt.wantErr {
			t.Errorf("parseCommand(%q) = %q, %q, %v; want %q, %q, %v", tt.in, verb, arg, err, tt.verb, tt.arg, tt.wantErr)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		isOK bool
	}{
		{"1", 1, true}, {"0", 0, true}, {"007", 7, true}, {"999999999", 999999999, true},
		{"", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"1x", 0, false}, {"1000000000", 0, false}, {" 1", 0, false},
	}
	for _, tt := range tests {
		n, ok := parseNumber(tt.in)
		if n != tt.n || ok != tt.isOK {
			t.Errorf("parseNumber(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.isOK)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string
		isOK bool
	}{
		{"", 1, nil, true}, {"1", 1, []string{"1"}, true}, {" 1  2 ", 2, []string{"1", "2"}, true},
		{"1 2", 1, nil, false}, {"a\tb", 2, []string{"a", "b"}, true},
	}
	for _, tt := range tests {
		got, ok := splitArgs(tt.in, tt.max)
		if ok != tt.isOK || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitArgs(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, ok, tt.want, tt.isOK)
		}
	}
}

func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name  string
		in    string
		max   int
		want  []string // lines; "!" marks errLineTooLong
		final error
	}{
		{"crlf", "NOOP\r\nSTAT\r\n", 255, []string{"NOOP", "STAT"}, io.EOF},
		{"lf", "NOOP\nSTAT\n", 255, []string{"NOOP", "STAT"}, io.EOF},
		{"exact limit", strings.Repeat("y", 253) + "\r\nA\r\n", 255, []string{strings.Repeat("y", 253), "A"}, io.EOF},
		{"one over", strings.Repeat("y", 254) + "\r\nA\r\n", 255, []string{"!", "A"}, io.EOF},
		{"longer than buffer", long + long + long + long + "\r\nA\r\n", 255, []string{"!", "A"}, io.EOF},
		{"sasl long", long + long + long + long + "\r\nA\r\n", 8192, []string{long + long + long + long, "A"}, io.EOF},
		{"sasl too long", strings.Repeat(long, 30) + "\r\nA\r\n", 8192, []string{"!", "A"}, io.EOF},
		{"partial at eof", "NOOP", 255, nil, io.EOF},
		{"empty line", "\r\n", 255, []string{""}, io.EOF},
	}
	for _, tt := range tests {
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tt.in)), 64)
		if tt.name == "longer than buffer" || tt.name == "sasl long" || tt.name == "sasl too long" {
			br = bufio.NewReaderSize(strings.NewReader(tt.in), 1024)
		}
		var got []string
		var err error
		for {
			var line []byte
			line, err = readLine(br, tt.max)
			if err == errLineTooLong {
				got = append(got, "!")
				continue
			}
			if err != nil {
				break
			}
			got = append(got, string(line))
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || err != tt.final {
			t.Errorf("%s: readLine = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.final)
		}
	}
}

// stuff is the reference dot-stuffer: line by line.
func stuff(s string) string {
	var b strings.Builder
	lines := strings.SplitAfter(s, "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, ".") {
			b.WriteByte('.')
		}
		b.WriteString(l)
	}
	out := b.String()
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\r\n"
	}
	return out + ".\r\n"
}

func TestDotWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.\r\n..b\r\n", "a\r\n..\r\n...b\r\n.\r\n"},
		{"no end", "no end\r\n.\r\n"},
		{"x.\r\n.y\r\n", "x.\r\n..y\r\n.\r\n"},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 2, 3, 1000} {
			var out bytes.Buffer
			d := newDotWriter(&out)
			for s := tt.in; s != ""; {
				n := min(chunk, len(s))
				if _, err := d.Write([]byte(s[:n])); err != nil {
					t.Fatal(err)
				}
				s = s[n:]
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("dotWriter(%q) in %d-octet chunks = %q, want %q", tt.in, chunk, out.String(), tt.want)
			}
			if d.n != int64(len(tt.in)) {
				t.Errorf("dotWriter(%q).n = %d, want %d", tt.in, d.n, len(tt.in))
			}
		}
	}
}

func TestTopWriter(t *testing.T) {
	msg := "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\nl3\r\nl4\r\n"
	tests := []struct {
		in    string
		lines int64
		want  string
	}{
		{msg, 0, "A: 1\r\nB: 2\r\n\r\n"},
		{msg, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n"},
		{msg, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n"},
		{msg, 4, msg},
		{msg, 99, msg},
		{"A: 1\r\nB: 2\r\n", 0, "A: 1\r\nB: 2\r\n"},
		{"A: 1\n\nbody\n", 0, "A: 1\n\n"},
		{"\r\nbody\r\n", 0, "\r\n"},
		{"A: \r\nb\r\n\r\nx\r\n", 1, "A: \r\nb\r\n\r\nx\r\n"},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 2, 5, 1000} {
			var out bytes.Buffer
			tw := newTopWriter(&out, tt.lines)
			var err error
			for s := tt.in; s != "" && err == nil; {
				n := min(chunk, len(s))
				_, err = tw.Write([]byte(s[:n]))
				s = s[n:]
			}
			if err != nil && err != errTopDone {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("TOP %d of %q in %d-octet chunks = %q, want %q", tt.lines, tt.in, chunk, out.String(), tt.want)
			}
		}
	}
}

func TestAppendThousands(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {10240, "10,240"}, {1234567, "1,234,567"}, {-1234, "-1,234"}}
	for _, tt := range tests {
		if got := string(appendThousands(nil, tt.n)); got != tt.want {
			t.Errorf("appendThousands(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"jones", "jones"},
		{`a"b`, "a?b"},
		{"a\r\nb", "a??b"},
		{strings.Repeat("z", 50), strings.Repeat("z", 40)},
		{"é", "??"},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PASS secret", "PASS ***"},
		{"pass secret word", "PASS ***"},
		{"PASS sec\x01ret", "PASS ***"},
		{"APOP jones 0123", "APOP jones ***"},
		{"AUTH PLAIN AGFsaWNl", "AUTH PLAIN ***"},
		{"AUTH PLAIN", "AUTH PLAIN"},
		{"AUTH", "AUTH"},
		{"USER jones", "USER jones"},
	}
	for _, tt := range tests {
		if got := redact([]byte(tt.in)); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER alice", "PASS x y", "TOP 1 2", "", "AUTH PLAIN =", "list 1", "\x00", "STAT\x7f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg, err := parseCommand(line)
		if err != nil {
			if verb != "" || arg != "" {
				t.Fatalf("parseCommand(%q) = %q, %q with error %v", line, verb, arg, err)
			}
			return
		}
		found := false
		for _, v := range verbs {
			found = found || v == verb
		}
		if !found {
			t.Fatalf("parseCommand(%q) verb %q is not a known verb", line, verb)
		}
		if !bytes.HasSuffix(line, []byte(arg)) {
			t.Fatalf("parseCommand(%q) arg %q is not the line's tail", line, arg)
		}
		for _, b := range []byte(arg) {
			if b < 0x20 && b != '\t' {
				t.Fatalf("parseCommand(%q) let a control character through", line)
			}
		}
		_ = redact(line)
		_, _ = splitArgs(arg, 2)
	})
}

func FuzzDotWriter(f *testing.F) {
	f.Add([]byte("a\r\n.\r\n..b\r\n"), uint8(3))
	f.Add([]byte(".x"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		c := int(chunk%16) + 1
		var out bytes.Buffer
		d := newDotWriter(&out)
		for s := in; len(s) > 0; {
			n := min(c, len(s))
			d.Write(s[:n])
			s = s[n:]
		}
		d.Close()
		if want := stuff(string(in)); out.String() != want {
			t.Fatalf("dotWriter(%q) = %q, want %q", in, out.String(), want)
		}
	})
}

// BenchmarkDotWriter stuffs a 1 MiB message with many dot lines.
func BenchmarkDotWriter(b *testing.B) {
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		sb.WriteString("an ordinary line of text in the body of a message\r\n.dot line\r\n")
	}
	msg := []byte(sb.String())
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d := newDotWriter(io.Discard)
		for p := msg; len(p) > 0; {
			n := min(16*1024, len(p))
			d.Write(p[:n])
			p = p[n:]
		}
		d.Close()
	}
}
