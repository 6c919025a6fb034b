package rewrite

import (
	"strconv"
	"time"
)

// maxUIDUser bounds the user-name part of a UID so that the whole, with a
// "-nnn" suffix for duplicates, stays within RFC 1939's 70 octets.
const maxUIDUser = 36

// UID is the one UID function (UIDL and X-POP3-ID): the user name and the
// arrival date, as the VMS server forms it, plus a content checksum so that
// messages that share an arrival time differ:
//
//	USER "." yyyymmddhhmmsscc "." %08x(sum)    e.g. SMITH.1992070221170808.0a1b2c3d
//
// The user name is upper-cased (VMS user names ignore case, and the UID must
// not change with the case the client logs in with), characters outside
// 0x21-0x7E become "_", and it is cut to 36 characters; the date is taken in
// arrival's own location. The result is printable (0x21-0x7E) and at most 62
// octets, leaving room for the caller's "-2", "-3"... on exact duplicates.
func UID(user string, arrival time.Time, sum uint32) string {
	var b [80]byte
	out := b[:0]
	for i := 0; i < len(user) && len(out) < maxUIDUser; i++ {
		c := user[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c < 0x21 || c > 0x7E:
			c = '_'
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		out = append(out, '_')
	}
	out = append(out, '.')
	y := min(max(arrival.Year(), 0), 9999)
	out = append2(append2(out, y/100), y%100)
	out = append2(out, int(arrival.Month()))
	out = append2(out, arrival.Day())
	out = append2(out, arrival.Hour())
	out = append2(out, arrival.Minute())
	out = append2(out, arrival.Second())
	out = append2(out, arrival.Nanosecond()/10_000_000)
	out = append(out, '.')
	var hb [8]byte
	hex := strconv.AppendUint(hb[:0], uint64(sum), 16)
	for i := len(hex); i < 8; i++ {
		out = append(out, '0')
	}
	out = append(out, hex...)
	return string(out)
}

// append2 appends v (0 to 99) as two decimal digits.
func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}
