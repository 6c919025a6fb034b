package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/spool"
)

func (e *dlEnv) runImport(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runImport(args, e.lookup, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func extractPath(name string) string { return filepath.Join(extractDir, name) }

func TestImport(t *testing.T) {
	e := newDlEnv(t)
	files := []string{extractPath("decnet.txt"), extractPath("smtp.txt"), extractPath("8bit.txt")}
	code, out, stderr := e.runImport(t, append([]string{"smith"}, files...)...)
	if code != 0 || !strings.Contains(out, "8 imported, 0 skipped as duplicates") {
		t.Fatalf("import = %d, stdout %q, stderr %q", code, out, stderr)
	}
	msgs := e.folder(t, "SMITH", "NEWMAIL")
	if len(msgs) != 8 {
		t.Fatalf("%d messages, want 8", len(msgs))
	}
	// Each message is stored as it was in the file (CRLF made LF), with
	// its original date.
	var want [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found, err := mail11.ParseExtract(bytes.NewReader(data), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range found {
			want = append(want, spool.Normalize(data[m.Offset:m.Offset+m.Length]))
		}
	}
	wantDates := []string{"2-JUL-1992 21:17:08.08", "3-JUL-1992 09:00:00.00", "14-FEB-1993 12:30:45.10", "1-APR-1994 08:00:00.00",
		"25-NOV-2026 10:15:32.45", "4-MAR-1995 11:11:11.11", "10-OCT-1996 14:02:03.04", "23-NOV-2026 16:45:12.00"}
	for i, m := range msgs {
		if !bytes.Equal(m, want[i]) {
			t.Errorf("#%d = %q, want %q", i, m, want[i])
		}
		head, _, _ := bytes.Cut(m, []byte("\n\n"))
		mm, err := mail11.ParseIn(head, time.Local)
		wd, _ := mail11.ParseVMSDate(wantDates[i], time.Local)
		if err != nil || !mm.Date.Equal(wd) {
			t.Errorf("#%d: date %v (%v), want %v", i, mm.Date, err, wd)
		}
	}
	envs := e.envelopes(t, "SMITH", "NEWMAIL")
	for i, w := range []string{"VAXA::JONES", "FIELD", `BRIDGE::"wilma@flintstone.example"`, "james.jones@federation.gov",
		"john.smith@example.com", `"ABCMTS::MRGATE::\"ABCDEF::VIVALDI\""@xyz.org`, "PARIS::DUPONT", "jm@example.de"} {
		if envs[i] != w {
			t.Errorf("#%d: envelope %q, want %q", i, envs[i], w)
		}
	}

	// Importing again adds nothing; an overlapping set adds only the new.
	code, out, _ = e.runImport(t, append([]string{"SMITH"}, files...)...)
	if code != 0 || !strings.Contains(out, "0 imported, 8 skipped as duplicates") {
		t.Fatalf("second import = %d, %q", code, out)
	}
	if n := len(e.folder(t, "SMITH", "NEWMAIL")); n != 8 {
		t.Errorf("%d messages after the second import, want 8", n)
	}
}

func TestImportOverlap(t *testing.T) {
	e := newDlEnv(t)
	if code, out, stderr := e.runImport(t, "JONES", extractPath("decnet.txt"), "--folder", "mail"); code != 0 || !strings.Contains(out, "4 imported") {
		t.Fatalf("import = %d, %q, %q", code, out, stderr)
	}
	code, out, _ := e.runImport(t, "--folder=MAIL", "JONES", extractPath("smtp.txt"), extractPath("decnet.txt"), extractPath("decnet.txt"))
	if code != 0 || !strings.Contains(out, "2 imported, 8 skipped as duplicates") {
		t.Fatalf("overlapping import = %d, %q", code, out)
	}
	if n := len(e.folder(t, "JONES", "MAIL")); n != 6 {
		t.Errorf("MAIL holds %d messages, want 6", n)
	}
	if _, err := os.Stat(filepath.Join(e.spool, "JONES", "NEWMAIL")); err == nil {
		t.Error("NEWMAIL was written; --folder MAIL was asked")
	}
}

// TestImportMalformed: one bad file among good ones imports nothing and
// names every problem with its file and line.
func TestImportMalformed(t *testing.T) {
	e := newDlEnv(t)
	code, out, stderr := e.runImport(t, "SMITH", extractPath("decnet.txt"), extractPath("malformed.txt"))
	if code != 1 {
		t.Fatalf("import = %d, stdout %q; want 1", code, out)
	}
	for _, w := range append(malformedErrors, "nothing imported") {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not mention %q", stderr, w)
		}
	}
	if ents, _ := os.ReadDir(e.spool); len(ents) != 0 {
		t.Errorf("something was imported: %v", ents)
	}
}

func TestImportUsage(t *testing.T) {
	e := newDlEnv(t)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"SMITH"}, 2, "need a user and at least one file"},
		{nil, 2, "need a user"},
		{[]string{"a/b", "f"}, 2, "invalid user name"},
		{[]string{"SMITH", "f", "--folder", "../x"}, 2, "invalid folder name"},
		{[]string{"SMITH", "f", "--folder"}, 2, "needs a folder name"},
		{[]string{"SMITH", "f", "--bogus"}, 2, "unknown option"},
		{[]string{"SMITH", filepath.Join(t.TempDir(), "missing.txt")}, 1, "no such file"},
	}
	for _, tt := range tests {
		code, _, stderr := e.runImport(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("import %q = %d, %q; want %d with %q", tt.args, code, stderr, tt.code, tt.stderr)
		}
	}
	if code, out, _ := e.runImport(t, "-h"); code != 0 || !strings.Contains(out, "usage: vmspop import") {
		t.Errorf("import -h = %d, %q", code, out)
	}
}

