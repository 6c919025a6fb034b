package spool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mbox "github.com/emersion/go-mbox"
	"golang.org/x/sys/unix"
)

// Folder names.
const (
	NewMail     = "NEWMAIL"
	Mail        = "MAIL"
	Wastebasket = "WASTEBASKET"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_$-]{1,31}$`)

// ValidName reports whether name is a valid VMS user or folder name:
// [A-Za-z0-9_$-]{1,31}. Anything else is refused before it touches the
// file system.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Spool is a directory of user mail directories: <Root>/<USER>/<FOLDER>.
type Spool struct {
	Root string
	// LockTimeout bounds the wait for a folder lock (default 30 s).
	LockTimeout time.Duration

	bufs sync.Pool // *blockBufs: the buffers of Body readers

	mu         sync.Mutex
	sessions   map[string]bool   // user directories whose session lock this process holds
	indexes    map[string]*index // decoded indexes of folders used lately, by index path
	cachedMsgs int               // entries in indexes
}

const readBufSize = 64 << 10

// New returns the spool rooted at root.
func New(root string) *Spool { return &Spool{Root: root} }

func (s *Spool) lockTimeout() time.Duration {
	if s.LockTimeout > 0 {
		return s.LockTimeout
	}
	return 30 * time.Second
}

// UserDir returns the directory of user, upper-cased, or ErrBadUser.
func (s *Spool) UserDir(user string) (string, error) {
	if !ValidName(user) {
		return "", ErrBadUser
	}
	return filepath.Join(s.Root, strings.ToUpper(user)), nil
}

func (s *Spool) folderPath(user, folder string) (dir, path string, err error) {
	dir, err = s.UserDir(user)
	if err != nil {
		return "", "", err
	}
	if !ValidName(folder) {
		return "", "", fmt.Errorf("spool: invalid folder name %q", folder)
	}
	return dir, filepath.Join(dir, strings.ToUpper(folder)), nil
}

// withFolderLock runs fn with the folder lock of user held, after
// finishing or undoing any update a crash interrupted.
func (s *Spool) withFolderLock(ctx context.Context, user string, create bool, fn func(dir string) error) error {
	dir, err := s.UserDir(user)
	if err != nil {
		return err
	}
	if create {
		if err := mkdirOwned(dir); err != nil {
			return mapErr(err)
		}
	}
	if err := checkUserDir(s.Root, dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrNoMailbox
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.lockTimeout())
	defer cancel()
	l, err := lockFolder(ctx, dir)
	if err != nil {
		return err
	}
	defer l.unlock()
	if err := recoverDir(dir); err != nil {
		return err
	}
	return fn(dir)
}

// Recover finishes or undoes an update of user's folders that a crash
// interrupted. Every other operation does this first too.
func (s *Spool) Recover(ctx context.Context, user string) error {
	return s.withFolderLock(ctx, user, false, func(string) error { return nil })
}

// mapErr turns a full disk into ErrNoSpace.
func mapErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	return err
}

// Box is a folder opened for a POP session: a snapshot of its messages at
// login, read from the same file while the session lasts. Mail appended
// meanwhile is not shown, and is kept at Commit.
type Box struct {
	s        *Spool
	user     string
	dir      string
	folder   string
	f        *os.File // the folder file, opened when first needed
	path     string   // the folder file
	exists   bool     // the folder file existed at login
	size     int64
	ino      uint64
	sess     *sessionLock
	mtime    int64
	key      string
	useIndex bool
	// indexWritten is closed when the index written after login is on
	// disk (nil when none is being written).
	indexWritten chan struct{}
	// Messages are the folder's messages at login; Aux holds, for each,
	// what the Visitor returned (from the index when it was used).
	Messages []Message
	Aux      [][]byte
}

// Visitor is called for each message found when a box is opened and not
// already described by the folder's index, with the message's disk text
// (valid only during the call) and the aux data of the messages before it.
// What it returns is kept in the index as the message's aux data.
type Visitor func(i int, m *Message, text []byte, prev [][]byte) (aux []byte, err error)

// OpenOptions tune OpenBox.
type OpenOptions struct {
	// Visit is called for each message not found in the index.
	Visit Visitor
	// IndexKey fingerprints whatever Visit's aux data depends on; an index
	// made with another key is not used.
	IndexKey string
	// NoIndex scans the folder and neither reads nor writes its index.
	NoIndex bool
}

// OpenBox takes the session lock of user (ErrLocked when another session
// holds it, after waiting up to 2 s for a session that is ending) and
// reads folder, from its index where that provably matches. The user's
// directory is created if missing.
func (s *Spool) OpenBox(ctx context.Context, user, folder string, opts OpenOptions) (*Box, error) {
	dir, path, err := s.folderPath(user, folder)
	if err != nil {
		return nil, err
	}
	if err := mkdirOwned(dir); err != nil {
		return nil, mapErr(err)
	}
	if err := checkUserDir(s.Root, dir); err != nil {
		return nil, err
	}
	sess, err := s.lockSession(ctx, dir)
	if err != nil {
		return nil, err
	}
	b := &Box{s: s, user: strings.ToUpper(user), dir: dir, folder: strings.ToUpper(folder), sess: sess, key: opts.IndexKey, useIndex: !opts.NoIndex}
	var write func()
	err = s.withFolderLock(ctx, user, false, func(string) error {
		f, err := openNoFollow(path, os.O_RDONLY)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		b.f, b.path, b.exists = f, path, true
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		b.size = fi.Size()
		b.mtime, b.ino = fileStamp(fi)
		if b.size == 0 {
			return nil
		}
		return withMapped(f, b.size, func(data []byte) error {
			var err error
			if opts.NoIndex {
				b.Messages, b.Aux, err = scanVisit(ctx, data, opts.Visit)
				return err
			}
			b.Messages, b.Aux, err = s.scanWithIndex(ctx, dir, b.folder, data, b.size, b.mtime, b.ino, opts.IndexKey, opts.Visit, &write)
			return err
		})
	})
	if err != nil {
		b.Close()
		return nil, err
	}
	// A new index is written after the login has its answer; Commit and
	// Close wait for it.
	if write != nil {
		done := make(chan struct{})
		b.indexWritten = done
		go func() {
			defer close(done)
			write()
		}()
	}
	// An idle session holds only its socket and its lock: the folder file
	// is opened again when a message is first read.
	if b.f != nil {
		b.f.Close()
		b.f = nil
	}
	return b, nil
}

// file returns the folder file as it was at login, opening it if needed.
// Only this session's own commit replaces the file while it holds the
// session lock, so a different file means someone else rewrote it.
func (b *Box) file() (*os.File, error) {
	if b.f != nil {
		return b.f, nil
	}
	if !b.exists {
		return nil, fmt.Errorf("spool: %s: no folder file", b.folder)
	}
	f, err := openNoFollow(b.path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, ino := fileStamp(fi); ino != b.ino || fi.Size() < b.size {
		f.Close()
		return nil, fmt.Errorf("spool: %s was replaced during the session", b.path)
	}
	b.f = f
	return f, nil
}

// withMapped maps the first size bytes of f for fn.
func withMapped(f *os.File, size int64, fn func(data []byte) error) error {
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("spool: mmap: %w", err)
	}
	defer unix.Munmap(data)
	unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return fn(data)
}

// scanVisit scans data and visits every message.
func scanVisit(ctx context.Context, data []byte, visit Visitor) ([]Message, [][]byte, error) {
	if visit == nil {
		msgs, err := Scan(ctx, data)
		return msgs, nil, err
	}
	return scanAndVisit(ctx, data, 0, nil, nil, visit, pipelineWorth(len(data)))
}

// pipelineMin is the folder text from which scanAndVisit scans in a
// goroutine of its own. Measured (gateway's visitor, ~9 KiB messages, a
// batch of 64): 450 KB and 0.9 MB gain nothing, 1.8 MB 7-14 %, 3.6 MB
// 25 %, 9 MB 28 %.
const pipelineMin = 1 << 20

// scanBatch is how many messages the scanning goroutine hands over at
// once: small enough for the visitor to start early (a batch of 256 left a
// folder of 256 messages nothing to overlap), large enough that the
// hand-over costs nothing measurable (64 and 256 give the same on 10,000
// messages).
const scanBatch = 64

// pipelineWorth reports whether scanAndVisit should scan n octets in a
// goroutine of its own.
func pipelineWorth(n int) bool { return n >= pipelineMin && runtime.GOMAXPROCS(0) >= 2 }

// scanAndVisit scans data[from:], a whole number of messages of the folder
// file data, and appends them to msgs (their offsets in data) and what
// visit returns for each to aux (nil entries without a visitor). The caller's
// slices are never written in place: pass msgs[:len:len] when they are
// shared.
//
// A first login spends about half its time finding and measuring messages
// and half in the visitor (MAIL-11 parsing, the rebuilt header), one
// message after the other. With pipe (see pipelineWorth) and a visitor,
// the scan runs in a goroutine of its own, a few batches ahead of the
// visitor, so that the two use two CPUs (BenchmarkOpenCold: 10,000
// messages, 90 MB, 2 CPUs: 100 ms to 66 ms; the visitor is then the longer
// half). The visitor still sees every message in order, on the caller's
// goroutine. The goroutine has ended when scanAndVisit returns (data may
// be unmapped then).
func scanAndVisit(ctx context.Context, data []byte, from int64, msgs []Message, aux [][]byte, visit Visitor, pipe bool) ([]Message, [][]byte, error) {
	add := func(m *Message) error {
		m.Start += from
		m.Text += from
		m.End += from
		msgs = append(msgs, *m)
		aux = append(aux, nil)
		if visit == nil {
			return nil
		}
		i := len(msgs) - 1
		a, err := visit(i, &msgs[i], data[m.Text:m.End], aux[:i])
		aux[i] = a
		return err
	}
	tail := data[from:]
	if visit == nil || !pipe {
		if err := scanEach(ctx, tail, from > 0, add); err != nil {
			return nil, nil, err
		}
		return msgs, aux, nil
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []Message, 4)
	var scanErr error // set before batches is closed
	go func() {
		defer close(batches)
		send := func(b []Message) error {
			select {
			case batches <- b:
				return nil
			case <-sctx.Done():
				return sctx.Err()
			}
		}
		batch := make([]Message, 0, scanBatch)
		scanErr = scanEach(sctx, tail, from > 0, func(m *Message) error {
			batch = append(batch, *m)
			if len(batch) < scanBatch {
				return nil
			}
			b := batch
			batch = make([]Message, 0, scanBatch)
			return send(b)
		})
		if scanErr == nil && len(batch) > 0 {
			scanErr = send(batch)
		}
	}()
	var err error
	for b := range batches {
		for i := 0; i < len(b) && err == nil; i++ {
			err = add(&b[i])
		}
		if err != nil {
			cancel()
			for range batches { // let the goroutine end
			}
			return nil, nil, err
		}
	}
	if scanErr != nil {
		return nil, nil, scanErr
	}
	return msgs, aux, nil
}

// User returns the upper-case user name of the box.
func (b *Box) User() string { return b.user }

// blockBufs are the buffers of one body reader, pooled per spool.
type blockBufs struct {
	in, out []byte
	masks   []uint64
}

func (b *Box) getBufs() *blockBufs {
	if p, ok := b.s.bufs.Get().(*blockBufs); ok {
		return p
	}
	return &blockBufs{in: make([]byte, readBufSize), out: make([]byte, 0, 2*readBufSize+64), masks: make([]uint64, readBufSize/64+1)}
}

// Header returns the decoded MAIL-11 header lines of message i (at most
// 64 KiB of them).
func (b *Box) Header(i int) ([]byte, error) {
	m := &b.Messages[i]
	n := min(m.HeaderEnd, 64<<10)
	raw := make([]byte, n)
	f, err := b.file()
	if err != nil {
		return nil, err
	}
	if _, err := f.ReadAt(raw, m.Text); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var out []byte
	for i := 0; i < len(raw); {
		le := lineEnd(raw, i)
		out = append(out, unquote(contentOf(raw[i:le]))...)
		out = append(out, '\n')
		i = le
	}
	return out, nil
}

// Body returns a reader of the body of message i as sent: CRLF line ends,
// ending with CRLF. Close it to return its buffer.
func (b *Box) Body(i int) (io.ReadCloser, error) {
	f, err := b.file()
	if err != nil {
		return nil, err
	}
	m := &b.Messages[i]
	bufs := b.getBufs()
	base := m.Text
	r := newBodyReader(f, base+int64(m.BodyStart), base+int64(m.ContentEnd), m.ExtraNewlines, bufs.in, bufs.out)
	r.masks = bufs.masks
	return &pooledBody{bodyReader: r, b: b, bufs: bufs}, nil
}

type pooledBody struct {
	*bodyReader
	b    *Box
	bufs *blockBufs
}

func (p *pooledBody) Close() error {
	if p.bufs != nil {
		if cap(p.out) <= 4*readBufSize { // keep what a block grew to, within reason
			p.bufs.out = p.out[:0]
		}
		p.b.s.bufs.Put(p.bufs)
		p.bufs = nil
	}
	return nil
}

// waitIndex waits for the index written after login.
func (b *Box) waitIndex() {
	if b.indexWritten != nil {
		<-b.indexWritten
	}
}

// Close releases the session lock. Nothing is changed.
func (b *Box) Close() error {
	b.waitIndex()
	if b.f != nil {
		b.f.Close()
		b.f = nil
	}
	if b.sess != nil {
		b.sess.unlock()
		b.sess = nil
	}
	return nil
}

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
	var off int64
	for i, m := range b.Messages {
		if gone[i] {
			continue
		}
		shift := off - m.Start
		m.Start += shift
		m.Text += shift
		m.End += shift
		m.Envelope = ""
		ix.msgs = append(ix.msgs, m)
		if i < len(b.Aux) {
			ix.aux = append(ix.aux, b.Aux[i])
		} else {
			ix.aux = append(ix.aux, nil)
		}
		off = m.End
	}
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

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// copyMessage writes message i to w as it stands on disk, ending with a
// line end so that the next From_ line starts a line (padded).
func (b *Box) copyMessage(w io.Writer, i int) (padded bool, err error) {
	m := &b.Messages[i]
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

// writeRemaining writes the new folder file: the messages not gone, then
// whatever was appended after the snapshot (up to cur bytes). padded says
// whether a message had to be given a final newline.
func (b *Box) writeRemaining(tmp string, gone map[int]bool, cur int64) (padded bool, err error) {
	f, err := createReplacing(tmp, filepath.Join(filepath.Dir(tmp), b.folder))
	if err != nil {
		return false, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)
	for i := range b.Messages {
		if !gone[i] {
			p, err := b.copyMessage(w, i)
			if err != nil {
				return false, err
			}
			padded = padded || p
		}
	}
	if cur > b.size {
		if _, err := io.Copy(w, io.NewSectionReader(b.f, b.size, cur-b.size)); err != nil {
			return false, err
		}
	}
	if err := w.Flush(); err != nil {
		return false, err
	}
	return padded, f.Sync()
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
	return syncDir(j.dir)
}

// writeFileSync writes a small file atomically and durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".new"
	f, err := createReplacing(tmp, path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// recoverDir finishes or undoes the update recorded in dir's journal, if
// any. The caller holds the folder lock.
func recoverDir(dir string) error {
	path := filepath.Join(dir, ".journal")
	data, err := readNoFollow(path)
	if errors.Is(err, os.ErrNotExist) {
		os.Remove(path + ".new")
		return nil
	}
	if err != nil {
		return err
	}
	state := ""
	sizes := map[string]int64{}
	var tmp, target string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "state":
			state = f[1]
		case len(f) == 3 && f[0] == "size" && ValidName(f[1]):
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				return fmt.Errorf("spool: %s: bad size line %q", path, line)
			}
			sizes[f[1]] = n
		case len(f) == 3 && f[0] == "rename" && ValidName(f[2]) && f[1] == f[2]+".tmp":
			tmp, target = f[1], f[2]
		}
	}
	switch state {
	case "prepare":
		for name, n := range sizes {
			p := filepath.Join(dir, name)
			if err := truncateNoFollow(p, n); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if tmp != "" {
			os.Remove(filepath.Join(dir, tmp))
		}
	case "commit":
		if tmp != "" {
			err := os.Rename(filepath.Join(dir, tmp), filepath.Join(dir, target))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	default:
		return fmt.Errorf("spool: %s: unknown state %q", path, state)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(dir)
}

// FolderInfo describes one folder file.
type FolderInfo struct {
	Name     string
	Messages int
	Bytes    int64
}

// Folders lists the folders of user with message counts and sizes.
func (s *Spool) Folders(ctx context.Context, user string) ([]FolderInfo, error) {
	var out []FolderInfo
	err := s.withFolderLock(ctx, user, false, func(dir string) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !ValidName(e.Name()) || strings.ToUpper(e.Name()) != e.Name() {
				continue
			}
			f, err := openNoFollow(filepath.Join(dir, e.Name()), os.O_RDONLY)
			if err != nil {
				return err
			}
			fi, _ := f.Stat()
			var msgs []Message
			if fi.Size() > 0 {
				err = withMapped(f, fi.Size(), func(data []byte) error {
					var err error
					msgs, err = Scan(ctx, data)
					return err
				})
			}
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", e.Name(), err)
			}
			out = append(out, FolderInfo{Name: e.Name(), Messages: len(msgs), Bytes: fi.Size()})
		}
		return nil
	})
	return out, err
}

// ReadFolder returns the decoded messages of a folder of user (for tools
// and tests; it holds the whole folder in memory).
func (s *Spool) ReadFolder(ctx context.Context, user, folder string) ([][]byte, error) {
	_, path, err := s.folderPath(user, folder)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	err = s.withFolderLock(ctx, user, false, func(string) error {
		data, err := readNoFollow(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		msgs, err := Scan(ctx, data)
		for _, m := range msgs {
			out = append(out, Decode(data[m.Text:m.End]))
		}
		return err
	})
	return out, err
}

// scanFile maps the first size bytes of f, scans them and calls fn (if
// not nil) for each message with its disk text.
func scanFile(ctx context.Context, f *os.File, size int64, fn func(i int, m *Message, text []byte) error) ([]Message, error) {
	if size == 0 {
		return nil, nil
	}
	var msgs []Message
	err := withMapped(f, size, func(data []byte) error {
		var err error
		if msgs, err = Scan(ctx, data); err != nil || fn == nil {
			return err
		}
		for i := range msgs {
			m := &msgs[i]
			if err := fn(i, m, data[m.Text:m.End]); err != nil {
				return err
			}
		}
		return nil
	})
	return msgs, err
}
