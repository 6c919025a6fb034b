package uaf

// Importing accounts from an OpenVMS system: the export file that
// dist/vms/VMSPOP_EXPORT.COM writes (F$GETUAI values, with password
// hashes), or the SYSUAF.LIS listing of AUTHORIZE's LIST/FULL (no hashes).
//
// Export format, one account per line ("!" starts a comment line):
//
//	! vmspop account export 1: USER FLAGS EXPIRATION ALGORITHM SALT HASH
//	SMITH 00000000 NONE 03 04D2 2CEF674777A54880
//	JONES 00000090 31-DEC-2026:00:00:00.00 03 1A2B 0123456789ABCDEF
//
//   - USER: the user name;
//   - FLAGS: UAI$_FLAGS, 8 hex digits; bit 4 (UAI$V_DISACNT, AUTHORIZE's
//     DISUSER) gives DISUSER, bit 7 (UAI$V_NOMAIL, AUTHORIZE's DISMAIL)
//     gives DISMAIL, bit 25 (PWDMIX) makes the password case-sensitive;
//     the others are ignored;
//   - EXPIRATION: UAI$_EXPIRATION as a VMS absolute time, the date and
//     time joined by ":" (or a space inside quotes), or NONE; the account
//     is expired from that instant;
//   - ALGORITHM: UAI$_ENCRYPT, hex (1 PURDY, 2 PURDY_V, 3 PURDY_S; others
//     give an account without a usable password);
//   - SALT: UAI$_SALT, 4 hex digits (the number, most significant first);
//   - HASH: UAI$_PWD, 16 hex digits, the quadword's bytes in memory order
//     (least significant first), or "-" for none.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// UAI$_FLAGS bits read from an export.
const (
	uaiDisAcnt = 1 << 4  // AUTHORIZE DISUSER
	uaiNoMail  = 1 << 7  // AUTHORIZE DISMAIL
	uaiPwdMix  = 1 << 25 // AUTHORIZE PWDMIX
)

// ImportedAccount is an account read from a VMS export or listing.
type ImportedAccount struct {
	Line    int
	Name    string
	Flags   Flags
	Expires time.Time // zero: never
	VMS     *VMSHash  // nil: no usable password hash
	Note    string    // why there is no usable hash, when there is none
}

// ParseVMSAccounts reads accounts from r, either in the export format or
// as AUTHORIZE LIST/FULL output (recognised by its "Username:" lines).
// Every problem is reported, with name:line, and then no account is
// returned.
func ParseVMSAccounts(r io.Reader, name string) ([]ImportedAccount, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	listing := false
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(strings.TrimSpace(l), "Username:") {
			listing = true
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("uaf: %s: %w", name, err)
	}
	var accts []ImportedAccount
	var errs []error
	if listing {
		accts, errs = parseAuthorizeList(lines, name)
	} else {
		accts, errs = parseExport(lines, name)
	}
	seen := map[string]int{}
	for _, a := range accts {
		if l, ok := seen[a.Name]; ok {
			errs = append(errs, fmt.Errorf("%s:%d: %s already at line %d", name, a.Line, a.Name, l))
		}
		seen[a.Name] = a.Line
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return accts, nil
}

func parseExport(lines []string, name string) ([]ImportedAccount, []error) {
	var out []ImportedAccount
	var errs []error
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "!") || strings.HasPrefix(t, "#") {
			continue
		}
		a, err := parseExportLine(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v", name, i+1, err))
			continue
		}
		a.Line = i + 1
		out = append(out, a)
	}
	return out, errs
}

// splitQuoted splits at blanks, keeping "quoted strings" whole (unquoted).
func splitQuoted(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			if j := strings.IndexByte(s[1:], '"'); j >= 0 {
				out = append(out, s[1:1+j])
				s = s[2+j:]
				continue
			}
		}
		j := strings.IndexAny(s, " \t")
		if j < 0 {
			j = len(s)
		}
		out = append(out, s[:j])
		s = s[j:]
	}
	return out
}

