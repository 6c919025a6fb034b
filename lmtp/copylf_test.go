package lmtp

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

// TestCopyLF: CRLF becomes LF wherever the reads split it; a lone CR,
// also at the very end, is kept.
func TestCopyLF(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\r\nb\r\n", "a\nb\n"},
		{"a\rb\r\n\r\n", "a\rb\n\n"},
		{"end\r", "end\r"},
		{"\r\r\n", "\r\n"},
		{"no newline", "no newline"},
		{"", ""},
	} {
		for _, oneByte := range []bool{false, true} {
			var r = strings.NewReader(c.in)
			var out bytes.Buffer
			w := bufio.NewWriter(&out)
			var n int64
			var err error
			if oneByte {
				n, err = copyLF(w, iotest.OneByteReader(r))
			} else {
				n, err = copyLF(w, r)
			}
			w.Flush()
			if err != nil || out.String() != c.want || n != int64(len(c.want)) {
				t.Errorf("copyLF(%q, one byte %v) = %q, %d, %v; want %q", c.in, oneByte, out.String(), n, err, c.want)
			}
		}
	}
}
