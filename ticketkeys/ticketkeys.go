// Package ticketkeys keeps the keys that encrypt TLS session tickets, so
// that a client which reconnects resumes its TLS session (no certificate,
// no signature) on any of several vmspop instances behind a load balancer,
// and on the same instance after a reload.
//
// crypto/tls makes and rotates ticket keys by itself, but per tls.Config:
// every instance has its own, and a reload, which builds a new server with a
// new tls.Config, forgets them. A Keys outlives both. It has two sources:
//
//   - a key file (TCPIP$POP_TLS_TICKET_KEYS) shared by every instance, one
//     key per line, newest first: the first encrypts new tickets, every key
//     decrypts. `vmspop ticketkeys rotate` (Rotate) puts a new key on top;
//     a Keys reads the file again when it changes, at most once a second.
//   - no file: random keys in memory, a new one every Rotation, the last
//     Keep kept, as crypto/tls does by itself, but shared by the servers one
//     process builds across reloads.
//
// A file of keys is as secret as the private key: anyone who has it can read
// every session whose ticket was made with one of its keys. Rotate it daily
// and keep few keys; the file is refused if others may read it.
package ticketkeys

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

const (
	// Rotation is how often a Keys without a file makes a new key: the
	// period crypto/tls uses for the keys it makes itself.
	Rotation = 24 * time.Hour
	// Keep is how many keys a Keys without a file keeps (a ticket is
	// accepted for Keep × Rotation), and Rotate's default.
	Keep = 7
	// checkInterval bounds how often the key file is looked at.
	checkInterval = time.Second
	// maxFileSize bounds the key file that is read.
	maxFileSize = 64 << 10
)

// keyLen is the length of one key, decoded: crypto/tls's ticket key.
const keyLen = 32

// Keys is a list of session ticket keys, newest first, installed into the
// tls.Configs of the servers that share it. It is safe for concurrent use.
type Keys struct {
	path string // "" = in memory
	log  *logrus.Logger
	now  func() time.Time

	mu      sync.Mutex
	keys    [][keyLen]byte
	gen     uint64    // changes with keys
	made    time.Time // in memory: when keys[0] was made
	stamp   fileStamp // file: what was last read
	failing bool      // file: the last read failed (and was logged)
	checked time.Time // file: when it was last looked at
}

// fileStamp identifies a version of the key file.
type fileStamp struct {
	ino, size uint64
	mtime     time.Time
}

// New returns keys kept in memory: one random key now, a new one every
// Rotation.
func New() *Keys {
	k := &Keys{now: time.Now}
	k.keys = [][keyLen]byte{randomKey()}
	k.made = k.now()
	return k
}

// Open reads the key file at path. The file must hold at least one key,
// every line a key in standard base64 (blank lines and lines starting with
// # are skipped), and must not be readable or writable by others. Later
// changes to the file are picked up by the tls.Configs the keys are
// installed into; a change that does not read is logged to log and the
// keys held are kept.
func Open(path string, log *logrus.Logger) (*Keys, error) {
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	k := &Keys{path: path, log: log, now: time.Now}
	keys, st, err := readFile(path)
	if err != nil {
		return nil, err
	}
	k.keys, k.stamp, k.checked = keys, st, k.now()
	return k, nil
}

// Install makes cfg encrypt and decrypt session tickets with k's keys, and
// follow them as they change: every ClientHello first brings cfg up to date
// (a look at the key file at most once a second, or the in-memory
// rotation). It wraps cfg.GetConfigForClient and must be called before cfg
// is used.
func (k *Keys) Install(cfg *tls.Config) {
	var (
		mu  sync.Mutex
		gen uint64
	)
	apply := func() {
		mu.Lock()
		defer mu.Unlock()
		if keys, g := k.since(gen); keys != nil {
			cfg.SetSessionTicketKeys(keys)
			gen = g
		}
	}
	apply()
	next := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		apply()
		if next != nil {
			return next(hello)
		}
		return nil, nil // go on with cfg itself
	}
}

// since brings the keys up to date and, if their generation is not gen,
// returns a copy with the generation (never 0); else nil. A handshake
// whose keys have not changed allocates nothing.
func (k *Keys) since(gen uint64) ([][32]byte, uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if k.path == "" {
		if d := now.Sub(k.made); d >= Rotation {
			// One new key per period gone by: after Keep periods
			// without a handshake no old key is left.
			n := int(min(d/Rotation, Keep))
			fresh := make([][keyLen]byte, n, Keep)
			for i := range fresh {
				fresh[i] = randomKey()
			}
			k.keys = append(fresh, k.keys[:min(len(k.keys), Keep-n)]...)
			k.made = now
			k.gen++
		}
	} else if now.Sub(k.checked) >= checkInterval || now.Before(k.checked) {
		k.checked = now
		k.reloadLocked()
	}
	if k.gen+1 == gen {
		return nil, gen
	}
	out := make([][32]byte, len(k.keys))
	copy(out, k.keys)
	return out, k.gen + 1
}

