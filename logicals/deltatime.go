package logicals

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxDeltaDays is the largest day count an OpenVMS delta time can hold.
const MaxDeltaDays = 9999

// errDeltaTime is the one-line rule quoted by every delta time error.
var errDeltaTime = errors.New(`must be an OpenVMS delta time "dddd hh:mm:ss.cc" (days 0-9999, hours 0-23, minutes 0-59, seconds 0-59, hundredths 0-99)`)

// ParseDeltaTime parses an OpenVMS delta time, "dddd hh:mm:ss.cc", as
// TCPIP$POP_LINK_IDLE_TIMEOUT takes it. Surrounding quotation marks are
// optional. As DCL allows, trailing fields may be left out and empty fields
// count as zero:
//
//	"0 00:10:00.00"  ten minutes
//	0 00:10          ten minutes (hours and minutes only)
//	00:10:00         ten minutes (no day field)
//	10               ten days (a lone number is a day count)
//	1 12             one day and twelve hours
//	0 ::30           thirty seconds
//
// A single fraction digit is tenths ("00:00:01.5" is 1.5 seconds). Days run
// from 0 to 9999, hours 0-23, minutes and seconds 0-59, hundredths 0-99.
func ParseDeltaTime(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
		t = strings.TrimSpace(t[1 : len(t)-1])
	}
	if !strings.ContainsAny(t, "0123456789") {
		return 0, errDeltaTime
	}
	days, clock := "", t
	if i := strings.IndexAny(t, " \t"); i >= 0 {
		days, clock = t[:i], strings.TrimSpace(t[i+1:])
	} else if !strings.ContainsAny(t, ":.") {
		days, clock = t, ""
	}
	var d time.Duration
	if days != "" {
		n, err := deltaField(days, MaxDeltaDays)
		if err != nil {
			return 0, err
		}
		d += time.Duration(n) * 24 * time.Hour
	}
	if clock == "" {
		return d, nil
	}
	whole, frac, hasFrac := strings.Cut(clock, ".")
	fields := strings.Split(whole, ":")
	if len(fields) > 3 || (hasFrac && len(fields) != 3) {
		return 0, errDeltaTime
	}
	limits := []int{23, 59, 59}
	units := []time.Duration{time.Hour, time.Minute, time.Second}
	for i, f := range fields {
		if f == "" {
			if len(fields) == 1 {
				return 0, errDeltaTime
			}
			continue
		}
		n, err := deltaField(f, limits[i])
		if err != nil {
			return 0, err
		}
		d += time.Duration(n) * units[i]
	}
	if hasFrac && frac != "" {
		if len(frac) > 2 {
			return 0, errDeltaTime
		}
		n, err := deltaField(frac, 99)
		if err != nil {
			return 0, err
		}
		if len(frac) == 1 {
			n *= 10
		}
		d += time.Duration(n) * 10 * time.Millisecond
	}
	return d, nil
}

// deltaField parses one all-digit field of a delta time and checks it
// against max.
func deltaField(s string, max int) (int, error) {
	if s == "" || len(s) > 4 {
		return 0, errDeltaTime
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, errDeltaTime
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > max {
		return 0, errDeltaTime
	}
	return n, nil
}

// FormatDeltaTime formats d as an OpenVMS delta time, "dddd hh:mm:ss.cc",
// with the day count unpadded: ten minutes is "0 00:10:00.00". Time below
// a hundredth of a second is dropped and a negative d formats as zero.
func FormatDeltaTime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	cs := int64(d / (10 * time.Millisecond))
	days := cs / (100 * 60 * 60 * 24)
	cs -= days * 100 * 60 * 60 * 24
	h := cs / (100 * 60 * 60)
	cs -= h * 100 * 60 * 60
	m := cs / (100 * 60)
	cs -= m * 100 * 60
	sec := cs / 100
	cs -= sec * 100
	return fmt.Sprintf("%d %02d:%02d:%02d.%02d", days, h, m, sec, cs)
}
