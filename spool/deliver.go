package spool

// Deliver: the append of delivery (vmspop deliver, LMTP). A message is
// made durable with one device flush: it is written, with a record of where
// it goes, into a per-user redo log that is overwritten in place, and that
// log is synced; the folder is written without a sync, and synced once for
// many messages at a checkpoint. A message too big for the log takes the
// commit record's path (two flushes). Both survive a kill or a power loss at
// any instant: no acknowledged message is lost, none is written twice or
// left partial, and the folder stays standard mboxrd throughout.
//
// The redo log (redo.go)
//
// <dir>/.redo is made once (whole, synced, renamed into place), with its
// blocks written, not a hole: entries overwrite them, so the file's size
// and blocks do not change and fdatasync writes the data and flushes the
// device without a file-system journal commit (the log grows, by doubling
// up to its size, Spool.RedoLog, only while it is first filled). It holds:
//
//	offset 0     the hint: GEN SEQ TAIL FOLDER INODE BOOT (256 bytes)
//	offset 4096  the start entry of generation GEN (256 bytes)
//	then         data entries SEQ = 1, 2, ..., each a 256-byte header
//	             "data GEN SEQ FOLDER INODE FROM TO CRC" and the TO-FROM
//	             bytes of the append, the next on the following 512-byte
//	             boundary
//
// Every header and the hint end with their own CRC-32C; CRC is the CRC-32C
// of the data. The log's entries are the data entries of the start entry's
// generation in sequence, up to the first that is missing, torn (a CRC
// fails) or of another generation.
//
// A delivery (deliverRedo), under the folder lock, after recovery:
//
//  1. the bytes B to append at FROM (the folder's size) are formatted in
//     memory; if the log holds entries of another folder or inode, or B
//     does not fit after TAIL, a checkpoint comes first;
//  2. the entry "data GEN SEQ FOLDER INODE FROM FROM+len(B) crc(B)" and B
//     are written at TAIL and the log is fdatasynced: the message is
//     durable, whatever happens next;
//  3. B is written to the folder at FROM, not synced;
//  4. the hint "GEN SEQ+1 TAIL' FOLDER INODE SINCE BOOT" is written, not
//     synced (SINCE: when the first entry after the last checkpoint was
//     logged):
//     in this boot (BOOT, the kernel's boot_id), every entry before TAIL'
//     is in its folder, in the page cache, which a killed process does not
//     take with it.
//
// If step 3 fails, the folder is cut back to FROM and synced, then the
// entry is wiped and the log synced: no bytes of an entry reach a folder
// before the entry is durable, so there is never an unlogged partial tail
// to cut. If step 2 fails, the entry is wiped (it was never acknowledged).
//
// A checkpoint syncs the folder of the entries, then writes a new start
// entry (generation GEN+1) and the hint for it, and syncs the log: every
// earlier entry is void, and on disk the log is empty. It runs when the
// log is full, when a delivery goes to another folder (or inode), before an
// update, and when the first entry is older than redoMaxAge (30 s), at the
// next delivery or lock of the user, so that entries do not wait in the
// log for long (see below).
//
// Recovery (recoverRedo, under the folder lock before any other work): if
// the hint is whole, was written in this boot, and no entry GEN SEQ is at
// TAIL, every entry is in its folder and there is nothing to do. Otherwise
// (a process killed after step 2, a power loss, another host over NFS) the
// log is replayed: each entry whose folder is the same file (inode) and
// whose bytes FROM..TO are not there whole (size and CRC) is written there,
// in order, then the folders are synced and a checkpoint empties the log.
// Writing an entry again changes nothing, so a crash during the replay only
// means it is done again. A torn entry was never synced, so never
// acknowledged, and no byte of it reached the folder: it ends the log and
// is dropped.
//
// Checking by content is right only while the folder's bytes FROM..TO can
// change in no other way than by the append itself: appends after TO (by
// Append or another delivery agent) leave them; an update (Commit, Purge)
// replaces the folder with another file, whose inode number may be one an
// entry names, so it first takes a checkpoint (settleAppend), and the
// journal's undo only cuts folders back to sizes taken after that. Another
// program that rewrites a folder in place (mutt does, under the dotlock)
// breaks that rule; only a replay after a power loss could then write
// logged bytes over its own, and the age bound keeps the entries that a
// replay would consider to the last half minute of deliveries in practice.
//
// The commit record
//
// A delivery bigger than the redo log (or with Spool.RedoLog < 0) uses
// <dir>/.append, one fixed-size record (recordSize bytes, rewritten in
// place):
//
//	vmspop-append 1 STATE FOLDER INODE FROM TO CRC32C ... RECORD-CRC32C\n
//
// An append of bytes B to FOLDER (FROM bytes long, inode INODE) is:
//
//  1. the record "pending FOLDER INODE FROM FROM+len(B) crc(B)", fdatasynced;
//  2. B written at FROM, the folder fdatasynced: the append is durable now,
//     and Deliver returns;
//  3. the record "done", not synced (a crash may leave "pending" on disk).
//
// Recovery (recoverAppend, after the redo log's): a "pending" record whose
// bytes are in the folder whole (size >= TO and the CRC of FROM..TO
// matches) is an append that finished; otherwise the append did not finish,
// and the folder is cut back to FROM (and synced) before the record becomes
// "done" (synced). A record whose own CRC fails was torn while being
// written, before any byte of its append (step 1 completes first), so it is
// ignored; "done" and "clear" need nothing. Redo entries logged before a
// pending record end at or before its FROM, and none is logged after it
// until it is durable, so replaying them first and then cutting back is
// right in every case. The same reasoning about inode reuse holds: an
// update settles the record (resolves it and writes "clear", synced) before
// it replaces a folder.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mbox "github.com/emersion/go-mbox"
	"golang.org/x/sys/unix"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

