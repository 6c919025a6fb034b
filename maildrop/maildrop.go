// Package maildrop serves an OpenVMS-style spool to the POP3 gateway: it
// implements gateway.Backend on top of spool (folders, locks, index) and
// rewrite (MAIL-11 header to RFC 822 header, manual 15.1.6), and moves
// mail at UPDATE as TCPIP$POP does. It translates spool.ErrLocked into
// gateway.ErrInUse.
package maildrop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
	"weak"

	"github.com/emersion/go-message/textproto"
	"github.com/sirupsen/logrus"
	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
)

// SpoolBackend serves maildrops from an OpenVMS-style spool: each message's
// RFC 822 header is rebuilt from its MAIL-11 header by Rewrite (manual
// 15.1.6), and UPDATE moves mail as TCPIP$POP does.
type SpoolBackend struct {
	Spool   *spool.Spool
	Rewrite *rewrite.Settings
	// Folder is the folder served: spool.NewMail, or spool.Mail with
	// TCPIP$POP_USE_MAIL_FOLDER.
	Folder string
	// LeaveInNewmail keeps retrieved messages in the folder
	// (TCPIP$POP_LEAVE_IN_NEWMAIL) instead of moving them to MAIL.
	LeaveInNewmail bool
	// PurgeReclaim (TCPIP$POP_PURGE_RECLAIM) drops deleted messages instead
	// of moving them to WASTEBASKET, and empties WASTEBASKET (giving its
	// space back) at the end of each session that deleted mail.
	PurgeReclaim bool
	// IgnoreMail11Headers sends the RFC 822 header found at the top of the
	// body of SMTP mail instead of the rebuilt one
	// (TCPIP$POP_IGNORE_MAIL11_HEADERS).
	IgnoreMail11Headers bool
	Logger              logrus.FieldLogger // nil = discard

	// headerLimit overrides defaultHeaderLimit when > 0 (tests).
	headerLimit int

	keyOnce sync.Once
	key     string

	mu      sync.Mutex
	derived map[string]derivedInfo // by user
}

var (
	_ gateway.Backend = (*SpoolBackend)(nil)
	_ gateway.Sizer   = (*spoolDrop)(nil)
	_ gateway.Lister  = (*spoolDrop)(nil)
)

// How a message is sent.
const (
	sendRebuilt = iota // rebuilt header + body
	sendForeign        // rebuilt header + a note instead of the body (15.1.4)
	sendBody           // the body alone: it starts with its own RFC 822 header
)

// prepared is what a message's visit needs that OpenMaildrop works out
// before it, in parallel (see open).
type prepared struct {
	m11    mail11.Header
	how    uint8
	err    error  // of the MAIL-11 parse
	base   string // the UID before any duplicate suffix
	packed bool   // base has the usual form (packUID), its date digits:
	date   [8]byte
	hlen   int    // the length of the header rebuilt with base
	header []byte // that header, for a message whose header is kept
	note   string // the fallback rule the From: rebuild used
}

// uidKey is a UID of the usual form (packUID) by its parts.
type uidKey struct {
	date [8]byte
	sum  uint32
	dup  uint64
}

// uidSet is a set of UIDs: those of the usual form by their parts (a map
// the garbage collector need not scan, no string per UID), others by
// their text. A UID of the usual form has one key, and text of no other
// form, so that the two never hold the same UID.
type uidSet struct {
	prefix string
	keys   map[uidKey]bool
	texts  map[string]bool
}

// key returns uid's key if it has the usual form.
func (s *uidSet) key(uid string) (uidKey, bool) {
	at := len(s.prefix) + 17 // the checksum's hex digits
	if len(uid) < at+8 || !strings.HasPrefix(uid, s.prefix) {
		return uidKey{}, false
	}
	sum, err := strconv.ParseUint(uid[at:at+8], 16, 32)
	if err != nil {
		return uidKey{}, false
	}
	date, dup, ok := packUID(uid, s.prefix, uint32(sum))
	return uidKey{date: date, sum: uint32(sum), dup: dup}, ok
}

func (s *uidSet) has(uid string) bool {
	if k, ok := s.key(uid); ok {
		return s.keys[k]
	}
	return s.texts[uid]
}

