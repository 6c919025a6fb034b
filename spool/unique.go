package spool

// Appending without duplicates, for imports: each message is known by a
// key computed from its text as the spool gives it back.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"hash"
	"io"
	"os"
)

// MessageKey returns the key that identifies a message text for duplicate
// detection: the SHA-256 of the text as the spool gives it back (Normalize)
// with its trailing newlines made one. A message appended to a folder has,
// read back with Decode, the same key; so does one a folder of the old
// encoding holds with extra trailing newlines (see codec.go), and an import
// into such a folder adds no duplicate.
func MessageKey(text []byte) [32]byte {
	n := bytes.TrimRight(Normalize(text), "\n")
	return sha256.Sum256(append(n[:len(n):len(n)], '\n'))
}

// ReaderKey returns the MessageKey of the text read from r, streaming it.
func ReaderKey(r io.Reader) ([32]byte, error) {
	h := newNormHash()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return h.Sum(), nil
		}
		if err != nil {
			return [32]byte{}, err
		}
	}
}

// normHash computes MessageKey over a stream.
type normHash struct {
	h   hash.Hash
	crs int // CRs held back: dropped when a line end or the end follows
	nls int // newlines held back: made one at the end
}

func newNormHash() *normHash { return &normHash{h: sha256.New()} }

func (n *normHash) Write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			n.flush()
			n.h.Write(p)
			return
		}
		if i > 0 {
			n.flush()
			n.h.Write(p[:i])
		}
		if p[i] == '\r' {
			n.crs++
		} else {
			n.crs = 0
			n.nls++
		}
		p = p[i+1:]
	}
}

// flush writes the held-back newlines and CRs before more text.
func (n *normHash) flush() {
	for ; n.nls > 0; n.nls-- {
		n.h.Write([]byte{'\n'})
	}
	for ; n.crs > 0; n.crs-- {
		n.h.Write([]byte{'\r'})
	}
}

// Sum returns the key: CRs at the very end are dropped, the trailing
// newlines made one. It is called once, at the end.
func (n *normHash) Sum() [32]byte {
	n.h.Write([]byte{'\n'})
	var k [32]byte
	copy(k[:], n.h.Sum(nil))
	return k
}

// KeyedMessage is a message to append with its MessageKey.
type KeyedMessage struct {
	NewMessage
	Key [32]byte
}

// AppendUnique is Append for imports: under the same folder lock, it reads
// the keys of the messages already in the folder and appends, in one
// atomic update, only the messages whose key is not there yet (nor earlier
// in msgs). It returns how many it appended. Scanning the folder takes time
// proportional to its size, during which deliveries wait.
func (s *Spool) AppendUnique(ctx context.Context, user, folder string, msgs []KeyedMessage) (added int, err error) {
	_, path, err := s.folderPath(user, folder)
	if err != nil {
		return 0, err
	}
	err = s.withFolderLock(ctx, user, true, func(dir string) error {
		have := map[[32]byte]bool{}
		size, err := fileSize(path)
		if err != nil {
			return err
		}
		if size > 0 {
			f, err := openNoFollow(path, os.O_RDONLY)
			if err != nil {
				return err
			}
			_, err = scanFile(ctx, f, size, func(_ int, _ *Message, text []byte) error {
				have[MessageKey(Decode(text))] = true
				return nil
			})
			f.Close()
			if err != nil {
				return err
			}
		}
		var todo []NewMessage
		for _, m := range msgs {
			if have[m.Key] {
				continue
			}
			have[m.Key] = true
			todo = append(todo, m.NewMessage)
		}
		if len(todo) == 0 {
			return nil
		}
		if err := appendJournaled(dir, path, size, todo); err != nil {
			return err
		}
		added = len(todo)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}
