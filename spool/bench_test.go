package spool

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// benchFolder returns an mbox folder file of n messages of about size
// octets, with some dot lines and quoted From_ lines in the bodies; with
// hostile, bodies of lines full of 'F' and '>' (the bytes Scan looks for).
func benchFolder(b testing.TB, n, size int, hostile bool) []byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		var t strings.Builder
		fmt.Fprintf(&t, "From:\tSMTP%%\"sender%d@example.org\"  25-NOV-2026 10:00:00.00\nTo:\tBIG\nCC:\t\nSubj:\tmessage %d\n\n", i, i)
		for t.Len() < size {
			if hostile {
				t.WriteString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>F>F>F>F>\n")
				continue
			}
			t.WriteString("The quick brown fox jumps over the lazy dog, again and again.\n")
			if t.Len()%11 == 0 {
				t.WriteString(".a dot line\n>From a quoted line\n")
			}
		}
		msgs[i] = []byte(t.String())
	}
	return writeFolder(b, msgs...)
}

// BenchmarkScan measures the index build's scan: finding and describing
// every message of a 2,000-message folder (what a first login costs
// beyond reading the file), for mail-like text and for text made of the
// bytes the scan searches for.
func BenchmarkScan(b *testing.B) {
	for _, hostile := range []bool{false, true} {
		name := "mail"
		if hostile {
			name = "hostile"
		}
		b.Run(name, func(b *testing.B) {
			data := benchFolder(b, 2000, 8<<10, hostile)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				msgs, err := Scan(context.Background(), data)
				if err != nil || len(msgs) != 2000 {
					b.Fatalf("%d messages, %v", len(msgs), err)
				}
			}
		})
	}
}

// BenchmarkBodyStuffed measures RETR's body decoder: mboxrd unquoting,
// CRLF and dot-stuffing in one pass over 64 KiB blocks of a 1 MiB body.
func BenchmarkBodyStuffed(b *testing.B) {
	m, open := testBody(b, 1<<20)
	b.SetBytes(int64(m.ContentEnd - m.BodyStart))
	b.ResetTimer()
	for range b.N {
		if _, err := open().WriteStuffedTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
