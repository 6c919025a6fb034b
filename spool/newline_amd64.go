package spool

// newlineMasksBlocks is newlineMasksGo in SSE2 (baseline amd64): four
// 16-byte compares and byte masks per chunk. len(src) is a multiple of
// 64 and len(masks) == len(src)/64.
//
//go:noescape
func newlineMasksBlocks(src []byte, masks []uint64)