func (s *uidSet) add(uid string) {
	if k, ok := s.key(uid); ok {
		s.keys[k] = true
		return
	}
	if s.texts == nil {
		s.texts = map[string]bool{}
	}
	s.texts[uid] = true
}

// auxMessage is what the folder index keeps for a message (appendAux).
type auxMessage struct {
	size   int64
	how    uint8
	uid    []byte // the UID, unless packed
	packed bool   // the UID is kept as date and dup (packUID)
	date   [8]byte
	dup    uint64
	header []byte
}

// defaultHeaderLimit is how many messages of a folder keep their rebuilt
// header in the index and in memory (about 300 octets each): RETR of the
// messages after them rebuilds it from the MAIL-11 header on disk. A folder
// of a million messages would otherwise hold 300 MB of headers per session.
const defaultHeaderLimit = 100_000

// spoolDrop is one session's view of a spool folder. Each message's size
// as sent, UID, how it is sent and (for the first ones) rebuilt header
// are read from its aux data in the folder's list (spool.MessageList,
// shared by the sessions of an unchanged folder) when needed: a login
// builds nothing per message.
type spoolDrop struct {
	be     *SpoolBackend
	folder string
	keep   bool // retrieved mail stays where it is even in NEWMAIL
	box    *spool.Box
	list   *spool.MessageList
	total  int64 // the sum of the sizes
	// uidPrefix is the user part of the UIDs (rewrite.UID) with its dot.
	uidPrefix string
	uids      []string // the UIDs listed when a UIDL map replaced some (nil: the messages' own)
	log       logrus.FieldLogger
}

func (be *SpoolBackend) logger() logrus.FieldLogger {
	if be.Logger != nil {
		return be.Logger
	}
	l := logrus.New()
	l.Out = io.Discard
	return l
}

// OpenMaildrop locks user's folder and works out the size and UID of each
// message as sent. Both are kept in the folder's index (spool), so a login
// to an unchanged folder reads no message.
// A folder locked by another session is reported as gateway.ErrInUse.
func (be *SpoolBackend) OpenMaildrop(ctx context.Context, user string) (gateway.Maildrop, error) {
	folder := be.Folder
	if folder == "" {
		folder = spool.NewMail
	}
	return be.open(ctx, user, folder)
}

// OpenFolder opens any folder of any owner (FolderBackend; the gateway
// has checked the rights). Only the owner's own NEWMAIL moves retrieved
// mail to MAIL.
func (be *SpoolBackend) OpenFolder(ctx context.Context, ref gateway.FolderRef) (gateway.Maildrop, error) {
	folder := ref.Folder
	if folder == "" {
		folder = be.Folder
	}
	if folder == "" {
		folder = spool.NewMail
	}
	if err := be.folderExists(ref.Owner, folder); err != nil {
		return nil, err
	}
	md, err := be.open(ctx, ref.Owner, folder)
	d, ok := md.(*spoolDrop)
	if ok && !strings.EqualFold(ref.Owner, ref.User) {
		d.keep = true // a delegate's reading moves none of the owner's mail
	}
	if ok && ref.View != "" {
		return d.view(ctx, ref.ViewField, ref.View)
	}
	return md, err
}

// view is d showing only the messages whose field lists name, field
// being looked for in the RFC 5322 header that delivery keeps at the top
// of the body (unified-account views).
func (d *spoolDrop) view(ctx context.Context, field, name string) (gateway.Maildrop, error) {
	if field == "" {
		field = "X-Real-To"
	}
	var keep []int
	for i := range d.list.Len() {
		rc, err := d.box.Body(i)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			d.Close()
			return nil, err
		}
		h, _ := textproto.ReadHeader(bufio.NewReader(io.LimitReader(rc, 64<<10)))
		rc.Close()
		for _, v := range h.Values(field) {
			if gateway.ListsName(v, name) {
				keep = append(keep, i)
				break
			}
		}
	}
	return gateway.NewView(d, keep), nil
}

// TakeAlert takes user's oldest pending alert (AlertBackend).
func (be *SpoolBackend) TakeAlert(ctx context.Context, user string) (string, error) {
	return be.Spool.TakeAlert(ctx, user)
}

