package spool

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// TestBodyDecodeAllocs: decoding a 1 MiB body (16 blocks, thousands of
// lines, stuffing and mboxrd quoting included) allocates nothing beyond
// the reader itself once its buffers exist: no allocation per line or
// per block on RETR's hot path.
func TestBodyDecodeAllocs(t *testing.T) {
	data := benchFolder(t, 1, 1<<20, false)
	msgs, err := Scan(context.Background(), data)
	if err != nil || len(msgs) != 1 {
		t.Fatal(err)
	}
	m := msgs[0]
	ra := bytes.NewReader(data)
	in, out, masks := make([]byte, readBufSize), make([]byte, 0, 2*readBufSize+64), make([]uint64, readBufSize/64+1)
	var sent int64
	allocs := testing.AllocsPerRun(5, func() {
		r := newBodyReader(ra, m.Text+int64(m.BodyStart), m.Text+int64(m.ContentEnd), m.ExtraNewlines, in, out)
		r.masks = masks
		sent, err = r.WriteStuffedTo(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
	})
	if sent != m.BodySize {
		t.Fatalf("decoded %d octets, want %d", sent, m.BodySize)
	}
	if allocs > 1 {
		t.Errorf("%.0f allocations per 1 MiB body, want at most 1 (the reader)", allocs)
	}
}
