package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/uaf"
)

// vmsExport is an export as VMSPOP_EXPORT.COM writes it: JRANDOM's hash is
// that of the password "wibble" (PURDY_S, salt 1234; published vector),
// JONES is DISUSER with an expiry, OLDCRC has an AD_II hash vmspop cannot
// check.
const vmsExport = `! vmspop account export 1: USER FLAGS EXPIRATION ALGORITHM SALT HASH
JRANDOM 00000000 NONE 03 04D2 2CEF674777A54880
JONES 00000010 31-DEC-2026:00:00:00.00 03 0001 0123456789ABCDEF
OLDCRC 00000080 NONE 00 0000 00000000DEADBEEF
`

// importDryRunFirst runs vmspop uaf import --dry-run of file, which must
// report 3 accounts to create and leave the accounts file at path unmade.
func importDryRunFirst(t *testing.T, env map[string]string, path, file string) {
	t.Helper()
	r := runUAFTest(t, env, "", "import", file, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "3 created, 0 changed, 0 unchanged (dry run: nothing written)") {
		t.Fatalf("dry run: %+v", r)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("--dry-run wrote the accounts file")
	}
}

func TestUAFImport(t *testing.T) {
	env, path := uafEnv(t)
	dir := t.TempDir()
	exp := filepath.Join(dir, "ACCOUNTS.TXT")
	os.WriteFile(exp, []byte(vmsExport), 0o644)

	importDryRunFirst(t, env, path, exp)
	r := runUAFTest(t, env, "", "import", exp)
	if r.code != 0 || !strings.Contains(r.stdout, "3 created, 0 changed, 0 unchanged") || !strings.Contains(r.stdout, "no password: OLDCRC") {
		t.Fatalf("import: %+v", r)
	}
	r = runUAFTest(t, env, "", "show", "jones")
	for _, w := range []string{"DISUSER", "2026-12-30", "VMS hash (PURDY_S)"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("show JONES lacks %q:\n%s", w, r.stdout)
		}
	}
	// Idempotent.
	r = runUAFTest(t, env, "", "import", exp)
	if r.code != 0 || !strings.Contains(r.stdout, "0 created, 0 changed, 3 unchanged") {
		t.Fatalf("second import: %+v", r)
	}
	// A bad line: nothing imported, the line named.
	bad := filepath.Join(dir, "BAD.TXT")
	os.WriteFile(bad, []byte(vmsExport+"NEW 00000000 NONE 03 0001 0123456789ABCDEF\nBROKEN 0000 NONE\n"), 0o644)
	r = runUAFTest(t, env, "", "import", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "BAD.TXT:6:") || !strings.Contains(r.stderr, "nothing imported") {
		t.Fatalf("bad file: %+v", r)
	}
	if db, _ := uaf.Load(path); db.Len() != 3 {
		t.Fatalf("the bad file imported something: %d accounts", db.Len())
	}
	// --set-password gives OLDCRC a one-time password in a 0600 file.
	pwFile := filepath.Join(dir, "onetime.txt")
	r = runUAFTest(t, env, "", "import", exp, "--set-password", pwFile)
	if r.code != 0 || !strings.Contains(r.stdout, "changed   OLDCRC") || strings.Contains(r.stdout, "no password:") {
		t.Fatalf("--set-password: %+v", r)
	}
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("one-time password file: %v %v", fi, err)
	}
	f, _ := os.Open(pwFile)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var user, pw string
	for sc.Scan() {
		if l := sc.Text(); !strings.HasPrefix(l, "#") {
			user, pw, _ = strings.Cut(l, " ")
		}
	}
	if user != "OLDCRC" || len(pw) != oneTimePasswordLen {
		t.Fatalf("one-time password file holds %q %q", user, pw)
	}
	s := loadStore(t, path)
	if _, err := s.CheckPassword("oldcrc", pw, time.Now()); err != uaf.ErrDisMail {
		t.Errorf("one-time password login: %v, want ErrDisMail (it has DISMAIL)", err)
	}
	r = runUAFTest(t, env, "", "import", exp, "--set-password", pwFile)
	if r.code != 1 || !strings.Contains(r.stderr, "never overwrites") {
		t.Errorf("--set-password over an existing file: %+v", r)
	}
}

// authorizeListing is AUTHORIZE LIST/FULL output (SYSUAF.LIS) as a VMS
// system writes it, copied in text mode with CRLF line ends and a form
// feed between pages: no password hashes; SMITH expires, JONES is DISUSER
// and DISMAIL (on a continued Flags: line), FIELD has DisNewMail only.
var authorizeListing = strings.ReplaceAll(`Username: SMITH                            Owner:  JOHN SMITH
Account:  USERS                            UIC:    [200,201] ([USERS,SMITH])
CLI:      DCL                              Tables: DCLTABLES
Default:  USERS:[SMITH]
LGICMD:   LOGIN
Flags:
Primary days:   Mon Tue Wed Thu Fri
Secondary days:                     Sat Sun
No access restrictions
Expiration:   31-DEC-2026 00:00    Pwdminimum:  8   Login Fails:     0
Pwdlifetime:         90 00:00    Pwdchange:  15-JAN-2025 10:23

`+"\f"+`
Username: JONES                            Owner:  FRED JONES
Account:  USERS                            UIC:    [200,202] ([USERS,JONES])
Flags:  DisCtlY DefCLI LockPwd Restricted DisUser DisWelcome DisNewMail
        DisMail DisReport
Expiration:            (none)    Pwdminimum:  6   Login Fails:     3

Username: FIELD                            Owner:  ANNE FIELD
Flags:  DisNewMail
Expiration:            (none)    Pwdminimum:  6   Login Fails:     0
`, "\n", "\r\n")