// folderExists returns gateway.ErrNoFolder when owner has no folder by
// that name. Every account has the three standard folders, even before
// its first mail made its spool directory (as a plain login opens an
// empty NEWMAIL then); the public area has only the folders made in it.
func (be *SpoolBackend) folderExists(owner, folder string) error {
	dir, err := be.Spool.UserDir(owner)
	if err != nil || !spool.ValidName(folder) {
		return gateway.ErrNoFolder
	}
	switch strings.ToUpper(folder) {
	case spool.NewMail, spool.Mail, spool.Wastebasket:
		if owner != gateway.PublicOwner {
			return nil
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, strings.ToUpper(folder))); err != nil || !fi.Mode().IsRegular() {
		return gateway.ErrNoFolder
	}
	return nil
}

// open locks and opens folder of user.
func (be *SpoolBackend) open(ctx context.Context, user, folder string) (gateway.Maildrop, error) {
	folder = strings.ToUpper(folder)
	d := &spoolDrop{be: be, folder: folder, log: be.logger().WithField("user", strings.ToUpper(user))}
	var hbuf, abuf []byte
	warned := false
	keep := be.headerLimit
	if keep <= 0 {
		keep = defaultHeaderLimit
	}
	// prepare does what a message's visit needs that does not depend on
	// the messages before it (most of the work: parsing, the rebuilt
	// header), on every CPU while a large folder is scanned.
	d.uidPrefix = uidPrefix(user)
	hbufs := sync.Pool{New: func() any { return new([]byte) }}
	prepare := func(i int, m *spool.Message, text []byte) any {
		p := &prepared{}
		p.m11, p.how, p.err = be.parse(spool.DecodeHeader(text, m), m, func(n int) []byte { return spool.BodyHead(text, m, n) })
		p.base = rewrite.UID(user, arrival(&p.m11, m), m.Sum)
		p.date, _, p.packed = packUID(p.base, d.uidPrefix, m.Sum)
		if p.how == sendBody {
			return p
		}
		hb := hbufs.Get().(*[]byte)
		*hb, p.note = be.header((*hb)[:0], &p.m11, m, p.base, p.how)
		p.hlen = len(*hb)
		if i < keep {
			p.header = bytes.Clone(*hb)
		}
		hbufs.Put(hb)
		return p
	}
	// seen holds the UIDs before the message being visited, so that exact
	// duplicates (same arrival time, header and size) get a suffix in
	// folder order. The final UID goes into the index: a login from the
	// index needs no table.
	var seen *uidSet
	visit := func(i int, m *spool.Message, text []byte, prev *spool.MessageList, prep any) ([]byte, error) {
		if seen == nil {
			seen = &uidSet{prefix: d.uidPrefix, keys: make(map[uidKey]bool, prev.Len()+1)}
			for j := range prev.Len() {
				if pm, ok := decodeAux(prev.Tag(j), prev.Aux(j)); ok {
					seen.add(string(d.uidOf(pm, prev.At(j).Sum)))
				}
			}
		}
		p, _ := prep.(*prepared)
		if p == nil {
			p = prepare(i, m, text).(*prepared)
		}
		m11, how := &p.m11, p.how
		if p.err != nil && !warned {
			d.log.WithError(p.err).WithField("message", i+1).Warn("malformed MAIL-11 header")
			warned = true
		}
		if how == sendRebuilt && be.IgnoreMail11Headers && rewrite.IsSMTP(m11.From) {
			// Logged when the message is first indexed, not at every login.
			d.log.WithFields(logrus.Fields{"message": i + 1, "from": m11.From}).
				Warn("IGNORE_MAIL11_HEADERS: SMTP message without an RFC 822 header block in its body; sent with the rebuilt header")
		}
		uid := p.base
		if p.packed {
			// The usual form: looked up by its parts, not its text.
			k := uidKey{date: p.date, sum: m.Sum}
			for n := uint64(2); seen.keys[k]; n++ {
				k.dup = n
			}
			seen.keys[k] = true
			if k.dup > 0 {
				uid = p.base + "-" + strconv.FormatUint(k.dup, 10)
			}
		} else {
			for n := 2; seen.has(uid); n++ {
				uid = p.base + "-" + strconv.Itoa(n)
			}
			seen.add(uid)
		}
		var size int64
		var h []byte
		switch how {
		case sendBody:
			size = m.BodySize
		default:
			hlen, note := p.hlen, p.note
			h = p.header
			if uid != p.base { // a duplicate: its header names its own UID
				hbuf, note = be.header(hbuf[:0], m11, m, uid, how)
				hlen, h = len(hbuf), hbuf
			}
			if traceOn(d.log) {
				d.log.WithFields(logrus.Fields{"message": i + 1, "from": m11.From, "how": howName[how], "note": note}).Trace("header rebuilt")
			}
			if note != "" {
				// Logged when the message is first indexed, not at every login.
				d.log.WithFields(logrus.Fields{"message": i + 1, "from": m11.From}).Info("From: rebuilt by a fallback rule: " + note)
			}
			size = int64(hlen)
			if how == sendForeign {
				size += int64(len(rewrite.ForeignBody(be.Rewrite.Hostname)))
			} else {
				size += m.BodySize
			}
		}
		if i >= keep {
			h = nil
		}
		abuf, m.Tag = appendAux(abuf[:0], size, how, uid, d.uidPrefix, m.Sum, h) // the spool copies abuf
		return abuf, nil
	}
	var st spool.Stats
	start := time.Now()
	box, err := be.Spool.OpenBox(spool.WithStats(ctx, &st), user, folder, spool.OpenOptions{Visit: visit, Prepare: prepare, IndexKey: be.indexKey(user)})
	traceStats(d.log, "folder open", folder, start, &st, err)
	if errors.Is(err, spool.ErrLocked) {
		return nil, fmt.Errorf("%w: %w", gateway.ErrInUse, err)
	}
	if err != nil {
		return nil, err
	}
	d.box, d.list = box, box.List()
	if d.list.Len() == 0 {
		return d, nil
	}
	// The spool hands out the same (read-only) list while the folder's
	// index in memory matches it; then the total is the same too.
	key := strings.ToUpper(user) + "/" + folder
	be.mu.Lock()
	dv, ok := be.derived[key]
	be.mu.Unlock()
	if ok && dv.list.Value() == d.list {
		d.total = dv.total
		return d.useOldUIDLs(user), nil
	}
	for i := range d.list.Len() {
		size, ok := d.size(i)
		if !ok {
			box.Close()
			return nil, fmt.Errorf("maildrop: message %d of %s has no size in the index", i+1, user)
		}
		d.total += size
	}
	be.mu.Lock()
	if be.derived == nil {
		be.derived = map[string]derivedInfo{}
	}
	if len(be.derived) >= maxDerived {
		clear(be.derived)
	}
	be.derived[key] = derivedInfo{list: weak.Make(d.list), total: d.total}
	be.mu.Unlock()
	return d.useOldUIDLs(user), nil
}

