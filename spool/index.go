package spool

// The folder index
//
// Scanning a 100,000-message folder means reading all of it. The index
// <dir>/.<FOLDER>.idx keeps what a scan found (message offsets and layout)
// and what the caller derived from each message (an opaque "aux" blob, e.g.
// the size as sent and the UID), so that a login reads one small file.
//
// The index is derived data: deleting it loses nothing. It is used only
// when it provably matches the folder: the same inode, and either the same
// size and modification time, or a larger size (mail was appended) with
// the bytes it covered unchanged (CRC-32C of their first and last 4 KiB).
// Appended mail is then scanned from the last indexed message on. The
// caller's key (a fingerprint of the settings aux depends on) must match
// too. The file carries its own CRC, so a torn or damaged index is
// detected and rebuilt, never trusted. It is written to a temporary file
// and renamed into place.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

const (
	indexMagic = "VMSPOPX2" // X1: sizes by the folder rule of before standard mboxrd
	checkSpan  = 4096       // bytes at each end of the covered region that are checked
)

// index is a decoded index file.
type index struct {
	size    int64
	mtime   int64
	ino     uint64
	headCRC uint32
	tailCRC uint32
	key     string
	msgs    []Message
	aux     [][]byte
}

func indexPath(dir, folder string) string { return filepath.Join(dir, "."+folder+".idx") }

// coverCRCs returns the CRCs of the first and last checkSpan bytes of
// data[:size].
func coverCRCs(data []byte, size int64) (head, tail uint32) {
	d := data[:size]
	head = crc32.Checksum(d[:min(len(d), checkSpan)], castagnoli)
	tail = crc32.Checksum(d[max(0, len(d)-checkSpan):], castagnoli)
	return head, tail
}