// appendLogName is the commit record file of a user directory.
const appendLogName = ".append"

// recordSize is the size of the commit record (within one disk sector, so
// a write of it is torn only at a power loss, which its CRC detects).
const recordSize = 256

// Delivery is a message for Deliver: like NewMessage, but Open returns the
// text afresh at each call (Deliver reads it twice: once to know the bytes
// it will write, once to write them).
type Delivery struct {
	Envelope string
	Date     time.Time
	Open     func() io.Reader
}

// appendRecord is the content of the commit record.
type appendRecord struct {
	state    string // "pending", "done" or "clear"
	folder   string
	ino      uint64
	from, to int64
	crc      uint32
}

func (r appendRecord) encode() []byte {
	folder := r.folder
	if folder == "" {
		folder = "-"
	}
	b := make([]byte, recordSize)
	line := fmt.Sprintf("vmspop-append 1 %s %s %d %d %d %08x", r.state, folder, r.ino, r.from, r.to, r.crc)
	n := copy(b, line)
	for i := n; i < recordSize-10; i++ {
		b[i] = ' '
	}
	copy(b[recordSize-10:], fmt.Sprintf(" %08x\n", crc32.Checksum(b[:recordSize-10], castagnoli)))
	return b
}

// decodeRecord parses a commit record; ok is false for a torn or foreign
// one.
func decodeRecord(b []byte) (r appendRecord, ok bool) {
	if len(b) != recordSize || b[recordSize-1] != '\n' {
		return r, false
	}
	sum, err := strconv.ParseUint(string(b[recordSize-9:recordSize-1]), 16, 32)
	if err != nil || uint32(sum) != crc32.Checksum(b[:recordSize-10], castagnoli) {
		return r, false
	}
	f := strings.Fields(string(b[:recordSize-10]))
	if len(f) != 8 || f[0] != "vmspop-append" || f[1] != "1" {
		return r, false
	}
	r.state, r.folder = f[2], f[3]
	var e1, e2, e3, e4 error
	r.ino, e1 = strconv.ParseUint(f[4], 10, 64)
	r.from, e2 = strconv.ParseInt(f[5], 10, 64)
	r.to, e3 = strconv.ParseInt(f[6], 10, 64)
	var c uint64
	c, e4 = strconv.ParseUint(f[7], 16, 32)
	r.crc = uint32(c)
	if errors.Join(e1, e2, e3, e4) != nil || r.from < 0 || r.to < r.from {
		return r, false
	}
	switch r.state {
	case "pending":
		if !ValidName(r.folder) {
			return r, false
		}
	case "done", "clear":
	default:
		return r, false
	}
	return r, true
}

// appendLog is an open commit record file.
type appendLog struct {
	dir string
	f   *os.File
}

