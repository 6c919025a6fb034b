package logicals

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/vmspop/vmspop/spool"
)

// entry is one row of the table of logical names: how a value is parsed
// into a Config and how the effective setting is shown again.
type entry struct {
	name   string // the name after the TCPIP$POP_ prefix, e.g. "SECURITY"
	origin string // "Table 15-2" or "vmspop"
	// parse stores v in c. It returns an optional warning text and an error
	// that says what is allowed (without the name or value, which the
	// caller adds).
	parse func(c *Config, v string) (warning string, err error)
	// show returns the effective value and whether the name counts as
	// defined; SHOW LOGICAL prints [undefined] for a name that is not.
	show func(c *Config) (value string, defined bool)
}

// The full names carry one of these prefixes.
const (
	prefix    = "TCPIP$POP_" // the VMS spelling
	altPrefix = "TCPIP_POP_" // a spelling POSIX shells can export
)

// table lists every logical name, in no particular order; Show sorts.
var table = append([]entry{
	// Table 15-2.
	enumEntry("SECURITY", "Table 15-2", func(c *Config) *Security { return &c.Security },
		choice[Security]{"FRIENDLY", Friendly, false}, choice[Security]{"SECURE", Secure, false}),
	boolEntry("TRACE", "Table 15-2", func(c *Config) *bool { return &c.Trace }),
	enumEntry("LOG_LEVEL", "Table 15-2", func(c *Config) *LogLevel { return &c.LogLevel },
		choice[LogLevel]{"ERROR", LogError, false}, choice[LogLevel]{"INFORMATIONAL", LogInformational, false},
		choice[LogLevel]{"INFO", LogInformational, true}, choice[LogLevel]{"THREAD", LogThread, false},
		choice[LogLevel]{"DEBUG", LogDebug, false}),
	{name: "POSTMASTER", origin: "Table 15-2", parse: parsePostmaster,
		show: func(c *Config) (string, bool) { return showList(c.Postmaster) }},
	intEntry("MESSAGE_MAXIMUM", "Table 15-2", 0, 65535, false, "must be a number from 0 to 65535",
		func(c *Config) *int { return &c.MessageMaximum }),
	{name: "LINK_IDLE_TIMEOUT", origin: "Table 15-2", parse: parseLinkIdleTimeout,
		show: func(c *Config) (string, bool) { return FormatDeltaTime(c.LinkIdleTimeout), true }},
	boolEntry("PERSONAL_NAME", "Table 15-2", func(c *Config) *bool { return &c.PersonalName }),
	boolEntry("LEAVE_IN_NEWMAIL", "Table 15-2", func(c *Config) *bool { return &c.LeaveInNewmail }),
	boolEntry("IGNORE_MAIL11_HEADERS", "Table 15-2", func(c *Config) *bool { return &c.IgnoreMail11Headers }),
	boolEntry("SEND_ID_HEADERS", "Table 15-2", func(c *Config) *bool { return &c.SendIDHeaders }),
	enumEntry("DECNET_REWRITE", "Table 15-2", func(c *Config) *Mode { return &c.DECnetRewrite }, modeChoices...),
	enumEntry("QUOTED_DECNET_REWRITE", "Table 15-2", func(c *Config) *Mode { return &c.QuotedDECnetRewrite }, modeChoices...),
	intEntry("SNDBUF", "Table 15-2", 512, int(^uint32(0)>>1), true, "must be a number 512 or greater",
		func(c *Config) *int { return &c.SndBuf }),
	boolEntry("DISUSERPASS", "Table 15-2", func(c *Config) *bool { return &c.DisUserPass }),
	boolEntry("PURGE_RECLAIM", "Table 15-2", func(c *Config) *bool { return &c.PurgeReclaim }),

	// vmspop's own names.
	boolEntry("USE_MAIL_FOLDER", "vmspop", func(c *Config) *bool { return &c.UseMailFolder }),
	boolEntry("FAST_SCAN", "vmspop", func(c *Config) *bool { return &c.FastScan }),
	intEntry("MAXIMUM_THREADS", "vmspop", 1, 100000, false, "must be a number from 1 to 100000",
		func(c *Config) *int { return &c.MaximumThreads }),
	addrEntry("LISTEN", func(c *Config) *string { return &c.Listen }),
	addrEntry("TLS_LISTEN", func(c *Config) *string { return &c.TLSListen }),
	stringEntry("SPOOL", true, func(c *Config) *string { return &c.Spool }),
	stringEntry("UAF", true, func(c *Config) *string { return &c.UAF }),
	hostEntry("HOSTNAME", func(c *Config) *string { return &c.Hostname }),
	hostEntry("SUBSTITUTE_DOMAIN", func(c *Config) *string { return &c.SubstituteDomain }),
	{name: "LOCAL_NAMES", origin: "vmspop", parse: parseLocalNames,
		show: func(c *Config) (string, bool) { return showList(c.LocalNames) }},
	stringEntry("DECNET_NODES", false, func(c *Config) *string { return &c.DECnetNodes }),
	stringEntry("LOG", false, func(c *Config) *string { return &c.Log }),
	enumEntry("LOG_FORMAT", "vmspop", func(c *Config) *string { return &c.LogFormat },
		choice[string]{"TEXT", "TEXT", false}, choice[string]{"JSON", "JSON", false}),
	stringEntry("STARTUP", false, func(c *Config) *string { return &c.Startup }),
	accountEntry("USER", func(c *Config) *string { return &c.User }),
	accountEntry("GROUP", func(c *Config) *string { return &c.Group }),
	stringEntry("CERT", false, func(c *Config) *string { return &c.Cert }),
	stringEntry("KEY", false, func(c *Config) *string { return &c.Key }),
	stringEntry("TLS_TICKET_KEYS", false, func(c *Config) *string { return &c.TicketKeys }),
	authEntry("AUTH_METHODS", func(c *Config) *[]string { return &c.AuthMethods }),
	authEntry("AUTH_TLS_ONLY", func(c *Config) *[]string { return &c.AuthTLSOnly }),
	{name: "EXPIRE", origin: "vmspop", parse: parseExpire,
		show: func(c *Config) (string, bool) { return c.Expire, c.Expire != "" }},
	intEntry("LOGIN_DELAY", "vmspop", 0, 86400, false, "must be a number of seconds from 0 to 86400",
		func(c *Config) *int { return &c.LoginDelay }),
	intEntry("BUSY_POLL", "vmspop", 0, 1000, false, "must be a number of microseconds from 0 to 1000",
		func(c *Config) *int { return &c.BusyPoll }),
	// Defence and observation (docs/defence.md).
	intEntry("AUTH_PENALTY", "vmspop", 0, 3600, false, "must be a number of seconds from 0 to 3600",
		func(c *Config) *int { return &c.AuthPenalty }),
	intEntry("AUTH_CACHE_TTL", "vmspop", 0, 86400, false, "must be a number of seconds from 0 (no cache) to 86400",
		func(c *Config) *int { return &c.AuthCacheTTL }),
	intEntry("MAXIMUM_PER_ADDRESS", "vmspop", 0, 100000, false, "must be a number from 0 (no limit) to 100000",
		func(c *Config) *int { return &c.MaximumPerAddress }),
	intEntry("LOGIN_TIMEOUT", "vmspop", 1, 86400, false, "must be a number of seconds from 1 to 86400",
		func(c *Config) *int { return &c.LoginTimeout }),
	intEntry("TLS_HANDSHAKE_TIMEOUT", "vmspop", 1, 3600, false, "must be a number of seconds from 1 to 3600",
		func(c *Config) *int { return &c.TLSHandshakeTimeout }),
	addrEntry("METRICS_LISTEN", func(c *Config) *string { return &c.MetricsListen }),
	stringEntry("ADMIN_SOCKET", false, func(c *Config) *string { return &c.AdminSocket }),
	{name: "LMTP_LISTEN", origin: "vmspop", parse: parseLMTPListen, show: func(c *Config) (string, bool) { return showList(c.LMTPListen) }},
	{name: "LMTP_MAXIMUM_SIZE", origin: "vmspop", parse: parseLMTPMaximumSize,
		show: func(c *Config) (string, bool) { return strconv.FormatInt(c.LMTPMaximumSize, 10), true }},
	{name: "PROXY_TRUSTED", origin: "vmspop", parse: parseProxyTrusted, show: showProxyTrusted},
	extensionEntries[0], extensionEntries[1], extensionEntries[2], extensionEntries[3], extensionEntries[4], // extensions.go
}, rpopEntries...)