func TestImportEmptyFile(t *testing.T) {
	e := newDlEnv(t)
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.runImport(t, "SMITH", empty)
	if code != 0 || !strings.Contains(out, "0 imported, 0 skipped") || !strings.Contains(stderr, "no messages") {
		t.Errorf("import of an empty file = %d, %q, %q", code, out, stderr)
	}
}

func TestProgressReader(t *testing.T) {
	var bar bytes.Buffer
	p := &progressReader{r: strings.NewReader(strings.Repeat("x", 1000)), w: &bar, name: "f", total: 1000, last: -1}
	buf := make([]byte, 100)
	for {
		if _, err := p.Read(buf); err != nil {
			break
		}
	}
	p.done()
	if !strings.Contains(bar.String(), " 50%") || !strings.HasSuffix(bar.String(), "100%\n") {
		t.Errorf("progress output %q", bar.String())
	}
}

func TestImportEnvelope(t *testing.T) {
	tests := []struct{ in, want string }{
		{"NODE::USER", "NODE::USER"},
		{`SMTP%"a@b.example"`, "a@b.example"},
		{`NODE::SMTP%"a@b.example"`, "a@b.example"},
		{"SMTP%\"\xa2a b\xa2@c.example\"", `"a b"@c.example`},
	}
	for _, tt := range tests {
		if got := importEnvelope(tt.in); got != tt.want {
			t.Errorf("importEnvelope(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFolders(t *testing.T) {
	e := newDlEnv(t)
	// A copy of the demo spool.
	for k := range demoCounts {
		data, err := os.ReadFile(filepath.Join(demoDir, k))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(e.spool, filepath.Dir(k)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.spool, k), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runFolders([]string{"smith"}, e.lookup, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("folders = %d, %q", code, stderr.String())
	}
	fi, err := os.Stat(filepath.Join(e.spool, "SMITH", "NEWMAIL"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(stdout.String(), "\n")
	want := map[string][]string{"MAIL": {"MAIL", "1"}, "NEWMAIL": {"NEWMAIL", "10", strconv.FormatInt(fi.Size(), 10)}, "Total": {"Total", "of", "2", "folder(s)", "11"}}
	for key, fields := range want {
		found := false
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) >= len(fields) && f[0] == key && strings.Join(f[:len(fields)], " ") == strings.Join(fields, " ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no line starting %q in\n%s", fields, stdout.String())
		}
	}

	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"NOBODY"}, 1, "user NOBODY has no mail directory"},
		{[]string{"a/b"}, 1, "invalid user name"},
		{nil, 2, "usage"},
		{[]string{"A", "B"}, 2, "usage"},
	}
	for _, tt := range tests {
		stderr.Reset()
		if code := runFolders(tt.args, e.lookup, nil, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("folders %q = %d, %q; want %d with %q", tt.args, code, stderr.String(), tt.code, tt.stderr)
		}
	}
	// A folder that is not an mbox file is an error, not a wrong count.
	if err := os.WriteFile(filepath.Join(e.spool, "SMITH", "JUNK"), []byte("not mail\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := runFolders([]string{"SMITH"}, e.lookup, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "JUNK") {
		t.Errorf("folders with a bad folder = %d, %q", code, stderr.String())
	}
}
