package ticketkeys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func TestParse(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"one", key + "\n", 1, ""},
		{"comments and blanks", "# c\n\n" + key + "\n  \n" + key, 2, ""},
		{"empty", "", 0, "no key"},
		{"only comments", "# nothing\n", 0, "no key"},
		{"short key", base64.StdEncoding.EncodeToString(make([]byte, 31)), 0, "line 1: not a key"},
		{"not base64", key + "\n!!!\n", 0, "line 2: not a key"},
		{"URL alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))), 0, "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := Parse([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse = %d keys, %v; want an error with %q", len(keys), err, tc.err)
				}
				return
			}
			if err != nil || len(keys) != tc.n {
				t.Fatalf("Parse = %d keys, %v; want %d", len(keys), err, tc.n)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ticketkeys")
	var prev [][32]byte
	for i, want := range []int{1, 2, 3, 3, 3} {
		n, created, err := Rotate(path, 3)
		if err != nil || n != want || created != (i == 0) {
			t.Fatalf("rotation %d: Rotate = %d, %v, %v; want %d keys, created %v", i, n, created, err, want, i == 0)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := Parse(data)
		if err != nil || len(keys) != want {
			t.Fatalf("rotation %d: the file holds %d keys (%v), want %d:\n%s", i, len(keys), err, want, data)
		}
		// The new key is on top, the others moved down one, the oldest dropped.
		for j := 1; j < len(keys); j++ {
			if keys[j] != prev[j-1] {
				t.Fatalf("rotation %d: key %d is not the former key %d", i, j, j-1)
			}
		}
		for _, p := range prev {
			if keys[0] == p {
				t.Fatalf("rotation %d: the new key is an old one", i)
			}
		}
		prev = keys
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key file: %v, %v; want mode 0600", fi.Mode(), err)
	}

	// An existing file keeps its mode (less what others may do) and owner.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := Rotate(path, 3); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("rotated file mode %v, want 0640", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 65534 || st.Gid != 65534) {
		t.Errorf("rotated file owner %d:%d, want 65534:65534", st.Uid, st.Gid)
	}

	// A file that does not parse is left alone.
	bad := []byte("not a key\n")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Rotate(path, 3); err == nil || !strings.Contains(err.Error(), "not rotated") {
		t.Errorf("Rotate of a bad file: %v, want an error saying it was not rotated", err)
	}
	if data, _ := os.ReadFile(path); !bytes.Equal(data, bad) {
		t.Errorf("Rotate changed a bad file to %q", data)
	}
	if _, _, err := Rotate(path, 0); err == nil {
		t.Error("Rotate keep 0: no error")
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if _, _, err := Rotate(path, 2); err != nil {
		t.Fatal(err)
	}
	if k, err := Open(path, nil); err != nil || len(k.keys) != 1 {
		t.Fatalf("Open = %v; want one key", err)
	}
	os.Chmod(path, 0o604)
	if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), "others") {
		t.Errorf("Open of an o+r file: %v, want refused", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("Open of a missing file: no error")
	}
	if _, err := Open(dir, nil); err == nil {
		t.Error("Open of a directory: no error")
	}
}

// handshake connects a TLS 1.3 client with cache to a server on cfg and
// reports whether the session was resumed. The client reads one octet, so
// that it takes in the server's ticket.
func handshake(t *testing.T, cfg *tls.Config, cache tls.ClientSessionCache) bool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := tls.Server(c, cfg)
		if tc.Handshake() == nil {
			tc.Write([]byte{'+'})
			io.Copy(io.Discard, tc)
		}
		tc.Close()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", ClientSessionCache: cache, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState().DidResume
}