// TestUAFImportAuthorizeList imports AUTHORIZE LIST/FULL output with the
// command: dry run, flags and expiry, the accounts without a password, a
// second run that changes nothing, then the export's hashes on top.
func TestUAFImportAuthorizeList(t *testing.T) {
	env, path := uafEnv(t)
	dir := t.TempDir()
	lis := filepath.Join(dir, "SYSUAF.LIS")
	os.WriteFile(lis, []byte(authorizeListing), 0o644)

	importDryRunFirst(t, env, path, lis)
	r := runUAFTest(t, env, "", "import", lis)
	if r.code != 0 || !strings.Contains(r.stdout, "3 created, 0 changed, 0 unchanged") {
		t.Fatalf("import: %+v", r)
	}
	for _, u := range []string{"SMITH", "JONES", "FIELD"} {
		if !strings.Contains(r.stdout, "no password: "+u) {
			t.Errorf("import does not say %s has no password:\n%s", u, r.stdout)
		}
	}
	for user, want := range map[string][]string{
		"smith": {"Flags:       -", "Expires:     2026-12-30", "Password:    not set"},
		"jones": {"Flags:       DISUSER,DISMAIL", "Expires:     none"},
		"field": {"Flags:       -", "Expires:     none"},
	} {
		show := runUAFTest(t, env, "", "show", user).stdout
		for _, w := range want {
			if !strings.Contains(show, w) {
				t.Errorf("show %s lacks %q:\n%s", user, w, show)
			}
		}
	}
	r = runUAFTest(t, env, "", "import", lis)
	if r.code != 0 || !strings.Contains(r.stdout, "0 created, 0 changed, 3 unchanged") {
		t.Fatalf("second import: %+v", r)
	}
	// The export of F$GETUAI values after the listing: JONES's expiry and
	// flags change, JRANDOM and OLDCRC are new.
	exp := filepath.Join(dir, "ACCOUNTS.TXT")
	os.WriteFile(exp, []byte(vmsExport), 0o600)
	r = runUAFTest(t, env, "", "import", exp)
	if r.code != 0 || !strings.Contains(r.stdout, "2 created, 1 changed, 0 unchanged") {
		t.Fatalf("export after the listing: %+v", r)
	}
	if show := runUAFTest(t, env, "", "show", "jones").stdout; !strings.Contains(show, "Flags:       DISUSER\n") || !strings.Contains(show, "VMS hash (PURDY_S)") {
		t.Errorf("JONES after the export:\n%s", show)
	}
}

// TestUAFImportVMSPasswordPOP: a user imported with a VMS hash logs in to
// the real server with the old VMS password; the server then keeps a
// bcrypt hash.
func TestUAFImportVMSPasswordPOP(t *testing.T) {
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: freePort(t)}
	os.Mkdir(s.Spool, 0o700)
	exp := filepath.Join(dir, "ACCOUNTS.TXT")
	os.WriteFile(exp, []byte(vmsExport), 0o644)
	if r := runUAFTest(t, map[string]string{"TCPIP$POP_UAF": s.UAF}, "", "import", exp); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	s.start(t)
	p := dialPOP(t, s.Addr)
	p.cmd("USER jrandom")
	if r := p.cmd("PASS WiBbLe"); !strings.HasPrefix(r, "+OK") { // VMS passwords ignore case
		t.Fatalf("PASS with the VMS password: %s", r)
	}
	p.cmd("QUIT")
	db, err := uaf.Load(s.UAF)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := db.Lookup("JRANDOM"); a.VMS != nil || len(a.Hash) == 0 {
		t.Fatalf("after the login JRANDOM has VMS hash %v, bcrypt %d bytes", a.VMS, len(a.Hash))
	}
	p = dialPOP(t, s.Addr)
	p.cmd("USER jrandom")
	if r := p.cmd("PASS WiBbLe"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("PASS after the upgrade: %s", r)
	}
}

// TestExportProcedureFormat checks that dist/vms/VMSPOP_EXPORT.COM (which
// cannot run here) writes ACCOUNTS.TXT in the format uaf import reads:
// its header line is a comment, its fields come in the documented order
// and widths, and its only data lines (input to AUTHORIZE) are constant.
func TestExportProcedureFormat(t *testing.T) {
	b, err := os.ReadFile("../../dist/vms/VMSPOP_EXPORT.COM")
	if err != nil {
		t.Fatal(err)
	}
	com := string(b)
	const header = "! vmspop account export 1: USER FLAGS EXPIRATION ALGORITHM SALT HASH"
	if !strings.Contains(com, `WRITE acc "`+header+`"`) {
		t.Error("the procedure does not write the export header")
	}
	if accts, err := uaf.ParseVMSAccounts(strings.NewReader(header+"\n"), "h"); err != nil || len(accts) != 0 {
		t.Errorf("header line: %v %v", accts, err)
	}
	want := `WRITE acc user, " ", F$FAO("!8XL", flags), " ", expires, " ", -
          F$FAO("!2XB", algorithm), " ", F$FAO("!4XW", salt), " ", hash`
	if !strings.Contains(com, want) {
		t.Error("the account line is not USER FLAGS(8 hex) EXPIRATION ALGORITHM(2 hex) SALT(4 hex) HASH")
	}
	for i, l := range strings.Split(com, "\n") {
		if l == "" || strings.HasPrefix(l, "$") {
			continue
		}
		if l != "LIST/FULL" && l != "EXIT" && !strings.HasPrefix(l, "          ") {
			t.Errorf("line %d is a data line: %q", i+1, l)
		}
	}
}
