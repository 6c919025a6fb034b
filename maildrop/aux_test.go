package maildrop

import (
	"testing"
	"time"

	"github.com/vmspop/vmspop/rewrite"
)

// TestAuxUIDs: every UID comes back from the aux data and tag exactly,
// packed when it has the usual form, as it is otherwise; with the size
// (in the tag, or in the aux data when too large for it), how it is sent
// and the header.
func TestAuxUIDs(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 7, 80_000_000, time.UTC)
	for _, tc := range []struct {
		user, uid string
		sum       uint32
		packed    bool
	}{
		{"smith", rewrite.UID("smith", at, 0x0a1b2c3d), 0x0a1b2c3d, true},
		{"SMITH", rewrite.UID("SMITH", at, 0x0a1b2c3d) + "-2", 0x0a1b2c3d, true},
		{"SMITH", rewrite.UID("SMITH", at, 0x0a1b2c3d) + "-123", 0x0a1b2c3d, true},
		{"smith@example.org", rewrite.UID("smith@example.org", at, 7), 7, true},
		{"a b\x01c", rewrite.UID("a b\x01c", time.Time{}, 0), 0, true},
		{"a.very.long.user.name.that.is.cut.at.36.characters", rewrite.UID("a.very.long.user.name.that.is.cut.at.36.characters", at, 1), 1, true},
		{"SMITH", rewrite.UID("SMITH", at, 0x0a1b2c3d), 0x0a1b2c3e, false}, // another checksum
		{"SMITH", rewrite.UID("JONES", at, 1), 1, false},                   // another user
		{"SMITH", rewrite.UID("SMITH", at, 1) + "-1", 1, false},
		{"SMITH", rewrite.UID("SMITH", at, 1) + "-02", 1, false},
		{"SMITH", rewrite.UID("SMITH", at, 1) + "x", 1, false},
		{"SMITH", "SMITH.20261125100007x8.00000001", 1, false},
		{"SMITH", "SMITH.", 1, false},
	} {
		d := &spoolDrop{uidPrefix: uidPrefix(tc.user)}
		for _, h := range [][]byte{nil, []byte("Subject: x\r\n\r\n")} {
			for _, size := range []int64{12345, tagSizeInAux - 1, tagSizeInAux, 5 << 30} {
				b, tag := appendAux(nil, size, sendForeign, tc.uid, d.uidPrefix, tc.sum, h)
				m, ok := decodeAux(tag, b)
				if !ok || m.size != size || m.how != sendForeign || string(m.header) != string(h) {
					t.Fatalf("%q, size %d: decoded %+v, %v", tc.uid, size, m, ok)
				}
			}
			b, tag := appendAux(nil, 12345, sendRebuilt, tc.uid, d.uidPrefix, tc.sum, h)
			m, ok := decodeAux(tag, b)
			if !ok || m.size != 12345 || m.how != sendRebuilt || string(m.header) != string(h) {
				t.Fatalf("%q: decoded %+v, %v", tc.uid, m, ok)
			}
			if m.packed != tc.packed {
				t.Errorf("%q (user %q): packed %v, want %v", tc.uid, tc.user, m.packed, tc.packed)
			}
			if got := string(d.uidOf(m, tc.sum)); got != tc.uid {
				t.Fatalf("%q: got back %q", tc.uid, got)
			}
		}
	}
}

// TestUIDSet: a set of UIDs holds each UID once, whether kept by its
// parts or by its text, and tells apart UIDs that differ in any octet.
func TestUIDSet(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 15, 32, 450_000_000, time.UTC)
	base := rewrite.UID("SMITH", at, 0x0a1b2c3d)
	uids := []string{
		base, base + "-2", base + "-10",
		rewrite.UID("SMITH", at, 0x0a1b2c3e), rewrite.UID("SMITH", at.Add(10*time.Millisecond), 0x0a1b2c3d),
		"SMITH.2026112510153245.0A1B2C3D", base + "-02", base + "-1", base + "x", "SMITH.", "JONES.1",
		rewrite.UID("JONES", at, 0x0a1b2c3d),
	}
	s := &uidSet{prefix: uidPrefix("smith"), keys: map[uidKey]bool{}}
	for i, u := range uids {
		for _, v := range uids[i:] {
			if s.has(v) {
				t.Fatalf("%q in the set before it was added (after %q)", v, uids[:i])
			}
		}
		s.add(u)
		if !s.has(u) {
			t.Fatalf("%q not in the set once added", u)
		}
	}
	if len(s.keys) != 5 || len(s.texts) != len(uids)-5 {
		t.Fatalf("%d UIDs by their parts, %d by their text; want 5 and %d", len(s.keys), len(s.texts), len(uids)-5)
	}
}
