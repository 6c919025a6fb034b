package spool

// The redo log of delivery: a small message is made durable by one
// fdatasync of <dir>/.redo, a file overwritten in place, and written to its
// folder without a sync; the folder is synced once for many messages, at a
// checkpoint. The protocol is described at the top of deliver.go.

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

// redoLogName is the redo log file of a user directory.
const redoLogName = ".redo"

// Layout of the redo log.
const (
	redoStart   = 4096 // offset of the first entry (the hint has the block before it to itself)
	redoEntry   = 256  // size of an entry's header (a hint is as big)
	redoAlign   = 512  // entries start on a sector
	redoInitial = 64 << 10
	// DefaultRedoLog is the size of a user's redo log when Spool.RedoLog
	// is zero.
	DefaultRedoLog = 256 << 10
	// redoMaxAge bounds how long an entry stays in the log: a log whose
	// first entry is older is checkpointed by the next delivery or lock
	// of that user. After a power loss a replay writes an entry whose
	// bytes are not whole in its folder; if another program rewrote that
	// folder in place meanwhile, those bytes are its, not a lost append.
	// The bound keeps that window short (the kernel writes dirty pages
	// back within about 30 s anyway, so the checkpoint's sync is cheap).
	redoMaxAge = 30 * time.Second
)

// stale says whether the log's entries (if any) are older than redoMaxAge.
func (h redoHint) stale(now time.Time) bool {
	return h.seq > 1 && now.Sub(time.Unix(h.since, 0)) > redoMaxAge
}

// redoLogSize is the capacity of the redo log; 0 means none (two syncs per
// delivery).
func (s *Spool) redoLogSize() int64 {
	switch {
	case s.RedoLog < 0:
		return 0
	case s.RedoLog == 0:
		return DefaultRedoLog
	}
	return max(s.RedoLog, redoStart+2*redoAlign) / redoAlign * redoAlign
}

// bootID identifies this boot of this host: the hint of a redo log written
// in another boot (or on another host, over NFS) says nothing of what the
// page cache holds. Empty when unknown: no hint is then trusted.
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// crashPoint, when set (only ever by the crash tests, in a child process
// they kill), is called at the named instants of the protocol.
var crashPoint func(point string)

func reached(point string) {
	if crashPoint != nil {
		crashPoint(point)
	}
}

// seal makes a 256-byte record of the fields: they, space-padded, then the
// CRC-32C of all that, then a newline.
func seal(fields ...string) []byte {
	b := make([]byte, redoEntry)
	sealInto(b, fields...)
	return b
}

func sealInto(b []byte, fields ...string) {
	n := copy(b[:redoEntry-10], strings.Join(fields, " "))
	for i := n; i < redoEntry-10; i++ {
		b[i] = ' '
	}
	copy(b[redoEntry-10:redoEntry], fmt.Sprintf(" %08x\n", crc32.Checksum(b[:redoEntry-10], castagnoli)))
}

// unseal returns the fields of a sealed record, or false when it is torn,
// foreign or of another kind than magic.
func unseal(b []byte, magic string, nfields int) ([]string, bool) {
	if len(b) < redoEntry || b[redoEntry-1] != '\n' {
		return nil, false
	}
	sum, err := strconv.ParseUint(string(b[redoEntry-9:redoEntry-1]), 16, 32)
	if err != nil || uint32(sum) != crc32.Checksum(b[:redoEntry-10], castagnoli) {
		return nil, false
	}
	f := strings.Fields(string(b[:redoEntry-10]))
	if len(f) != nfields || f[0] != magic || f[1] != "1" {
		return nil, false
	}
	return f, true
}

// redoHint is the first record of the log: where the next entry goes, and
// that every entry before it is in its folder (in the page cache of boot
// Boot). It is never synced on its own and never trusted from another
// boot.
type redoHint struct {
	gen    uint64 // generation of the entries
	seq    uint64 // sequence number of the next entry
	tail   int64  // offset of the next entry
	folder string // folder of the entries ("-" when none)
	ino    uint64 // its inode
	since  int64  // Unix time of the first entry after the last checkpoint
	boot   string
}

func (h redoHint) encode() []byte {
	return seal("vmspop-redo-hint", "1", u64(h.gen), u64(h.seq), strconv.FormatInt(h.tail, 10), h.folder, u64(h.ino), strconv.FormatInt(h.since, 10), h.boot)
}

