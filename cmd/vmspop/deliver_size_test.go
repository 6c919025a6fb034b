package main

import (
	"strings"
	"testing"

	"github.com/vmspop/vmspop/internal/delivercmd"
)

// TestDeliverSizes: messages on each side of the in-memory limit (and one
// that fills the first read buffer exactly) are stored byte for byte, the
// larger through a temporary file.
func TestDeliverSizes(t *testing.T) {
	e := newDlEnv(t)
	head := "From: a@b.example\nSubject: size\n\n"
	var want []string
	for _, size := range []int{8 << 10, 64 << 10, delivercmd.MemMessage - 1, delivercmd.MemMessage, delivercmd.MemMessage + 1, 3 * delivercmd.MemMessage} {
		line := strings.Repeat("y", 99) + "\n"
		body := strings.Repeat(line, (size-len(head))/len(line)+1)[:size-len(head)-1] + "\n"
		msg := head + body
		if len(msg) != size {
			t.Fatalf("built %d octets, want %d", len(msg), size)
		}
		if code, stderr := e.deliver(t, msg, "SMITH"); code != 0 {
			t.Fatalf("%d octets: deliver = %d, %q", size, code, stderr)
		}
		want = append(want, msg)
	}
	msgs := e.folder(t, "SMITH", "NEWMAIL")
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if !strings.HasSuffix(string(m), "\n\n"+want[i]) {
			t.Errorf("message %d (%d octets) not stored as sent", i, len(want[i]))
		}
	}
}