// lookupEntry finds the entry for a name given without its prefix.
func lookupEntry(short string) (entry, bool) {
	for _, e := range table {
		if e.name == short {
			return e, true
		}
	}
	return entry{}, false
}

// falseWords are the values that make a boolean name false even though it
// is defined. VMS tested only whether the name was defined; this is a
// vmspop convenience so that TCPIP$POP_TRACE=0 does what it says.
var falseWords = []string{"0", "FALSE", "NO", "N", "OFF"}

// parseBool reports whether a defined boolean name is true.
func parseBool(v string) bool {
	t := strings.TrimSpace(v)
	for _, w := range falseWords {
		if strings.EqualFold(t, w) {
			return false
		}
	}
	return true
}

func boolEntry(name, origin string, field func(*Config) *bool) entry {
	return entry{
		name:   name,
		origin: origin,
		parse: func(c *Config, v string) (string, error) {
			*field(c) = parseBool(v)
			return "", nil
		},
		show: func(c *Config) (string, bool) {
			if *field(c) {
				return "TRUE", true
			}
			return "", false
		},
	}
}

// choice is one allowed word of an enumerated name. An alias is accepted
// but neither listed in errors nor shown.
type choice[T comparable] struct {
	word  string
	val   T
	alias bool
}

var modeChoices = []choice[Mode]{
	{"GENERIC", Generic, false}, {"NONE", None, false}, {"TRANSFORM", Transform, false},
}

