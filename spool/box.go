package spool

// Opening a folder for a POP session (OpenBox): the session lock, the
// snapshot of its messages (from the index or a scan), and reading them.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

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
	// list is the folder's messages at login, with what the Visitor
	// returned for each (from the index when it was used).
	list *MessageList
}

// Len returns the number of messages in the box.
func (b *Box) Len() int { return b.list.Len() }

// Message returns message i (its Envelope empty: see Envelope).
func (b *Box) Message(i int) Message { return b.list.At(i) }

// Aux returns what the Visitor returned for message i.
func (b *Box) Aux(i int) []byte { return b.list.Aux(i) }

// List returns the box's messages. It is shared read-only, and the same
// list (the same pointer) while the folder's index in memory matches the
// folder: callers may key what they derive from it on the pointer.
func (b *Box) List() *MessageList {
	if b.list == nil {
		return &MessageList{}
	}
	return b.list
}

// Visitor is called for each message found when a box is opened and not
// already described by the folder's index, with the message's disk text
// (valid only during the call) and the messages before it (with their
// aux data; prev is being built: valid only during the call). What it
// returns is copied and kept in the index as the message's aux data (the
// visitor may reuse its buffer); a Tag it sets in m is kept in the
// message's entry (MessageList.Tag). prep is what OpenOptions.Prepare returned
// for the message (nil without Prepare).
type Visitor func(i int, m *Message, text []byte, prev *MessageList, prep any) (aux []byte, err error)

// Preparer does, for a message about to be visited, the part of the
// visit that does not depend on the messages before it. It may be called
// on several goroutines at once and in any order, with the message's disk
// text (valid only during the call).
type Preparer func(i int, m *Message, text []byte) any

