package uaf

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// Flags are the SYSUAF login flags that the POP server honours.
type Flags uint8

// The flags. Either one refuses POP access (management guide §15.1.5).
const (
	DisUser Flags = 1 << iota // the account is disabled
	DisMail                   // the account may not receive or read mail
)

// allFlags is the set of defined flags.
const allFlags = DisUser | DisMail

var flagNames = []struct {
	f    Flags
	name string
}{
	{DisUser, "DISUSER"},
	{DisMail, "DISMAIL"},
}

// ParseFlags parses a comma-separated list of flag names such as
// "DISUSER,DISMAIL" (any case, blanks around names allowed). The empty
// string means no flags.
func ParseFlags(s string) (Flags, error) {
	var f Flags
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		found := false
		for _, fn := range flagNames {
			if strings.EqualFold(item, fn.name) {
				f |= fn.f
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("uaf: unknown flag %q (want DISUSER or DISMAIL)", item)
		}
	}
	return f, nil
}

// String returns the flags as ParseFlags accepts them: "DISUSER,DISMAIL",
// or "" for none. Undefined bits are shown as a hexadecimal number, which
// ParseFlags refuses.
func (f Flags) String() string {
	var names []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			names = append(names, fn.name)
		}
	}
	if rest := f &^ allFlags; rest != 0 {
		names = append(names, fmt.Sprintf("0x%02x", uint8(rest)))
	}
	return strings.Join(names, ",")
}

// Account is one user of the accounts file.
type Account struct {
	// Name is the user name, upper case, matching ValidName.
	Name string
	// Hash is the bcrypt hash of the password; nil means no password, and
	// password logins then always fail.
	Hash []byte
	// Secret is the APOP and CRAM-MD5 shared secret; nil (or empty) means
	// none, and those mechanisms then fail with ErrNoSecret.
	Secret []byte
	// Flags are the login flags.
	Flags Flags
	// Expires is the instant from which the account is expired: an account
	// is expired when now >= Expires. Zero means never. A file date D is
	// read as midnight, local time, at the start of the day after D (see
	// ExpiresAfter); when written, Expires is rounded down to a midnight,
	// so that a rewrite never extends an account.
	Expires time.Time
	// LoginDelay is the least time between two logins of the account; it
	// overrides the server's TCPIP$POP_LOGIN_DELAY when HasLoginDelay.
	LoginDelay    time.Duration
	HasLoginDelay bool
	// Grants list the users who may open this account's folders.
	Grants []Grant
	// VMS is the account's OpenVMS password hash ("vmspop uaf import"),
	// used only while Hash is nil: the first good password replaces it
	// with a bcrypt hash (vmslogin.go).
	VMS *VMSHash
}

// Expired reports whether the account is expired at now.
func (a *Account) Expired(now time.Time) bool {
	return !a.Expires.IsZero() && !now.Before(a.Expires)
}

// ExpiryDate returns the last day, local time, on which the account may be
// used, as YYYY-MM-DD, or "" when it never expires. It is the date written
// in the file.
func (a *Account) ExpiryDate() string {
	if a.Expires.IsZero() {
		return ""
	}
	y, m, d := a.Expires.In(time.Local).Date()
	return time.Date(y, m, d-1, 12, 0, 0, 0, time.Local).Format(dateLayout)
}

// clone returns a deep copy of a.
func (a *Account) clone() *Account {
	c := *a
	if a.Hash != nil {
		c.Hash = append([]byte(nil), a.Hash...)
	}
	if a.Secret != nil {
		c.Secret = append([]byte(nil), a.Secret...)
	}
	c.Grants = append([]Grant(nil), a.Grants...)
	if a.VMS != nil {
		v := *a.VMS
		c.VMS = &v
	}
	return &c
}

const dateLayout = "2006-01-02"

// ParseDate parses an expiration date YYYY-MM-DD (the last day on which the
// account may be used) and returns the instant at which the account
// expires: midnight, local time, at the start of the following day.
func ParseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation(dateLayout, s, time.Local)
	if err != nil || t.Format(dateLayout) != s {
		return time.Time{}, fmt.Errorf("uaf: bad date %q (want YYYY-MM-DD)", s)
	}
	return ExpiresAfter(t), nil
}

// ExpiresAfter returns midnight, local time, at the start of the day after
// the (local) calendar day of t: the Expires value of an account whose last
// usable day is that of t.
func ExpiresAfter(t time.Time) time.Time {
	y, m, d := t.In(time.Local).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.Local)
}

// ValidName reports whether name is a valid user name: spool.ValidName,
// the one rule for user names (^[A-Za-z0-9_$-]{1,31}$, safe as a file
// name). A name is checked before it is upper-cased or looked up: case
// folding maps some other letters into that range (strings.ToUpper("ſ")
// is "S").
func ValidName(name string) bool { return spool.ValidName(name) }

// The authentication errors. The Check methods of Store return them, bare
// or wrapped; use errors.Is.
var (
	// ErrUnknownUser means the user is not in the accounts file.
	ErrUnknownUser = errors.New("uaf: unknown user")
	// ErrBadPassword means the password is wrong (or the account has none).
	ErrBadPassword = errors.New("uaf: bad password")
	// ErrDisUser means the account has the DISUSER flag.
	ErrDisUser = errors.New("uaf: account disabled (DISUSER)")
	// ErrDisMail means the account has the DISMAIL flag.
	ErrDisMail = errors.New("uaf: mail disabled (DISMAIL)")
	// ErrExpired means the account is past its expiration date.
	ErrExpired = errors.New("uaf: account expired")
	// ErrNoSecret means the account has no APOP / CRAM-MD5 shared secret.
	ErrNoSecret = errors.New("uaf: no shared secret")
	// ErrBadDigest means an APOP or CRAM-MD5 digest is wrong.
	ErrBadDigest = errors.New("uaf: bad digest")
)
