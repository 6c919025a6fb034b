package logicals

import (
	"errors"
	"strings"
)

// isAccountName reports whether s is a POSIX account or group name (as
// useradd accepts it: [a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31} and an optional
// final $), or a numeric id. (No regexp: its compilation at package
// initialisation was 6 % of vmspop-deliver's start.)
func isAccountName(s string) bool {
	s = strings.TrimSuffix(s, "$")
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// accountEntry is USER or GROUP: the spool owner account vmspop runs as.
func accountEntry(name string, field func(*Config) *string) entry {
	return entry{
		name:   name,
		origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			t := strings.TrimSpace(v)
			if t != "" && !isAccountName(t) {
				return "", errors.New("must be an account name or a numeric id")
			}
			*field(c) = t
			return "", nil
		},
		show: func(c *Config) (string, bool) { return *field(c), *field(c) != "" },
	}
}
