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
	m, open := testBody(t, 1<<20)
	var sent int64
	var err error
	allocs := testing.AllocsPerRun(5, func() {
		sent, err = open().WriteStuffedTo(io.Discard)
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

// testBody generates a folder of one message of about size octets and
// returns it with a function that opens a body reader on it, with the
// buffers made once, as Box.Body has them from its pool.
func testBody(tb testing.TB, size int) (Message, func() *bodyReader) {
	tb.Helper()
	data := benchFolder(tb, 1, size, false)
	msgs, err := Scan(context.Background(), data)
	if err != nil || len(msgs) != 1 {
		tb.Fatalf("%d messages, %v", len(msgs), err)
	}
	m := msgs[0]
	ra := bytes.NewReader(data)
	in, out, masks := make([]byte, readBufSize), make([]byte, 0, 2*readBufSize+64), make([]uint64, readBufSize/64+1)
	return m, func() *bodyReader {
		r := newBodyReader(ra, m.Text+int64(m.BodyStart), m.Text+int64(m.ContentEnd), m.ExtraNewlines, in, out)
		r.masks = masks
		return r
	}
}
