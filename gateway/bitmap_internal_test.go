package gateway

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBitmapList: list, which skips empty words, returns exactly the set
// indexes in order, for sizes around word boundaries and any density.
func TestBitmapList(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 63, 64, 65, 127, 128, 1000} {
		for _, density := range []float64{0, 0.01, 0.5, 1} {
			b := newBitmap(n)
			var want []int
			for i := range n {
				if r.Float64() < density {
					b.set(i)
					want = append(want, i)
				}
			}
			if got := b.list(n); !slices.Equal(got, want) {
				t.Errorf("n=%d density=%v: list = %v, want %v", n, density, got, want)
			}
			if got := b.appendTo([]int{-1}, n); !slices.Equal(got, append([]int{-1}, want...)) {
				t.Errorf("n=%d density=%v: appendTo kept %v", n, density, got)
			}
		}
	}
}
