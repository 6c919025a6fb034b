package spool

// The folder index
//
// Scanning a 100,000-message folder means reading all of it. The index
// <dir>/.<FOLDER>.idx keeps what a scan found (message offsets and layout)
// and what the caller derived from each message (an opaque "aux" blob, e.g.
// the size as sent and the UID), so that a login reads one small file:
// the MessageList (entries.go) as fixed-size records. The index of a
// folder used lately is kept decoded in memory too (up to maxCachedBytes
// for all folders), so that a login to it reads nothing.
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
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
)

const (
	indexMagic = "VMSPOPX4" // X1: sizes by the folder rule of before standard mboxrd; X2: varint-encoded; X3: no Tag
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
	list    *MessageList
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

// The index file (version X4):
//
//	magic "VMSPOPX4"
//	folder size, mtime, inode (u64 each); CRC-32C of its first and last
//	4 KiB (u32 each)
//	key length (u32), key
//	message count, aux octets (u64 each)
//	one record per message (entryRecord octets: the entry's fields,
//	little-endian, in their order: start (5 octets), flags, extra
//	newlines (u16), then the u32 fields from fromLen to tag)
//	the aux data of every message, in order
//	CRC-32C of all that (u32)
//
// Fixed-size records decode without parsing; the whole file is checked
// against its CRC before any of it is used.
const entryRecord = 4 + 1 + 1 + 2 + 9*4

// errNoIndexFile: the list holds a message too large for a record.
var errNoIndexFile = errors.New("spool: folder not indexed: a message of more than 4 GiB")

// writeTo writes the serialised index to w, 64 KiB at a time.
func (ix *index) writeTo(w io.Writer) error {
	l := ix.list
	if len(l.big) > 0 {
		return errNoIndexFile
	}
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
	b = appendU32(b, uint32(len(ix.key)))
	b = append(b, ix.key...)
	auxLen := 0
	for _, a := range l.aux {
		auxLen += len(a)
	}
	b = appendU64(b, uint64(len(l.ents)))
	b = appendU64(b, uint64(auxLen))
	for i := range l.ents {
		e := &l.ents[i]
		b = appendU32(b, e.startLo)
		b = append(b, e.startHi, e.flags)
		b = binary.LittleEndian.AppendUint16(b, e.extra)
		for _, v := range [...]uint32{e.fromLen, e.headerEnd, e.bodyStart, e.contentEnd, e.size, e.bodySize, e.sum, e.auxEnd, e.tag} {
			b = appendU32(b, v)
		}
		if len(b) >= 64<<10 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	for _, a := range l.aux {
		for len(a) > 0 {
			n := min(len(a), 64<<10)
			b = append(b, a[:n]...)
			a = a[n:]
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
	const fixed = len(indexMagic) + 8*3 + 4*2 + 4
	if len(b) < fixed+4 || string(b[:len(indexMagic)]) != indexMagic {
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
	kl := uint64(binary.LittleEndian.Uint32(p[32:]))
	p = p[36:]
	if kl+16 > uint64(len(p)) {
		return nil, errBadIndex
	}
	ix.key = string(p[:kl])
	p = p[kl:]
	count, auxLen := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
	p = p[16:]
	if count > uint64(len(p))/entryRecord || auxLen != uint64(len(p))-count*entryRecord {
		return nil, errBadIndex
	}
	recs, auxData := p[:count*entryRecord], p[count*entryRecord:]
	l := &MessageList{ents: make([]entry, count), end: ix.size}
	blockFrom := 0
	for i := range l.ents {
		r := recs[i*entryRecord : (i+1)*entryRecord]
		e := &l.ents[i]
		e.startLo, e.startHi, e.flags = binary.LittleEndian.Uint32(r), r[4], r[5]
		e.extra = binary.LittleEndian.Uint16(r[6:])
		u := func(k int) uint32 { return binary.LittleEndian.Uint32(r[8+4*k:]) }
		e.fromLen, e.headerEnd, e.bodyStart, e.contentEnd = u(0), u(1), u(2), u(3)
		e.size, e.bodySize, e.sum, e.auxEnd, e.tag = u(4), u(5), u(6), u(7), u(8)
		// Offsets in order and inside the covered size; the aux data
		// in order within its block.
		start, end := e.start(), ix.size
		if i+1 < len(l.ents) {
			n := recs[(i+1)*entryRecord:]
			end = int64(n[4])<<32 | int64(binary.LittleEndian.Uint32(n))
		}
		var auxFrom uint32
		if i&(1<<auxShift-1) != 0 {
			auxFrom = l.ents[i-1].auxEnd
		}
		if e.flags&flagBig != 0 || start+int64(e.fromLen) > end || end > ix.size ||
			e.headerEnd > e.bodyStart || e.bodyStart > e.contentEnd ||
			int64(e.contentEnd) > end-start-int64(e.fromLen) || e.auxEnd < auxFrom {
			return nil, errBadIndex
		}
		if i&(1<<auxShift-1) == 1<<auxShift-1 || i == len(l.ents)-1 {
			// The block ends: its aux data is copied out, so that b can go.
			if uint64(blockFrom)+uint64(e.auxEnd) > uint64(len(auxData)) {
				return nil, errBadIndex
			}
			l.aux = append(l.aux, bytes.Clone(auxData[blockFrom:blockFrom+int(e.auxEnd)]))
			blockFrom += int(e.auxEnd)
		}
	}
	if blockFrom != len(auxData) {
		return nil, errBadIndex
	}
	ix.list = l
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
	n := ix.list.Len()
	if size == ix.size {
		if mtime != ix.mtime {
			return 0, false
		}
		return n, true
	}
	// Appended: the last indexed message may have grown; rescan it.
	if n > 0 {
		return n - 1, true
	}
	return 0, true
}

// bigScan is the number of messages from which a scan gives the memory
// it used for a while back to the system before the login is answered.
const bigScan = 100_000

// scanWithIndex scans data (the folder's first size bytes) using and
// refreshing the index; visit is called for messages not in the index.
//
// The new index file is not written here: *write is set to a function that
// writes it, which the caller runs after answering (it is derived data).
func (s *Spool) scanWithIndex(ctx context.Context, dir, folder string, data []byte, size, mtime int64, ino uint64, key string, visit Visitor, prepare Preparer, write *func()) (*MessageList, error) {
	path := indexPath(dir, folder)
	// The index of a folder used lately is kept decoded in memory; it is
	// checked against the folder exactly as the file would be.
	if ix := s.cachedIndex(path); ix != nil {
		if keep, ok := ix.usable(data, size, mtime, ino, key); ok && keep == ix.list.Len() && size == ix.size {
			s.recordScan(ctx, "memory", keep, keep, size, size)
			return ix.list, nil
		}
	}
	ix := loadIndex(dir, folder)
	keep, ok := ix.usable(data, size, mtime, ino, key)
	var known *MessageList
	from := int64(0)
	if ok {
		if keep == ix.list.Len() && size == ix.size {
			s.cacheIndex(path, ix)
			s.recordScan(ctx, "file", keep, keep, size, size)
			return ix.list, nil
		}
		known = ix.list.prefix(keep)
		from = known.end
	}
	l, err := scanAndVisit(ctx, data, from, known, visit, prepare, pipelineWorth(len(data)-int(from)))
	if err != nil {
		if from > 0 && errors.Is(err, ErrFormat) {
			// Let a full scan report the error against the whole file.
			return s.scanWithIndex(ctx, dir, folder, data, size, mtime, ino, "\x00invalid", visit, prepare, write)
		}
		return nil, err
	}
	how := "rebuilt"
	if ok && keep > 0 {
		how = "appended"
	}
	kept := 0
	if ok {
		kept = keep
	}
	s.recordScan(ctx, how, l.Len(), kept, size, from)
	head, tl := coverCRCs(data, size)
	nix := &index{size: size, mtime: mtime, ino: ino, headCRC: head, tailCRC: tl, key: key, list: l}
	*write = func() { writeIndex(dir, folder, nix) } // best effort: a missing index only costs a scan
	s.cacheIndex(path, nix)
	if l.Len()-kept >= bigScan {
		// A scan of a large folder leaves behind garbage of about 1 KB
		// per message (decoded and rebuilt headers, UIDs seen), which let
		// the heap grow to about twice what the list keeps: it is given
		// back now rather than held (a million messages: about 100 MB, in
		// a collection of a fraction of a second).
		debug.FreeOSMemory()
	}
	return l, nil
}

// maxCachedBytes bounds the memory of the indexes kept decoded in memory
// (MessageList.memSize: about 85 bytes a message), across all folders.
const maxCachedBytes = 160 << 20

// cachedIndex returns the decoded index kept for path, or nil. Cached
// indexes are shared by sessions and never modified.
func (s *Spool) cachedIndex(path string) *index {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.indexes[path]
}

// cacheIndex keeps a decoded index, dropping others while the total
// would exceed maxCachedBytes.
func (s *Spool) cacheIndex(path string, ix *index) {
	size := ix.list.memSize()
	if size > maxCachedBytes {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexes == nil {
		s.indexes = map[string]*index{}
	}
	if old := s.indexes[path]; old != nil {
		s.cachedMsgs -= old.list.memSize()
		delete(s.indexes, path)
	}
	for p, old := range s.indexes {
		if s.cachedMsgs+size <= maxCachedBytes {
			break
		}
		s.cachedMsgs -= old.list.memSize()
		delete(s.indexes, p)
	}
	s.indexes[path] = ix
	s.cachedMsgs += size
}
