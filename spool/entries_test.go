package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// synthList builds a list of n made-up messages, message i's aux data
// being i bytes long modulo 7 (none for a multiple of 7), each with a Tag.
func synthList(t *testing.T, n int) (*MessageList, []Message, [][]byte) {
	t.Helper()
	l := &MessageList{}
	var msgs []Message
	var auxes [][]byte
	off := int64(3)
	for i := range n {
		m := Message{Start: off, Text: off + 20 + int64(i%5), HeaderEnd: 40 + i%3, BodyStart: 41 + i%3,
			ContentEnd: 100 + i%50, ExtraNewlines: i % 2, Size: 120 + int64(i), BodySize: 130 + int64(i),
			Sum: uint32(i) * 2654435761, Binary: i%11 == 0, EightBit: i%3 == 0, UTF8: i%6 == 0,
			Tag: uint32(i) * 0x9e3779b1}
		m.End = m.Text + int64(m.ContentEnd) + 2
		off = m.End
		aux := bytes.Repeat([]byte{byte('a' + i%26)}, i%7)
		if len(aux) == 0 {
			aux = nil
		}
		if err := l.add(&m, aux); err != nil {
			t.Fatal(err)
		}
		msgs, auxes = append(msgs, m), append(auxes, aux)
	}
	return l.finish(), msgs, auxes
}

func checkList(t *testing.T, what string, l *MessageList, msgs []Message, auxes [][]byte) {
	t.Helper()
	if l.Len() != len(msgs) {
		t.Fatalf("%s: %d messages, want %d", what, l.Len(), len(msgs))
	}
	for i := range msgs {
		if l.At(i) != msgs[i] || l.Tag(i) != msgs[i].Tag || !bytes.Equal(l.Aux(i), auxes[i]) {
			t.Fatalf("%s: message %d is %+v aux %q, want %+v aux %q", what, i, l.At(i), l.Aux(i), msgs[i], auxes[i])
		}
	}
}