// useOldUIDLs lists the UIDLs of an older server that "vmspop migrate
// uidl" recorded for user's messages in place of their own (spool
// UIDLMap); a damaged map is logged and not used.
func (d *spoolDrop) useOldUIDLs(user string) *spoolDrop {
	um, err := d.be.Spool.UIDLMap(user)
	if err != nil {
		d.log.WithError(err).Warn("UIDL map not used")
	}
	if um.Len() == 0 {
		return d
	}
	uids := make([]string, d.list.Len())
	for i := range uids {
		uids[i] = d.ownUID(i)
	}
	d.uids = um.Apply(uids)
	return d
}

// maxDerived bounds the users whose derived message lists are kept.
const maxDerived = 256

// derivedInfo is what OpenMaildrop derived from a folder's list, kept
// while the spool hands out the same list (which it does not keep alive).
type derivedInfo struct {
	list  weak.Pointer[spool.MessageList]
	total int64
}

// appendAux appends what OpenMaildrop keeps per message in the index: the
// size as sent, how it is sent, the UID, and the rebuilt header (nil when
// RETR rebuilds it), so that RETR need not read and rebuild it (header is
// ignored for sendBody). It returns the aux data and the message's tag
// (spool.Message.Tag): how it is sent, whether its UID is packed, and its
// size unless too large for the tag (then the aux data starts with it).
// What the gateway asks at each use (LIST, RETR's size, UPDATE's how) is
// then read from the entry, with no decoding.
//
// A UID of the usual form, prefix (the user part and a dot)
// yyyymmddhhmmsscc "." %08x(sum) with an optional "-n", is kept as its 16
// date digits packed two to a byte and n if any (8 octets, not about 31:
// a folder of a million messages is mostly its UIDs); any other is kept as
// it is. The packed form is used only when it gives back exactly uid.
func appendAux(b []byte, size int64, how uint8, uid, prefix string, sum uint32, header []byte) ([]byte, uint32) {
	if how == sendBody {
		header = nil
	}
	tag := uint32(how)
	if size >= 0 && size < tagSizeInAux {
		tag |= uint32(size) << tagSizeShift
	} else {
		tag |= tagSizeInAux << tagSizeShift
		b = binary.AppendUvarint(b, uint64(size))
	}
	if date, dup, ok := packUID(uid, prefix, sum); ok {
		tag |= tagPacked
		b = append(b, date[:]...)
		if dup > 0 {
			tag |= tagDup
			b = binary.AppendUvarint(b, dup)
		}
	} else {
		b = binary.AppendUvarint(b, uint64(len(uid)))
		b = append(b, uid...)
	}
	return append(b, header...), tag
}