// openAppendLog opens the commit record file of dir; create makes it (with
// a "clear" record, durably) when it does not exist, else a missing file
// gives a nil *appendLog and no error.
func openAppendLog(dir string, create bool) (*appendLog, error) {
	path := filepath.Join(dir, appendLogName)
	f, err := openNoFollow(path, os.O_RDWR)
	if err == nil {
		return &appendLog{dir: dir, f: f}, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return nil, err
	}
	// Made whole beside it and renamed, so it never exists half written.
	tmp, err := createReplacing(path+".new", path)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Commit(tmp, path, appendRecord{state: "clear"}.encode()); err != nil {
		os.Remove(path + ".new")
		return nil, err
	}
	f, err = openNoFollow(path, os.O_RDWR)
	if err != nil {
		return nil, err
	}
	return &appendLog{dir: dir, f: f}, nil
}

func (l *appendLog) close() { l.f.Close() }

func (l *appendLog) read() (appendRecord, bool) {
	b := make([]byte, recordSize)
	if n, err := l.f.ReadAt(b, 0); n != recordSize && err != nil {
		return appendRecord{}, false
	}
	return decodeRecord(b)
}

// write puts r in the file; sync makes it durable first.
func (l *appendLog) write(r appendRecord, sync bool) error {
	if _, err := l.f.WriteAt(r.encode(), 0); err != nil {
		return err
	}
	if sync {
		return fdatasync(l.f)
	}
	return nil
}