// reloadLocked reads the key file again if it changed.
func (k *Keys) reloadLocked() {
	st, err := stat(k.path)
	if err == nil && st == k.stamp {
		return
	}
	var keys [][keyLen]byte
	if err == nil {
		keys, st, err = readFile(k.path)
	}
	if err != nil {
		// Logged once per change of the file, not once a second.
		if !k.failing || st != k.stamp {
			k.log.WithError(err).Error("TLS ticket keys not reloaded; keeping the old ones")
		}
		k.stamp, k.failing = st, true
		return
	}
	k.keys, k.stamp, k.failing = keys, st, false
	k.gen++
	k.log.WithFields(logrus.Fields{"file": k.path, "keys": len(keys)}).Info("TLS ticket keys reloaded")
}

// stat returns the key file's identity.
func stat(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return stampOf(fi), nil
}

// stampOf returns the identity of the file fi describes.
func stampOf(fi fs.FileInfo) fileStamp {
	st := fileStamp{size: uint64(fi.Size()), mtime: fi.ModTime()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = s.Ino
	}
	return st
}

// readFile reads and checks the key file.
func readFile(path string) ([][keyLen]byte, fileStamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("TLS ticket keys: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("TLS ticket keys: %w", err)
	}
	st := stampOf(fi)
	if !fi.Mode().IsRegular() {
		return nil, st, fmt.Errorf("TLS ticket keys %s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, st, fmt.Errorf("TLS ticket keys %s: mode %04o lets others read or write the keys; chmod o-rwx it", path, fi.Mode().Perm())
	}
	if fi.Size() > maxFileSize {
		return nil, st, fmt.Errorf("TLS ticket keys %s: %d octets, more than %d", path, fi.Size(), maxFileSize)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, st, fmt.Errorf("TLS ticket keys %s: %w", path, err)
	}
	keys, err := Parse(data)
	if err != nil {
		return nil, st, fmt.Errorf("TLS ticket keys %s: %w", path, err)
	}
	return keys, st, nil
}

// Parse reads a key file's content: one key per line, 32 octets in standard
// base64, newest first; blank lines and lines starting with # are skipped.
func Parse(data []byte) ([][32]byte, error) {
	var keys [][keyLen]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(b) != keyLen {
			return nil, fmt.Errorf("line %d: not a key (%d octets in standard base64)", n, keyLen)
		}
		keys = append(keys, [keyLen]byte(b))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no key in the file (make one with vmspop ticketkeys rotate)")
	}
	return keys, nil
}

// format writes keys in the file's form, with a comment line first.
func format(keys [][32]byte) []byte {
	var b bytes.Buffer
	b.WriteString("# TLS session ticket keys, newest first (vmspop ticketkeys rotate)\n")
	for _, key := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(key[:]))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Rotate puts a new random key on top of the key file at path and keeps at
// most keep keys in all (the newest). A missing file is created with mode
// 0600; an existing one keeps its owner, group and mode. A file that does
// not read is left as it is and the error returned. The file is replaced
// by a rename, so that a server never reads half of it. It returns the
// number of keys in the file and whether the file is new.
func Rotate(path string, keep int) (n int, created bool, err error) {
	if keep < 1 {
		return 0, false, fmt.Errorf("keep %d: must be at least 1", keep)
	}
	var old [][keyLen]byte
	mode := fs.FileMode(0o600)
	uid, gid := -1, -1
	switch fi, err := os.Stat(path); {
	case err == nil:
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, false, err
		}
		if old, err = Parse(data); err != nil {
			return 0, false, fmt.Errorf("%s: %w; not rotated", path, err)
		}
		mode = fi.Mode().Perm() &^ 0o007
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(s.Uid), int(s.Gid)
		}
	case errors.Is(err, fs.ErrNotExist):
		created = true
	default:
		return 0, false, err
	}
	keys := append([][keyLen]byte{randomKey()}, old[:min(len(old), keep-1)]...)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, false, err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(mode)
	if err == nil && uid >= 0 && (uid != os.Geteuid() || gid != os.Getegid()) {
		err = tmp.Chown(uid, gid)
	}
	if err != nil {
		tmp.Close()
		return 0, false, err
	}
	if err := atomicfile.Commit(tmp, path, format(keys)); err != nil {
		return 0, false, err
	}
	return len(keys), created, nil
}

// randomKey returns a new key from crypto/rand.
func randomKey() [keyLen]byte {
	var key [keyLen]byte
	rand.Read(key[:]) // never fails (crypto/rand since Go 1.24)
	return key
}
