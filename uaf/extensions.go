package uaf

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Grant gives another user access to an account's folders (login name
// ~OWNER/FOLDER#USER, docs/extensions.md).
type Grant struct {
	// User is the user given access, upper case.
	User string
	// Delete allows DELE; without it the user may only read.
	Delete bool
}

// maxLoginDelay bounds a per-account login delay.
const maxLoginDelay = 24 * time.Hour

// ParseLoginDelay parses a per-account login delay: a Go duration ("5m",
// "90s") from 0 to 24h, in whole seconds.
func ParseLoginDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxLoginDelay || d%time.Second != 0 {
		return 0, fmt.Errorf("uaf: bad login delay %q (want a duration from 0s to 24h in whole seconds, e.g. 5m)", s)
	}
	return d, nil
}

// ParseGrant parses "USER:read" or "USER:read,delete" (the command line
// form of a grant).
func ParseGrant(s string) (Grant, error) {
	user, rights, ok := strings.Cut(s, ":")
	if !ok {
		rights = "read"
	}
	g := Grant{User: strings.ToUpper(user)}
	if !ValidName(user) {
		return g, fmt.Errorf("uaf: bad user name %q in grant %q", user, s)
	}
	for _, r := range strings.Split(rights, ",") {
		switch strings.ToLower(strings.TrimSpace(r)) {
		case "read":
		case "delete":
			g.Delete = true
		default:
			return g, fmt.Errorf("uaf: bad right %q in grant %q (want read or read,delete)", r, s)
		}
	}
	return g, nil
}

// parseGrants parses the file form: "JONES/read+delete,BROWN/read".
func parseGrants(v string) ([]Grant, string) {
	var out []Grant
	for _, item := range strings.Split(v, ",") {
		if item == "" {
			continue
		}
		g, err := ParseGrant(strings.ReplaceAll(strings.Replace(item, "/", ":", 1), "+", ","))
		if err != nil {
			return nil, fmt.Sprintf("bad grants %q", v)
		}
		out = SetGrant(out, g)
	}
	return out, ""
}

// formatGrants is the file form of grants.
func formatGrants(gs []Grant) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.User + "/read"
		if g.Delete {
			parts[i] += "+delete"
		}
	}
	return strings.Join(parts, ",")
}

// SetGrant returns gs with g added or replacing the grant of the same
// user, sorted by user.
func SetGrant(gs []Grant, g Grant) []Grant {
	gs = RevokeGrant(gs, g.User)
	gs = append(gs, g)
	slices.SortFunc(gs, func(a, b Grant) int { return strings.Compare(a.User, b.User) })
	return gs
}

// RevokeGrant returns gs without the grant of user.
func RevokeGrant(gs []Grant, user string) []Grant {
	return slices.DeleteFunc(slices.Clone(gs), func(g Grant) bool { return strings.EqualFold(g.User, user) })
}

// Rights returns whether user may read and delete in owner's folders:
// false, false when owner is unknown, has granted user nothing, or the
// file cannot be read.
func (s *Store) Rights(owner, user string) (read, del bool) {
	db, err := s.DB()
	if err != nil {
		return false, false
	}
	a := db.lookup(owner)
	if a == nil {
		return false, false
	}
	for _, g := range a.Grants {
		if strings.EqualFold(g.User, user) {
			return true, g.Delete
		}
	}
	return false, false
}

// LoginDelay returns the account's own login delay, and whether it sets
// one.
func (s *Store) LoginDelay(user string) (time.Duration, bool) {
	db, err := s.DB()
	if err != nil {
		return 0, false
	}
	a := db.lookup(user)
	if a == nil || !a.HasLoginDelay {
		return 0, false
	}
	return a.LoginDelay, true
}

// CheckAccount admits user without a credential, for a login whose
// credential was checked elsewhere (SASL EXTERNAL with a TLS client
// certificate): ErrUnknownUser, or ErrDisUser, ErrDisMail, ErrExpired.
func (s *Store) CheckAccount(user string, now time.Time) (string, error) {
	db, err := s.DB()
	if err != nil {
		return "", err
	}
	a := db.lookup(user)
	if a == nil {
		return "", ErrUnknownUser
	}
	return admit(a, now)
}
