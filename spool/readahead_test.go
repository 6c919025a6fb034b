package spool

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReadAheadBodies: small bodies read in order come from the box's
// read-ahead window, and every body is sent exactly as a pread of its own
// sends it, whatever the order of the reads (in order, again, backwards,
// every third, jumping about) and whether the reader is read or writes
// in place; after Commit's drop and Close the window is gone.
func TestReadAheadBodies(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	var data []byte
	for _, p := range []struct {
		n, size int
		hostile bool
	}{{20, 700, false}, {10, 6000, false}, {3, aheadMax + 3000, false}, {10, 3000, true}, {12, 9000, false}, {1, aheadSize + 100, false}, {5, 200, false}} {
		data = append(data, benchFolder(t, p.n, p.size, p.hostile)...)
	}
	dir := filepath.Join(s.Root, "AHEAD")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, NewMail)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := s.OpenBox(ctx, "AHEAD", NewMail, OpenOptions{NoIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Len() != 61 {
		t.Fatalf("%d messages, want 61", b.Len())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := make([][]byte, b.Len())
	for i := range want {
		m := b.Message(i)
		var w bytes.Buffer
		r := newBodyReader(f, m.Text+int64(m.BodyStart), m.Text+int64(m.ContentEnd), m.ExtraNewlines, make([]byte, readBufSize), nil)
		if _, err := r.WriteStuffedTo(&w); err != nil {
			t.Fatal(err)
		}
		want[i] = w.Bytes()
	}
	var orders [][]int
	var all, back, third, jumps []int
	for i := range b.Len() {
		all = append(all, i)
		back = append(back, b.Len()-1-i)
		if i%3 == 0 {
			third = append(third, i)
		}
		jumps = append(jumps, (i*17)%b.Len())
	}
	orders = append(orders, all, all, back, third, jumps, all)
	windowed := 0
	for k, order := range orders {
		for _, i := range order {
			rc, err := b.Body(i)
			if err != nil {
				t.Fatal(err)
			}
			pb := rc.(*pooledBody)
			if pb.mapped != nil && !pb.unmap {
				windowed++
			}
			var got bytes.Buffer
			if i%2 == 0 {
				bw := bufio.NewWriterSize(&got, 128<<10)
				_, err = pb.WriteStuffedTo(bw)
				bw.Flush()
			} else {
				pb.stuff = true
				_, err = io.Copy(&got, struct{ io.Reader }{pb})
			}
			rc.Close()
			if err != nil || !bytes.Equal(got.Bytes(), want[i]) {
				t.Fatalf("order %d, message %d: %d octets (%v), want %d, equal %v", k, i, got.Len(), err, len(want[i]), bytes.Equal(got.Bytes(), want[i]))
			}
		}
	}
	// Four passes in order over 57 small bodies: most come from the
	// window (188 here).
	if windowed < 150 {
		t.Errorf("%d bodies read from the window, want at least 150", windowed)
	}
	if b.ahead.buf == nil {
		t.Fatal("no window after reads in order")
	}
	if err := b.Commit(ctx, nil, nil, false); err != nil {
		t.Fatal(err)
	}
	if b.ahead.buf != nil || b.ahead.n != 0 {
		t.Fatal("the window survived Commit")
	}
}
