package logicals

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Warning is a problem that does not stop the server: an unknown or ignored
// logical name, an ignored DCL command, a risky value. The caller logs it.
type Warning struct {
	File string // the startup file; "" when the problem is in the environment
	Line int    // the line in File; 0 when there is none
	Text string // what is wrong, one line
}

// String formats w as "file:line: text", "file: text" or "text".
func (w Warning) String() string {
	switch {
	case w.File == "":
		return w.Text
	case w.Line <= 0:
		return w.File + ": " + w.Text
	default:
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Text)
	}
}

// setting is one raw value and where it came from.
type setting struct {
	full   string // the name as spelt where it was found
	value  string
	source Source
	file   string // for FromFile
	line   int    // for FromFile
}

// where says where a setting was defined, for messages.
func (s setting) where() string {
	if s.source == FromFile {
		return fmt.Sprintf(" (defined at %s:%d)", s.file, s.line)
	}
	return ""
}

// Load builds the effective configuration: Default, then the definitions
// of the DCL startup file, then the environment, each overriding the one
// before. lookup reads the environment (os.LookupEnv in production; tests
// pass a map). Each name may be spelt TCPIP$POP_<NAME> or TCPIP_POP_<NAME>;
// setting both to different values is an error.
//
// startupFile names the startup file; "" means the file named by
// TCPIP$POP_STARTUP, or none when that is not set either. A startup file
// that cannot be read is an error.
//
// Every bad value is reported, joined with errors.Join, one line each; on
// error the returned Config is nil. Warnings (unknown names in the file,
// ignored DCL commands, an idle timeout under ten minutes) are returned
// even on success. Load cannot list the environment, so it cannot warn
// about unknown TCPIP$POP_ names there: LoadEnviron can.
func Load(lookup func(string) (string, bool), startupFile string) (*Config, []Warning, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	c := Default()
	var warns []Warning
	var errs []error

	env := map[string]setting{}
	for _, e := range table {
		s, ok, err := lookupBoth(lookup, e.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			env[e.name] = s
		}
	}

	file := startupFile
	if startupFile != "" {
		env["STARTUP"] = setting{full: prefix + "STARTUP", value: startupFile, source: FromCommandLine}
	} else if s, ok := env["STARTUP"]; ok {
		file = s.value
	}

	vals := map[string]setting{}
	if file != "" {
		defs, w, err := readStartup(file)
		warns = append(warns, w...)
		if err != nil {
			errs = append(errs, err)
		}
		for _, d := range defs {
			short := strings.TrimPrefix(d.Name, prefix)
			if _, ok := lookupEntry(short); !ok {
				warns = append(warns, Warning{File: file, Line: d.Line,
					Text: d.Name + ": unknown logical name ignored" + suggest(prefix, short)})
				continue
			}
			if short == "STARTUP" {
				warns = append(warns, Warning{File: file, Line: d.Line,
					Text: d.Name + ": ignored in the startup file itself"})
				continue
			}
			vals[short] = setting{full: d.Name, value: d.Value, source: FromFile, file: file, line: d.Line}
		}
	}
	for k, s := range env {
		vals[k] = s
	}

	for _, e := range table {
		s, ok := vals[e.name]
		if !ok {
			continue
		}
		w, err := e.parse(c, s.value)
		if err != nil {
			errs = append(errs, fmt.Errorf("logicals: %s %q: %v%s", s.full, s.value, err, s.where()))
			continue
		}
		c.Sources[prefix+e.name] = s.source
		if w != "" {
			warns = append(warns, Warning{File: s.file, Line: s.line, Text: fmt.Sprintf("%s %q: %s", s.full, s.value, w)})
		}
	}
	if _, set := c.Sources[prefix+"AUTH_TLS_ONLY"]; !set && c.Cert != "" {
		// With a certificate, passwords in clear only under TLS
		// (docs/defence.md); AUTH_TLS_ONLY "-" says otherwise.
		c.AuthTLSOnly = []string{"USER", "PLAIN", "LOGIN"}
	}
	if len(errs) == 0 {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, warns, errors.Join(errs...)
	}
	return c, warns, nil
}