// serverConfig returns a config with a new self-signed certificate.
func serverConfig(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// TestSharedFileResumes: two servers (two tls.Configs, as two instances
// or a server and its reload) that share a key file resume each other's
// sessions; without it they do not; a rotated file is followed, and a
// ticket made under a key dropped from the file no longer resumes.
func TestSharedFileResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if _, _, err := Rotate(path, 2); err != nil {
		t.Fatal(err)
	}
	log, hook := logrus.New(), &recordHook{}
	log.AddHook(hook)
	log.SetOutput(io.Discard)
	a, b := serverConfig(t), serverConfig(t)
	for _, cfg := range []*tls.Config{a, b} {
		k, err := Open(path, log)
		if err != nil {
			t.Fatal(err)
		}
		k.Install(cfg)
	}

	cache := tls.NewLRUClientSessionCache(1)
	if handshake(t, a, cache) {
		t.Fatal("first connection resumed")
	}
	if !handshake(t, b, cache) {
		t.Fatal("B did not resume A's session: the key file is not shared")
	}
	// A server without the keys does not resume A's session: the test can fail.
	other := tls.NewLRUClientSessionCache(1)
	handshake(t, a, other)
	if handshake(t, serverConfig(t), other) {
		t.Fatal("a server without the keys resumed the session")
	}

	// Rotate once: the ticket B made (the cache holds the newest) is under
	// the former first key, now second: still resumed, after the file is
	// looked at again.
	if !handshake(t, b, cache) {
		t.Fatal("no resumption before the rotation")
	}
	bump(t, path, 2)
	if !handshake(t, a, cache) {
		t.Fatal("a ticket under the second key did not resume after one rotation")
	}
	if !hook.has("TLS ticket keys reloaded") {
		t.Fatal(`no "TLS ticket keys reloaded" line`)
	}
	// Rotate keeping 1 key: a ticket under any earlier key is refused (a
	// full handshake, which still succeeds).
	bump(t, path, 1)
	if handshake(t, b, cache) {
		t.Fatal("a ticket under a dropped key resumed")
	}
	if !handshake(t, a, cache) {
		t.Fatal("a ticket under the current key did not resume")
	}

	// A broken file is logged once and the keys held are kept.
	os.WriteFile(path, []byte("broken\n"), 0o600)
	time.Sleep(checkInterval + 100*time.Millisecond)
	for range 3 {
		if !handshake(t, a, cache) {
			t.Fatal("a broken key file dropped the keys")
		}
	}
	if n := hook.count("TLS ticket keys not reloaded; keeping the old ones"); n != 1 {
		t.Fatalf("%d error lines for one broken file, want 1: %q", n, hook.lines)
	}
}

// bump rotates the key file and waits until servers will look at it again.
func bump(t *testing.T, path string, keep int) {
	t.Helper()
	if _, _, err := Rotate(path, keep); err != nil {
		t.Fatal(err)
	}
	time.Sleep(checkInterval + 100*time.Millisecond)
}

// TestMemoryKeysRotate: keys in memory are shared by the configs they are
// installed into (a reload), and rotate every Rotation, keeping Keep.
func TestMemoryKeysRotate(t *testing.T) {
	now := time.Now()
	k := New()
	k.now = func() time.Time { return now }
	k.made = now
	a, b := serverConfig(t), serverConfig(t)
	k.Install(a)
	k.Install(b)
	cache := tls.NewLRUClientSessionCache(1)
	handshake(t, a, cache)
	if !handshake(t, b, cache) {
		t.Fatal("a config sharing the in-memory keys did not resume")
	}
	for i := range Keep + 2 {
		now = now.Add(Rotation)
		keys, _ := k.since(0)
		if want := min(i+2, Keep); len(keys) != want {
			t.Fatalf("after %d rotations: %d keys, want %d", i+1, len(keys), want)
		}
		resumed := handshake(t, a, cache)
		// The ticket in the cache was made one rotation ago: accepted.
		if !resumed {
			t.Fatalf("rotation %d: a ticket of the previous key did not resume", i+1)
		}
	}
	// A ticket older than Keep rotations is refused.
	handshake(t, a, cache)
	now = now.Add(Keep * Rotation)
	if handshake(t, b, cache) {
		t.Fatal("a ticket older than Keep rotations resumed")
	}
}

// recordHook records the messages logged (from the servers' goroutines).
type recordHook struct {
	mu    sync.Mutex
	lines []string
}

func (h *recordHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h *recordHook) Fire(e *logrus.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, e.Message)
	return nil
}
func (h *recordHook) has(msg string) bool { return h.count(msg) > 0 }
func (h *recordHook) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range h.lines {
		if l == msg {
			n++
		}
	}
	return n
}