func enumEntry[T comparable](name, origin string, field func(*Config) *T, choices ...choice[T]) entry {
	var words []string
	for _, ch := range choices {
		if !ch.alias {
			words = append(words, ch.word)
		}
	}
	msg := "must be " + orList(words)
	return entry{
		name:   name,
		origin: origin,
		parse: func(c *Config, v string) (string, error) {
			t := strings.TrimSpace(v)
			for _, ch := range choices {
				if strings.EqualFold(t, ch.word) {
					*field(c) = ch.val
					return "", nil
				}
			}
			return "", errors.New(msg)
		},
		show: func(c *Config) (string, bool) {
			for _, ch := range choices {
				if !ch.alias && ch.val == *field(c) {
					return ch.word, true
				}
			}
			return fmt.Sprint(*field(c)), true
		},
	}
}

// orList joins words as "A, B or C".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// intEntry is a decimal number from min to max. When zeroUndefined is set a
// zero value shows as [undefined].
func intEntry(name, origin string, min, max int, zeroUndefined bool, msg string, field func(*Config) *int) entry {
	return entry{
		name:   name,
		origin: origin,
		parse: func(c *Config, v string) (string, error) {
			n, err := parseInt(v, min, max)
			if err != nil {
				return "", errors.New(msg)
			}
			*field(c) = n
			return "", nil
		},
		show: func(c *Config) (string, bool) {
			n := *field(c)
			if zeroUndefined && n == 0 {
				return "", false
			}
			return strconv.Itoa(n), true
		},
	}
}

// parseInt parses an unsigned decimal number from min to max.
func parseInt(v string, min, max int) (int, error) {
	t := strings.TrimSpace(v)
	if t == "" || len(t) > 18 {
		return 0, errors.New("not a number")
	}
	for _, r := range t {
		if r < '0' || r > '9' {
			return 0, errors.New("not a number")
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < min || n > max {
		return 0, errors.New("out of range")
	}
	return n, nil
}

// stringEntry is taken as is; a required one must not be empty.
func stringEntry(name string, required bool, field func(*Config) *string) entry {
	return entry{
		name:   name,
		origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			if required && strings.TrimSpace(v) == "" {
				return "", errors.New("must not be empty")
			}
			*field(c) = v
			return "", nil
		},
		show: func(c *Config) (string, bool) { return *field(c), *field(c) != "" },
	}
}

func addrEntry(name string, field func(*Config) *string) entry {
	return entry{
		name:   name,
		origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			t := strings.TrimSpace(v)
			if err := checkAddr(t); err != nil {
				return "", err
			}
			*field(c) = t
			return "", nil
		},
		show: func(c *Config) (string, bool) { return *field(c), *field(c) != "" },
	}
}

var errAddr = errors.New(`must be host:port with a numeric port from 0 to 65535 (e.g. ":110", "0.0.0.0:995", "[::1]:110")`)

// checkAddr accepts a listener address: host:port, the host may be empty.
func checkAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errAddr
	}
	if _, err := parseInt(port, 0, 65535); err != nil {
		return errAddr
	}
	return nil
}