// LoadEnviron is Load reading the environment from a list of "NAME=value"
// strings (os.Environ()). Unlike Load it can see every name, and so also
// warns about TCPIP$POP_ and TCPIP_POP_ names that are not in the table.
// When a name occurs twice the first occurrence wins, as in os.Getenv.
func LoadEnviron(environ []string, startupFile string) (*Config, []Warning, error) {
	m := make(map[string]string, len(environ))
	var warns []Warning
	var unknown []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			continue
		}
		m[k] = v
		for _, p := range []string{prefix, altPrefix} {
			if short, ok := strings.CutPrefix(k, p); ok {
				if _, known := lookupEntry(short); !known {
					unknown = append(unknown, k)
				}
			}
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		p, short := k[:len(prefix)], k[len(prefix):]
		warns = append(warns, Warning{Text: k + ": unknown logical name ignored" + suggest(p, short)})
	}
	c, w, err := Load(func(k string) (string, bool) { v, ok := m[k]; return v, ok }, startupFile)
	return c, append(warns, w...), err
}

// lookupBoth reads a name under both spellings.
func lookupBoth(lookup func(string) (string, bool), short string) (setting, bool, error) {
	n1, n2 := prefix+short, altPrefix+short
	v1, ok1 := lookup(n1)
	v2, ok2 := lookup(n2)
	switch {
	case ok1 && ok2 && v1 != v2:
		return setting{}, false, fmt.Errorf("logicals: %s %q and %s %q are both set and differ: unset one", n1, v1, n2, v2)
	case ok1:
		return setting{full: n1, value: v1, source: FromEnvironment}, true, nil
	case ok2:
		return setting{full: n2, value: v2, source: FromEnvironment}, true, nil
	}
	return setting{}, false, nil
}

// readStartup opens and parses a startup file.
func readStartup(file string) ([]Definition, []Warning, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, fmt.Errorf("logicals: startup file: %w", err)
	}
	defer f.Close()
	return ParseStartup(f, file)
}

// suggest returns " (did you mean P_NAME?)" for the known name closest to
// short, or "" when none is close.
func suggest(p, short string) string {
	best, bestD := "", 3
	for _, e := range table {
		if d := editDistance(short, e.name); d < bestD {
			best, bestD = e.name, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + p + best + "?)"
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Validate checks a Config built by hand (Load calls it too): every value
// within the rules Load applies to the logical names, and the rules that
// tie names together: CERT and KEY both or neither, TLS_LISTEN only with a
// certificate, and at least one login method left after AUTH_METHODS and
// DISUSERPASS. All problems are joined with errors.Join.
func (c *Config) Validate() error {
	if c == nil {
		return errors.New("logicals: nil Config")
	}
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("logicals: "+format, a...)) }

	// Each value must survive its own parser: show, then parse again.
	var scratch Config
	for _, e := range table {
		v, defined := e.show(c)
		if !defined {
			continue
		}
		if _, err := e.parse(&scratch, v); err != nil {
			add("%s%s %q: %v", prefix, e.name, v, err)
		}
	}
	for _, req := range []struct{ name, v string }{
		{"LISTEN", c.Listen}, {"SPOOL", c.Spool}, {"UAF", c.UAF},
	} {
		if strings.TrimSpace(req.v) == "" {
			add("%s%s: must not be empty", prefix, req.name)
		}
	}
	if c.LinkIdleTimeout < 0 {
		add("%sLINK_IDLE_TIMEOUT %v: must not be negative", prefix, c.LinkIdleTimeout)
	}
	if (c.Cert == "") != (c.Key == "") {
		add("%sCERT %q and %sKEY %q: define both or neither", prefix, c.Cert, prefix, c.Key)
	}
	if c.TLSListen != "" && c.Cert == "" {
		add("%sTLS_LISTEN %q: needs %sCERT and %sKEY", prefix, c.TLSListen, prefix, prefix)
	}
	if c.TicketKeys != "" && c.Cert == "" {
		add("%sTLS_TICKET_KEYS %q: needs %sCERT and %sKEY", prefix, c.TicketKeys, prefix, prefix)
	}
	usable := 0
	for _, m := range c.AuthMethods {
		if !(m == "USER" && c.DisUserPass) {
			usable++
		}
	}
	if usable == 0 {
		why := "no login method left"
		if c.DisUserPass {
			why += " (" + prefix + "DISUSERPASS removes USER)"
		}
		add("%sAUTH_METHODS %q: %s", prefix, strings.Join(c.AuthMethods, ", "), why)
	}
	return errors.Join(errs...)
}