func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// writeTo writes the serialised index to w, 64 KiB at a time: a profile
// of a first login to a million messages showed the whole index built in
// one growing slice (copied at each doubling, 170 MB live at the end).
func (ix *index) writeTo(w io.Writer) error {
	var crc uint32
	b := make([]byte, 0, 80<<10)
	flush := func() error {
		crc = crc32.Update(crc, castagnoli, b)
		_, err := w.Write(b)
		b = b[:0]
		return err
	}
	b = append(b, indexMagic...)
	b = appendU64(b, uint64(ix.size))
	b = appendU64(b, uint64(ix.mtime))
	b = appendU64(b, ix.ino)
	b = appendU32(b, ix.headCRC)
	b = appendU32(b, ix.tailCRC)
	b = binary.AppendUvarint(b, uint64(len(ix.key)))
	b = append(b, ix.key...)
	b = binary.AppendUvarint(b, uint64(len(ix.msgs)))
	for i := range ix.msgs {
		m := &ix.msgs[i]
		b = binary.AppendUvarint(b, uint64(m.Start))
		b = binary.AppendUvarint(b, uint64(m.Text-m.Start))
		b = binary.AppendUvarint(b, uint64(m.End-m.Text))
		b = binary.AppendUvarint(b, uint64(m.HeaderEnd))
		b = binary.AppendUvarint(b, uint64(m.BodyStart))
		b = binary.AppendUvarint(b, uint64(m.ContentEnd))
		b = binary.AppendUvarint(b, uint64(m.ExtraNewlines))
		b = binary.AppendUvarint(b, uint64(m.Size))
		b = binary.AppendUvarint(b, uint64(m.BodySize))
		b = appendU32(b, m.Sum)
		var flags byte
		if m.Binary {
			flags |= 1
		}
		if m.EightBit {
			flags |= 2
		}
		if m.UTF8 {
			flags |= 4
		}
		b = append(b, flags)
		var aux []byte
		if i < len(ix.aux) {
			aux = ix.aux[i]
		}
		b = binary.AppendUvarint(b, uint64(len(aux)))
		b = append(b, aux...)
		if len(b) >= 64<<10 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	_, err := w.Write(appendU32(b, crc))
	return err
}

var errBadIndex = errors.New("spool: damaged index")

// decodeIndex parses an index file; any inconsistency is errBadIndex.
func decodeIndex(b []byte) (*index, error) {
	if len(b) < len(indexMagic)+40 || string(b[:len(indexMagic)]) != indexMagic {
		return nil, errBadIndex
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errBadIndex
	}
	p := body[len(indexMagic):]
	ix := &index{}
	ix.size = int64(binary.LittleEndian.Uint64(p))
	ix.mtime = int64(binary.LittleEndian.Uint64(p[8:]))
	ix.ino = binary.LittleEndian.Uint64(p[16:])
	ix.headCRC = binary.LittleEndian.Uint32(p[24:])
	ix.tailCRC = binary.LittleEndian.Uint32(p[28:])
	p = p[32:]
	bad := false
	uv := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			bad = true
			p = nil
			return 0
		}
		p = p[n:]
		return v
	}
	take := func(n uint64) []byte {
		if n > uint64(len(p)) {
			bad = true
			p = nil
			return nil
		}
		v := p[:n:n]
		p = p[n:]
		return v
	}
	ix.key = string(take(uv()))
	count := uv()
	if count > uint64(len(p))/12 {
		return nil, errBadIndex
	}
	ix.msgs = make([]Message, count)
	ix.aux = make([][]byte, count)
	for i := range ix.msgs {
		m := &ix.msgs[i]
		m.Start = int64(uv())
		m.Text = m.Start + int64(uv())
		m.End = m.Text + int64(uv())
		m.HeaderEnd = int(uv())
		m.BodyStart = int(uv())
		m.ContentEnd = int(uv())
		m.ExtraNewlines = int(uv())
		m.Size = int64(uv())
		m.BodySize = int64(uv())
		s := take(4)
		f := take(1)
		if bad {
			return nil, errBadIndex
		}
		m.Sum = binary.LittleEndian.Uint32(s)
		m.Binary, m.EightBit, m.UTF8 = f[0]&1 != 0, f[0]&2 != 0, f[0]&4 != 0
		ix.aux[i] = take(uv())
		// Offsets must be in order and inside the covered size.
		if bad || m.End > ix.size || m.Text < m.Start || m.End < m.Text ||
			(i > 0 && m.Start != ix.msgs[i-1].End) || m.BodyStart > m.ContentEnd ||
			int64(m.ContentEnd) > m.End-m.Text || m.HeaderEnd > m.BodyStart {
			return nil, errBadIndex
		}
	}
	if len(p) != 0 || (count > 0 && ix.msgs[count-1].End != ix.size) {
		return nil, errBadIndex
	}
	// The aux blobs point into b; when they are a small part of it (no
	// rebuilt headers in them), they are copied out so that b can go.
	total := 0
	for _, a := range ix.aux {
		total += len(a)
	}
	if total < len(b)/2 {
		arena := make([]byte, 0, total)
		for i, a := range ix.aux {
			start := len(arena)
			arena = append(arena, a...)
			ix.aux[i] = arena[start:len(arena):len(arena)]
		}
	}
	return ix, nil
}

// loadIndex reads the index of a folder; nil when missing or damaged.
func loadIndex(dir, folder string) *index {
	b, err := readNoFollow(indexPath(dir, folder))
	if err != nil {
		return nil
	}
	ix, err := decodeIndex(b)
	if err != nil {
		return nil
	}
	return ix
}