// A message's tag: how it is sent (tagHow), whether its UID is packed
// and whether it then has a duplicate suffix (its number follows the date
// in the aux data), and its size as sent (the bits from tagSizeShift;
// tagSizeInAux: the size starts the aux data).
const (
	tagHow       = 3
	tagPacked    = 4
	tagDup       = 8
	tagSizeShift = 4
	tagSizeInAux = 1<<(32-tagSizeShift) - 1
)

// uidTail is the length of a UID after its user part and dot.
const uidTail = len("yyyymmddhhmmsscc.12345678")

// uidPrefix is the user part of user's UIDs, with its dot.
func uidPrefix(user string) string {
	u := rewrite.UID(user, time.Time{}, 0)
	return u[:len(u)-uidTail]
}

// packUID packs uid (see appendAux), if it has the usual form.
func packUID(uid, prefix string, sum uint32) (date [8]byte, dup uint64, ok bool) {
	if !strings.HasPrefix(uid, prefix) || len(uid) < len(prefix)+uidTail {
		return date, 0, false
	}
	digits := uid[len(prefix) : len(prefix)+16]
	for k := 0; k < 16; k += 2 {
		hi, lo := digits[k]-'0', digits[k+1]-'0'
		if hi > 9 || lo > 9 {
			return date, 0, false
		}
		date[k/2] = hi<<4 | lo
	}
	if rest := uid[len(prefix)+uidTail:]; rest != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(rest, "-"), 10, 64)
		if err != nil || n < 2 {
			return date, 0, false
		}
		dup = n
	}
	if string(unpackUID(nil, prefix, date, dup, sum)) != uid {
		return date, 0, false
	}
	return date, dup, true
}

// unpackUID appends the UID that packUID packed.
func unpackUID(b []byte, prefix string, date [8]byte, dup uint64, sum uint32) []byte {
	b = append(b, prefix...)
	for _, c := range date {
		b = append(b, '0'+c>>4, '0'+c&15)
	}
	b = append(b, '.')
	var hb [8]byte
	hex := strconv.AppendUint(hb[:0], uint64(sum), 16)
	for i := len(hex); i < 8; i++ {
		b = append(b, '0')
	}
	b = append(b, hex...)
	if dup > 0 {
		b = append(b, '-')
		b = strconv.AppendUint(b, dup, 10)
	}
	return b
}

