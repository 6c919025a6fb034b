package spool

// UPDATE (Box.Commit): moving and deleting messages in one journalled,
// fsynced update, and the journal that makes it atomic.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

// Commit applies a session's UPDATE: messages in del leave the folder (to
// WASTEBASKET, or dropped when purge is set), messages in move go to MAIL,
// every other message stays, and so does mail appended since the snapshot.
// It is atomic: after a crash at any instant, the next operation on the
// user's folders finishes or undoes it, so that every message is in exactly
// one folder.
func (b *Box) Commit(ctx context.Context, del, move []int, purge bool) error {
	b.waitIndex() // its file must not land after the one Commit carries over
	if len(del) == 0 && len(move) == 0 || !b.exists {
		return nil
	}
	if _, err := b.file(); err != nil {
		return err
	}
	gone := make(map[int]bool, len(del)+len(move))
	for _, i := range del {
		gone[i] = true
	}
	for _, i := range move {
		gone[i] = true
	}
	return b.s.withFolderLock(ctx, b.user, false, func(dir string) error {
		path := filepath.Join(dir, b.folder)
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Ino != b.ino || fi.Size() < b.size {
			return fmt.Errorf("spool: %s was replaced during the session; nothing changed", path)
		}
		j := &journal{dir: dir, sizes: map[string]int64{}}
		targets := map[string][]int{}
		if b.folder != Mail {
			targets[Mail] = move
		} else {
			for _, i := range move {
				delete(gone, i) // moving MAIL to MAIL: it stays
			}
		}
		if !purge && b.folder != Wastebasket {
			targets[Wastebasket] = del
		}
		for name, idx := range targets {
			if len(idx) == 0 {
				continue
			}
			n, err := fileSize(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			j.sizes[name] = n
		}
		j.tmp = b.folder + ".tmp"
		j.target = b.folder
		if err := j.write("prepare"); err != nil {
			return err
		}
		fail := func(err error) error {
			// Undo now rather than at the next access.
			if rerr := recoverDir(dir); rerr != nil {
				return errors.Join(mapErr(err), rerr)
			}
			return mapErr(err)
		}
		for name, idx := range targets {
			if len(idx) == 0 {
				continue
			}
			if err := b.appendCopies(filepath.Join(dir, name), j.sizes[name], idx); err != nil {
				return fail(err)
			}
		}
		padded, err := b.writeRemaining(filepath.Join(dir, j.tmp), gone, fi.Size())
		if err != nil {
			return fail(err)
		}
		var carried *index
		if b.useIndex && !padded {
			carried = b.carryIndex(filepath.Join(dir, j.tmp), gone)
		}
		if err := j.write("commit"); err != nil {
			return fail(err)
		}
		if err := recoverDir(dir); err != nil { // rolls forward: rename, then remove the journal
			return err
		}
		if carried != nil {
			writeIndex(dir, b.folder, carried) // best effort
		}
		return nil
	})
}

// carryIndex builds the index of the new folder file tmp from the entries
// of the messages it kept, so that the next login need not scan it. Mail
// appended during the session follows them and is scanned incrementally.
func (b *Box) carryIndex(tmp string, gone map[int]bool) *index {
	f, err := os.Open(tmp)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	ix := &index{key: b.key}
	ix.mtime, ix.ino = fileStamp(fi)
	l := &MessageList{}
	var off int64
	for i := range b.Len() {
		if gone[i] {
			continue
		}
		m := b.list.At(i)
		shift := off - m.Start
		m.Start += shift
		m.Text += shift
		m.End += shift
		if l.add(&m, b.list.Aux(i)) != nil {
			return nil
		}
		off = m.End
	}
	ix.list = l.finish()
	ix.size = off
	head := make([]byte, min(off, checkSpan))
	tail := make([]byte, min(off, checkSpan))
	if _, err := f.ReadAt(head, 0); err != nil && off > 0 {
		return nil
	}
	if _, err := f.ReadAt(tail, off-int64(len(tail))); err != nil && off > 0 {
		return nil
	}
	ix.headCRC = crc32.Checksum(head, castagnoli)
	ix.tailCRC = crc32.Checksum(tail, castagnoli)
	return ix
}

// copyMessage writes message i to w as it stands on disk, ending with a
// line end so that the next From_ line starts a line (padded).
func (b *Box) copyMessage(w io.Writer, i int) (padded bool, err error) {
	m := b.list.At(i)
	if _, err := io.Copy(w, io.NewSectionReader(b.f, m.Start, m.End-m.Start)); err != nil {
		return false, err
	}
	if m.End > m.Start {
		var last [1]byte
		if _, err := b.f.ReadAt(last[:], m.End-1); err != nil {
			return false, err
		}
		if last[0] != '\n' {
			_, err := w.Write([]byte{'\n'})
			return true, err
		}
	}
	return false, nil
}

// appendCopies appends messages idx to the folder file path, which held
// size bytes when the journal was written.
func (b *Box) appendCopies(path string, size int64, idx []int) error {
	return appendTo(path, size, func(w io.Writer) error {
		for _, i := range idx {
			if _, err := b.copyMessage(w, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeRemaining writes the new folder file: the messages not gone, then
// whatever was appended after the snapshot (up to cur bytes). padded says
// whether a message had to be given a final newline.
//
// Kept messages that follow each other on disk are copied as one range,
// in the kernel (copy_file_range(2) where the file system has it): a
// profile of an UPDATE of a million messages showed most of its CPU in
// copying each message through a buffer of its own.
func (b *Box) writeRemaining(tmp string, gone map[int]bool, cur int64) (padded bool, err error) {
	f, err := createReplacing(tmp, filepath.Join(filepath.Dir(tmp), b.folder))
	if err != nil {
		return false, err
	}
	defer f.Close()
	from, to := int64(0), int64(0) // the range of kept messages not yet copied
	flush := func() error {
		if to > from {
			if err := copyRange(f, b.f, from, to-from); err != nil {
				return err
			}
		}
		from, to = 0, 0
		return nil
	}
	for i := range b.Len() {
		if gone[i] {
			continue
		}
		m := struct{ Start, End int64 }{b.list.Start(i), b.list.End(i)}
		if m.Start != to {
			if err := flush(); err != nil {
				return false, err
			}
			from = m.Start
		}
		to = m.End
		// Every message but the last of the folder ends before a From_
		// line, so with a line end: only the last may need one.
		if m.End == b.size && m.End > m.Start {
			var last [1]byte
			if _, err := b.f.ReadAt(last[:], m.End-1); err != nil {
				return false, err
			}
			if last[0] != '\n' {
				if err := flush(); err != nil {
					return false, err
				}
				if _, err := f.Write([]byte{'\n'}); err != nil {
					return false, err
				}
				padded = true
			}
		}
	}
	if cur > b.size {
		if to != b.size {
			if err := flush(); err != nil {
				return false, err
			}
			from = b.size
		}
		to = cur
	}
	if err := flush(); err != nil {
		return false, err
	}
	return padded, f.Sync()
}

// copyRange appends n bytes of src from offset off to dst (at its
// position), in the kernel where it can.
func copyRange(dst, src *os.File, off, n int64) error {
	if _, err := src.Seek(off, io.SeekStart); err != nil {
		return err
	}
	k, err := io.Copy(dst, io.LimitReader(src, n)) // *os.File.ReadFrom: copy_file_range(2)
	if err == nil && k != n {
		err = fmt.Errorf("spool: %s: %w", src.Name(), io.ErrUnexpectedEOF)
	}
	return err
}

// journal records an update in progress in <dir>/.journal:
//
//	vmspop-journal 1
//	state prepare|commit
//	size FOLDER BYTES      (size of an appended-to folder before the update)
//	rename TMP TARGET      (the new folder file)
//
// prepare: on recovery, truncate each folder to its size and remove TMP
// (undo). commit: rename TMP over TARGET if TMP exists (finish). Then the
// journal is removed.
type journal struct {
	dir         string
	sizes       map[string]int64
	tmp, target string
}

func (j *journal) write(state string) error {
	if j.tmp != "" {
		// A folder is about to be replaced: no commit record may refer to
		// it (deliver.go).
		if err := settleAppend(j.dir); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "vmspop-journal 1\nstate %s\n", state)
	for name, n := range j.sizes {
		fmt.Fprintf(&b, "size %s %d\n", name, n)
	}
	if j.tmp != "" {
		fmt.Fprintf(&b, "rename %s %s\n", j.tmp, j.target)
	}
	return writeFileSync(filepath.Join(j.dir, ".journal"), b.Bytes())
}

func (j *journal) remove() error {
	if err := os.Remove(filepath.Join(j.dir, ".journal")); err != nil {
		return err
	}
	return atomicfile.SyncDir(j.dir)
}

// writeFileSync writes a small file atomically and durably, through
// path+".new" made with the owner of path (createReplacing).
func writeFileSync(path string, data []byte) error {
	f, err := createReplacing(path+".new", path)
	if err != nil {
		return err
	}
	return atomicfile.Commit(f, path, data)
}
