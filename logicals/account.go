package logicals

import (
	"errors"
	"regexp"
	"strings"
)

// accountRE is a POSIX account or group name (as useradd accepts it), or
// a numeric id.
var accountRE = regexp.MustCompile(`^([a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}\$?)$`)

// accountEntry is USER or GROUP: the spool owner account vmspop runs as.
func accountEntry(name string, field func(*Config) *string) entry {
	return entry{
		name:   name,
		origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			t := strings.TrimSpace(v)
			if t != "" && !accountRE.MatchString(t) {
				return "", errors.New("must be an account name or a numeric id")
			}
			*field(c) = t
			return "", nil
		},
		show: func(c *Config) (string, bool) { return *field(c), *field(c) != "" },
	}
}