// decodeAux decodes what appendAux returned for a message.
func decodeAux(tag uint32, b []byte) (auxMessage, bool) {
	m := auxMessage{size: int64(tag >> tagSizeShift), how: uint8(tag & tagHow), packed: tag&tagPacked != 0}
	if m.how > sendBody {
		return auxMessage{}, false
	}
	if m.size == tagSizeInAux {
		size, n := binary.Uvarint(b)
		if n <= 0 {
			return auxMessage{}, false
		}
		m.size, b = int64(size), b[n:]
	}
	if m.packed {
		if len(b) < len(m.date) {
			return auxMessage{}, false
		}
		copy(m.date[:], b)
		b = b[len(m.date):]
		if tag&tagDup != 0 {
			dup, k := binary.Uvarint(b)
			if k <= 0 || dup < 2 {
				return auxMessage{}, false
			}
			m.dup, b = dup, b[k:]
		}
	} else {
		ul, k := binary.Uvarint(b)
		if k <= 0 || ul == 0 || uint64(len(b)-k) < ul {
			return auxMessage{}, false
		}
		m.uid, b = b[k:k+int(ul)], b[k+int(ul):]
	}
	if len(b) > 0 {
		m.header = b[:len(b):len(b)]
	}
	return m, true
}

// uidOf returns the UID that m keeps, for a message whose checksum is sum.
func (d *spoolDrop) uidOf(m auxMessage, sum uint32) []byte {
	if !m.packed {
		return m.uid
	}
	return unpackUID(make([]byte, 0, len(d.uidPrefix)+uidTail+4), d.uidPrefix, m.date, m.dup, sum)
}

// indexKey fingerprints everything a message's size and UID depend on, so
// that an index made under other settings is not used.
func (be *SpoolBackend) indexKey(user string) string {
	be.keyOnce.Do(func() {
		h := sha256.New()
		rw := be.Rewrite
		loc := "Local"
		if rw.Location != nil {
			loc = rw.Location.String()
		}
		fmt.Fprintf(h, "v5|%s|%s|%q|%d|%d|%t|%t|%s|%s|%t|", rw.Hostname, rw.SubstituteDomain, rw.LocalNames,
			rw.DECnet, rw.QuotedDECnet, rw.PersonalName, rw.SendIDHeaders, rw.Server, loc, be.IgnoreMail11Headers)
		nodes := make([]string, 0, len(rw.Nodes))
		for k, v := range rw.Nodes {
			nodes = append(nodes, k+"="+v)
		}
		slices.Sort(nodes)
		fmt.Fprintf(h, "%q", nodes)
		be.key = hex.EncodeToString(h.Sum(nil)[:16])
	})
	return be.key + "|" + strings.ToUpper(user)
}

// parse reads a message's MAIL-11 header and decides how it is sent.
func (be *SpoolBackend) parse(hdr []byte, m *spool.Message, bodyHead func(int) []byte) (mail11.Header, uint8, error) {
	m11, err := mail11.ParseIn(hdr, be.Rewrite.Location)
	switch {
	case m.Binary:
		return m11, sendForeign, err
	case be.IgnoreMail11Headers && rewrite.IsSMTP(m11.From):
		if _, ok := rewrite.BodyHeaderLen(bodyHead(64 << 10)); ok {
			return m11, sendBody, err
		}
	}
	return m11, sendRebuilt, err
}

// header appends the rebuilt header of a message, and returns the note of
// a From: rule that fell back.
func (be *SpoolBackend) header(dst []byte, m11 *mail11.Header, m *spool.Message, uid string, how uint8) ([]byte, string) {
	p := rewrite.Params{UID: uid, Arrival: arrival(m11, m), Foreign: how == sendForeign}
	if m.EightBit {
		p.Charset = "iso-8859-1"
		if m.UTF8 {
			p.Charset = "utf-8"
		}
	}
	return be.Rewrite.AppendHeaderNote(dst, m11, p)
}

