package spool

import (
	"context"
	"testing"
)

// BenchmarkOpenBoxLogin is the spool's part of a warm login: the session
// lock, the folder lock with the recovery checks under it, the folder's
// index, and the release of both locks (Close), on a 20-message NEWMAIL
// whose index is current.
func BenchmarkOpenBoxLogin(b *testing.B) {
	s := &Spool{Root: b.TempDir()}
	appendN(b, s, "U001", NewMail, 0, 20)
	ctx := context.Background()
	open := func() {
		box, err := s.OpenBox(ctx, "U001", NewMail, OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := box.Close(); err != nil {
			b.Fatal(err)
		}
	}
	open() // writes the index
	b.ResetTimer()
	for b.Loop() {
		open()
	}
}
