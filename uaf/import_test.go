package uaf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseVMSExport(t *testing.T) {
	local := func(y int, m time.Month, d, hh, mm int) time.Time {
		return time.Date(y, m, d, hh, mm, 0, 0, time.Local)
	}
	for _, tc := range []struct {
		line    string
		name    string
		flags   Flags
		expires time.Time
		vms     string // VMSHash.String(), "" = none
		err     string
	}{
		{line: "SMITH 00000000 NONE 03 04D2 2CEF674777A54880", name: "SMITH", vms: "3,04D2,2CEF674777A54880"},
		{line: "jones 00000010 31-DEC-2026:00:00:00.00 3 04d2 2cef674777a54880", name: "JONES", flags: DisUser, expires: local(2026, 12, 31, 0, 0), vms: "3,04D2,2CEF674777A54880"},
		{line: `FIELD 00000080 "1-JAN-2027 12:30" 02 0001 0123456789ABCDEF`, name: "FIELD", flags: DisMail, expires: local(2027, 1, 1, 12, 30), vms: "2,0001,0123456789ABCDEF"},
		{line: "BOTH 00000090 17-NOV-1858:00:00:00.00 01 FFFF 0123456789ABCDEF", name: "BOTH", flags: DisUser | DisMail, vms: "1,FFFF,0123456789ABCDEF"},
		// DISNEWMAIL (UAI$V_DISMAIL, bit 6) and other bits are not DISMAIL.
		{line: "NEWS 0000006F NONE 03 0001 0123456789ABCDEF", name: "NEWS", flags: 0, vms: "3,0001,0123456789ABCDEF"},
		{line: "MIX 02000000 NONE 03 0001 0123456789ABCDEF", name: "MIX", vms: "3,0001,0123456789ABCDEF,PWDMIX"},
		{line: "CRC 00000000 NONE 00 0000 0123456789ABCDEF", name: "CRC"},
		{line: "NOPW 00000000 NONE 03 0000 -", name: "NOPW"},
		{line: "ZERO 00000000 NONE 03 0000 0000000000000000", name: "ZERO"},
		{line: "SMITH 00000000 NONE 03 04D2", err: "got 5 fields"},
		{line: "SM.TH 00000000 NONE 03 04D2 2CEF674777A54880", err: "bad user name"},
		{line: "SMITH XYZ NONE 03 04D2 2CEF674777A54880", err: "bad flags"},
		{line: "SMITH 0 32-DEC-2026 03 04D2 2CEF674777A54880", err: "bad expiration"},
		{line: "SMITH 0 31-FOO-2026 03 04D2 2CEF674777A54880", err: "bad expiration"},
		{line: "SMITH 0 30-FEB-2026 03 04D2 2CEF674777A54880", err: "bad expiration"},
		{line: "SMITH 0 NONE 03 4D2 2CEF674777A54880", err: "bad salt"},
		{line: "SMITH 0 NONE 03 04D2 2CEF674777A5488", err: "bad hash"},
	} {
		accts, err := ParseVMSAccounts(strings.NewReader("! vmspop account export 1\n\n"+tc.line+"\n"), "x.txt")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "x.txt:3:") {
				t.Errorf("%q: error %v, want %q at x.txt:3", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || len(accts) != 1 {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		a := accts[0]
		vms := ""
		if a.VMS != nil {
			vms = a.VMS.String()
		}
		if a.Name != tc.name || a.Flags != tc.flags || !a.Expires.Equal(tc.expires) || vms != tc.vms {
			t.Errorf("%q: got %s %v %v %q, want %s %v %v %q", tc.line, a.Name, a.Flags, a.Expires, vms, tc.name, tc.flags, tc.expires, tc.vms)
		}
		if a.VMS == nil && a.Note == "" {
			t.Errorf("%q: no note on why there is no hash", tc.line)
		}
	}
	if _, err := ParseVMSAccounts(strings.NewReader("A 0 NONE 3 0001 -\na 0 NONE 3 0001 -\n"), "x"); err == nil || !strings.Contains(err.Error(), "already at line 1") {
		t.Errorf("duplicate account: %v", err)
	}
}

const authorizeList = `Username: SMITH                            Owner:  JOHN SMITH
Account:  USERS                            UIC:    [200,201] ([USERS,SMITH])
CLI:      DCL                              Tables: DCLTABLES
Default:  USERS:[SMITH]
LGICMD:   LOGIN
Flags:  DisNewMail
Primary days:   Mon Tue Wed Thu Fri
Secondary days:                     Sat Sun
No access restrictions
Expiration:   31-DEC-2026 00:00    Pwdminimum:  8   Login Fails:     0
Pwdlifetime:         90 00:00    Pwdchange:  15-JAN-2025 10:23
Last Login: 20-NOV-2026 09:12 (interactive), (none) (non-interactive)
Maxjobs:         0  Fillm:       300  Bytlm:       128000
Default Privileges:
  NETMBX       TMPMBX

Username: JONES                            Owner:  FRED JONES
Account:  USERS                            UIC:    [200,202] ([USERS,JONES])
Flags:  DisCtlY DefCLI LockPwd Restricted DisUser DisWelcome DisNewMail
        DisMail DisReport
Expiration:            (none)    Pwdminimum:  6   Login Fails:     3

Username: FIELD                            Owner:  ANNE FIELD
Flags:
Expiration:   1-JAN-2027 12:30    Pwdminimum:  6   Login Fails:     0
`

func TestParseAuthorizeList(t *testing.T) {
	accts, err := ParseVMSAccounts(strings.NewReader(authorizeList), "SYSUAF.LIS")
	if err != nil {
		t.Fatal(err)
	}
	want := []ImportedAccount{
		{Name: "SMITH", Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.Local)},
		{Name: "JONES", Flags: DisUser | DisMail},
		{Name: "FIELD", Expires: time.Date(2027, 1, 1, 12, 30, 0, 0, time.Local)},
	}
	if len(accts) != len(want) {
		t.Fatalf("got %d accounts: %+v", len(accts), accts)
	}
	for i, w := range want {
		a := accts[i]
		if a.Name != w.Name || a.Flags != w.Flags || !a.Expires.Equal(w.Expires) || a.VMS != nil {
			t.Errorf("account %d = %+v, want %+v", i, a, w)
		}
	}
}

func TestApplyImport(t *testing.T) {
	exp := "SMITH 00000000 NONE 03 04D2 2CEF674777A54880\nJONES 00000010 31-DEC-2026:00:00:00.00 03 0001 0123456789ABCDEF\nFIELD 00000000 NONE 00 0000 -\n"
	accts, err := ParseVMSAccounts(strings.NewReader(exp), "x")
	if err != nil {
		t.Fatal(err)
	}
	db := NewDB()
	// FIELD already has a vmspop password and an APOP secret: both stay.
	db.Put(&Account{Name: "FIELD", Hash: []byte(dummyHash), Secret: []byte("s"), Flags: DisMail})
	actions := func(rs []ImportResult) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Name+"="+r.Action)
		}
		return strings.Join(s, " ")
	}
	r := ApplyImport(db, accts)
	if got := actions(r); got != "SMITH=created JONES=created FIELD=changed" {
		t.Errorf("first import: %s", got)
	}
	f, _ := db.Lookup("FIELD")
	if string(f.Hash) != dummyHash || string(f.Secret) != "s" || f.Flags != 0 || f.VMS != nil || r[2].NoLogin {
		t.Errorf("FIELD after import: %+v", f)
	}
	j, _ := db.Lookup("JONES")
	if j.Flags != DisUser || j.ExpiryDate() != "2026-12-30" || j.VMS == nil || r[1].NoLogin {
		t.Errorf("JONES after import: %+v (expires %s)", j, j.ExpiryDate())
	}
	// Written and read back, then imported again: nothing changes.
	path := filepath.Join(t.TempDir(), "uaf")
	if err := db.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	db2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(ApplyImport(db2, accts)); got != "SMITH=unchanged JONES=unchanged FIELD=unchanged" {
		t.Errorf("second import: %s", got)
	}
	// The VMS side changed: a new flag, a new password hash.
	accts[0].Flags = DisMail
	accts[0].VMS = &VMSHash{Algorithm: 3, Salt: 9, Hash: [8]byte{1}}
	r = ApplyImport(db2, accts)
	if got := actions(r); got != "SMITH=changed JONES=unchanged FIELD=unchanged" || len(r[0].Changes) != 2 {
		t.Errorf("third import: %s %q", got, r[0].Changes)
	}
	// A listing without hashes leaves an account without a password.
	la, _ := ParseVMSAccounts(strings.NewReader(authorizeList), "l")
	db3 := NewDB()
	for _, r := range ApplyImport(db3, la) {
		if !r.NoLogin || r.Action != "created" {
			t.Errorf("%s from a listing: %+v", r.Name, r)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
