package rewrite

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Mode says how an address form in a MAIL-11 From: field is rebuilt
// (TCPIP$POP_DECNET_REWRITE, TCPIP$POP_QUOTED_DECNET_REWRITE).
type Mode int

// The address rebuilding modes.
const (
	Transform Mode = iota // translate to an SMTP address (the default)
	Generic               // quote the whole address at the local domain
	None                  // send unchanged
)

// Settings holds what the header rebuilding depends on. It is read only: one
// Settings may be shared by any number of goroutines.
type Settings struct {
	Hostname         string         // local host name (required; lower-cased when used in addresses; "" means "localhost")
	SubstituteDomain string         // SMTP substitute domain, may be ""
	LocalNames       []string       // other node or host names that count as this host (case-insensitive)
	Nodes            NodeTable      // DECnet node → TCP/IP host name, used by Transform; nil = none known
	DECnet           Mode           // TCPIP$POP_DECNET_REWRITE, for NODE::USER
	QuotedDECnet     Mode           // TCPIP$POP_QUOTED_DECNET_REWRITE, for NODE::"user@host"
	PersonalName     bool           // TCPIP$POP_PERSONAL_NAME: From: carries the personal name
	SendIDHeaders    bool           // TCPIP$POP_SEND_ID_HEADERS: X-POP3-* headers for every message
	Server           string         // X-POP3-Server value, e.g. "host.example (vmspop V0.1)"; "" = the host name
	Location         *time.Location // zone of VMS dates (nil = time.Local)

	// Resolve, when not nil, translates a DECnet node (upper case) that is
	// not in Nodes to a TCP/IP host name for Transform, "" when it knows
	// none (the caller asks the system resolver; it must be safe for
	// concurrent use and should cache).
	Resolve func(node string) string
}

// localHost returns the lower-case local host name.
func (s *Settings) localHost() string {
	if s.Hostname == "" {
		return "localhost"
	}
	return strings.ToLower(s.Hostname)
}

// domain returns the domain given to local and quoted addresses: the
// substitute domain when one is set, else the local host name.
func (s *Settings) domain() string {
	if s.SubstituteDomain != "" {
		return strings.ToLower(s.SubstituteDomain)
	}
	return s.localHost()
}

func (s *Settings) loc() *time.Location {
	if s.Location == nil {
		return time.Local
	}
	return s.Location
}

// isLocal reports whether a node or host name names this host: the host name
// or its first label, the substitute domain, or one of LocalNames.
func (s *Settings) isLocal(name string) bool {
	if name == "" {
		return false
	}
	if s.Hostname != "" {
		if strings.EqualFold(name, s.Hostname) {
			return true
		}
		first, _, _ := strings.Cut(s.Hostname, ".")
		if strings.EqualFold(name, first) {
			return true
		}
	}
	if s.SubstituteDomain != "" && strings.EqualFold(name, s.SubstituteDomain) {
		return true
	}
	for _, n := range s.LocalNames {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// NodeTable maps an upper-case DECnet node name to a TCP/IP host name. It is
// used by the Transform rule of TCPIP$POP_DECNET_REWRITE.
type NodeTable map[string]string

// ParseNodeTable reads a node table: one "NODE host.name" pair per line,
// "!" starts a comment, blank lines are ignored. Node names are upper-cased,
// host names lower-cased. Every bad line is reported, as
// "rewrite: line N: ...", and then no table is returned.
func ParseNodeTable(r io.Reader) (NodeTable, error) {
	t := NodeTable{}
	var errs []error
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '!'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			continue
		case len(f) != 2:
			errs = append(errs, fmt.Errorf("rewrite: line %d: want \"NODE host.name\", got %d fields", n, len(f)))
			continue
		}
		node, host := strings.ToUpper(f[0]), strings.ToLower(strings.TrimSuffix(f[1], "."))
		if !validNode(node) {
			errs = append(errs, fmt.Errorf("rewrite: line %d: invalid DECnet node name %q", n, f[0]))
			continue
		}
		if !validHost(host) {
			errs = append(errs, fmt.Errorf("rewrite: line %d: invalid host name %q", n, f[1]))
			continue
		}
		if old, dup := t[node]; dup {
			errs = append(errs, fmt.Errorf("rewrite: line %d: node %s already maps to %s", n, node, old))
			continue
		}
		t[node] = host
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("rewrite: line %d: %w", n+1, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// validNode reports whether s can be a DECnet node name: letters, digits,
// "$", "_", "-" and "." (Phase IV names are 1-6 alphanumerics; longer
// Phase V names are accepted).
func validNode(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNodeByte(s[i]) {
			return false
		}
	}
	return true
}

func isNodeByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '$' || c == '_' || c == '-' || c == '.'
}

// validHost reports whether s is a host name usable as the domain of an
// addr-spec: dot-separated labels of letters, digits, "-" and "_".
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
			continue
		}
		label := s[start:i]
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}