// arrival is the arrival date of a message: the MAIL-11 From: date, else
// the date on its From_ line.
func arrival(m11 *mail11.Header, m *spool.Message) time.Time {
	if !m11.Date.IsZero() {
		return m11.Date
	}
	// From_ line: "sender Wed Nov 25 10:00:00 2026"
	if f := strings.Fields(m.Envelope); len(f) >= 6 {
		if t, err := time.Parse(time.ANSIC, strings.Join(f[len(f)-5:], " ")); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Messages returns the whole list (gateway.Maildrop); the gateway reads
// it through Count, Size and UID instead (gateway.Lister).
func (d *spoolDrop) Messages() []gateway.MessageInfo {
	infos := make([]gateway.MessageInfo, d.Count())
	for i := range infos {
		infos[i] = gateway.MessageInfo{Size: d.Size(i), UID: d.UID(i)}
	}
	return infos
}

// Count returns the number of messages (gateway.Lister).
func (d *spoolDrop) Count() int { return d.list.Len() }

// Size returns the size of message i as sent (gateway.Lister).
func (d *spoolDrop) Size(i int) int64 {
	size, _ := d.size(i)
	return size
}

// size returns the size of message i as sent, from its tag unless too
// large for it; false when its aux data is damaged.
func (d *spoolDrop) size(i int) (int64, bool) {
	tag := d.list.Tag(i)
	if tag&tagHow <= sendBody && tag>>tagSizeShift != tagSizeInAux {
		return int64(tag >> tagSizeShift), true
	}
	m, ok := decodeAux(tag, d.list.Aux(i))
	return m.size, ok
}

// how returns how message i is sent.
func (d *spoolDrop) how(i int) uint8 { return uint8(d.list.Tag(i) & tagHow) }

// UID returns the UID listed for message i (gateway.Lister).
func (d *spoolDrop) UID(i int) string {
	if d.uids != nil {
		return d.uids[i]
	}
	return d.ownUID(i)
}

// ownUID is message i's own UID (the one in its rebuilt header), not one
// that a UIDL map put in its place. Unless packed it is the bytes of the
// shared list, which are never modified.
func (d *spoolDrop) ownUID(i int) string {
	m := d.aux(i)
	if !m.packed {
		return unsafe.String(unsafe.SliceData(m.uid), len(m.uid))
	}
	u := d.uidOf(m, d.list.At(i).Sum)
	return unsafe.String(unsafe.SliceData(u), len(u))
}

// aux decodes message i's aux data.
func (d *spoolDrop) aux(i int) auxMessage {
	m, _ := decodeAux(d.list.Tag(i), d.list.Aux(i))
	return m
}

// TotalSize is the sum of the message sizes (gateway.Sizer), worked out
// once per list, so that a login to a large folder does not add them up.
func (d *spoolDrop) TotalSize() int64 { return d.total }

// Open streams message i as sent: header, then body, CRLF line ends.
func (d *spoolDrop) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	if d.how(i) == sendBody {
		return d.box.Body(i)
	}
	dm := d.aux(i)
	h := dm.header
	if h == nil { // not in the index: rebuild it as the visitor did
		hdr, err := d.box.Header(i)
		if err != nil {
			return nil, err
		}
		env, err := d.box.Envelope(i)
		if err != nil {
			return nil, err
		}
		m11, _ := mail11.ParseIn(hdr, d.be.Rewrite.Location)
		mm := d.box.Message(i)
		mm.Envelope = env
		h, _ = d.be.header(nil, &m11, &mm, d.ownUID(i), dm.how)
	}
	if dm.how == sendForeign {
		// h may be shared: build the foreign text in a new slice.
		return &sentMessage{header: append(append([]byte(nil), h...), rewrite.ForeignBody(d.be.Rewrite.Hostname)...)}, nil
	}
	body, err := d.box.Body(i)
	if err != nil {
		return nil, err
	}
	return &sentMessage{header: h, body: body}, nil
}

// sentMessage is a rebuilt header followed by a streamed body.
type sentMessage struct {
	header []byte
	body   io.ReadCloser
}

func (m *sentMessage) Read(p []byte) (int, error) {
	if len(m.header) > 0 {
		n := copy(p, m.header)
		m.header = m.header[n:]
		return n, nil
	}
	if m.body == nil {
		return 0, io.EOF
	}
	return m.body.Read(p)
}

// WriteTo lets io.Copy hand the body's decoded blocks straight to w.
func (m *sentMessage) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m.header)
	m.header = m.header[n:]
	if err != nil || m.body == nil {
		return int64(n), err
	}
	k, err := io.Copy(w, m.body)
	return int64(n) + k, err
}

// WriteStuffedTo writes the message dot-stuffed: the (short) header here,
// the body by the spool's decoder as it decodes.
func (m *sentMessage) WriteStuffedTo(w io.Writer) (int64, error) {
	n := int64(len(m.header))
	if _, err := w.Write(stuffLines(m.header)); err != nil {
		return 0, err
	}
	m.header = nil
	if m.body == nil {
		return n, nil
	}
	if ps, ok := m.body.(gateway.PreStuffer); ok {
		k, err := ps.WriteStuffedTo(w)
		return n + k, err
	}
	body, err := io.ReadAll(m.body)
	if err != nil {
		return n, err
	}
	_, err = w.Write(stuffLines(body))
	return n + int64(len(body)), err
}