// OpenOptions tune OpenBox.
type OpenOptions struct {
	// Visit is called for each message not found in the index.
	Visit Visitor
	// Prepare, when set, is called for each message before Visit, on
	// every CPU while a large folder is scanned (see scanAndVisit); Visit
	// gets its result.
	Prepare Preparer
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
	if err := checkUserDir(s.Root, dir); errors.Is(err, os.ErrNotExist) {
		if err := mkdirOwned(dir); err != nil {
			return nil, mapErr(err)
		}
		if err := checkUserDir(s.Root, dir); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	sess, err := s.lockSession(ctx, dir, folder)
	if err != nil {
		return nil, err
	}
	b := &Box{s: s, user: strings.ToUpper(user), dir: dir, folder: strings.ToUpper(folder), sess: sess, key: opts.IndexKey, useIndex: !opts.NoIndex}
	var write func()
	err = s.withDirLock(ctx, dir, func(string) error {
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
				b.list, err = scanAndVisit(ctx, data, 0, nil, opts.Visit, opts.Prepare, pipelineWorth(len(data)))
				s.recordScan(ctx, "none", b.list.Len(), 0, b.size, 0)
				return err
			}
			b.list, err = s.scanWithIndex(ctx, dir, b.folder, data, b.size, b.mtime, b.ino, opts.IndexKey, opts.Visit, opts.Prepare, &write)
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

// pipelineMin is the folder text from which scanAndVisit scans in a
// goroutine of its own: below it the scan is too short for the overlap to
// pay for the goroutine and the hand-overs.
const pipelineMin = 1 << 20

// scanBatch is how many messages the scanning goroutine hands over at
// once: small enough for the visitor to start early, even in a folder of
// a few hundred messages, and large enough that the hand-over costs
// nothing measurable.
const scanBatch = 64

// estimateAfter is how many messages scanAndVisit finds before it sizes
// its slices for the whole folder.
const estimateAfter = 1024

// pipelineWorth reports whether scanAndVisit should scan n octets in a
// goroutine of its own.
func pipelineWorth(n int) bool { return n >= pipelineMin && runtime.GOMAXPROCS(0) >= 2 }

// scanAndVisit scans data[from:], a whole number of messages of the folder
// file data, and adds them to known (a list being built, holding the
// messages before from; nil for none) with what visit returns for each.
// prepare (optional) is called for each message before visit.
//
// A first login spends about half its time finding and measuring messages
// and half in the visitor (MAIL-11 parsing, the rebuilt header), one
// message after the other. With pipe (see pipelineWorth) and a visitor,
// the scan runs in a goroutine of its own, a few batches ahead of the
// visitor, so that the two use two CPUs (BenchmarkOpenCold measures it);
// with prepare too, each batch is prepared by one of GOMAXPROCS goroutines
// as well, so that the visit's heavy part runs on every CPU, also once the
// scan is done. The visitor still sees every message in order, on the
// caller's goroutine. The goroutines have ended when scanAndVisit returns
// (data may be unmapped then).
func scanAndVisit(ctx context.Context, data []byte, from int64, known *MessageList, visit Visitor, prepare Preparer, pipe bool) (*MessageList, error) {
	l := known
	if l == nil {
		l = &MessageList{}
	}
	first := l.Len()
	firstStart := int64(-1)
	add := func(m *Message, prep any) error {
		if firstStart < 0 {
			firstStart = m.Start
		}
		if n := l.Len() - first; n == estimateAfter {
			// Size the entries for the whole folder from the messages so
			// far, rather than doubling them (a million messages: 40 MB
			// copied and left behind at each doubling).
			l.grow(int(int64(len(data))-m.Start) / max(1, int(m.Start-firstStart)/estimateAfter) * 17 / 16)
		}
		var a []byte
		if visit != nil {
			if prepare != nil && prep == nil {
				prep = prepare(l.Len(), m, data[m.Text:m.End])
			}
			var err error
			if a, err = visit(l.Len(), m, data[m.Text:m.End], l, prep); err != nil {
				return err
			}
		}
		return l.add(m, a)
	}
	tail := data[from:]
	// shift makes a message's offsets the folder's.
	shift := func(m *Message) {
		m.Start += from
		m.Text += from
		m.End += from
	}
	if visit == nil || !pipe {
		err := scanEach(ctx, tail, from > 0, func(m *Message) error {
			shift(m)
			return add(m, nil)
		})
		if err != nil {
			return nil, err
		}
		return l.finish(), nil
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Batches go to the visitor in order (ordered), and to the preparing
	// goroutines (work), which close a batch's ready when it is prepared.
	type batch struct {
		first int // the number of the first message
		msgs  []Message
		preps []any
		ready chan struct{}
	}
	workers := 0
	if prepare != nil {
		workers = runtime.GOMAXPROCS(0)
	}
	ordered := make(chan *batch, 4+2*workers)
	work := make(chan *batch, 4+2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				for i := range b.msgs {
					m := &b.msgs[i]
					b.preps[i] = prepare(b.first+i, m, data[m.Text:m.End])
				}
				close(b.ready)
			}
		}()
	}
	var scanErr error // set before ordered is closed
	go func() {
		defer close(ordered)
		defer close(work)
		n := first
		send := func(msgs []Message) error {
			b := &batch{first: n, msgs: msgs}
			n += len(msgs)
			if workers > 0 {
				b.preps, b.ready = make([]any, len(msgs)), make(chan struct{})
			}
			select {
			case ordered <- b:
			case <-sctx.Done():
				return sctx.Err()
			}
			if workers > 0 {
				select {
				case work <- b:
				case <-sctx.Done():
					close(b.ready)
					return sctx.Err()
				}
			}
			return nil
		}
		msgs := make([]Message, 0, scanBatch)
		scanErr = scanEach(sctx, tail, from > 0, func(m *Message) error {
			shift(m)
			msgs = append(msgs, *m)
			if len(msgs) < scanBatch {
				return nil
			}
			b := msgs
			msgs = make([]Message, 0, scanBatch)
			return send(b)
		})
		if scanErr == nil && len(msgs) > 0 {
			scanErr = send(msgs)
		}
	}()
	var err error
	for b := range ordered {
		if err == nil && b.ready != nil {
			select {
			case <-b.ready:
			case <-sctx.Done():
				err = sctx.Err()
			}
		}
		for i := 0; i < len(b.msgs) && err == nil; i++ {
			var prep any
			if b.preps != nil {
				prep = b.preps[i]
			}
			err = add(&b.msgs[i], prep)
		}
		if err != nil {
			cancel()
		}
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if scanErr != nil {
		return nil, scanErr
	}
	return l.finish(), nil
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
	m := b.list.At(i)
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

// Envelope returns what follows "From " on message i's From_ line (the
// Message's Envelope, which is not kept once the message is indexed).
func (b *Box) Envelope(i int) (string, error) {
	f, err := b.file()
	if err != nil {
		return "", err
	}
	m := b.list.At(i)
	var line []byte
	buf := make([]byte, 256)
	for off := m.Start; off < m.End; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), m.End-off)], off)
		if k := bytes.IndexByte(buf[:n], '\n'); k >= 0 {
			line = append(line, buf[:k+1]...)
			break
		}
		line = append(line, buf[:n]...)
		off += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		if n == 0 {
			break
		}
	}
	return string(bytes.TrimPrefix(contentOf(line), fromPrefix)), nil
}

// Body returns a reader of the body of message i as sent: CRLF line ends,
// ending with CRLF. Close it to return its buffer.
func (b *Box) Body(i int) (io.ReadCloser, error) {
	f, err := b.file()
	if err != nil {
		return nil, err
	}
	m := b.list.At(i)
	bufs := b.getBufs()
	base := m.Text
	r := newBodyReader(f, base+int64(m.BodyStart), base+int64(m.ContentEnd), m.ExtraNewlines, bufs.in, bufs.out)
	r.masks = bufs.masks
	if n := r.end - r.off; n >= mapMin && n <= mapMax {
		r.mapped, r.mbase = mapBody(f, r.off, r.end)
	}
	return &pooledBody{bodyReader: r, b: b, bufs: bufs}, nil
}

type pooledBody struct {
	*bodyReader
	b    *Box
	bufs *blockBufs
}

func (p *pooledBody) Close() error {
	if p.mapped != nil {
		unix.Munmap(p.mapped)
		p.mapped = nil
	}
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
