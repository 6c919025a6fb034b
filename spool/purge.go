package spool

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PurgeResult says what Purge did.
type PurgeResult struct {
	Purged int   // messages removed
	Kept   int   // messages left in WASTEBASKET
	Freed  int64 // bytes the WASTEBASKET file shrank by
}

// Purge empties user's WASTEBASKET, as VMS MAIL's PURGE/RECLAIM: the
// folder file is replaced by one without the purged messages, so the space
// is given back (once no session has the old file open). With a non-zero
// before, only the messages that arrived before it (the date of their From_
// line) are purged; a message whose date cannot be read is kept.
//
// It is atomic like Commit: the new file is written beside the folder and
// renamed over it behind the journal, so after a crash at any instant the
// next operation on the user's folders finds either the old WASTEBASKET or
// the new one. A user without a mail directory gives ErrNoMailbox; one
// without a WASTEBASKET, nothing to do.
func (s *Spool) Purge(ctx context.Context, user string, before time.Time) (PurgeResult, error) {
	var res PurgeResult
	err := s.withFolderLock(ctx, user, false, func(dir string) error {
		path := filepath.Join(dir, Wastebasket)
		f, err := openNoFollow(path, os.O_RDONLY)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		size := fi.Size()
		msgs, err := scanFile(ctx, f, size, nil)
		if err != nil {
			return err
		}
		var keep []Message
		for _, m := range msgs {
			if !before.IsZero() {
				if t, ok := envelopeDate(m.Envelope); !ok || !t.Before(before) {
					keep = append(keep, m)
				}
			}
		}
		res.Kept = len(keep)
		if len(keep) == len(msgs) && (len(msgs) > 0 || size == 0) {
			return nil // nothing to purge
		}
		j := &journal{dir: dir, sizes: map[string]int64{}, tmp: Wastebasket + ".tmp", target: Wastebasket}
		if err := j.write("prepare"); err != nil {
			return mapErr(err)
		}
		newSize, err := writeKept(filepath.Join(dir, j.tmp), f, keep)
		if err == nil {
			err = j.write("commit")
		}
		if err != nil {
			return errors.Join(mapErr(err), recoverDir(dir))
		}
		if err := recoverDir(dir); err != nil { // rolls forward: rename, then remove the journal
			return err
		}
		os.Remove(indexPath(dir, Wastebasket)) // derived data; its inode no longer matches anyway
		res.Purged = len(msgs) - len(keep)
		res.Freed = size - newSize
		return nil
	})
	return res, err
}

// writeKept writes the messages keep of the folder file src to the new
// folder file path, each as it stands on disk and ending with a line end,
// fsynced. It returns the new file's size.
func writeKept(path string, src *os.File, keep []Message) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)
	var n int64
	for _, m := range keep {
		c, err := io.Copy(w, io.NewSectionReader(src, m.Start, m.End-m.Start))
		n += c
		if err != nil {
			return 0, err
		}
		var last [1]byte
		if _, err := src.ReadAt(last[:], m.End-1); err != nil {
			return 0, err
		}
		if last[0] != '\n' {
			w.WriteByte('\n')
			n++
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return n, f.Sync()
}

// envelopeDate returns the date of a From_ line ("sender Wed Nov 25
// 10:00:00 2026", the asctime form mbox writers use).
func envelopeDate(env string) (time.Time, bool) {
	f := strings.Fields(env)
	if len(f) < 6 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.ANSIC, strings.Join(f[len(f)-5:], " "))
	return t, err == nil
}
