package spool

// A folder's messages in compact form
//
// A folder of a million messages must not cost a million structs and a
// million slices per login or per session: a MessageList holds one
// fixed-size entry per message (44 bytes: its 40-bit offset, the layout
// of its text in 32-bit offsets, its sizes, CRC, flags and the Visitor's
// Tag) and the aux data
// of all messages packed in blocks of 1<<auxShift messages. The End of a
// message is the Start of the next one (or the end the list covers). A
// message that does not fit an entry (a text of 4 GiB or more, more than
// 65,535 trailing newlines, an offset of 1 TiB or more) is kept whole in a
// map instead; a folder holding one is not written to an index file.
//
// A MessageList is never modified once built: sessions share it, and the
// aux slices it hands out may be kept.

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// entry is one message of a MessageList.
type entry struct {
	startLo    uint32 // Start: low 32 bits
	startHi    uint8  // and the next 8
	flags      uint8
	extra      uint16 // ExtraNewlines
	fromLen    uint32 // Text - Start
	headerEnd  uint32
	bodyStart  uint32
	contentEnd uint32
	size       uint32
	bodySize   uint32
	sum        uint32
	auxEnd     uint32 // end of the message's aux data in its block
	tag        uint32 // Message.Tag
}

func (e *entry) start() int64 { return int64(e.startHi)<<32 | int64(e.startLo) }

// maxStart bounds the offsets an entry holds.
const maxStart = 1<<40 - 1

// entry flags.
const (
	flagBinary = 1 << iota
	flagEightBit
	flagUTF8
	flagBig // the message is in MessageList.big
)

// auxShift: the aux data of messages [k<<auxShift, (k+1)<<auxShift) is
// block k.
const auxShift = 12

// MessageList is the messages of a folder snapshot (see the top of this
// file). Shared read-only.
type MessageList struct {
	ents []entry
	aux  [][]byte        // full blocks, then (while building) cur
	cur  []byte          // the block being filled
	big  map[int]Message // messages that do not fit an entry
	end  int64           // End of the last message
}

// Len returns the number of messages.
func (l *MessageList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.ents)
}

func (l *MessageList) endOf(i int) int64 {
	if i+1 < len(l.ents) {
		return l.Start(i + 1)
	}
	return l.end
}

// At returns message i (without its Envelope).
func (l *MessageList) At(i int) Message {
	e := &l.ents[i]
	if e.flags&flagBig != 0 {
		return l.big[i]
	}
	start := e.start()
	return Message{
		Start: start, Text: start + int64(e.fromLen), End: l.endOf(i),
		HeaderEnd: int(e.headerEnd), BodyStart: int(e.bodyStart), ContentEnd: int(e.contentEnd),
		ExtraNewlines: int(e.extra), Size: int64(e.size), BodySize: int64(e.bodySize), Sum: e.sum,
		Binary: e.flags&flagBinary != 0, EightBit: e.flags&flagEightBit != 0, UTF8: e.flags&flagUTF8 != 0,
		Tag: e.tag,
	}
}

// Tag returns message i's Tag (what the Visitor set in Message.Tag).
func (l *MessageList) Tag(i int) uint32 { return l.ents[i].tag }

// Start returns the offset of message i's From_ line; End where it ends.
func (l *MessageList) Start(i int) int64 {
	if e := &l.ents[i]; e.flags&flagBig == 0 {
		return e.start()
	}
	return l.big[i].Start
}

// End returns the offset after message i.
func (l *MessageList) End(i int) int64 { return l.endOf(i) }

// Aux returns what the Visitor returned for message i (nil for none).
func (l *MessageList) Aux(i int) []byte {
	k := i >> auxShift
	var blk []byte
	if k < len(l.aux) {
		blk = l.aux[k]
	} else {
		blk = l.cur
	}
	from := uint32(0)
	if i&(1<<auxShift-1) != 0 {
		from = l.ents[i-1].auxEnd
	}
	to := l.ents[i].auxEnd
	if from == to {
		return nil
	}
	return blk[from:to:to]
}

// fits reports whether m's layout fits an entry.
func fits(m *Message) bool {
	const u = math.MaxUint32
	return m.Text-m.Start <= u && m.HeaderEnd <= u && m.BodyStart <= u && m.ContentEnd <= u &&
		m.ExtraNewlines <= math.MaxUint16 && m.Size <= u && m.BodySize <= u && m.End <= maxStart
}

// add appends message m (its offsets in the folder) and its aux data.
func (l *MessageList) add(m *Message, aux []byte) error {
	n := len(l.ents)
	if n > 0 && n&(1<<auxShift-1) == 0 {
		// Block full: keep an exact copy, fill the buffer again.
		l.aux = append(l.aux, slices.Clone(l.cur))
		l.cur = l.cur[:0]
	}
	if len(l.cur)+len(aux) > math.MaxUint32 {
		return fmt.Errorf("spool: message %d: aux data too large to index", n+1)
	}
	l.cur = append(l.cur, aux...)
	e := entry{auxEnd: uint32(len(l.cur)), tag: m.Tag}
	if m.Start <= maxStart {
		e.startLo, e.startHi = uint32(m.Start), uint8(m.Start>>32)
	}
	if fits(m) {
		e.fromLen, e.headerEnd, e.bodyStart, e.contentEnd = uint32(m.Text-m.Start), uint32(m.HeaderEnd), uint32(m.BodyStart), uint32(m.ContentEnd)
		e.extra, e.size, e.bodySize, e.sum = uint16(m.ExtraNewlines), uint32(m.Size), uint32(m.BodySize), m.Sum
		if m.Binary {
			e.flags |= flagBinary
		}
		if m.EightBit {
			e.flags |= flagEightBit
		}
		if m.UTF8 {
			e.flags |= flagUTF8
		}
	} else {
		e.flags = flagBig
		if l.big == nil {
			l.big = map[int]Message{}
		}
		bm := *m
		bm.Envelope = ""
		l.big[n] = bm
	}
	l.ents = append(l.ents, e)
	l.end = m.End
	return nil
}

// finish ends building: the last block is copied to its exact size.
func (l *MessageList) finish() *MessageList {
	if len(l.ents) > 0 {
		l.aux = append(l.aux, slices.Clone(l.cur))
	}
	l.cur = nil
	return l
}

// prefix returns a list being built holding the first n messages of l
// (l itself is not changed: full blocks are shared, the last copied).
func (l *MessageList) prefix(n int) *MessageList {
	p := &MessageList{}
	if l == nil || n == 0 {
		return p
	}
	p.ents = slices.Clone(l.ents[:n])
	full := n >> auxShift
	if n&(1<<auxShift-1) == 0 {
		full-- // the last block is full: it becomes cur
	}
	p.aux = slices.Clone(l.aux[:full])
	p.cur = append([]byte(nil), l.aux[full][:l.ents[n-1].auxEnd]...)
	for i, m := range l.big {
		if i < n {
			if p.big == nil {
				p.big = map[int]Message{}
			}
			p.big[i] = m
		}
	}
	p.end = l.endOf(n - 1)
	return p
}

// grow makes room for n more messages.
func (l *MessageList) grow(n int) { l.ents = slices.Grow(l.ents, n) }

// memSize is about what l holds in memory, in bytes.
func (l *MessageList) memSize() int {
	n := cap(l.ents) * int(unsafe.Sizeof(entry{}))
	for _, b := range l.aux {
		n += cap(b) + 24
	}
	return n + len(l.big)*128
}
