package spool

// The UIDL map: the UIDLs an older POP server gave a user's messages.
//
// "vmspop migrate uidl" matches the messages an old server lists to the
// messages imported into the spool and records, for each, the old UIDL
// against vmspop's own UID for the message. The gateway then answers UIDL
// with the old value, so that clients that leave mail on the server do not
// fetch it all again after a cutover.
//
// vmspop's UID is derived from the message alone (user, arrival date, a
// checksum of the MAIL-11 header lines and the size; rewrite.UID), not from
// where it is stored, so the map holds whatever folder the message is in,
// across UPDATE moves and index rebuilds.
//
// The map is one small text file per user, <USER>/.uidlmap:
//
//	vmspop-uidlmap 1
//	SMITH.1992070221170808.0a1b2c3d 00000001a1b2c3d4
//	...
//	end 2 5b3c1f0e
//
// one "UID OLD-UIDL" line per message, and a last line with the number of
// entries and the CRC-32C of the lines before it. It is replaced atomically
// (written to a new file, fsynced, renamed, directory fsynced) under the
// folder lock; a file that is damaged or cut short is refused as a whole.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// uidlMapName is the name of the UIDL map file in a user's directory.
const uidlMapName = ".uidlmap"

const uidlMapMagic = "vmspop-uidlmap 1"

// UIDLMap maps vmspop's own UIDs of a user's messages to the UIDLs an older
// server gave them. A nil *UIDLMap is empty. It is read-only once loaded.
type UIDLMap struct {
	old map[string]string // own UID -> old UIDL
}

// Len returns the number of entries.
func (m *UIDLMap) Len() int {
	if m == nil {
		return 0
	}
	return len(m.old)
}

// Lookup returns the old UIDL recorded for the message whose own UID is uid.
func (m *UIDLMap) Lookup(uid string) (string, bool) {
	if m == nil {
		return "", false
	}
	old, ok := m.old[uid]
	return old, ok
}

