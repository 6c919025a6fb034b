package uaf

import (
	"bufio"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestLGIHashPasswordVectors checks the Purdy hashes against published
// vectors (testdata/purdy_vectors.txt names the sources).
func TestLGIHashPasswordVectors(t *testing.T) {
	f, err := os.Open("testdata/purdy_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	str := func(s string) string {
		if h, ok := strings.CutPrefix(s, "*"); ok {
			b, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		return s
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fl := strings.Fields(line)
		alg, _ := strconv.Atoi(fl[0])
		salt, _ := strconv.Atoi(fl[1])
		want, err := hex.DecodeString(fl[4])
		if err != nil {
			t.Fatal(err)
		}
		got := LGIHashPassword(uint8(alg), uint16(salt), str(fl[2]), str(fl[3]))
		if string(got[:]) != string(want) {
			t.Errorf("%s: got %x", line, got)
		}
		n++
	}
	if n < 40 {
		t.Fatalf("only %d vectors", n)
	}
}

func TestVMSHashCheck(t *testing.T) {
	h, err := ParseVMSHash("3,04D2,2CEF674777A54880") // JRANDOM, salt 1234, "wibble"
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pass string
		want       bool
	}{
		{"JRANDOM", "wibble", true},
		{"jrandom", "WiBbLe", true}, // case-insensitive without PWDMIX
		{"JRANDOM", "wibble2", false},
		{"JRANDOMX", "wibble", false},
		{"JRANDOM", "", false},
		{"JRANDOM", strings.Repeat("A", 33), false},
	} {
		if got := h.Check(tc.user, tc.pass); got != tc.want {
			t.Errorf("Check(%q, %q) = %v", tc.user, tc.pass, got)
		}
	}
	// With PWDMIX the password is hashed as typed: the upper-case one fits.
	mixed := *h
	mixed.MixedCase = true
	if mixed.Check("JRANDOM", "wibble") || !mixed.Check("JRANDOM", "WIBBLE") {
		t.Error("PWDMIX: case is not significant")
	}
	if s := h.String(); s != "3,04D2,2CEF674777A54880" {
		t.Errorf("String() = %q", s)
	}
	if s := mixed.String(); s != "3,04D2,2CEF674777A54880,PWDMIX" {
		t.Errorf("String() = %q", s)
	}
	for _, bad := range []string{"", "3,04D2", "3,4D2,2CEF674777A54880", "3,04D2,2CEF674777A5488", "x,04D2,2CEF674777A54880", "3,04D2,2CEF674777A54880,FOO", "3,04G2,2CEF674777A54880", "300,04D2,2CEF674777A54880"} {
		if _, err := ParseVMSHash(bad); err == nil {
			t.Errorf("ParseVMSHash(%q) accepted", bad)
		}
	}
	unsup := &VMSHash{Algorithm: VMSADII}
	if unsup.Supported() || unsup.Check("X", "Y") {
		t.Error("AD_II accepted")
	}
}
