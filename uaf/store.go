package uaf

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// dummyHash is compared against when the user is unknown or has no
// password, so that such a login costs the same bcrypt work as a real one.
// It is a hash at bcrypt.DefaultCost of a string nobody will type.
const dummyHash = "$2a$10$Q1tU6/qb8exfsy3IDwOoX.3sMf.QLTnjdICm9a4IeinZsKOg2R4am"

// maxPassword is the longest password bcrypt uses; longer ones are refused
// rather than silently truncated.
const maxPassword = 72

// Store serves authentication from an accounts file and follows changes to
// it: every call stats the file and reloads it when its inode, size, mtime
// or ctime changed. If a reload fails (the file is corrupt or gone), every
// call fails with that error until the file is fixed: logins fail closed,
// never against stale data. A Store is safe for concurrent use.
type Store struct {
	path  string
	key   []byte // HMAC key of the credential caches
	dummy []byte // overrides the snapshot's dummy hash (tests)

	mu  sync.Mutex
	id  fileID
	cur *snapshot
	err error // the last load error; cur is then nil

	ttl atomic.Int64 // credential cache lifetime (time.Duration); 0 = no cache

	bcrypts   atomic.Uint64
	cacheHits atomic.Uint64
	reloads   atomic.Uint64

	vmsUpgrades, vmsUpgradeErrs atomic.Uint64 // VMS hashes replaced / failed to (vmslogin.go)
}

// snapshot is one loaded version of the file with its credential cache.
type snapshot struct {
	db    *DB
	cache *credCache
	dummy []byte // see dummyFor
}

// Stats are counters of a Store since it was created.
type Stats struct {
	BcryptCompares uint64 // bcrypt comparisons, including against the dummy hash
	CacheHits      uint64 // passwords accepted from the cache
	Reloads        uint64 // successful loads of the file, the first included
	VMSUpgrades    uint64 // VMS password hashes replaced by bcrypt at a login
	VMSUpgradeErrs uint64 // ... that could not be (the file could not be written)
}

// NewStore loads the accounts file at path. It fails if the file is missing
// or corrupt; the error then names the file and, for a bad line, the line.
func NewStore(path string) (*Store, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("uaf: random key: %w", err)
	}
	s := &Store{path: path, key: key}
	s.ttl.Store(int64(DefaultCacheLifetime))
	if _, err := s.snapshot(); err != nil {
		return nil, err
	}
	return s, nil
}

// SetCacheLifetime sets how long a verified password is remembered
// (DefaultCacheLifetime until set); 0 turns the cache off. The passwords
// cached so far are forgotten.
func (s *Store) SetCacheLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl.Store(int64(max(d, 0)))
	if s.cur != nil {
		s.cur = &snapshot{db: s.cur.db, cache: newCredCache(s.key, cacheMaxEntries), dummy: s.cur.dummy}
	}
}

// cacheLifetime returns the credential cache's lifetime; 0 = off.
func (s *Store) cacheLifetime() time.Duration { return time.Duration(s.ttl.Load()) }

// cached reports whether the credential k was verified against snap
// within the cache lifetime, and counts the hit.
func (s *Store) cached(snap *snapshot, k credKey, now time.Time) bool {
	if s.cacheLifetime() <= 0 || !snap.cache.hit(k, now) {
		return false
	}
	s.cacheHits.Add(1)
	return true
}

// remember caches the verified credential k in snap, unless the cache is
// off.
func (s *Store) remember(snap *snapshot, k credKey, now time.Time) {
	if ttl := s.cacheLifetime(); ttl > 0 {
		snap.cache.add(k, now, ttl)
	}
}

// Path returns the path of the accounts file.
func (s *Store) Path() string { return s.path }

// Stats returns the counters of s.
func (s *Store) Stats() Stats {
	return Stats{
		BcryptCompares: s.bcrypts.Load(),
		CacheHits:      s.cacheHits.Load(),
		Reloads:        s.reloads.Load(),
		VMSUpgrades:    s.vmsUpgrades.Load(),
		VMSUpgradeErrs: s.vmsUpgradeErrs.Load(),
	}
}

// DB returns the current accounts, reloading the file if it changed. The
// DB is shared: do not modify it.
func (s *Store) DB() (*DB, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return snap.db, nil
}

// snapshot returns the current version of the file, reloading it if needed.
func (s *Store) snapshot() (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		s.id, s.cur, s.err = fileID{}, nil, fmt.Errorf("uaf: %w", err)
		return nil, s.err
	}
	if (s.cur != nil || s.err != nil) && idOf(fi) == s.id {
		return s.cur, s.err
	}
	// Changed (or first load): read through one descriptor so that the
	// identity recorded is that of the content parsed.
	f, err := os.Open(s.path)
	if err != nil {
		s.id, s.cur, s.err = fileID{}, nil, fmt.Errorf("uaf: %w", err)
		return nil, s.err
	}
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		s.id, s.cur, s.err = fileID{}, nil, fmt.Errorf("uaf: %w", err)
		return nil, s.err
	}
	s.id = idOf(fi)
	db, err := Parse(f, s.path)
	if err != nil {
		s.cur, s.err = nil, err
		return nil, err
	}
	s.cur = &snapshot{db: db, cache: newCredCache(s.key, cacheMaxEntries), dummy: dummyFor(db)}
	s.err = nil
	s.reloads.Add(1)
	return s.cur, nil
}

