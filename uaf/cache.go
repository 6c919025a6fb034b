package uaf

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultCacheLifetime is how long a verified password is remembered
// unless Store.SetCacheLifetime says otherwise (TCPIP$POP_AUTH_CACHE_TTL).
const DefaultCacheLifetime = 5 * time.Minute

// cacheMaxEntries bounds the verified-password cache.
const cacheMaxEntries = 10000

// credKey is HMAC-SHA256(per-store key, NAME "\x00" password): the cache
// never holds a password or a hash that could be attacked offline without
// the key, which lives only in memory.
type credKey [sha256.Size]byte

// credCache remembers passwords verified against one version of the
// accounts file. A reload replaces it, so a changed password or a removed
// account never hits an old entry. Failures are never stored.
type credCache struct {
	key []byte
	max int

	mu      sync.Mutex
	entries map[credKey]time.Time // expiry
}

// newCredCache returns an empty cache keyed with key.
func newCredCache(key []byte, max int) *credCache {
	return &credCache{key: key, max: max, entries: make(map[credKey]time.Time)}
}

// keyOf returns the cache key of a credential.
func (c *credCache) keyOf(name, password string) credKey {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k credKey
	copy(k[:], m.Sum(nil))
	return k
}

// hit reports whether k was verified and has not expired at now.
func (c *credCache) hit(k credKey, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[k]
	if !ok {
		return false
	}
	if !now.Before(exp) {
		delete(c.entries, k)
		return false
	}
	return true
}

// add records k as verified at now, for ttl. When the cache is full it first drops
// expired entries, then arbitrary ones (Go map order is randomised).
func (c *credCache) add(k credKey, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for e, exp := range c.entries {
			if !now.Before(exp) {
				delete(c.entries, e)
			}
		}
		for e := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, e)
		}
	}
	c.entries[k] = now.Add(ttl)
}

// len returns the number of entries.
func (c *credCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
