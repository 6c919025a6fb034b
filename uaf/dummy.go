package uaf

import (
	"crypto/rand"
	"encoding/hex"

	"golang.org/x/crypto/bcrypt"
)

// dummyFor returns the hash an unknown user's password is compared
// against: one at the highest bcrypt cost in db, so that a login for an
// unknown name costs as much as one for the most expensive account
// (SECURE mode's equal timing). With no hashes it is dummyHash.
func dummyFor(db *DB) []byte {
	cost := 0
	db.mu.RLock()
	for _, a := range db.accounts {
		if c, err := bcrypt.Cost(a.Hash); err == nil && c > cost {
			cost = c
		}
	}
	db.mu.RUnlock()
	if cost == 0 || cost == bcrypt.DefaultCost {
		return []byte(dummyHash)
	}
	var pw [16]byte
	rand.Read(pw[:])
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(pw[:])), cost)
	if err != nil {
		return []byte(dummyHash)
	}
	return h
}
