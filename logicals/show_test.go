package logicals

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestShow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		env    map[string]string
		file   string
	}{
		{golden: "show-default.golden"},
		{
			golden: "show-mixed.golden",
			env: map[string]string{
				"TCPIP$POP_SECURITY":       "secure",
				"TCPIP_POP_TRACE":          "",
				"TCPIP$POP_LOG_LEVEL":      "info",
				"TCPIP$POP_SNDBUF":         "8192",
				"TCPIP$POP_AUTH_TLS_ONLY":  "user,plain",
				"TCPIP$POP_CERT":           "/etc/vmspop/cert.pem",
				"TCPIP$POP_KEY":            "/etc/vmspop/key.pem",
				"TCPIP$POP_TLS_LISTEN":     ":995",
				"TCPIP$POP_EXPIRE":         "never",
				"TCPIP$POP_LOG":            `/var/log/"pop".log`,
				"TCPIP$POP_DECNET_REWRITE": "GENERIC",
			},
			file: "../testdata/startup/TCPIP$POP_SYSTARTUP.COM",
		},
	}
	for _, tc := range tests {
		c, _, err := Load(mapLookup(tc.env), tc.file)
		if err != nil {
			t.Fatalf("%s: Load: %v", tc.golden, err)
		}
		var b bytes.Buffer
		if err := c.Show(&b); err != nil {
			t.Fatalf("%s: Show: %v", tc.golden, err)
		}
		if n := strings.Count(b.String(), "\n"); n != len(table) {
			t.Errorf("%s: Show printed %d lines; want one per name, %d", tc.golden, n, len(table))
		}
		checkGolden(t, tc.golden, b.Bytes())
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestShowWriteError(t *testing.T) {
	t.Parallel()
	if err := Default().Show(failWriter{}); err == nil {
		t.Error("Show(failing writer) = nil; want the write error")
	}
}

func TestSourceString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Source
		want string
	}{
		{FromDefault, "default"}, {FromFile, "file"}, {FromEnvironment, "environment"},
		{FromCommandLine, "command line"}, {Source(42), "unknown"},
	}
	for _, tc := range tests {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("Source(%d).String() = %q; want %q", int(tc.s), got, tc.want)
		}
	}
}

// FuzzLoad sets one logical name to an arbitrary value: Load must not
// panic, and whatever it accepts must pass Validate and Show.
func FuzzLoad(f *testing.F) {
	for i, e := range table {
		f.Add(uint8(i), e.name)
	}
	f.Add(uint8(5), "0 00:10:00.00")
	f.Add(uint8(0), "SECURE")
	f.Fuzz(func(t *testing.T, i uint8, v string) {
		e := table[int(i)%len(table)]
		if e.name == "STARTUP" {
			return // would read a file
		}
		c, _, err := Load(mapLookup(map[string]string{prefix + e.name: v}), "")
		if err != nil {
			if c != nil || !strings.HasPrefix(err.Error(), "logicals: ") {
				t.Fatalf("Load(%s=%q) = %v, %v", e.name, v, c, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load(%s=%q) accepted a Config that Validate rejects: %v", e.name, v, err)
		}
		if err := c.Show(&bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestShowControlCharacters(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Log = "a\nb"
	var b bytes.Buffer
	if err := c.Show(&b); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != len(table) {
		t.Errorf("Show printed %d lines for %d names:\n%s", n, len(table), b.String())
	}
	if want := `  "TCPIP$POP_LOG" = "a\nb" (default)` + "\n"; !strings.Contains(b.String(), want) {
		t.Errorf("Show output lacks %q:\n%s", want, b.String())
	}
}
