package spool

// Appending messages to a folder (delivery, import, moves at UPDATE).

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	mbox "github.com/emersion/go-mbox"
)

// appendTo writes to the end (size) of the folder file path through a
// buffer, starting a new line first if needed, and fsyncs it.
func appendTo(path string, size int64, write func(w io.Writer) error) error {
	f, err := openOrCreate(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	if err := endLine(f, size, w); err != nil {
		return err
	}
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// endLine writes a newline to w when the file's first size bytes do not
// end with one, so that an appended From_ line starts a line.
func endLine(f *os.File, size int64, w io.Writer) error {
	if size == 0 {
		return nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err := w.Write([]byte{'\n'})
		return err
	}
	return nil
}

// Append adds messages to a folder of user under the folder lock, creating
// the user's directory and the folder as needed. It returns only once the
// messages are on disk (fsync); a crash before that leaves no trace of
// them.
func (s *Spool) Append(ctx context.Context, user, folder string, msgs []NewMessage) error {
	_, path, err := s.folderPath(user, folder)
	if err != nil {
		return err
	}
	return s.withFolderLock(ctx, user, true, func(dir string) error {
		size, err := fileSize(path)
		if err != nil {
			return err
		}
		return appendJournaled(dir, path, size, msgs)
	})
}

// appendJournaled appends msgs to the folder file path (size bytes long)
// behind a journal, so that a crash before the end leaves no trace of
// them. The caller holds the folder lock.
func appendJournaled(dir, path string, size int64, msgs []NewMessage) error {
	j := &journal{dir: dir, sizes: map[string]int64{filepath.Base(path): size}}
	if err := j.write("prepare"); err != nil {
		return mapErr(err)
	}
	if err := appendMessages(path, size, msgs); err != nil {
		return errors.Join(mapErr(err), recoverDir(dir))
	}
	return mapErr(j.remove())
}

// NewMessage is a message to append: its text (MAIL-11 headers, blank
// line, body), the envelope sender and the arrival date for the From_ line.
type NewMessage struct {
	Envelope string
	Date     time.Time
	Text     io.Reader
}

func appendMessages(path string, size int64, msgs []NewMessage) error {
	return appendTo(path, size, func(bw io.Writer) error {
		w := mbox.NewWriter(bw)
		for _, m := range msgs {
			if err := WriteMessage(w, sanitizeEnvelope(m.Envelope), m.Date, m.Text); err != nil {
				return err
			}
		}
		return w.Close()
	})
}

// sanitizeEnvelope makes a sender fit on a From_ line: no white space or
// control characters, at most 256 bytes.
func sanitizeEnvelope(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 256 {
		s = s[:256]
	}
	if s == "" {
		s = "MAILER-DAEMON"
	}
	return s
}
