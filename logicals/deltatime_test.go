package logicals

import (
	"testing"
	"time"
)

func TestParseDeltaTime(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"0 00:10:00.00", 10 * time.Minute, false},
		{`"0 00:10:00.00"`, 10 * time.Minute, false},
		{`  " 0 00:10:00.00 " `, 10 * time.Minute, false},
		{"0 00:10", 10 * time.Minute, false},
		{"00:10:00", 10 * time.Minute, false},
		{"00:10", 10 * time.Minute, false},
		{"10 ", 10 * day, false},
		{"10", 10 * day, false},
		{"1 12", day + 12*time.Hour, false},
		{"1   02:03:04.05", day + 2*time.Hour + 3*time.Minute + 4*time.Second + 50*time.Millisecond, false},
		{"0\t00:00:01.5", 1500 * time.Millisecond, false},
		{"0 ::30", 30 * time.Second, false},
		{"0 00:00:00.", 0, false},
		{"0 00:00:00.00", 0, false},
		{"0", 0, false},
		{"9999 23:59:59.99", 9999*day + 23*time.Hour + 59*time.Minute + 59*time.Second + 990*time.Millisecond, false},
		{"", 0, true},
		{`""`, 0, true},
		{"::", 0, true},
		{"10000", 0, true},
		{"0 24:00", 0, true},
		{"0 00:60", 0, true},
		{"0 00:00:60", 0, true},
		{"0 00:00:00.100", 0, true},
		{"0 00:00.5", 0, true},
		{"1.5", 0, true},
		{"-1", 0, true},
		{"0 -1:00", 0, true},
		{"0 +1:00", 0, true},
		{"1 2 3", 0, true},
		{"0 00:00:00:00", 0, true},
		{"ten", 0, true},
		{"0 00:10:00.00 PM", 0, true},
		{`"0 00:10`, 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDeltaTime(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseDeltaTime(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestFormatDeltaTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{10 * time.Minute, "0 00:10:00.00"},
		{0, "0 00:00:00.00"},
		{-time.Hour, "0 00:00:00.00"},
		{24*time.Hour + 2*time.Hour + 3*time.Minute + 4*time.Second + 56*time.Millisecond, "1 02:03:04.05"},
		{9999*24*time.Hour + 23*time.Hour + 59*time.Minute + 59*time.Second + 990*time.Millisecond, "9999 23:59:59.99"},
	}
	for _, tc := range tests {
		if got := FormatDeltaTime(tc.in); got != tc.want {
			t.Errorf("FormatDeltaTime(%v) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzDeltaTime checks that whatever ParseDeltaTime accepts formats to a
// string that parses to the same duration.
func FuzzDeltaTime(f *testing.F) {
	for _, s := range []string{"0 00:10:00.00", "10", "00:10", "1 12", "0 ::30", `"9999 23:59:59.99"`, "0 00:00:01.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDeltaTime(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDeltaTime(%q) = %v < 0", s, d)
		}
		f := FormatDeltaTime(d)
		d2, err := ParseDeltaTime(f)
		if err != nil || d2 != d {
			t.Fatalf("ParseDeltaTime(FormatDeltaTime(%v) = %q) = %v, %v", d, f, d2, err)
		}
	})
}