// writeIndex stores an index atomically (no fsync: it is derived data and
// carries its own checksum).
func writeIndex(dir, folder string, ix *index) error {
	path := indexPath(dir, folder)
	f, err := os.CreateTemp(dir, "."+folder+".idx.*")
	if err != nil {
		return err
	}
	if om, oerr := ownerFor(path); oerr != nil {
		err = oerr
	} else {
		err = om.apply(f)
	}
	if err == nil {
		w := bufio.NewWriterSize(f, 256<<10)
		if err = ix.writeTo(w); err == nil {
			err = w.Flush()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// fileStamp is what an index is checked against.
func fileStamp(fi os.FileInfo) (mtime int64, ino uint64) {
	st := fi.Sys().(*syscall.Stat_t)
	return fi.ModTime().UnixNano(), st.Ino
}

// usable returns how much of the index can be used for a folder of size
// bytes mapped in data: all of it (same file), all but the last message
// (mail was appended: rescan from there), or none.
func (ix *index) usable(data []byte, size, mtime int64, ino uint64, key string) (keep int, ok bool) {
	if ix == nil || ix.ino != ino || ix.key != key || size < ix.size {
		return 0, false
	}
	head, tail := coverCRCs(data, ix.size)
	if head != ix.headCRC || tail != ix.tailCRC {
		return 0, false
	}
	if size == ix.size {
		if mtime != ix.mtime {
			return 0, false
		}
		return len(ix.msgs), true
	}
	// Appended: the last indexed message may have grown; rescan it.
	if n := len(ix.msgs); n > 0 {
		return n - 1, true
	}
	return 0, true
}

// scanWithIndex scans data (the folder's first size bytes) using and
// refreshing the index; visit is called for messages not in the index.
// It returns the messages, their aux blobs, and whether the index changed.
//
// The new index file is not written here: *write is set to a function that
// writes it, which the caller runs after answering (it is derived data).
func (s *Spool) scanWithIndex(ctx context.Context, dir, folder string, data []byte, size, mtime int64, ino uint64, key string, visit Visitor, write *func()) ([]Message, [][]byte, error) {
	path := indexPath(dir, folder)
	// The index of a folder used lately is kept decoded in memory; it is
	// checked against the folder exactly as the file would be.
	if ix := s.cachedIndex(path); ix != nil {
		if keep, ok := ix.usable(data, size, mtime, ino, key); ok && keep == len(ix.msgs) && size == ix.size {
			s.recordScan(ctx, "memory", ix.msgs, len(ix.msgs), size, size)
			return ix.msgs, ix.aux, nil
		}
	}
	ix := loadIndex(dir, folder)
	keep, ok := ix.usable(data, size, mtime, ino, key)
	var msgs []Message
	var aux [][]byte
	from := int64(0)
	if ok {
		msgs, aux = ix.msgs[:keep], ix.aux[:keep]
		if keep > 0 {
			from = msgs[keep-1].End
		}
		if keep == len(ix.msgs) && size == ix.size {
			s.cacheIndex(path, ix)
			s.recordScan(ctx, "file", msgs, len(msgs), size, size)
			return msgs, aux, nil
		}
	}
	msgs, aux, err := scanAndVisit(ctx, data, from, msgs[:len(msgs):len(msgs)], aux[:len(aux):len(aux)], visit, pipelineWorth(len(data)-int(from)))
	if err != nil {
		if from > 0 && errors.Is(err, ErrFormat) {
			// Let a full scan report the error against the whole file.
			return s.scanWithIndex(ctx, dir, folder, data, size, mtime, ino, "\x00invalid", visit, write)
		}
		return nil, nil, err
	}
	// The envelopes were for the visitor; Box.Envelope reads one when needed.
	for i := keep; i < len(msgs); i++ {
		msgs[i].Envelope = ""
	}
	how := "rebuilt"
	if ok && keep > 0 {
		how = "appended"
	}
	kept := 0
	if ok {
		kept = keep
	}
	s.recordScan(ctx, how, msgs, kept, size, from)
	head, tl := coverCRCs(data, size)
	nix := &index{size: size, mtime: mtime, ino: ino, headCRC: head, tailCRC: tl, key: key, msgs: msgs, aux: aux}
	*write = func() { writeIndex(dir, folder, nix) } // best effort: a missing index only costs a scan
	s.cacheIndex(path, nix)
	return msgs, aux, nil
}

// maxCachedMessages bounds the index entries kept decoded in memory (about
// 150 bytes each), across all folders.
const maxCachedMessages = 250000

// cachedIndex returns the decoded index kept for path, or nil. Cached
// indexes are shared by sessions and never modified.
func (s *Spool) cachedIndex(path string) *index {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.indexes[path]
}

// cacheIndex keeps a decoded index, dropping others while the total
// would exceed maxCachedMessages.
func (s *Spool) cacheIndex(path string, ix *index) {
	if len(ix.msgs) > maxCachedMessages {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexes == nil {
		s.indexes = map[string]*index{}
	}
	if old := s.indexes[path]; old != nil {
		s.cachedMsgs -= len(old.msgs)
		delete(s.indexes, path)
	}
	for p, old := range s.indexes {
		if s.cachedMsgs+len(ix.msgs) <= maxCachedMessages {
			break
		}
		s.cachedMsgs -= len(old.msgs)
		delete(s.indexes, p)
	}
	s.indexes[path] = ix
	s.cachedMsgs += len(ix.msgs)
}
