package logicals

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseStartupFile(t *testing.T) {
	t.Parallel()
	const name = "TCPIP$POP_SYSTARTUP.COM"
	f, err := os.Open("../testdata/startup/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defs, warns, err := ParseStartup(f, name)
	if err != nil {
		t.Fatalf("ParseStartup: %v", err)
	}
	wantDefs := []Definition{
		{"TCPIP$POP_SECURITY", "SECURE", 12},
		{"TCPIP$POP_POSTMASTER", "JONES, SMITH", 15},
		{"TCPIP$POP_LOG_LEVEL", "informational", 17},
		{"TCPIP$POP_MESSAGE_MAXIMUM", "500", 18},
		{"TCPIP$POP_LINK_IDLE_TIMEOUT", "0 00:20:00.00", 21},
		{"TCPIP$POP_LEAVE_IN_NEWMAIL", "TRUE", 26},
		{"TCPIP$POP_DECNET_REWRITE", "TRANSFORM", 32},
		{"TCPIP$POP_LOCAL_NAMES", "VAXA, VAXB, vaxa.example.com", 33},
		{"TCPIP$POP_SPOOL", "/var/spool/vmspop", 34},
	}
	if !reflect.DeepEqual(defs, wantDefs) {
		t.Errorf("definitions =\n%v\nwant\n%v", defs, wantDefs)
	}
	wantWarns := []Warning{
		{name, 8, "DCL command SET ignored"},
		{name, 9, "DCL command SAY ignored"},
		{name, 37, "logical name TCPIP$SMTP_LOG_LEVEL is not a TCPIP$POP_ name: ignored"},
		{name, 39, "DCL command SAY ignored"},
		{name, 40, "DCL command EXIT ignored"},
	}
	if !reflect.DeepEqual(warns, wantWarns) {
		t.Errorf("warnings =\n%v\nwant\n%v", warns, wantWarns)
	}

	// The whole file through Load: every value is valid.
	c, w, err := Load(nil, "../testdata/startup/"+name)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(w) != len(wantWarns) {
		t.Errorf("Load warnings = %v; want the %d of the parser", w, len(wantWarns))
	}
	if c.Security != Secure || !reflect.DeepEqual(c.Postmaster, []string{"JONES", "SMITH"}) ||
		c.MessageMaximum != 500 || !c.LeaveInNewmail || c.Trace || c.Spool != "/var/spool/vmspop" {
		t.Errorf("Load(startup file) = %+v", c)
	}
}

func TestParseStartup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		defs  []Definition
		warns []string // Warning.String() with file "f"
		err   string   // "" = none
	}{
		{
			name: "define forms",
			in: `$ DEFINE/SYSTEM TCPIP$POP_A X
$ DEFINE /SYSTEM /NOLOG TCPIP$POP_B TRUE
$ define/system tcpip$pop_c "a"
$DEF/SYS TCPIP$POP_D "Mixed Case"
$ DEFI TCPIP$POP_E/NOLOG Y/SYSTEM
$ DEFINE/SYSTEM/EXECUTIVE_MODE/TABLE=LNM$SYSTEM/TRANSLATION_ATTRIBUTES=(CONCEALED,TERMINAL) TCPIP$POP_F Z
  $   DEFINE/SYSTEM  TCPIP$POP_G  "0 00:10:00.00"
$ START: DEFINE TCPIP$POP_H 1
$ DEFINE TCPIP$POP_I lower
`,
			defs: []Definition{
				{"TCPIP$POP_A", "X", 1}, {"TCPIP$POP_B", "TRUE", 2}, {"TCPIP$POP_C", "a", 3},
				{"TCPIP$POP_D", "Mixed Case", 4}, {"TCPIP$POP_E", "Y", 5}, {"TCPIP$POP_F", "Z", 6},
				{"TCPIP$POP_G", "0 00:10:00.00", 7}, {"TCPIP$POP_H", "1", 8}, {"TCPIP$POP_I", "lower", 9},
			},
		},
		{
			name: "quotes and comments",
			in: `$ DEFINE TCPIP$POP_A "say ""hi"" ! not a comment" ! a comment
$ DEFINE TCPIP$POP_B ""
$ DEFINE TCPIP$POP_C ab"c d"e
$! DEFINE TCPIP$POP_D X
$ ! DEFINE TCPIP$POP_E X
`,
			defs: []Definition{
				{"TCPIP$POP_A", `say "hi" ! not a comment`, 1}, {"TCPIP$POP_B", "", 2}, {"TCPIP$POP_C", "abc de", 3},
			},
		},
		{
			name: "search list",
			in:   "$ DEFINE/SYSTEM TCPIP$POP_POSTMASTER \"JONES\",SMITH , \"SYSTEM\"\n",
			defs: []Definition{{"TCPIP$POP_POSTMASTER", "JONES, SMITH, SYSTEM", 1}},
		},
		{
			name: "continuations",
			in:   "$ DEFINE/SYSTEM -\n  TCPIP$POP_A -\n$ \"x y\"\n$ DEFINE TCPIP$POP_B VAL-\nUE\n$ DEFINE TCPIP$POP_C - ! comment\n Z\r\n",
			defs: []Definition{{"TCPIP$POP_A", "x y", 1}, {"TCPIP$POP_B", "VALUE", 4}, {"TCPIP$POP_C", "Z", 6}},
		},
		{
			name: "assign and deassign",
			in: `$ ASSIGN/SYSTEM TRUE TCPIP$POP_TRACE
$ ASS/SYS "A","B" TCPIP$POP_LOCAL_NAMES:
$ DEFINE TCPIP$POP_X 1
$ DEASSIGN/SYSTEM TCPIP$POP_X
$ DEAS TCPIP$POP_NEVER
$ DEASSIGN/ALL
`,
			defs:  []Definition{{"TCPIP$POP_TRACE", "TRUE", 1}, {"TCPIP$POP_LOCAL_NAMES", "A, B", 2}},
			warns: []string{"f:5: DEASSIGN TCPIP$POP_NEVER: not defined earlier in this file", "f:6: DEASSIGN/ALL ignored"},
		},
		{
			name:  "redefinition",
			in:    "$ DEFINE TCPIP$POP_A 1\n$ DEFINE TCPIP$POP_B 2\n$ DEFINE TCPIP$POP_A 3\n",
			defs:  []Definition{{"TCPIP$POP_B", "2", 2}, {"TCPIP$POP_A", "3", 3}},
			warns: []string{"f:3: TCPIP$POP_A redefined: the definition on line 1 is superseded"},
		},
		{
			name: "ignored lines",
			in: `
$
$ SET NOON
$ IF F$TRNLNM("X") .NES. "" THEN EXIT
DEFINE TCPIP$POP_A 1
$ DEFINE SYS$LOGIN "/tmp"
$ DEFINE "tcpip$pop_quoted" X
$ DEFINE TCPIP$POP_ X
$ DE TCPIP$POP_A 1
$ /SYSTEM
$ @SYS$MANAGER:OTHER.COM
`,
			warns: []string{
				"f:3: DCL command SET ignored",
				"f:4: DCL command IF ignored",
				"f:5: not a DCL command line (no leading $): ignored",
				"f:6: logical name SYS$LOGIN is not a TCPIP$POP_ name: ignored",
				"f:7: logical name tcpip$pop_quoted is not a TCPIP$POP_ name: ignored",
				"f:8: logical name TCPIP$POP_ is not a TCPIP$POP_ name: ignored",
				"f:9: DCL command DE ignored",
				"f:10: not a DCL command: ignored",
				"f:11: DCL command @SYS$MANAGER:OTHER.COM ignored",
			},
		},
		{
			name: "errors are collected",
			in: `$ DEFINE TCPIP$POP_A "open
$ DEFINE TCPIP$POP_B
$ DEFINE
$ ASSIGN X
$ DEFINE TCPIP$POP_C 0 00:10:00
$ DEFINE TCPIP$POP_D A,
$ DEFINE ,TCPIP$POP_E A
$ DEFINE A,B X
$ DEASSIGN
$ DEFINE/ TCPIP$POP_F X
$ DEFINE/TRANSLATION=(CONCEALED TCPIP$POP_G X
$ DEFINE TCPIP$POP_OK 1
$ DEFINE TCPIP$POP_H -
`,
			defs: []Definition{{"TCPIP$POP_OK", "1", 12}},
			err: `logicals: f:1: unterminated quoted string
logicals: f:2: DEFINE TCPIP$POP_B without a value
logicals: f:3: DEFINE without a logical name or value
logicals: f:4: ASSIGN with a value but no logical name
logicals: f:5: DEFINE: too many parameters (quote a value that contains spaces)
logicals: f:6: DEFINE: a comma without a value after it
logicals: f:7: DEFINE: a comma without a value before it
logicals: f:8: DEFINE: the logical name must be a single name, not a list
logicals: f:9: DEASSIGN needs exactly one logical name
logicals: f:10: a qualifier without a name after /
logicals: f:11: unbalanced ( in a qualifier value
logicals: f:13: the last command ends in a continuation hyphen`,
		},
		{
			name: "long line",
			in:   "$ DEFINE TCPIP$POP_A 1\n$ ! " + strings.Repeat("x", maxStartupLine) + "\n",
			defs: []Definition{{"TCPIP$POP_A", "1", 1}},
			err:  "logicals: f:2: line longer than 64 KiB",
		},
	}
	for _, tc := range tests {
		defs, warns, err := ParseStartup(strings.NewReader(tc.in), "f")
		if len(defs) == 0 {
			defs = nil
		}
		if !reflect.DeepEqual(defs, tc.defs) {
			t.Errorf("%s: definitions =\n%v\nwant\n%v", tc.name, defs, tc.defs)
		}
		var ws []string
		for _, w := range warns {
			ws = append(ws, w.String())
		}
		if !reflect.DeepEqual(ws, tc.warns) {
			t.Errorf("%s: warnings =\n%q\nwant\n%q", tc.name, ws, tc.warns)
		}
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tc.err {
			t.Errorf("%s: error =\n%s\nwant\n%s", tc.name, gotErr, tc.err)
		}
	}
}

