package logicals

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// String returns the word Show prints for s: "default", "file",
// "environment" or "command line".
func (s Source) String() string {
	switch s {
	case FromDefault:
		return "default"
	case FromFile:
		return "file"
	case FromEnvironment:
		return "environment"
	case FromCommandLine:
		return "command line"
	}
	return "unknown"
}

// Show prints the effective settings the way DCL SHOW LOGICAL TCPIP$POP*
// lists them: every name of the table, sorted, one per line, with the
// source in place of the logical name table:
//
//	"TCPIP$POP_SECURITY" = "SECURE" (environment)
//	"TCPIP$POP_LEAVE_IN_NEWMAIL" = [undefined] (default)
//
// A boolean that is false, an empty string or list, and a zero SNDBUF show
// as [undefined]. Quotation marks in a value are doubled, as DCL does;
// control characters are shown as Go escapes (\n) so that every name takes
// exactly one line.
func (c *Config) Show(w io.Writer) error {
	names := make([]string, 0, len(table))
	byName := make(map[string]entry, len(table))
	for _, e := range table {
		full := prefix + e.name
		names = append(names, full)
		byName[full] = e
	}
	sort.Strings(names)
	bw := bufio.NewWriter(w)
	for _, full := range names {
		v, defined := byName[full].show(c)
		val := "[undefined]"
		if defined {
			if strings.ContainsFunc(v, unicode.IsControl) {
				q := strconv.Quote(v) // keep one name per line
				v = q[1 : len(q)-1]
			}
			val = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		bw.WriteString(`  "` + full + `" = ` + val + " (" + c.Sources[full].String() + ")\n")
	}
	return bw.Flush()
}