func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// resolve finishes a "pending" record (see the top of this file): it leaves
// an append that completed and cuts back one that did not. The record is
// "done" afterwards, durably when the folder was cut.
func (l *appendLog) resolve(r appendRecord) error {
	if r.state != "pending" {
		return nil
	}
	f, err := openNoFollow(filepath.Join(l.dir, r.folder), os.O_RDWR)
	if errors.Is(err, os.ErrNotExist) {
		return l.write(appendRecord{state: "done"}, true)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Sys().(*syscall.Stat_t).Ino != r.ino {
		// Not the file appended to (replaced outside vmspop).
		return l.write(appendRecord{state: "done"}, true)
	}
	if fi.Size() >= r.to {
		h := crc32.New(castagnoli)
		if _, err := io.Copy(h, io.NewSectionReader(f, r.from, r.to-r.from)); err != nil {
			return err
		}
		if h.Sum32() == r.crc {
			return l.write(appendRecord{state: "done"}, false)
		}
	}
	if fi.Size() > r.from {
		if err := f.Truncate(r.from); err != nil {
			return err
		}
		if err := fdatasync(f); err != nil {
			return err
		}
	}
	return l.write(appendRecord{state: "done"}, true)
}

// recoverAppend resolves dir's commit record, if any. The caller holds the
// folder lock.
func recoverAppend(dir string) error {
	l, err := openAppendLog(dir, false)
	if l == nil {
		return err
	}
	defer l.close()
	r, ok := l.read()
	if !ok {
		return nil
	}
	return l.resolve(r)
}

// settleAppend makes dir's commit record durably "clear" (resolving it
// first), so that no record refers to a folder an update is about to
// replace. The caller holds the folder lock.
func settleAppend(dir string) error {
	if err := settleRedo(dir); err != nil {
		return err
	}
	l, err := openAppendLog(dir, false)
	if l == nil {
		return err
	}
	defer l.close()
	r, ok := l.read()
	if ok && r.state == "clear" {
		return nil
	}
	if ok {
		if err := l.resolve(r); err != nil {
			return err
		}
	}
	return l.write(appendRecord{state: "clear"}, true)
}

// Deliver appends msgs to a folder of user under the folder lock, creating
// the user's directory and the folder as needed, as Append does, and
// returns only once they are durable; a crash before they are leaves
// either no trace of them or all of them. It commits through the redo log
// described at the top of this file (one fdatasync of a file overwritten
// in place), or, for messages too big for it, the commit record (two
// fdatasyncs), where Append makes, syncs and removes a journal file.
func (s *Spool) Deliver(ctx context.Context, user, folder string, msgs []Delivery) error {
	_, path, err := s.folderPath(user, folder)
	if err != nil {
		return err
	}
	return s.withFolderLock(ctx, user, true, func(dir string) error {
		if n := s.redoLogSize(); n > 0 {
			err := s.deliverRedo(dir, path, msgs, n)
			if !errors.Is(err, errTooBig) {
				return mapErr(err)
			}
		}
		return mapErr(deliverLocked(dir, path, msgs))
	})
}

func deliverLocked(dir, path string, msgs []Delivery) error {
	l, err := openAppendLog(dir, true)
	if err != nil {
		return err
	}
	defer l.close()
	// withFolderLock has resolved the record (recoverDir).
	f, from, ino, nl, err := openFolderEnd(dir, path)
	if err != nil {
		return err
	}
	defer f.Close()
	// First pass: the bytes to be written, counted and summed.
	sum := &crcCounter{h: crc32.New(castagnoli)}
	if err := formatDeliveries(sum, nl, msgs); err != nil {
		return err
	}
	rec := appendRecord{state: "pending", folder: filepath.Base(path), ino: ino, from: from, to: from + sum.n, crc: sum.h.Sum32()}
	if err := l.write(rec, true); err != nil {
		return err
	}
	// Second pass: the same bytes into the folder, summed again.
	undo := func(cause error) error {
		if err := f.Truncate(from); err != nil {
			return errors.Join(cause, err)
		}
		if err := fdatasync(f); err != nil {
			return errors.Join(cause, err)
		}
		return errors.Join(cause, l.write(appendRecord{state: "done"}, true))
	}
	check := &crcCounter{h: crc32.New(castagnoli)}
	// A buffer the size of the message (within 4 KiB..64 KiB): a 64 KiB
	// one per small message was 5 % of the LMTP server's CPU in
	// allocation and GC.
	w := bufio.NewWriterSize(io.MultiWriter(&offsetWriter{f: f, off: from}, check), int(min(max(sum.n, 4<<10), 64<<10)))
	if err := formatDeliveries(w, nl, msgs); err != nil {
		return undo(err)
	}
	if err := w.Flush(); err != nil {
		return undo(err)
	}
	if check.n != sum.n || check.h.Sum32() != rec.crc {
		return undo(fmt.Errorf("spool: %s: a message read differently the second time", path))
	}
	if err := fdatasync(f); err != nil {
		return undo(err)
	}
	// Durable. A crash before the next line leaves "pending", which the
	// next recovery finds complete.
	l.write(appendRecord{state: "done"}, false)
	return nil
}

// openFolder opens the folder file path for writing, creating it (with the
// directory's owner) if needed; created says it did.
// openFolderEnd opens (or makes, its directory synced) the folder to
// append to, and returns its size, its inode and whether a newline must
// end its last message first.
func openFolderEnd(dir, path string) (f *os.File, size int64, ino uint64, nl bool, err error) {
	f, created, err := openFolder(path)
	if err != nil {
		return nil, 0, 0, false, err
	}
	fail := func(err error) (*os.File, int64, uint64, bool, error) {
		f.Close()
		return nil, 0, 0, false, err
	}
	if created {
		if err := atomicfile.SyncDir(dir); err != nil {
			return fail(err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	size = fi.Size()
	if nl, err = needsNewline(f, size); err != nil {
		return fail(err)
	}
	return f, size, fi.Sys().(*syscall.Stat_t).Ino, nl, nil
}

func openFolder(path string) (*os.File, bool, error) {
	f, err := openNoFollow(path, os.O_RDWR)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return f, false, err
	}
	f, err = openOrCreate(path)
	return f, err == nil, err
}

// needsNewline reports whether the folder's first size bytes do not end
// with a line end (an append must start a line).
func needsNewline(f *os.File, size int64) (bool, error) {
	if size == 0 {
		return false, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

// formatDeliveries writes msgs to w as Append writes them (after a newline
// when nl).
func formatDeliveries(w io.Writer, nl bool, msgs []Delivery) error {
	if nl {
		if _, err := w.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	mw := mbox.NewWriter(w)
	for _, m := range msgs {
		if err := WriteMessage(mw, sanitizeEnvelope(m.Envelope), m.Date, m.Open()); err != nil {
			return err
		}
	}
	return mw.Close()
}

// crcCounter counts and sums what is written to it.
type crcCounter struct {
	h hash.Hash32
	n int64
}

func (c *crcCounter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// offsetWriter writes sequentially from off with pwrite.
type offsetWriter struct {
	f   *os.File
	off int64
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}
