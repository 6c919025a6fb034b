package spool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FindFieldValues reports which of values occur as a line "field: value"
// in any folder of user (a header line the writer of the message put
// there, such as RPOP's delivery key). It reads the folder files as they
// are, without the folder lock: a caller that must see finished updates
// runs Recover first. A user with no directory has none of them.
func (s *Spool) FindFieldValues(ctx context.Context, user, field string, values []string) (map[string]bool, error) {
	dir, err := s.UserDir(user)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(values))
	for _, v := range values {
		want[v] = true
	}
	found := map[string]bool{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return found, nil
	}
	if err != nil {
		return nil, err
	}
	prefix := []byte(field + ": ")
	for _, e := range ents {
		if !e.Type().IsRegular() || !ValidName(e.Name()) || strings.ToUpper(e.Name()) != e.Name() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := openNoFollow(filepath.Join(dir, e.Name()), os.O_RDONLY)
		if err != nil {
			return nil, err
		}
		err = findFieldLines(f, prefix, want, found)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// findFieldLines adds to found every wanted value of a line starting with
// prefix in r. Lines longer than the buffer are skipped.
func findFieldLines(r *os.File, prefix []byte, want, found map[string]bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if k, ok := bytes.CutPrefix(line, prefix); ok {
			k = bytes.TrimRight(k, "\r\n")
			if want[string(k)] {
				found[string(k)] = true
			}
		}
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