func decodeHint(b []byte) (h redoHint, ok bool) {
	f, ok := unseal(b, "vmspop-redo-hint", 9)
	if !ok {
		return h, false
	}
	var e [5]error
	h.gen, e[0] = strconv.ParseUint(f[2], 10, 64)
	h.seq, e[1] = strconv.ParseUint(f[3], 10, 64)
	h.tail, e[2] = strconv.ParseInt(f[4], 10, 64)
	h.folder = f[5]
	h.ino, e[3] = strconv.ParseUint(f[6], 10, 64)
	h.since, e[4] = strconv.ParseInt(f[7], 10, 64)
	h.boot = f[8]
	if errors.Join(e[:]...) != nil || h.tail < redoStart || h.seq == 0 {
		return h, false
	}
	return h, true
}

// redoEntryHead is the header of an entry: "start" (sequence 0, the first
// entry of a generation, no data) or "data" (the bytes FROM..TO of FOLDER,
// inode INO, whose CRC-32C is CRC, follow the header).
type redoEntryHead struct {
	kind     string
	gen, seq uint64
	folder   string
	ino      uint64
	from, to int64
	crc      uint32
}

func (e redoEntryHead) sealInto(b []byte) {
	sealInto(b, "vmspop-redo-entry", "1", e.kind, u64(e.gen), u64(e.seq), e.folder, u64(e.ino),
		strconv.FormatInt(e.from, 10), strconv.FormatInt(e.to, 10), fmt.Sprintf("%08x", e.crc))
}

