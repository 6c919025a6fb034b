package spool

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// TestMappedBody: a body of mapMin octets or more is read from the mapped
// folder file and sent exactly as the pread path sends it; and when the
// file is cut short under the session (as only a tool outside the spool's
// locks could do), the read fails with an error instead of the fault
// killing the server.
func TestMappedBody(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	data := benchFolder(t, 2, mapMin+1000, false)
	dir := filepath.Join(s.Root, "BIG")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, NewMail)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := s.OpenBox(ctx, "BIG", NewMail, OpenOptions{NoIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Len() != 2 {
		t.Fatalf("%d messages, want 2", b.Len())
	}
	m := b.Message(1)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want bytes.Buffer
	viaPread := newBodyReader(f, m.Text+int64(m.BodyStart), m.Text+int64(m.ContentEnd), m.ExtraNewlines, make([]byte, readBufSize), nil)
	if _, err := viaPread.WriteStuffedTo(&want); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Body(1)
	if err != nil {
		t.Fatal(err)
	}
	if rc.(*pooledBody).mapped == nil {
		t.Fatalf("a body of %d octets is not mapped", m.ContentEnd-m.BodyStart)
	}
	var got bytes.Buffer
	bw := bufio.NewWriterSize(&got, 128<<10)
	n, err := rc.(*pooledBody).WriteStuffedTo(bw)
	bw.Flush()
	rc.Close()
	if err != nil || n != m.BodySize || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("mapped body: %d octets (%v), equal %v; want %d", n, err, bytes.Equal(got.Bytes(), want.Bytes()), m.BodySize)
	}

	rc, err = b.Body(1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := os.Truncate(path, m.Text+int64(m.BodyStart)+100); err != nil {
		t.Fatal(err)
	}
	_, err = rc.(*pooledBody).WriteStuffedTo(io.Discard)
	if err == nil || !strings.Contains(err.Error(), "changed under the session") {
		t.Fatalf("reading a mapped body cut short: %v, want the file-changed error", err)
	}
}
