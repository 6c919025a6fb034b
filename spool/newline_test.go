package spool

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func checkMasks(t *testing.T, src []byte) {
	t.Helper()
	n := len(src) / 64
	got, want := make([]uint64, n+1), make([]uint64, n+1)
	got[n], want[n] = 7, 7 // must stay untouched
	if k := newlineMasks(src, got); k != n {
		t.Fatalf("newlineMasks(%d bytes) = %d chunks, want %d", len(src), k, n)
	}
	newlineMasksGo(src, want)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%d bytes: mask %d = %#x, want %#x", len(src), i, got[i], want[i])
		}
	}
}

func TestNewlineMasks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 63, 64, 65, 127, 128, 1000, 64 << 10} {
		for _, density := range []int{2, 7, 60, 1000} {
			src := make([]byte, size)
			for i := range src {
				src[i] = byte(r.IntN(256))
				if src[i] == '\n' || r.IntN(density) == 0 {
					src[i] = []byte{'\n', 'a', 0x8a, 0x0b}[r.IntN(4)]
				}
			}
			checkMasks(t, src)
			checkMasks(t, src[min(len(src), 3):]) // unaligned
		}
	}
	checkMasks(t, bytes.Repeat([]byte{'\n'}, 256))
}

func FuzzNewlineMasks(f *testing.F) {
	f.Add([]byte("a\nb\n"))
	f.Add(bytes.Repeat([]byte("x\n"), 100))
	f.Fuzz(func(t *testing.T, src []byte) { checkMasks(t, src) })
}