// compare runs one bcrypt comparison and counts it.
func (s *Store) compare(hash []byte, password string) bool {
	s.bcrypts.Add(1)
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}

// admit applies the account checks that follow a verified credential, in
// this order: DISUSER, DISMAIL, expiry.
func admit(a *Account, now time.Time) (string, error) {
	switch {
	case a.Flags&DisUser != 0:
		return "", ErrDisUser
	case a.Flags&DisMail != 0:
		return "", ErrDisMail
	case a.Expired(now):
		return "", ErrExpired
	}
	return a.Name, nil
}

// CheckPassword verifies a USER/PASS login and returns the canonical (upper
// case) user name. It returns ErrUnknownUser or ErrBadPassword when the
// credential fails, and only after a good password ErrDisUser, ErrDisMail
// or ErrExpired, so that an account's state is not disclosed to someone
// without its password. Any other error (the file is unreadable or
// corrupt) means the check could not be made.
//
// An unknown user, or one without a password, still costs one bcrypt
// comparison (against a dummy hash at the highest cost in the file), so
// that timing does not reveal which names exist. Passwords longer than 72 bytes are refused.
//
// A good password is cached (cache.go) for the cache lifetime
// (SetCacheLifetime, five minutes by default), keyed by an HMAC-SHA256 of
// the user name and password under a random per-Store key, so that clients
// polling every minute do not cost a bcrypt each time; at most 10,000
// entries are kept, and the whole cache is dropped when the file changes.
// A password that does not hit the cache gets the full bcrypt check. A
// cache hit still applies the flag and expiry checks of the current
// account. Failures are never cached. now is the time of the check (for
// expiry and cache lifetime).
func (s *Store) CheckPassword(user, password string, now time.Time) (string, error) {
	snap, err := s.snapshot()
	if err != nil {
		return "", err
	}
	a := snap.db.lookup(user)
	if a != nil && len(a.Hash) == 0 && a.VMS != nil && len(password) <= maxPassword {
		return s.checkVMS(snap, a, password, now) // vmslogin.go
	}
	if a == nil || len(a.Hash) == 0 || len(password) > maxPassword {
		d := snap.dummy
		if s.dummy != nil {
			d = s.dummy
		}
		s.compare(d, password)
		if a == nil {
			return "", ErrUnknownUser
		}
		return "", ErrBadPassword
	}
	k := snap.cache.keyOf(a.Name, password)
	if s.cached(snap, k, now) {
		return admit(a, now)
	}
	if !s.compare(a.Hash, password) {
		return "", ErrBadPassword
	}
	s.remember(snap, k, now)
	return admit(a, now)
}

// CheckAPOP verifies an APOP login (RFC 1939 §7): digest must be the hex
// MD5 of timestamp (the greeting's <...> string, brackets included)
// followed by the shared secret. Hex digits may be in either case. It
// returns the canonical user name, or ErrUnknownUser, ErrNoSecret,
// ErrBadDigest, then ErrDisUser, ErrDisMail, ErrExpired, as CheckPassword.
func (s *Store) CheckAPOP(user, timestamp, digest string, now time.Time) (string, error) {
	snap, err := s.snapshot()
	if err != nil {
		return "", err
	}
	a := snap.db.lookup(user)
	if a == nil {
		return "", ErrUnknownUser
	}
	if len(a.Secret) == 0 {
		return "", ErrNoSecret
	}
	h := md5.New()
	h.Write([]byte(timestamp))
	h.Write(a.Secret)
	if !digestEqual(h.Sum(nil), digest) {
		return "", ErrBadDigest
	}
	return admit(a, now)
}

// CheckCRAMMD5 verifies an AUTH CRAM-MD5 response (RFC 2195): digest must
// be the hex HMAC-MD5 of challenge keyed with the shared secret. Results
// are as for CheckAPOP.
func (s *Store) CheckCRAMMD5(user, challenge, digest string, now time.Time) (string, error) {
	snap, err := s.snapshot()
	if err != nil {
		return "", err
	}
	a := snap.db.lookup(user)
	if a == nil {
		return "", ErrUnknownUser
	}
	if len(a.Secret) == 0 {
		return "", ErrNoSecret
	}
	m := hmac.New(md5.New, a.Secret)
	m.Write([]byte(challenge))
	if !digestEqual(m.Sum(nil), digest) {
		return "", ErrBadDigest
	}
	return admit(a, now)
}

// digestEqual compares sum with a hex digest in constant time.
func digestEqual(sum []byte, digest string) bool {
	want := hex.EncodeToString(sum)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(digest))) == 1
}

// HasSecret reports whether user exists and has an APOP / CRAM-MD5 shared
// secret. It is false when the file cannot be read.
func (s *Store) HasSecret(user string) bool {
	db, err := s.DB()
	if err != nil {
		return false
	}
	a := db.lookup(user)
	return a != nil && len(a.Secret) > 0
}

// UserExists reports whether user is in the accounts file. It is false when
// the file cannot be read.
func (s *Store) UserExists(user string) bool {
	db, err := s.DB()
	if err != nil {
		return false
	}
	return db.lookup(user) != nil
}