// Apply returns the UIDLs to list for a maildrop whose messages have the
// own UIDs uids: the old UIDL where one is recorded, else the own UID. It
// returns nil when no message has an old UIDL. A UIDL must be unique in a
// maildrop (RFC 1939 §7), so an old UIDL that another message of uids
// already has as its own UID, or that two messages would share, is not
// used: those messages keep their own UIDs.
func (m *UIDLMap) Apply(uids []string) []string {
	if m.Len() == 0 || len(uids) == 0 {
		return nil
	}
	var out []string
	count := map[string]int{}
	for i, uid := range uids {
		old, ok := m.old[uid]
		if !ok {
			continue
		}
		if out == nil {
			out = slices.Clone(uids)
		}
		out[i] = old
		count[old]++
	}
	if out == nil {
		return nil
	}
	own := make(map[string]bool, len(uids))
	for _, uid := range uids {
		own[uid] = true
	}
	changed := false
	for i, uid := range uids {
		if out[i] == uid {
			continue
		}
		if count[out[i]] > 1 || own[out[i]] {
			out[i] = uid
			continue
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return out
}

// ValidUIDL reports whether s can be a UIDL: 1 to 70 octets in the range
// 0x21 to 0x7E (RFC 1939 §7).
func ValidUIDL(s string) bool {
	if len(s) == 0 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// uidlMaps caches the UIDL maps read lately, by user directory, as long as
// their file is unchanged.
type uidlMaps struct {
	mu sync.Mutex
	m  map[string]*cachedUIDLMap
}

type cachedUIDLMap struct {
	size, mtime int64
	ino         uint64
	m           *UIDLMap
}

// maxCachedUIDLMaps bounds the users whose UIDL maps are kept in memory.
const maxCachedUIDLMaps = 1024

// UIDLMap returns user's UIDL map: nil (and no error) when the user has
// none. It is read without the folder lock (the file is only ever
// replaced whole) and kept in memory while the file is unchanged, so a
// login costs one stat(2). A damaged file is an error.
func (s *Spool) UIDLMap(user string) (*UIDLMap, error) {
	dir, err := s.UserDir(user)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, uidlMapName)
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	mtime, ino := fileStamp(fi)
	c := &s.uidlMaps
	c.mu.Lock()
	hit := c.m[dir]
	c.mu.Unlock()
	if hit != nil && hit.size == fi.Size() && hit.mtime == mtime && hit.ino == ino {
		return hit.m, nil
	}
	// Read through one descriptor, so that what is cached is the content
	// of the file whose stamp is recorded.
	f, err := openNoFollow(path, os.O_RDONLY)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	mtime, ino = fileStamp(fi)
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("spool: %s: %w", path, err)
	}
	m, err := parseUIDLMap(data)
	if err != nil {
		return nil, fmt.Errorf("spool: %s: %w", path, err)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedUIDLMaps {
		c.m = map[string]*cachedUIDLMap{}
	}
	c.m[dir] = &cachedUIDLMap{size: fi.Size(), mtime: mtime, ino: ino, m: m}
	c.mu.Unlock()
	return m, nil
}

var errBadUIDLMap = errors.New("damaged UIDL map")

func parseUIDLMap(data []byte) (*UIDLMap, error) {
	body, last, ok := cutLastLine(data)
	if !ok || !bytes.HasPrefix(body, []byte(uidlMapMagic+"\n")) {
		return nil, errBadUIDLMap
	}
	f := strings.Fields(last)
	if len(f) != 3 || f[0] != "end" {
		return nil, errBadUIDLMap
	}
	n, err1 := strconv.Atoi(f[1])
	sum, err2 := strconv.ParseUint(f[2], 16, 32)
	if err1 != nil || err2 != nil || crc32.Checksum(body, castagnoli) != uint32(sum) {
		return nil, errBadUIDLMap
	}
	m := &UIDLMap{old: make(map[string]string, n)}
	lines := strings.Split(strings.TrimSuffix(string(body[len(uidlMapMagic)+1:]), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	for _, l := range lines {
		uid, old, ok := strings.Cut(l, " ")
		if !ok || !ValidUIDL(uid) || !ValidUIDL(old) {
			return nil, errBadUIDLMap
		}
		m.old[uid] = old
	}
	if len(m.old) != n || len(lines) != n {
		return nil, errBadUIDLMap
	}
	return m, nil
}

// cutLastLine splits data, which must end with '\n', before its last line.
func cutLastLine(data []byte) (before []byte, last string, ok bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	if i < 0 {
		return nil, "", false
	}
	return data[:i+1], string(data[i+1 : len(data)-1]), true
}

func encodeUIDLMap(old map[string]string) []byte {
	uids := make([]string, 0, len(old))
	for uid := range old {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	var b bytes.Buffer
	b.WriteString(uidlMapMagic + "\n")
	for _, uid := range uids {
		b.WriteString(uid + " " + old[uid] + "\n")
	}
	fmt.Fprintf(&b, "end %d %08x\n", len(uids), crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes()
}

// RecordUIDLs adds the entries of add (own UID -> old UIDL) to user's UIDL
// map, replacing any entry for the same UID, and returns how many entries
// the map then holds. It holds the folder lock while it reads, merges and
// atomically replaces the file. Every UID and UIDL must be valid
// (ValidUIDL); a damaged map is an error (remove the file to start anew).
func (s *Spool) RecordUIDLs(ctx context.Context, user string, add map[string]string) (int, error) {
	for uid, old := range add {
		if !ValidUIDL(uid) || !ValidUIDL(old) {
			return 0, fmt.Errorf("spool: invalid UIDL map entry %q -> %q", uid, old)
		}
	}
	total := 0
	err := s.withFolderLock(ctx, user, true, func(dir string) error {
		path := filepath.Join(dir, uidlMapName)
		merged := map[string]string{}
		data, err := readNoFollow(path)
		switch {
		case err == nil:
			m, err := parseUIDLMap(data)
			if err != nil {
				return fmt.Errorf("spool: %s: %w", path, err)
			}
			maps := m.old
			for k, v := range maps {
				merged[k] = v
			}
		case !errors.Is(err, os.ErrNotExist):
			return err
		}
		for k, v := range add {
			merged[k] = v
		}
		total = len(merged)
		if err := writeFileSync(path, encodeUIDLMap(merged)); err != nil {
			return mapErr(err)
		}
		// Written by root for a spool that the server reads as another
		// user: give the map the owner of the user's directory.
		if fi, err := os.Stat(dir); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
				os.Chown(path, int(st.Uid), int(st.Gid))
			}
		}
		return nil
	})
	return total, err
}
