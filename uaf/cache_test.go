package uaf

import (
	"errors"
	"testing"
	"time"
)

// cacheCheck runs CheckPassword("smith", pw, at) on s and fails unless it
// returns want after exactly bcrypts bcrypt comparisons and hits cache hits.
func cacheCheck(t *testing.T, s *Store, pw string, at time.Time, want error, bcrypts, hits uint64) {
	t.Helper()
	b0, h0 := s.Stats().BcryptCompares, s.Stats().CacheHits
	_, err := s.CheckPassword("smith", pw, at)
	if !errors.Is(err, want) || (err == nil) != (want == nil) {
		t.Fatalf("CheckPassword(%q, %v) = %v; want %v", pw, at, err, want)
	}
	if db, dh := s.Stats().BcryptCompares-b0, s.Stats().CacheHits-h0; db != bcrypts || dh != hits {
		t.Fatalf("CheckPassword(%q, %v): %d bcrypts, %d hits; want %d, %d", pw, at, db, dh, bcrypts, hits)
	}
}

func TestCacheLifetime(t *testing.T) {
	now := time.Date(2027, 1, 15, 12, 0, 0, 0, time.Local)
	s, _ := newTestStore(t, &Account{Name: "SMITH", Hash: hashOf(t, "pw")})

	s.SetCacheLifetime(30 * time.Second)
	cacheCheck(t, s, "pw", now, nil, 1, 0)                                   // verified, cached
	cacheCheck(t, s, "pw", now.Add(29*time.Second), nil, 0, 1)               // hit within the lifetime
	cacheCheck(t, s, "wrong", now.Add(29*time.Second), ErrBadPassword, 1, 0) // a mismatch pays the full check
	cacheCheck(t, s, "pw", now.Add(30*time.Second), nil, 1, 0)               // expired: verified again
	cacheCheck(t, s, "pw", now.Add(31*time.Second), nil, 0, 1)

	// Setting the lifetime forgets what was cached.
	s.SetCacheLifetime(time.Hour)
	cacheCheck(t, s, "pw", now.Add(32*time.Second), nil, 1, 0)
	cacheCheck(t, s, "pw", now.Add(59*time.Minute), nil, 0, 1)

	// 0 turns the cache off: every login pays its bcrypt.
	s.SetCacheLifetime(0)
	for i := range 3 {
		cacheCheck(t, s, "pw", now.Add(time.Duration(i)*time.Second), nil, 1, 0)
	}
	cacheCheck(t, s, "wrong", now, ErrBadPassword, 1, 0)
}
