package rewrite

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNodeTable(t *testing.T) {
	good := "! DECnet node table\n\nABCDEF  abcdef.federation.gov\nboston Boston.Example.ORG. ! trailing comment\n\tHUB\tmailhub.acme.example\n"
	got, err := ParseNodeTable(strings.NewReader(good))
	if err != nil {
		t.Fatalf("ParseNodeTable: %v", err)
	}
	want := NodeTable{"ABCDEF": "abcdef.federation.gov", "BOSTON": "boston.example.org", "HUB": "mailhub.acme.example"}
	if len(got) != len(want) {
		t.Errorf("ParseNodeTable = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ParseNodeTable[%s] = %q; want %q", k, got[k], v)
		}
	}

	bad := []struct {
		in, wantErr string
	}{
		{"ABCDEF\n", "rewrite: line 1: want \"NODE host.name\", got 1 fields"},
		{"ok host.example\nA B C\n", "rewrite: line 2: want"},
		{"A\"B host.example\n", "rewrite: line 1: invalid DECnet node name"},
		{"A host..example\n", "rewrite: line 1: invalid host name"},
		{"A -host.example\n", "rewrite: line 1: invalid host name"},
		{"A h@st\n", "rewrite: line 1: invalid host name"},
		{"A a.example\na b.example\n", "rewrite: line 2: node A already maps to a.example"},
		{"A " + strings.Repeat("x", 70) + ".example\n", "invalid host name"},
		{"A a.example\n" + strings.Repeat("x", 70_000) + "\n", "rewrite: line 2: bufio.Scanner: token too long"},
	}
	for _, tt := range bad {
		got, err := ParseNodeTable(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
			t.Errorf("ParseNodeTable(%.30q) = %v, %v; want nil and error containing %q", tt.in, got, err, tt.wantErr)
		}
	}
	// Every bad line is reported.
	_, err = ParseNodeTable(strings.NewReader("A\nB\nC c.example\nD\n"))
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Errorf("ParseNodeTable with 3 bad lines: %v; want 3 errors", err)
	}
}