func parseExportLine(l string) (ImportedAccount, error) {
	var a ImportedAccount
	f := splitQuoted(l)
	if len(f) != 6 {
		return a, fmt.Errorf("want USER FLAGS EXPIRATION ALGORITHM SALT HASH, got %d fields", len(f))
	}
	if !ValidName(f[0]) {
		return a, fmt.Errorf("bad user name %q", f[0])
	}
	a.Name = strings.ToUpper(f[0])
	flags, err := strconv.ParseUint(f[1], 16, 32)
	if err != nil {
		return a, fmt.Errorf("bad flags %q (want 8 hex digits)", f[1])
	}
	if flags&uaiDisAcnt != 0 {
		a.Flags |= DisUser
	}
	if flags&uaiNoMail != 0 {
		a.Flags |= DisMail
	}
	if a.Expires, err = parseVMSTime(f[2]); err != nil {
		return a, err
	}
	alg, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return a, fmt.Errorf("bad algorithm %q (want hex)", f[3])
	}
	salt, err := strconv.ParseUint(f[4], 16, 16)
	if err != nil || len(f[4]) != 4 {
		return a, fmt.Errorf("bad salt %q (want 4 hex digits)", f[4])
	}
	if f[5] == "-" {
		a.Note = "no password hash in the export"
		return a, nil
	}
	if len(f[5]) != 16 || !isHex(f[5]) {
		return a, fmt.Errorf("bad hash %q (want 16 hex digits or -)", f[5])
	}
	h, err := ParseVMSHash(fmt.Sprintf("%d,%04X,%s", alg, salt, strings.ToUpper(f[5])))
	if err != nil {
		return a, err
	}
	h.MixedCase = flags&uaiPwdMix != 0
	if !h.Supported() {
		a.Note = fmt.Sprintf("password algorithm %d is not a Purdy algorithm vmspop can check", alg)
		return a, nil
	}
	if h.Hash == [8]byte{} {
		a.Note = "no password (empty hash)"
		return a, nil
	}
	a.VMS = h
	return a, nil
}

var vmsMonths = map[string]time.Month{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}

// parseVMSTime reads an expiration: NONE, (none), or a VMS absolute time
// "dd-MMM-yyyy[:| ]hh:mm[:ss[.cc]]" in local time. The VMS zero date
// (17-NOV-1858) means none.
func parseVMSTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "NONE") || strings.EqualFold(s, "(none)") || s == "" {
		return time.Time{}, nil
	}
	bad := fmt.Errorf("bad expiration %q (want DD-MMM-YYYY[:HH:MM[:SS.CC]] or NONE)", s)
	date, clock := s, ""
	if i := strings.IndexAny(s, ": "); i >= 0 {
		date, clock = s[:i], strings.TrimSpace(s[i+1:])
	}
	d := strings.Split(date, "-")
	if len(d) != 3 {
		return time.Time{}, bad
	}
	day, err1 := strconv.Atoi(d[0])
	mon, ok := vmsMonths[strings.ToUpper(d[1])]
	year, err2 := strconv.Atoi(d[2])
	if err1 != nil || err2 != nil || !ok || day < 1 || day > 31 || year < 1858 || year > 9999 {
		return time.Time{}, bad
	}
	var hh, mm, ss, cc int
	if clock != "" {
		c := strings.FieldsFunc(clock, func(r rune) bool { return r == ':' || r == '.' })
		if len(c) < 2 || len(c) > 4 {
			return time.Time{}, bad
		}
		v := [4]int{}
		for i, p := range c {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return time.Time{}, bad
			}
			v[i] = n
		}
		hh, mm, ss, cc = v[0], v[1], v[2], v[3]
		if hh > 23 || mm > 59 || ss > 59 || cc > 99 {
			return time.Time{}, bad
		}
	}
	t := time.Date(year, mon, day, hh, mm, ss, cc*10_000_000, time.Local)
	if t.Day() != day {
		return time.Time{}, bad
	}
	if year == 1858 && mon == time.November && day == 17 {
		return time.Time{}, nil
	}
	return t, nil
}