// TestMessageListBlocks: a list of more messages than an aux block holds
// gives back every message and aux as added: built, after a round trip
// through the index file, and as a prefix (cut at and around block ends)
// that more messages are added to.
func TestMessageListBlocks(t *testing.T) {
	n := 2<<auxShift + 5
	l, msgs, auxes := synthList(t, n)
	checkList(t, "built", l, msgs, auxes)

	ix := &index{size: l.end, mtime: 7, ino: 9, key: "k", list: l}
	var buf bytes.Buffer
	if err := ix.writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := decodeIndex(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	checkList(t, "decoded", back.list, msgs, auxes)

	for _, k := range []int{1, 1<<auxShift - 1, 1 << auxShift, 1<<auxShift + 1, 2 << auxShift, n - 1, n} {
		p := l.prefix(k)
		for i := k; i < n; i++ {
			if err := p.add(&msgs[i], auxes[i]); err != nil {
				t.Fatal(err)
			}
		}
		checkList(t, fmt.Sprintf("prefix %d and the rest", k), p.finish(), msgs, auxes)
	}
	checkList(t, "after the prefixes", l, msgs, auxes) // not changed by them
}

// TestMessageListBig: a message whose layout does not fit an entry is
// kept whole; such a list is not written to an index file.
func TestMessageListBig(t *testing.T) {
	l := &MessageList{}
	small := Message{Start: 0, Text: 10, End: 100, HeaderEnd: 5, BodyStart: 6, ContentEnd: 80, Size: 70, BodySize: 75}
	big := Message{Start: 100, Text: 110, End: 1 << 40, HeaderEnd: 5, BodyStart: 6, ContentEnd: 5 << 30, Size: 5 << 30, BodySize: 5<<30 + 100}
	far := Message{Start: 1 << 40, Text: 1<<40 + 10, End: 1<<40 + 100, HeaderEnd: 5, BodyStart: 6, ContentEnd: 80, ExtraNewlines: 1 << 16, Size: 70, BodySize: 75}
	for i, m := range []Message{small, big, far} {
		if err := l.add(&m, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.finish()
	checkList(t, "with big messages", l, []Message{small, big, far}, [][]byte{{0}, {1}, {2}})
	ix := &index{size: l.end, key: "k", list: l}
	if err := ix.writeTo(&bytes.Buffer{}); err != errNoIndexFile {
		t.Fatalf("writing the index of a list with a big message: %v, want errNoIndexFile", err)
	}
}

// indexFile writes a folder of n messages, opens it (writing its index)
// and returns the index path and contents.
func indexFile(t *testing.T, n int) (*Spool, string, []byte) {
	t.Helper()
	s := New(t.TempDir())
	appendN(t, s, "SMITH", NewMail, 0, n)
	b, _ := openWith(t, s, "k", false)
	b.Close()
	p := indexPath(filepath.Join(s.Root, "SMITH"), NewMail)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return s, p, data
}

// withCRC returns data with its last 4 bytes set to the CRC of the rest.
func withCRC(data []byte) []byte {
	d := bytes.Clone(data)
	binary.LittleEndian.PutUint32(d[len(d)-4:], crc32.Checksum(d[:len(d)-4], castagnoli))
	return d
}

// TestIndexTornOldOrInconsistent: an index cut anywhere, one of the
// previous version, and one whose checksum is right but whose records
// contradict each other are rebuilt (every message visited), never used;
// what the rebuilt index gives equals a fresh scan.
func TestIndexTornOldOrInconsistent(t *testing.T) {
	const n = 30
	s, p, data := indexFile(t, n)
	if _, err := decodeIndex(data); err != nil {
		t.Fatalf("the index as written: %v", err)
	}
	bad := map[string][]byte{}
	for _, at := range []int{0, 7, 40, 60, len(data) / 2, len(data) - 5, len(data) - 1} {
		bad[fmt.Sprintf("torn at %d of %d", at, len(data))] = data[:at]
	}
	old := bytes.Clone(data)
	copy(old, "VMSPOPX2")
	bad["version X2"] = withCRC(old)
	// The records start after the header and the key "k|..." (the test
	// key is "k"): count and aux length, then the records.
	rec := len(indexMagic) + 8*3 + 4*2 + 4 + 1 + 16
	for name, mut := range map[string]func(d []byte){
		"count too large":       func(d []byte) { binary.LittleEndian.PutUint64(d[rec-16:], n+1) },
		"aux length off by one": func(d []byte) { binary.LittleEndian.PutUint64(d[rec-8:], binary.LittleEndian.Uint64(d[rec-8:])+1) },
		"start past the next":   func(d []byte) { binary.LittleEndian.PutUint32(d[rec+entryRecord:], 1) },
		"start above 4 GiB":     func(d []byte) { d[rec+entryRecord+4] = 1 },
		"content past the end":  func(d []byte) { binary.LittleEndian.PutUint32(d[rec+8+4*3:], math.MaxUint32) },
		"header after the body": func(d []byte) { binary.LittleEndian.PutUint32(d[rec+8+4*1:], 1<<20) },
		"aux going backwards":   func(d []byte) { binary.LittleEndian.PutUint32(d[rec+entryRecord+8+4*7:], 0) },
		"big flag":              func(d []byte) { d[rec+5] |= flagBig },
	} {
		d := bytes.Clone(data)
		mut(d)
		d = withCRC(d)
		if _, err := decodeIndex(d); err == nil {
			t.Fatalf("%s: decoded", name)
		}
		bad[name] = d
	}
	for name, d := range bad {
		if err := os.WriteFile(p, d, 0o600); err != nil {
			t.Fatal(err)
		}
		// A new Spool: nothing in memory, the file is read.
		if visited := checkAgainstScan(t, New(s.Root), "k"); visited != n {
			t.Fatalf("%s: %d messages visited, want all %d (rebuilt)", name, visited, n)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Fatalf("%s: the index rebuilt differs from the first one", name)
		}
	}
}

// TestIndexSharedList: opens of an unchanged folder get the same list
// (callers key what they derive from it on the pointer); after a change
// they get another.
func TestIndexSharedList(t *testing.T) {
	s := New(t.TempDir())
	appendN(t, s, "SMITH", NewMail, 0, 10)
	b1, _ := openWith(t, s, "k", false)
	b1.Close()
	b2, n := openWith(t, s, "k", false)
	b2.Close()
	if n != 0 || b1.List() != b2.List() {
		t.Fatalf("a warm open visited %d messages, same list %v", n, b1.List() == b2.List())
	}
	appendN(t, s, "SMITH", NewMail, 10, 1)
	b3, _ := openWith(t, s, "k", false)
	defer b3.Close()
	if b3.List() == b2.List() || b3.Len() != 11 {
		t.Fatalf("after an append: same list %v, %d messages", b3.List() == b2.List(), b3.Len())
	}
	if err := b3.Commit(context.Background(), []int{0}, nil, true); err != nil {
		t.Fatal(err)
	}
}

// TestEntrySize: an entry is 44 bytes, the record 44 octets (the memory
// target of a million messages counts on it).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n != 44 || entryRecord != 44 {
		t.Fatalf("entry %d bytes, record %d octets; want 44", n, entryRecord)
	}
}