func decodeEntryHead(b []byte) (e redoEntryHead, ok bool) {
	f, ok := unseal(b, "vmspop-redo-entry", 10)
	if !ok {
		return e, false
	}
	e.kind, e.folder = f[2], f[5]
	var x [6]error
	var c uint64
	e.gen, x[0] = strconv.ParseUint(f[3], 10, 64)
	e.seq, x[1] = strconv.ParseUint(f[4], 10, 64)
	e.ino, x[2] = strconv.ParseUint(f[6], 10, 64)
	e.from, x[3] = strconv.ParseInt(f[7], 10, 64)
	e.to, x[4] = strconv.ParseInt(f[8], 10, 64)
	c, x[5] = strconv.ParseUint(f[9], 16, 32)
	e.crc = uint32(c)
	if errors.Join(x[:]...) != nil || e.from < 0 || e.to < e.from {
		return e, false
	}
	switch {
	case e.kind == "start" && e.seq == 0:
	case e.kind == "data" && e.seq > 0 && ValidName(e.folder):
	default:
		return e, false
	}
	return e, true
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// next is the offset of the entry after one at off with n data bytes.
func nextEntry(off, n int64) int64 {
	end := off + redoEntry + n
	return (end + redoAlign - 1) / redoAlign * redoAlign
}

// redoLog is an open redo log.
type redoLog struct {
	dir  string
	f    *os.File
	size int64 // of the file
}

// openRedo opens dir's redo log; a non-zero capacity makes it (empty,
// durably) when it does not exist, else a missing log gives nil and no
// error.
func openRedo(dir string, capacity int64) (*redoLog, error) {
	path := filepath.Join(dir, redoLogName)
	f, err := openNoFollow(path, os.O_RDWR)
	if errors.Is(err, os.ErrNotExist) && capacity > 0 {
		// Made whole beside it and renamed, so that it never exists half
		// written; its first blocks are written (not a hole), so that
		// entries overwrite them in place.
		tmp, terr := createReplacing(path+".new", path)
		if terr != nil {
			return nil, terr
		}
		b := make([]byte, min(redoInitial, capacity))
		gen := newGeneration(0)
		copy(b, redoHint{gen: gen, seq: 1, tail: nextEntry(redoStart, 0), folder: "-", boot: bootID()}.encode())
		redoEntryHead{kind: "start", gen: gen, folder: "-"}.sealInto(b[redoStart:])
		if terr := atomicfile.Commit(tmp, path, b); terr != nil {
			os.Remove(path + ".new")
			return nil, terr
		}
		f, err = openNoFollow(path, os.O_RDWR)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &redoLog{dir: dir, f: f, size: fi.Size()}, nil
}

func (l *redoLog) close() { l.f.Close() }

// newGeneration is a generation number above old, and above any used
// before when old is not known (0): the clock.
func newGeneration(old uint64) uint64 {
	return max(old+1, uint64(time.Now().UnixNano()))
}

func (l *redoLog) hint() (redoHint, bool) {
	b := make([]byte, redoEntry)
	if _, err := l.f.ReadAt(b, 0); err != nil {
		return redoHint{}, false
	}
	return decodeHint(b)
}

func (l *redoLog) writeHint(h redoHint) error {
	_, err := l.f.WriteAt(h.encode(), 0)
	return err
}

// head reads the header of the entry at off.
func (l *redoLog) head(off int64) (redoEntryHead, bool) {
	b := make([]byte, redoEntry)
	if off+redoEntry > l.size {
		return redoEntryHead{}, false
	}
	if _, err := l.f.ReadAt(b, off); err != nil {
		return redoEntryHead{}, false
	}
	return decodeEntryHead(b)
}

// redoData is an entry read back whole from the log.
type redoData struct {
	redoEntryHead
	data []byte
}

// entries reads the log's entries: the start entry's generation, then
// every data entry of that generation in sequence, up to the first that
// is missing, torn or of another generation (the log ends there).
func (l *redoLog) entries() (gen uint64, out []redoData, ok bool) {
	start, ok := l.head(redoStart)
	if !ok || start.kind != "start" {
		return 0, nil, false
	}
	off := nextEntry(redoStart, 0)
	for seq := uint64(1); ; seq++ {
		e, ok := l.head(off)
		if !ok || e.kind != "data" || e.gen != start.gen || e.seq != seq || off+redoEntry+(e.to-e.from) > l.size {
			return start.gen, out, true
		}
		data := make([]byte, e.to-e.from)
		if _, err := l.f.ReadAt(data, off+redoEntry); err != nil || crc32.Checksum(data, castagnoli) != e.crc {
			return start.gen, out, true // torn: never synced, so never acknowledged
		}
		out = append(out, redoData{e, data})
		off = nextEntry(off, e.to-e.from)
	}
}

// recoverRedo makes every entry of dir's redo log whole in its folder
// after a crash: at once when the hint, written in this boot, shows that
// nothing was logged after the last entry written to its folder; else by
// replaying the log and taking a checkpoint. The caller holds the folder
// lock.
func recoverRedo(dir string) error {
	l, err := openRedo(dir, 0)
	if l == nil {
		return err
	}
	defer l.close()
	if h, ok := l.hint(); ok && h.boot != "" && h.boot == bootID() {
		if e, ok := l.head(h.tail); !ok || e.gen != h.gen || e.seq != h.seq {
			if h.stale(time.Now()) {
				return l.checkpoint(h)
			}
			return nil
		}
	}
	return l.replay()
}

// replay writes each logged entry whose bytes are not whole in its folder
// (the CRC of FROM..TO) to it, in order, syncs the folders and empties the
// log. Writing an entry again is harmless, so a crash during replay only
// means it is done again. An entry whose folder is gone or is another file
// (another inode: replaced outside vmspop, for an update empties the log
// first) is skipped.
func (l *redoLog) replay() error {
	gen, ents, _ := l.entries()
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, e := range ents {
		f, seen := files[e.folder]
		if !seen {
			var err error
			f, err = openNoFollow(filepath.Join(l.dir, e.folder), os.O_RDWR)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			files[e.folder] = f // nil: gone
		}
		if f == nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Sys().(*syscall.Stat_t).Ino != e.ino {
			continue
		}
		if fi.Size() >= e.to {
			h := crc32.New(castagnoli)
			if _, err := io.Copy(h, io.NewSectionReader(f, e.from, e.to-e.from)); err != nil {
				return err
			}
			if h.Sum32() == e.crc {
				continue
			}
		}
		if _, err := f.WriteAt(e.data, e.from); err != nil {
			return err
		}
		reached("replayed")
	}
	var synced []*os.File
	for _, f := range files {
		if f != nil {
			synced = append(synced, f)
		}
	}
	return l.reset(gen, synced...)
}

// reset is the checkpoint's end: the folders written since the last one
// are synced, then the log is emptied (a new start entry), synced.
func (l *redoLog) reset(gen uint64, folders ...*os.File) error {
	for _, f := range folders {
		if err := fdatasync(f); err != nil {
			return err
		}
	}
	reached("folders synced")
	gen = newGeneration(gen)
	b := make([]byte, redoEntry)
	redoEntryHead{kind: "start", gen: gen, folder: "-"}.sealInto(b)
	if _, err := l.f.WriteAt(b, redoStart); err != nil {
		return err
	}
	if err := l.writeHint(redoHint{gen: gen, seq: 1, tail: nextEntry(redoStart, 0), folder: "-", boot: bootID()}); err != nil {
		return err
	}
	return fdatasync(l.f)
}

// checkpoint syncs the folder of the log's entries and empties the log;
// h is the hint, trusted (recoverRedo ran under the same lock).
func (l *redoLog) checkpoint(h redoHint) error {
	if h.seq == 1 {
		return nil
	}
	var folders []*os.File
	f, err := openNoFollow(filepath.Join(l.dir, h.folder), os.O_RDWR)
	switch {
	case err == nil:
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Sys().(*syscall.Stat_t).Ino == h.ino {
			folders = append(folders, f)
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	return l.reset(h.gen, folders...)
}

// settleRedo takes a checkpoint of dir's redo log if it holds entries, so
// that none refers to a folder an update is about to replace (whose inode
// number a later file may reuse). The caller holds the folder lock.
func settleRedo(dir string) error {
	l, err := openRedo(dir, 0)
	if l == nil {
		return err
	}
	defer l.close()
	h, ok := l.hint()
	if !ok || h.boot != bootID() {
		return l.replay()
	}
	return l.checkpoint(h)
}

// grow extends the log with written zeros to hold an entry ending at end
// (doubling, up to capacity), so that later entries there overwrite it in
// place; the next sync of the log makes it durable.
func (l *redoLog) grow(end, capacity int64) error {
	if end <= l.size {
		return nil
	}
	n := min(max(end, 2*l.size), capacity)
	n = (n + redoAlign - 1) / redoAlign * redoAlign
	if _, err := l.f.WriteAt(make([]byte, n-l.size), l.size); err != nil {
		return err
	}
	l.size = n
	return nil
}

// errTooBig says a delivery does not fit in the redo log.
var errTooBig = errors.New("spool: delivery bigger than the redo log")

// limitBuffer is a bytes.Buffer that refuses to grow past limit.
type limitBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, errTooBig
	}
	return b.Buffer.Write(p)
}

// deliverRedo is deliverLocked through the redo log (see deliver.go): it
// returns errTooBig, having changed nothing, when msgs do not fit in it.
func (s *Spool) deliverRedo(dir, path string, msgs []Delivery, capacity int64) error {
	l, err := openRedo(dir, capacity)
	if err != nil {
		return err
	}
	defer l.close()
	// recoverRedo ran under this lock: the hint is right, or the log was
	// just made.
	h, ok := l.hint()
	if !ok || h.boot != bootID() {
		if err := l.replay(); err != nil {
			return err
		}
		if h, ok = l.hint(); !ok {
			return errTooBig // the two-flush path needs no log
		}
	}
	f, from, ino, nl, err := openFolderEnd(dir, path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, _ := s.redoBufs.Get().(*limitBuffer)
	if buf == nil {
		buf = &limitBuffer{}
	}
	defer s.redoBufs.Put(buf)
	buf.Reset()
	buf.limit = int(capacity - nextEntry(redoStart, 0))
	buf.Write(make([]byte, redoEntry)) // the header's place
	if err := formatDeliveries(buf, nl, msgs); err != nil {
		return err
	}
	b := buf.Bytes()
	data := b[redoEntry:]
	name := filepath.Base(path)
	now := time.Now()
	if h.seq > 1 && (h.folder != name || h.ino != ino) || nextEntry(h.tail, int64(len(data))) > capacity || h.stale(now) {
		// The log holds another folder's entries, is full or old.
		if err := l.checkpoint(h); err != nil {
			return err
		}
		if h, ok = l.hint(); !ok {
			return fmt.Errorf("spool: %s: unreadable after a checkpoint", l.f.Name())
		}
	}
	e := redoEntryHead{kind: "data", gen: h.gen, seq: h.seq, folder: name, ino: ino, from: from, to: from + int64(len(data)), crc: crc32.Checksum(data, castagnoli)}
	e.sealInto(b)
	if err := l.grow(h.tail+int64(len(b)), capacity); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(b, h.tail); err != nil {
		return l.abandon(h.tail, err)
	}
	if err := fdatasync(l.f); err != nil {
		return l.abandon(h.tail, err)
	}
	// Durable: a crash from here on leaves the entry, which recovery
	// writes to the folder if it is not there whole.
	reached("logged")
	if _, err := f.WriteAt(data, from); err != nil {
		// Undo: the folder cut back durably before the entry goes, so
		// that no unlogged bytes can stay in it.
		if terr := f.Truncate(from); terr != nil {
			return errors.Join(err, terr)
		}
		if serr := fdatasync(f); serr != nil {
			return errors.Join(err, serr)
		}
		if _, zerr := l.f.WriteAt(make([]byte, redoEntry), h.tail); zerr != nil {
			return errors.Join(err, zerr)
		}
		return errors.Join(err, fdatasync(l.f))
	}
	reached("written")
	if h.seq == 1 {
		h.since = now.Unix()
	}
	h.seq++
	h.tail = nextEntry(h.tail, int64(len(data)))
	h.folder, h.ino = name, ino
	return l.writeHint(h) // not synced: a hint
}

// abandon wipes the header of an entry whose write or sync failed (it was
// not acknowledged), so that recovery does not deliver it later.
func (l *redoLog) abandon(off int64, cause error) error {
	l.f.WriteAt(make([]byte, redoEntry), off)
	return cause
}