func TestParseStartupReadError(t *testing.T) {
	t.Parallel()
	_, _, err := ParseStartup(iotest.ErrReader(os.ErrPermission), "f")
	if err == nil || !strings.HasPrefix(err.Error(), "logicals: f: ") {
		t.Errorf("ParseStartup(failing reader) error = %v; want one naming the file", err)
	}
}

func FuzzParseStartup(f *testing.F) {
	seed, err := os.ReadFile("../testdata/startup/TCPIP$POP_SYSTARTUP.COM")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(seed),
		"$ DEFINE/SYSTEM TCPIP$POP_SECURITY SECURE\n",
		"$ ASSIGN/SYSTEM \"A\",\"B\" TCPIP$POP_X:\n$ DEASSIGN TCPIP$POP_X\n",
		"$ DEFINE X -\n$ \"a\"\"b\" ! c\n",
		"$ DEFINE/TRANSLATION=(CONCEALED,TERMINAL)/TABLE=\"LNM$SYSTEM\" TCPIP$POP_A 1\n",
		"$ L: DEF TCPIP$POP_A ,\n",
		"$ \"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		defs, warns, _ := ParseStartup(strings.NewReader(in), "f")
		seen := map[string]bool{}
		for _, d := range defs {
			if d.Name == "" {
				t.Fatalf("ParseStartup(%q) returned a Definition without a Name: %+v", in, d)
			}
			if !strings.HasPrefix(d.Name, prefix) {
				t.Fatalf("ParseStartup(%q) returned %q, not a TCPIP$POP_ name", in, d.Name)
			}
			if seen[d.Name] {
				t.Fatalf("ParseStartup(%q) returned %q twice", in, d.Name)
			}
			seen[d.Name] = true
			if d.Line < 1 {
				t.Fatalf("ParseStartup(%q) returned line %d", in, d.Line)
			}
		}
		for _, w := range warns {
			if w.Text == "" || w.Line < 1 || w.File != "f" {
				t.Fatalf("ParseStartup(%q) returned warning %#v", in, w)
			}
		}
	})
}
