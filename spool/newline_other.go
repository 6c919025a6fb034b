//go:build !amd64

package spool

func newlineMasksBlocks(src []byte, masks []uint64) { newlineMasksGo(src, masks) }
