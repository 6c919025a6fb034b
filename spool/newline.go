package spool

// newlineMasks sets masks[i] to the positions of '\n' in the i-th whole
// 64-byte chunk of src (bit j for byte 64*i+j) and returns the number of
// whole chunks. masks must have room for len(src)/64 of them.
//
// It lets the body decoder walk a block's lines without a call per line:
// with mail's short lines, a bytes.IndexByte call per line would be most
// of the decoder's time.
func newlineMasks(src []byte, masks []uint64) int {
	n := len(src) / 64
	masks = masks[:n] // bounds check: the assembly trusts it
	if n > 0 {
		newlineMasksBlocks(src[:n*64], masks)
	}
	return n
}

// newlineMasksGo is newlineMasks for whole chunks in Go: the reference
// the tests hold the assembly to, and the code on other architectures.
func newlineMasksGo(src []byte, masks []uint64) {
	for i := range len(src) / 64 {
		var m uint64
		for j, c := range src[64*i : 64*i+64] {
			if c == '\n' {
				m |= 1 << j
			}
		}
		masks[i] = m
	}
}