// parseAuthorizeList reads AUTHORIZE LIST/FULL output: records start at
// "Username:" lines; "Flags:" lines (and their indented continuations)
// give DISUSER and DISMAIL, "Expiration:" the expiry. It has no hashes.
func parseAuthorizeList(lines []string, name string) ([]ImportedAccount, []error) {
	var out []ImportedAccount
	var errs []error
	var cur *ImportedAccount
	inFlags := false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		key, rest, hasKey := strings.Cut(t, ":")
		if hasKey && strings.ContainsAny(key, " \t") {
			hasKey = false
		}
		switch {
		case hasKey && key == "Username":
			f := strings.Fields(rest)
			if len(f) == 0 || !ValidName(f[0]) {
				errs = append(errs, fmt.Errorf("%s:%d: bad Username line %q", name, i+1, t))
				cur = nil
				continue
			}
			out = append(out, ImportedAccount{Line: i + 1, Name: strings.ToUpper(f[0]), Note: "AUTHORIZE listings carry no password hash"})
			cur = &out[len(out)-1]
			inFlags = false
		case cur == nil:
			continue
		case hasKey && key == "Flags":
			inFlags = true
			cur.Flags |= listFlags(rest)
		case hasKey && key == "Expiration":
			// "Expiration:   31-DEC-2026 00:00    Pwdminimum: ..." or "(none)"
			f := strings.Fields(rest)
			v := ""
			if len(f) > 0 {
				v = f[0]
				if len(f) > 1 && strings.Contains(f[1], ":") && !strings.HasSuffix(f[1], ":") {
					v += ":" + f[1]
				}
			}
			exp, err := parseVMSTime(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %v", name, i+1, err))
				continue
			}
			cur.Expires = exp
			inFlags = false
		case inFlags && !hasKey && t != "" && l != t:
			cur.Flags |= listFlags(t) // a continuation of the Flags: line
		default:
			inFlags = false
		}
	}
	return out, errs
}

// listFlags picks DISUSER and DISMAIL out of an AUTHORIZE flags list
// ("DisCtlY DisUser DisMail ...", any case).
func listFlags(s string) Flags {
	var f Flags
	for _, w := range strings.Fields(s) {
		switch strings.ToUpper(w) {
		case "DISUSER":
			f |= DisUser
		case "DISMAIL":
			f |= DisMail
		}
	}
	return f
}

// ImportResult is what ApplyImport did (or would do) to one account.
type ImportResult struct {
	Name    string
	Action  string   // "created", "changed" or "unchanged"
	Changes []string // what changed, for the summary
	NoLogin bool     // the account has neither a password nor a usable VMS hash
	Note    string
}

// ApplyImport brings db in line with accts: missing accounts are created
// with their flags, expiry and VMS hash; existing ones get the flags and
// expiry of the export, and its VMS hash unless they already have a
// (bcrypt) password, which is never replaced. Running it twice changes
// nothing the second time. APOP secrets are left alone.
func ApplyImport(db *DB, accts []ImportedAccount) []ImportResult {
	var out []ImportResult
	for _, in := range accts {
		r := ImportResult{Name: in.Name, Note: in.Note}
		a, exists := db.Lookup(in.Name)
		if !exists {
			a = &Account{Name: in.Name}
			r.Action = "created"
		}
		if a.Flags&allFlags != in.Flags {
			r.Changes = append(r.Changes, fmt.Sprintf("flags %q -> %q", a.Flags.String(), in.Flags.String()))
			a.Flags = a.Flags&^allFlags | in.Flags
		}
		if want := roundExpiry(in.Expires); !a.Expires.Equal(want) {
			r.Changes = append(r.Changes, fmt.Sprintf("expires %q -> %q", a.ExpiryDate(), (&Account{Expires: want}).ExpiryDate()))
			a.Expires = want
		}
		switch {
		case len(a.Hash) > 0:
			// vmspop already has a password: keep it.
		case in.VMS != nil && (a.VMS == nil || *a.VMS != *in.VMS):
			r.Changes = append(r.Changes, "VMS password hash ("+in.VMS.AlgorithmName()+")")
			a.VMS = in.VMS
		}
		r.NoLogin = len(a.Hash) == 0 && (a.VMS == nil || !a.VMS.Supported())
		switch {
		case r.Action == "created":
		case len(r.Changes) > 0:
			r.Action = "changed"
		default:
			r.Action = "unchanged"
		}
		if r.Action != "unchanged" {
			db.Put(a)
		}
		out = append(out, r)
	}
	return out
}

// roundExpiry is the Expires an account file keeps for a VMS expiration
// instant: rounded down to a midnight (never later than VMS had it).
func roundExpiry(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	y, m, d := t.In(time.Local).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.Local)
}