func hostEntry(name string, field func(*Config) *string) entry {
	return entry{
		name:   name,
		origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			t := strings.TrimSpace(v)
			if !isHostName(t) {
				return "", errors.New("must be a host name (letters, digits and hyphens, in dot-separated labels)")
			}
			*field(c) = t
			return "", nil
		},
		show: func(c *Config) (string, bool) { return *field(c), *field(c) != "" },
	}
}

// isHostLabel reports whether s is a DNS label: 1 to 63 letters, digits
// and hyphens, not starting or ending with a hyphen.
func isHostLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isHostName reports whether s looks like a DNS host name (RFC 1123 §2.1);
// one trailing dot is allowed.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !isHostLabel(l) {
			return false
		}
	}
	return true
}

// splitList splits a value at commas and white space, dropping empty items.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
	})
}

func parsePostmaster(c *Config, v string) (string, error) {
	const msg = "must be one or more user names of 1 to 31 letters, digits, _, $ or -, separated by commas or spaces"
	items := splitList(v)
	if len(items) == 0 {
		return "", errors.New(msg)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if !spool.ValidName(it) {
			return "", fmt.Errorf("%q is not a user name: %s", it, msg)
		}
		out = append(out, strings.ToUpper(it))
	}
	c.Postmaster = out
	return "", nil
}

func parseLocalNames(c *Config, v string) (string, error) {
	items := splitList(v)
	if len(items) == 0 {
		return "", errors.New("must be one or more names separated by commas or spaces")
	}
	c.LocalNames = items
	return "", nil
}

// authMethodNames lists the login methods of AUTH_METHODS and AUTH_TLS_ONLY
// in their canonical order.
var authMethodNames = []string{"USER", "APOP", "PLAIN", "CRAM-MD5", "LOGIN", "EXTERNAL"}

// parseAuthMethods parses a comma/space separated subset of
// authMethodNames, "ALL" or "-" (none), and returns it in canonical order.
func parseAuthMethods(v string) ([]string, error) {
	msg := "must be ALL, - (none), or a list of " + orList(authMethodNames)
	items := splitList(v)
	if len(items) == 0 {
		return nil, errors.New(msg)
	}
	if len(items) == 1 && items[0] == "-" {
		return []string{}, nil
	}
	want := map[string]bool{}
	for _, it := range items {
		u := strings.ToUpper(it)
		switch {
		case u == "ALL":
			for _, m := range authMethodNames {
				want[m] = true
			}
		case contains(authMethodNames, u):
			want[u] = true
		default:
			return nil, fmt.Errorf("unknown method %q: %s", it, msg)
		}
	}
	out := []string{}
	for _, m := range authMethodNames {
		if want[m] {
			out = append(out, m)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func authEntry(name string, field func(*Config) *[]string) entry {
	return entry{
		name:   name,
		origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			m, err := parseAuthMethods(v)
			if err != nil {
				return "", err
			}
			*field(c) = m
			return "", nil
		},
		show: func(c *Config) (string, bool) {
			if len(*field(c)) == 0 {
				return "-", true
			}
			return strings.Join(*field(c), ", "), true
		},
	}
}

// parseExpire accepts NEVER or a day count from 0 to 9999 (RFC 2449 §6.7)
// and stores its canonical form.
func parseExpire(c *Config, v string) (string, error) {
	t := strings.TrimSpace(v)
	if strings.EqualFold(t, "NEVER") {
		c.Expire = "NEVER"
		return "", nil
	}
	n, err := parseInt(t, 0, 9999)
	if err != nil {
		return "", errors.New("must be NEVER or a number of days from 0 to 9999")
	}
	c.Expire = strconv.Itoa(n)
	return "", nil
}

// parseLinkIdleTimeout parses a delta time. Zero means no timeout, which
// RFC 1939 §3 forbids, and anything under ten minutes is shorter than it
// asks for: both are allowed with a warning.
func parseLinkIdleTimeout(c *Config, v string) (string, error) {
	d, err := ParseDeltaTime(v)
	if err != nil {
		return "", err
	}
	c.LinkIdleTimeout = d
	switch {
	case d == 0:
		return "zero means no idle timeout; RFC 1939 §3 wants an autologout timer of at least 10 minutes", nil
	case d < DefaultLinkIdleTimeout:
		return fmt.Sprintf("%s is shorter than the 10 minutes RFC 1939 §3 asks for", FormatDeltaTime(d)), nil
	}
	return "", nil
}

func showList(l []string) (string, bool) {
	return strings.Join(l, ", "), len(l) > 0
}
