package penalty

import (
	"fmt"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":               "192.0.2.7",
		"::ffff:192.0.2.7":        "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"[2001:db8:1:2::99]":      "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"not an address":          "not an address",
		"2001:db8:1:3:ffff::1234": "2001:db8:1:3::/64",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDelay: 2^n seconds after n failures, capped; per address (IPv6 by
// /64) and per account; a success clears the address and the account;
// records are forgotten.
func TestDelay(t *testing.T) {
	now := time.Unix(1e9, 0)
	tb := &Table{Now: func() time.Time { return now }}
	if d := tb.Delay("192.0.2.1", "ALICE"); d != 0 {
		t.Fatalf("fresh Delay = %v", d)
	}
	want := []time.Duration{2, 4, 8, 15, 15}
	for i, w := range want {
		tb.Failed("2001:db8::1", "alice")
		if d := tb.Delay("2001:db8::2", ""); d != w*time.Second {
			t.Errorf("after %d failures: Delay = %v, want %vs", i+1, d, w)
		}
	}
	if d := tb.Delay("2001:db8:0:1::1", ""); d != 0 {
		t.Errorf("other /64: Delay = %v, want 0", d)
	}
	if d := tb.Delay("198.51.100.1", "ALICE"); d != 15*time.Second {
		t.Errorf("penalised account from a clean address: Delay = %v, want 15s", d)
	}
	tb.Failed("198.51.100.1", "BOB")
	tb.Succeeded("2001:db8::3", "Alice")
	if d := tb.Delay("2001:db8::1", "ALICE"); d != 0 {
		t.Errorf("after success: Delay = %v, want 0", d)
	}
	now = now.Add(DefaultForget)
	if d := tb.Delay("198.51.100.1", "BOB"); d != 0 {
		t.Errorf("after Forget: Delay = %v, want 0", d)
	}
}

func TestCapAndOff(t *testing.T) {
	tb := &Table{Cap: 3 * time.Second}
	for i := 0; i < 5; i++ {
		tb.Failed("192.0.2.1", "")
	}
	if d := tb.Delay("192.0.2.1", ""); d != 3*time.Second {
		t.Errorf("Cap 3s: Delay = %v", d)
	}
	off := &Table{Cap: -1}
	off.Failed("192.0.2.1", "")
	if d := off.Delay("192.0.2.1", ""); d != 0 || off.Len() != 1 {
		t.Errorf("off: Delay = %v, Len = %d; want 0, 1", d, off.Len())
	}
}

func TestBoundedAndTop(t *testing.T) {
	tb := &Table{MaxEntries: 100}
	for i := 0; i < 1000; i++ {
		tb.Failed(fmt.Sprintf("10.0.%d.%d", i/256, i%256), fmt.Sprintf("U%d", i))
	}
	if n := tb.Len(); n > 100 {
		t.Errorf("Len = %d, want at most 100", n)
	}
	for i := 0; i < 3; i++ {
		tb.Failed("192.0.2.9", "")
	}
	top := tb.Top(2)
	if len(top) != 2 || top[0].Key != "192.0.2.9" || top[0].Failures != 3 || top[0].Wait != 8*time.Second {
		t.Errorf("Top(2) = %+v", top)
	}
}
