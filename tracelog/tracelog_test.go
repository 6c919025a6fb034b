package tracelog

import (
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

var update = flag.Bool("update", false, "rewrite testdata/logs fixtures and goldens")

// logsDir holds the trace fixtures, at the module root.
const logsDir = "../testdata/logs"

// fxEvent is one scripted log entry of the fixture logs.
type fxEvent struct {
	at     time.Duration // after fxBase
	level  logrus.Level
	msg    string
	fields logrus.Fields
}

var fxBase = time.Date(2026, 11, 25, 17, 20, 0, 0, time.UTC)

// fxSession returns a helper that builds entries of one session.
func fxSession(id, remote string) func(at time.Duration, level logrus.Level, msg string, kv ...any) fxEvent {
	return func(at time.Duration, level logrus.Level, msg string, kv ...any) fxEvent {
		f := logrus.Fields{"session": id, "remote": remote}
		for i := 0; i+1 < len(kv); i += 2 {
			f[kv[0+i].(string)] = kv[i+1]
		}
		return fxEvent{at, level, msg, f}
	}
}

// fxEvents is the scripted server log: five sessions, two of them
// interleaved, framed by server start and shutdown entries.
func fxEvents() []fxEvent {
	const D, I, W, E = logrus.DebugLevel, logrus.InfoLevel, logrus.WarnLevel, logrus.ErrorLevel
	ms := time.Millisecond
	s1 := fxSession("0a1b2c3d4e5f", "127.0.0.1:40312")
	s2 := fxSession("1b2c3d4e5f60", "10.0.0.7:51000")
	s3 := fxSession("2c3d4e5f6071", "192.168.1.20:3333")
	s4 := fxSession("3d4e5f607182", "[::1]:40000")
	s5 := fxSession("4e5f60718293", "127.0.0.10:40999")
	odd := `jönes "x=y"`
	return []fxEvent{
		{0, I, "server start", logrus.Fields{"listen": ":110", "version": "0.1.0"}},
		s1(100*ms, I, "session start"),
		s1(101*ms, D, "S: +OK vmspop POP3 server ready <1234.5678@vms.example.com>"),
		s1(200*ms, D, "C: USER smith"),
		s2(250*ms, I, "session start"),
		s2(251*ms, D, "S: +OK vmspop POP3 server ready <1235.5678@vms.example.com>"),
		s1(300*ms, D, "S: +OK password required"),
		s1(400*ms, D, "C: PASS ***"),
		s1(450*ms, I, "login", "user", "SMITH", "method", "USER"),
		s1(451*ms, D, "S: +OK SMITH has 3 messages (10,240 octets)", "user", "SMITH"),
		s2(500*ms, D, "C: USER "+odd),
		s2(501*ms, D, "S: +OK password required"),
		s2(600*ms, D, "C: PASS ***"),
		s2(2600*ms, W, "login failed", "user", odd, "method", "USER", "reason", "no such user"),
		s2(2601*ms, D, "S: -ERR [AUTH] access denied"),
		s1(700*ms+2*time.Second, D, "C: STAT", "user", "SMITH"),
		s1(701*ms+2*time.Second, D, "S: +OK 3 10240", "user", "SMITH"),
		s1(800*ms+2*time.Second, D, "C: RETR 3", "user", "SMITH"),
		s1(801*ms+2*time.Second, D, "S: +OK 10240 octets", "user", "SMITH"),
		s1(802*ms+2*time.Second, D, "S: [RETR 3: 10,240 octets]", "user", "SMITH"),
		s1(900*ms+2*time.Second, D, "C: DELE 3", "user", "SMITH"),
		s1(901*ms+2*time.Second, D, "S: +OK message 3 deleted", "user", "SMITH"),
		s2(3000*ms, D, "C: USER JONES"),
		s2(3001*ms, D, "S: +OK password required"),
		s2(3100*ms, D, "C: PASS ***"),
		s2(4300*ms, W, "login failed", "user", "JONES", "method", "USER", "reason", "bad password"),
		s2(4301*ms, D, `S: -ERR [AUTH] access denied = "no"`, "user", "JONES"),
		s2(4350*ms, I, "session end", "user", "JONES", "duration_ms", int64(4100), "listed", 0, "retrieved", 0,
			"deleted", 0, "moved", 0, "octets", int64(0), "end", "two failed logins"),
		s1(1000*ms+2*time.Second, D, "C: QUIT", "user", "SMITH"),
		s1(1001*ms+2*time.Second, D, "S: +OK SMITH POP3 server signing off (1 message deleted)", "user", "SMITH"),
		s1(1002*ms+2*time.Second, I, "session end", "user", "SMITH", "duration_ms", int64(2902), "listed", 3,
			"retrieved", 1, "deleted", 1, "moved", 1, "octets", int64(10240), "end", "QUIT"),

		s3(60*time.Second, I, "session start"),
		s3(60*time.Second+ms, D, "S: +OK vmspop POP3 server ready <1236.5678@vms.example.com>"),
		s3(61*time.Second, D, "C: APOP JONES ***"),
		s3(61*time.Second+50*ms, I, "login", "user", "JONES", "method", "APOP"),
		s3(61*time.Second+51*ms, D, "S: +OK JONES has 0 messages (0 octets)", "user", "JONES"),
		s3(62*time.Second, D, "C: LIST", "user", "JONES"),
		s3(62*time.Second+ms, D, "S: +OK 0 messages (0 octets)", "user", "JONES"),
		s3(62*time.Second+2*ms, D, "S: .", "user", "JONES"),
		s3(662*time.Second, D, "S: -ERR [SYS/TEMP] autologout; idle for too long", "user", "JONES"),
		s3(662*time.Second+ms, I, "session end", "user", "JONES", "duration_ms", int64(602001), "listed", 0,
			"retrieved", 0, "deleted", 0, "moved", 0, "octets", int64(0), "end", "idle timeout"),

		s4(2*time.Hour, I, "session start"),
		s4(2*time.Hour+ms, D, "S: +OK vmspop POP3 server ready <1237.5678@vms.example.com>"),
		s4(2*time.Hour+100*ms, D, "C: USER smith"),
		s4(2*time.Hour+101*ms, D, "S: +OK password required"),
		s4(2*time.Hour+200*ms, D, "C: PASS ***"),
		s4(2*time.Hour+250*ms, I, "login", "user", "SMITH", "method", "USER"),
		s4(2*time.Hour+251*ms, D, "S: +OK SMITH has 1 message (512 octets)", "user", "SMITH"),
		s4(2*time.Hour+300*ms, D, "C: RETR 1", "user", "SMITH"),
		s4(2*time.Hour+301*ms, E, "open message failed", "user", "SMITH", "error", "spool: read NEWMAIL.mbox: permission denied"),
		s4(2*time.Hour+302*ms, D, "S: -ERR [SYS/TEMP] internal error", "user", "SMITH"),
		s4(2*time.Hour+303*ms, I, "session end", "user", "SMITH", "duration_ms", int64(303), "listed", 1,
			"retrieved", 0, "deleted", 0, "moved", 0, "octets", int64(0), "end", "error"),

		s5(3*time.Hour, I, "session start"),
		s5(3*time.Hour+ms, D, "S: +OK vmspop POP3 server ready <1238.5678@vms.example.com>"),
		s5(3*time.Hour+10*ms, D, "C: CAPA"),
		s5(3*time.Hour+11*ms, D, "S: +OK capability list follows"),
		{3*time.Hour + 20*ms, I, "server shutdown", logrus.Fields{"sessions": 1}},
	}
}

// fxRender formats the script with the server's own formatter.
func fxRender(t *testing.T, format string) []byte {
	t.Helper()
	fm, err := Formatter(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetFormatter(fm)
	log.SetLevel(logrus.TraceLevel)
	for _, ev := range fxEvents() {
		log.WithFields(ev.fields).WithTime(fxBase.Add(ev.at)).Log(ev.level, ev.msg)
	}
	return buf.Bytes()
}

// fxGarbage is server.log with lines that are not logrus output mixed in.
var fxGarbageLines = []string{
	"panic: runtime error: index out of range [3] with length 3",
	"",
	"goroutine 1 [running]:",
	"\tmain.main()",
	`time="2026-11-25T17:20:00Z" level=info msg="unterminated`,
	`key=value other=thing`,
	`level=chatty msg="not a logrus level"`,
	`{"level":"info","msg":"truncated json`,
	`[1, 2, 3]`,
	"\x00\x01\x02 binary \xff\xfe",
	"   ",
}

// fxGarbageSkipped is how many of fxGarbageLines count as skipped (blank
// lines do not).
const fxGarbageSkipped = 9

func fxGarbage(t *testing.T) []byte {
	lines := strings.SplitAfter(string(fxRender(t, "TEXT")), "\n")
	var out strings.Builder
	for i, l := range lines {
		out.WriteString(l)
		if i < len(fxGarbageLines) {
			out.WriteString(fxGarbageLines[i] + "\n")
		}
	}
	return []byte(out.String())
}

// TestFixturesUpToDate checks that the log files in testdata/logs are what
// this logrus version writes for the script (and rewrites them with -update).
func TestFixturesUpToDate(t *testing.T) {
	fixtures := map[string][]byte{
		"server.log":  fxRender(t, "TEXT"),
		"server.json": fxRender(t, "JSON"),
		"garbage.log": fxGarbage(t),
	}
	for name, want := range fixtures {
		path := filepath.Join(logsDir, name)
		if *update {
			if err := os.MkdirAll(logsDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what logrus writes for the script; run go test -update", path)
		}
	}
}

// runT runs Run over files (stdin when none) and returns what it wrote,
// how many sessions matched and how many lines were skipped; an error
// fails the test.
func runT(t *testing.T, stdin []byte, f Filter, summary bool, files ...string) (out string, matched, skipped int) {
	t.Helper()
	var b bytes.Buffer
	matched, skipped, err := Run(f, summary, files, bytes.NewReader(stdin), &b)
	if err != nil {
		t.Fatalf("Run(%+v, %q) = %v", f, files, err)
	}
	return b.String(), matched, skipped
}

// filter is a Filter given as text, times in UTC.
type filter struct {
	session, user, client, since, until string
	failed                              bool
}

func (ft filter) parse(t *testing.T) Filter {
	t.Helper()
	f := Filter{Session: ft.session, User: ft.user, Failed: ft.failed}
	var err error
	if ft.client != "" {
		if f.Client, err = ParseClient(ft.client); err != nil {
			t.Fatal(err)
		}
	}
	if ft.since != "" {
		if f.Since, err = ParseTime(ft.since, time.UTC); err != nil {
			t.Fatal(err)
		}
	}
	if ft.until != "" {
		if f.Until, err = ParseTime(ft.until, time.UTC); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(logsDir, name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestTraceGolden runs each filter over the text and the JSON log of the
// same sessions; both must give the golden output.
func TestTraceGolden(t *testing.T) {
	tests := []struct {
		name    string
		f       filter
		summary bool
		golden  string // "" means no output and no match
	}{
		{"all", filter{}, false, "all.golden"},
		{"session prefix", filter{session: "0a1b"}, false, "session-0a1b.golden"},
		{"session any case", filter{session: "0A1B2C3D4E5F"}, false, "session-0a1b.golden"},
		{"session none", filter{session: "ffff"}, false, ""},
		{"user jones", filter{user: "jones"}, false, "user-jones.golden"},
		{"user odd name", filter{user: `JÖNES "x=y"`}, false, "user-odd.golden"},
		{"user smith", filter{user: "Smith"}, false, "user-smith.golden"},
		{"client ip", filter{client: "127.0.0.1"}, false, "session-0a1b.golden"},
		{"client ip:port prefix", filter{client: "127.0.0.1:"}, false, "session-0a1b.golden"},
		{"client cidr", filter{client: "127.0.0.0/8"}, false, "client-loopback4.golden"},
		{"client ipv6", filter{client: "::1"}, false, "client-ipv6.golden"},
		{"client ipv6 bracket", filter{client: "[::1]"}, false, "client-ipv6.golden"},
		{"client ipv6 port text", filter{client: "[::1]:40000"}, false, "client-ipv6.golden"},
		{"client none", filter{client: "10.9.9.9"}, false, ""},
		{"since", filter{since: "2026-11-25 17:21:00"}, false, "since-1721.golden"},
		{"until vms", filter{until: "25-nov-2026 17:20:30.00"}, false, "until-1720.golden"},
		{"window overlaps idle session", filter{since: "2026-11-25T17:25:00Z", until: "2026-11-25T18:25:00+01:00"}, false, "window.golden"},
		{"failed", filter{failed: true}, false, "failed.golden"},
		{"failed user", filter{failed: true, user: "jones"}, false, "failed-jones.golden"},
		{"summary", filter{}, true, "summary.golden"},
		{"failed summary", filter{failed: true}, true, "summary-failed.golden"},
		{"since after all", filter{since: "2027-01-01"}, false, ""},
	}
	for _, tt := range tests {
		for _, file := range []string{"server.log", "server.json"} {
			t.Run(tt.name+"/"+file, func(t *testing.T) {
				out, matched, skipped := runT(t, nil, tt.f.parse(t), tt.summary, filepath.Join(logsDir, file))
				if skipped != 0 {
					t.Errorf("%d lines skipped in a clean log", skipped)
				}
				if tt.golden == "" {
					if matched != 0 || out != "" {
						t.Errorf("%d sessions matched, printed %q; want none and nothing", matched, out)
					}
					return
				}
				if matched == 0 {
					t.Errorf("no session matched")
				}
				if file == "server.json" && *update {
					return // the text run wrote the golden
				}
				checkGolden(t, tt.golden, out)
			})
		}
	}
}

func TestTraceGarbageSkipped(t *testing.T) {
	out, _, skipped := runT(t, nil, Filter{}, false, filepath.Join(logsDir, "garbage.log"))
	checkGolden(t, "all.golden", out)
	if skipped != fxGarbageSkipped {
		t.Errorf("%d lines skipped; want %d", skipped, fxGarbageSkipped)
	}
}

func TestTraceStdin(t *testing.T) {
	for _, file := range []string{"server.json", "server.log"} {
		data, err := os.ReadFile(filepath.Join(logsDir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, files := range [][]string{nil, {"-"}} {
			out, _, _ := runT(t, data, Filter{Failed: true}, false, files...)
			checkGolden(t, "failed.golden", out)
		}
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTraceRotated splits the text log into a rotated set (the oldest part
// gzip-compressed, one compressed part without a .gz name) that cuts through
// sessions, and names the files in glob order, newest first.
func TestTraceRotated(t *testing.T) {
	for _, format := range []string{"TEXT", "JSON"} {
		t.Run(format, func(t *testing.T) {
			lines := strings.SplitAfter(string(fxRender(t, format)), "\n")
			third := len(lines) / 3
			dir := t.TempDir()
			parts := []struct {
				name string
				data []byte
			}{
				{"server.log.2.gz", gzipBytes(t, []byte(strings.Join(lines[:third], "")))},
				{"server.log.1", gzipBytes(t, []byte(strings.Join(lines[third:2*third], "")))},
				{"server.log", []byte(strings.Join(lines[2*third:], ""))},
			}
			for _, p := range parts {
				if err := os.WriteFile(filepath.Join(dir, p.name), p.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			files, err := filepath.Glob(filepath.Join(dir, "server.log*"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 3 || filepath.Base(files[0]) != "server.log" {
				t.Fatalf("glob order %q; want server.log first", files)
			}
			out, _, skipped := runT(t, nil, Filter{}, false, files...)
			if skipped != 0 {
				t.Fatalf("%d lines skipped", skipped)
			}
			checkGolden(t, "all.golden", out)
			out, _, _ = runT(t, nil, Filter{}, true, files...)
			checkGolden(t, "summary.golden", out)
		})
	}
}

// TestTraceErrors: a file that cannot be read is an error, before
// anything is written; no matching session is not.
func TestTraceErrors(t *testing.T) {
	badGzip := filepath.Join(t.TempDir(), "bad.gz")
	if err := os.WriteFile(badGzip, []byte("\x1f\x8bnot really gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(logsDir, "server.log")
	for _, tt := range []struct {
		name    string
		files   []string
		wantErr string
	}{
		{"missing file", []string{filepath.Join(t.TempDir(), "nope.log")}, "no such file"},
		{"bad gzip", []string{log, badGzip}, "bad.gz"},
	} {
		var out bytes.Buffer
		_, _, err := Run(Filter{}, false, tt.files, bytes.NewReader(nil), &out)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || out.Len() != 0 {
			t.Errorf("%s: Run = %v, wrote %d octets; want an error with %q and nothing", tt.name, err, out.Len(), tt.wantErr)
		}
	}
	for _, tt := range []struct {
		name  string
		f     Filter
		files []string
	}{
		{"no match", Filter{User: "nobody"}, []string{log}},
		{"empty input", Filter{}, nil},
	} {
		if out, matched, _ := runT(t, nil, tt.f, false, tt.files...); matched != 0 || out != "" {
			t.Errorf("%s: %d matched, printed %q; want none and nothing", tt.name, matched, out)
		}
	}
	if _, err := ParseClient(" "); err == nil {
		t.Errorf("ParseClient(\" \") = nil error")
	}
}

func TestIsTranscript(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"C: USER smith", true}, {"S: +OK", true}, {"C: ", true}, {"C:", true}, {"S:", true},
		{"C:USER", false}, {"c: USER", false}, {"session start", false}, {"", false}, {" C: x", false},
	}
	for _, tt := range tests {
		if got := isTranscript(tt.msg); got != tt.want {
			t.Errorf("isTranscript(%q) = %v; want %v", tt.msg, got, tt.want)
		}
	}
}

func TestTraceLongLineSkipped(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(logsDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	long := `time="2026-11-25T17:20:00Z" level=info msg="` + strings.Repeat("x", maxLogLine+10) + "\"\n"
	in := append([]byte(long), data...)
	out, _, skipped := runT(t, in, Filter{}, false)
	if skipped != 1 {
		t.Fatalf("%d lines skipped; want 1", skipped)
	}
	checkGolden(t, "all.golden", out)
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2026-11-25T17:20:00Z", fxBase, false},
		{"2026-11-25T18:20:00.5+01:00", fxBase.Add(500 * time.Millisecond), false},
		{"2026-11-25 17:20:00", fxBase, false},
		{"2026-11-25T17:20:00", fxBase, false},
		{"2026-11-25 17:20", fxBase, false},
		{"2026-11-25", fxBase.Truncate(24 * time.Hour), false},
		{"25-NOV-2026 17:20:00.45", fxBase.Add(450 * time.Millisecond), false},
		{" 5-Nov-2026 17:20:00", fxBase.AddDate(0, 0, -20), false},
		{"25-nov-2026 17:20", fxBase, false},
		{"25-NOV-2026", fxBase.Truncate(24 * time.Hour), false},
		{"", time.Time{}, true},
		{"now", time.Time{}, true},
		{"2026-13-01", time.Time{}, true},
		{"32-NOV-2026", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, time.UTC)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestClientFilter(t *testing.T) {
	tests := []struct {
		filter, remote string
		want           bool
	}{
		{"127.0.0.1", "127.0.0.1:40312", true},
		{"127.0.0.1", "127.0.0.10:40312", false},
		{"127.0.0.1", "[::ffff:127.0.0.1]:1", true},
		{"127.0.0.1:", "127.0.0.1:40312", true},
		{"127.0.0.1:4", "127.0.0.1:40312", true},
		{"127.0.0.1:5", "127.0.0.1:40312", false},
		{"10.0.0.0/8", "10.1.2.3:110", true},
		{"10.0.0.0/8", "11.1.2.3:110", false},
		{"::1", "[::1]:40000", true},
		{"[::1]", "[::1]:40000", true},
		{"::1", "127.0.0.1:40000", false},
		{"fe80::1", "[fe80::1%eth0]:995", true},
		{"127.0.0.1", "garbage", false},
		{"127.0.0.1", "", false},
	}
	for _, tt := range tests {
		cf, err := ParseClient(tt.filter)
		if err != nil {
			t.Fatalf("ParseClient(%q) = %v", tt.filter, err)
		}
		if got := cf.match(tt.remote); got != tt.want {
			t.Errorf("client filter %q on %q = %v; want %v", tt.filter, tt.remote, got, tt.want)
		}
	}
}

func TestParseLogfmt(t *testing.T) {
	tests := []struct {
		in      string
		want    []keyValue
		wantErr bool
	}{
		{`a=1 b=two`, []keyValue{{"a", "1"}, {"b", "two"}}, false},
		{`msg="C: USER smith" user=SMITH`, []keyValue{{"msg", "C: USER smith"}, {"user", "SMITH"}}, false},
		{`msg="a \"q\" = b\\c\n" x=""`, []keyValue{{"msg", "a \"q\" = b\\c\n"}, {"x", ""}}, false},
		{`msg="\xff\u00fc"`, []keyValue{{"msg", "\xffü"}}, false},
		{`msg="ünï"  b=c `, []keyValue{{"msg", "ünï"}, {"b", "c"}}, false},
		{`fields.level=1`, []keyValue{{"fields.level", "1"}}, false},
		{`a=`, []keyValue{{"a", ""}}, false},
		{`a=b=c`, []keyValue{{"a", "b=c"}}, false},
		{``, nil, true},
		{`   `, nil, true},
		{`hello world`, nil, true},
		{`=x`, nil, true},
		{`a="unterminated`, nil, true},
		{`a="x"y`, nil, true},
		{`a="\q"`, nil, true},
		{`a=1 "b"=2`, nil, true},
		{`a=1 b`, nil, true},
	}
	for _, tt := range tests {
		got, err := parseLogfmt(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseLogfmt(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		in      string
		wantOK  bool
		level   logrus.Level
		msg     string
		session string
	}{
		{`time="2026-11-25T17:20:00.1Z" level=warning msg="login failed" session=0a1b2c3d4e5f`, true, logrus.WarnLevel, "login failed", "0a1b2c3d4e5f"},
		{`{"level":"error","msg":"x","session":"abc","time":"2026-11-25T17:20:00Z","n":12}`, true, logrus.ErrorLevel, "x", "abc"},
		{`  {"level":"debug","msg":"S: +OK"}` + "\r\n", true, logrus.DebugLevel, "S: +OK", ""},
		{`level=info`, true, logrus.InfoLevel, "", ""},
		{`time="2026-11-25T17:20:00Z" msg=hi`, false, 0, "", ""},
		{`level=verbose msg=hi`, false, 0, "", ""},
		{`{"level":7}`, false, 0, "", ""},
		{`{"msg":"no level"}`, false, 0, "", ""},
		{`{bad json`, false, 0, "", ""},
		{`just text`, false, 0, "", ""},
	}
	for _, tt := range tests {
		e, ok := parseLogLine([]byte(tt.in))
		if ok != tt.wantOK || (ok && (e.level != tt.level || e.msg != tt.msg || e.fields["session"] != tt.session)) {
			t.Errorf("parseLogLine(%q) = %+v, %v; want level %v msg %q session %q, ok %v", tt.in, e, ok, tt.level, tt.msg, tt.session, tt.wantOK)
		}
	}
	e, _ := parseLogLine([]byte(`{"level":"info","n":12,"f":1.5e3,"b":true,"z":null,"o":{"a":1}}`))
	want := map[string]string{"n": "12", "f": "1.5e3", "b": "true", "z": "null", "o": `{"a":1}`}
	if !reflect.DeepEqual(e.fields, want) {
		t.Errorf("JSON non-string fields = %q; want %q", e.fields, want)
	}
}

// formatWithLogrus writes one entry with the server's text formatter.
func formatWithLogrus(t testing.TB, msg string, fields logrus.Fields) string {
	fm, err := Formatter("TEXT")
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	var buf bytes.Buffer
	log.SetOutput(&buf)
	log.SetFormatter(fm)
	log.WithFields(fields).WithTime(fxBase).Info(msg)
	return strings.TrimSuffix(buf.String(), "\n")
}

// checkLogrusRoundTrip formats msg and value with real logrus and checks
// that the parser gives them back unchanged.
func checkLogrusRoundTrip(t testing.TB, msg, value string) {
	line := formatWithLogrus(t, msg, logrus.Fields{"v": value, "n": 42, "user": "SMITH"})
	if strings.Contains(line, "\n") {
		t.Fatalf("logrus wrote a multi-line entry for %q/%q", msg, value)
	}
	e, ok := parseLogLine([]byte(line))
	if !ok {
		t.Fatalf("parseLogLine(%q) failed", line)
	}
	if msg != "" && e.msg != msg {
		t.Errorf("msg %q came back as %q from %q", msg, e.msg, line)
	}
	if e.fields["v"] != value || e.fields["n"] != "42" || e.fields["user"] != "SMITH" || e.level != logrus.InfoLevel || !e.time.Equal(fxBase) {
		t.Errorf("value %q came back as %+v from %q", value, e, line)
	}
}

func TestLogfmtLogrusRoundTrip(t *testing.T) {
	values := []string{
		"", "plain", "with space", `"quoted"`, "a=b", "key=value other=x", "ünïcödé ✉", "tab\there",
		"new\nline", `back\slash`, "\xff\xfeinvalid utf-8", "C: PASS ***", "S: [RETR 3: 10,240 octets]",
		"trailing space ", " leading", "=", `"`, `\"`, "\x00nul", "\u2028",
	}
	for _, v := range values {
		checkLogrusRoundTrip(t, v, v)
	}
}

func FuzzParseLogfmt(f *testing.F) {
	for _, s := range []string{
		`time="2026-11-25T17:20:00.1Z" level=info msg="C: USER smith" remote="127.0.0.1:1" session=0a1b2c3d4e5f`,
		`a=1 b="x y" c=""`, `msg="\xff\u00fc\"="`, "hello", "",
	} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, line, value string) {
		// Arbitrary input: no panic, and a success yields pairs that are
		// consistent with the line.
		kvs, err := parseLogfmt(line)
		if err == nil {
			if len(kvs) == 0 {
				t.Fatalf("parseLogfmt(%q) = no pairs and no error", line)
			}
			for _, kv := range kvs {
				if kv.key == "" || strings.ContainsAny(kv.key, ` ="`) || !strings.Contains(line, kv.key+"=") {
					t.Fatalf("parseLogfmt(%q) gave bad key %q", line, kv.key)
				}
			}
		}
		_, _ = parseLogLine([]byte(line))
		// Whatever logrus writes must parse back to the same values.
		checkLogrusRoundTrip(t, line, value)
	})
}
