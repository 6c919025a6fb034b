package lmtp

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// TestSpill: a message up to memMessage stays in memory, a larger one goes
// to an unlinked file in the directory; both read back whole.
func TestSpill(t *testing.T) {
	for _, size := range []int{0, 100, memMessage, memMessage + 1, 3 * memMessage} {
		dir := t.TempDir()
		sp := &spill{dir: dir}
		want := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		for p := want; len(p) > 0; {
			n := min(len(p), 40000)
			if _, err := sp.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if (sp.f != nil) != (size > memMessage) {
			t.Errorf("%d octets: in a file %v", size, sp.f != nil)
		}
		got, err := io.ReadAll(io.NewSectionReader(sp.reader(), 0, sp.n))
		if err != nil || !bytes.Equal(got, want) || sp.n != int64(size) {
			t.Errorf("%d octets: read back %d, %v", size, len(got), err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%d octets: %d files left in the directory", size, len(ents))
		}
		sp.Close()
	}
}