// stuffLines returns b with a '.' added before every line that starts
// with one; b itself when there is none (the usual case for headers).
func stuffLines(b []byte) []byte {
	if len(b) == 0 || b[0] != '.' && !bytes.Contains(b, []byte("\n.")) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) > 0 && line[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, line...)
	}
	return out
}

func (m *sentMessage) Close() error {
	if m.body == nil {
		return nil
	}
	return m.body.Close()
}

// Commit applies UPDATE: deleted messages go to WASTEBASKET (or are purged),
// retrieved ones to MAIL unless LeaveInNewmail; foreign messages the
// session saw go to MAIL and are never deleted (manual 15.1.4).
func (d *spoolDrop) Commit(ctx context.Context, u gateway.Update) (gateway.CommitResult, error) {
	deleted := make(map[int]bool, len(u.Deleted))
	for _, i := range u.Deleted {
		deleted[i] = true
	}
	var del, move []int
	for _, i := range u.Deleted {
		if d.how(i) == sendForeign {
			move = append(move, i)
		} else {
			del = append(del, i)
		}
	}
	for _, i := range u.Retrieved {
		if !deleted[i] && (!d.be.LeaveInNewmail || d.how(i) == sendForeign) {
			move = append(move, i)
		}
	}
	if d.folder != spool.NewMail || d.keep {
		move = nil // only NEWMAIL moves retrieved mail to MAIL
	}
	slices.Sort(move)
	var st spool.Stats
	start := time.Now()
	err := d.box.Commit(spool.WithStats(ctx, &st), del, move, d.be.PurgeReclaim)
	traceStats(d.log, "folder update", d.folder, start, &st, err)
	if err != nil {
		return gateway.CommitResult{}, err
	}
	if d.be.PurgeReclaim && len(del) > 0 {
		d.purgeReclaim(ctx)
	}
	return gateway.CommitResult{Deleted: len(del), Moved: len(move), Left: d.list.Len() - len(del) - len(move)}, nil
}

func (d *spoolDrop) Close() error { return d.box.Close() }

// howName names how a message is sent, for the DEBUG log.
var howName = map[uint8]string{sendRebuilt: "rebuilt header", sendBody: "own RFC 822 header", sendForeign: "foreign"}

// traceStats logs at DEBUG (logrus Trace) what a spool operation did.
func traceStats(log logrus.FieldLogger, what, folder string, start time.Time, st *spool.Stats, err error) {
	if !traceOn(log) {
		return
	}
	f := logrus.Fields{"folder": folder, "us": time.Since(start).Microseconds(), "lock_wait_us": st.LockWait.Microseconds()}
	if st.Index != "" {
		f["index"], f["scanned"], f["scanned_bytes"] = st.Index, st.Scanned, st.ScannedBytes
	}
	if err != nil {
		f["error"] = err.Error()
	}
	log.WithFields(f).Trace(what)
}

// traceOn reports whether log writes DEBUG (logrus Trace) lines.
func traceOn(log logrus.FieldLogger) bool {
	switch l := log.(type) {
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(logrus.TraceLevel)
	case *logrus.Logger:
		return l.IsLevelEnabled(logrus.TraceLevel)
	}
	return false
}

// purgeReclaim empties the user's WASTEBASKET after an update that
// deleted mail (TCPIP$POP_PURGE_RECLAIM). The update itself is done: a
// failure here is logged, not reported to the client.
func (d *spoolDrop) purgeReclaim(ctx context.Context) {
	res, err := d.be.Spool.Purge(ctx, d.box.User(), time.Time{})
	if err != nil {
		d.log.WithError(err).Warn("PURGE_RECLAIM: WASTEBASKET not emptied")
		return
	}
	if res.Purged > 0 {
		d.log.WithFields(logrus.Fields{"purged": res.Purged, "freed": res.Freed}).Info("PURGE_RECLAIM: WASTEBASKET emptied")
	}
}
