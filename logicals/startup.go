package logicals

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Definition is one logical name defined by a startup file.
type Definition struct {
	Name  string // full name, upper case, e.g. "TCPIP$POP_SECURITY"
	Value string // equivalence string; a search list is joined with ", "
	Line  int    // the line on which the command starts
}

// maxStartupLine bounds one physical line of a startup file.
const maxStartupLine = 64 * 1024

// ParseStartup reads a DCL command procedure such as
// SYS$MANAGER:TCPIP$POP_SYSTARTUP.COM and returns the TCPIP$POP_ logical
// names it defines, in the order of their last definition. name is the
// file name used in warnings and errors.
//
// It understands what such a file holds:
//
//	$ DEFINE/SYSTEM/EXECUTIVE TCPIP$POP_SECURITY SECURE
//	$ DEFINE /SYSTEM /NOLOG TCPIP$POP_POSTMASTER "JONES, SMITH" ! comment
//	$ DEF/SYS TCPIP$POP_LOCAL_NAMES "VAXA","VAXB"   ! a search list
//	$ ASSIGN/SYSTEM TRUE TCPIP$POP_TRACE              ! value first
//	$ DEASSIGN/SYSTEM TCPIP$POP_TRACE
//	$ DEFINE/SYSTEM TCPIP$POP_LINK_IDLE_TIMEOUT -
//	    "0 00:20:00.00"                               ! continued line
//
// Verbs and qualifiers may be abbreviated (DEF, ASS, DEAS, /SYS) and are not
// case sensitive; qualifiers may stand anywhere after the verb and are not
// checked. A value in quotation marks keeps its case and spaces, and ""
// inside it is one quotation mark; a value that is not quoted ends at a
// space, comma, slash or "!", and, unlike DCL, is not upper-cased. Values
// with spaces, slashes or lower case (Unix paths) must therefore be quoted,
// as DCL needs anyway. A line ending in "-" continues on the next line,
// whose "$" is optional. A name defined twice keeps the later value.
//
// Warnings: lines without "$", other DCL commands (SET NOON, EXIT, IF ...),
// logical names that do not start with TCPIP$POP_, redefinitions, and
// DEASSIGN of a name not defined earlier. Errors, which name file and line
// and are all joined: an unterminated quoted string, a DEFINE or ASSIGN
// without name or value, too many parameters, a DEASSIGN without a name, a
// line longer than 64 KiB, and a continuation on the last line. The
// definitions found are returned with the error.
func ParseStartup(r io.Reader, name string) (defs []Definition, warnings []Warning, err error) {
	p := &startupParser{file: name, index: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxStartupLine)
	var pending strings.Builder
	inCont, start, lineNo := false, 0, 0
	for sc.Scan() {
		lineNo++
		t := strings.TrimLeft(strings.TrimRight(sc.Text(), "\r"), " \t")
		if !inCont {
			if t == "" {
				continue
			}
			if t[0] != '$' {
				p.warn(lineNo, "not a DCL command line (no leading $): ignored")
				continue
			}
			t = t[1:]
			start = lineNo
		} else {
			t = strings.TrimPrefix(t, "$")
		}
		body, err := stripComment(t)
		if err != nil {
			p.fail(lineNo, err.Error())
			pending.Reset()
			inCont = false
			continue
		}
		body = strings.TrimRight(body, " \t")
		if strings.HasSuffix(body, "-") {
			pending.WriteString(body[:len(body)-1])
			inCont = true
			continue
		}
		pending.WriteString(body)
		inCont = false
		p.command(pending.String(), start)
		pending.Reset()
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			p.fail(lineNo+1, "line longer than 64 KiB")
		} else {
			p.errs = append(p.errs, fmt.Errorf("logicals: %s: %w", name, err))
		}
	} else if inCont {
		p.fail(start, "the last command ends in a continuation hyphen")
	}
	out := make([]Definition, 0, len(p.defs))
	for _, d := range p.defs {
		if d.Name != "" {
			out = append(out, d)
		}
	}
	return out, p.warns, errors.Join(p.errs...)
}

// startupParser holds the state of one ParseStartup call.
type startupParser struct {
	file  string
	defs  []Definition   // removed entries have an empty Name
	index map[string]int // name -> index into defs of the live definition
	warns []Warning
	errs  []error
}

func (p *startupParser) warn(line int, format string, a ...any) {
	p.warns = append(p.warns, Warning{File: p.file, Line: line, Text: fmt.Sprintf(format, a...)})
}

func (p *startupParser) fail(line int, text string) {
	p.errs = append(p.errs, fmt.Errorf("logicals: %s:%d: %s", p.file, line, text))
}

// stripComment drops a "!" comment outside quotation marks and reports a
// quoted string left open at the end of the line.
func stripComment(s string) (string, error) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote // "" inside quotes toggles twice: still inside
		case '!':
			if !inQuote {
				return s[:i], nil
			}
		}
	}
	if inQuote {
		return "", errors.New("unterminated quoted string")
	}
	return s, nil
}

// tokKind is the kind of a DCL token.
type tokKind int

const (
	tokWord      tokKind = iota // a parameter word, possibly quoted in parts
	tokComma                    // a comma between list elements
	tokQualifier                // /NAME or /NAME=value
)

// token is one DCL token of a command line.
type token struct {
	kind   tokKind
	text   string // the word with quotes removed; the qualifier name without "/"
	quoted bool   // some part of the word was in quotation marks
}

// tokenize splits a command line (comments and continuations already
// removed) into words, commas and qualifiers.
func tokenize(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == ',':
			toks = append(toks, token{kind: tokComma})
			i++
		case c == '/':
			j := i + 1
			for j < len(s) && !strings.ContainsRune(" \t/,=", rune(s[j])) {
				j++
			}
			q := token{kind: tokQualifier, text: strings.ToUpper(s[i+1 : j])}
			if q.text == "" {
				return nil, errors.New("a qualifier without a name after /")
			}
			if j < len(s) && s[j] == '=' {
				n, err := skipQualifierValue(s[j+1:])
				if err != nil {
					return nil, err
				}
				j += 1 + n
			}
			toks = append(toks, q)
			i = j
		default:
			var b strings.Builder
			w := token{kind: tokWord}
			for i < len(s) && !strings.ContainsRune(" \t,/", rune(s[i])) {
				if s[i] != '"' {
					b.WriteByte(s[i])
					i++
					continue
				}
				w.quoted = true
				i++
				for {
					if i >= len(s) {
						return nil, errors.New("unterminated quoted string")
					}
					if s[i] == '"' {
						if i+1 < len(s) && s[i+1] == '"' {
							b.WriteByte('"')
							i += 2
							continue
						}
						i++
						break
					}
					b.WriteByte(s[i])
					i++
				}
			}
			w.text = b.String()
			toks = append(toks, w)
		}
	}
	return toks, nil
}

// skipQualifierValue returns the length of a qualifier value: a quoted
// string, a parenthesised list, or a run up to a space, comma or slash.
func skipQualifierValue(s string) (int, error) {
	depth, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return 0, errors.New("unbalanced ) in a qualifier value")
			}
			depth--
		case depth == 0 && strings.ContainsRune(" \t,/", rune(c)):
			return i, nil
		}
	}
	if inQuote {
		return 0, errors.New("unterminated quoted string")
	}
	if depth > 0 {
		return 0, errors.New("unbalanced ( in a qualifier value")
	}
	return len(s), nil
}

// params groups the words of a command into parameters: words separated by
// commas form one list parameter. Qualifiers are dropped.
func params(toks []token) ([][]token, error) {
	var out [][]token
	afterComma := false
	for _, t := range toks {
		switch t.kind {
		case tokQualifier:
			continue
		case tokComma:
			if len(out) == 0 || afterComma {
				return nil, errors.New("a comma without a value before it")
			}
			afterComma = true
		case tokWord:
			if afterComma {
				out[len(out)-1] = append(out[len(out)-1], t)
			} else {
				out = append(out, []token{t})
			}
			afterComma = false
		}
	}
	if afterComma {
		return nil, errors.New("a comma without a value after it")
	}
	return out, nil
}

// isVerb reports whether w abbreviates verb to at least min letters.
func isVerb(w, verb string, min int) bool {
	return len(w) >= min && len(w) <= len(verb) && strings.HasPrefix(verb, w)
}

// command handles one complete DCL command that began on line.
func (p *startupParser) command(cmd string, line int) {
	toks, err := tokenize(cmd)
	if err != nil {
		p.fail(line, err.Error())
		return
	}
	// A label ("START:") may precede the verb.
	if len(toks) > 0 && toks[0].kind == tokWord && !toks[0].quoted && strings.HasSuffix(toks[0].text, ":") {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return
	}
	if toks[0].kind != tokWord {
		p.warn(line, "not a DCL command: ignored")
		return
	}
	verb := strings.ToUpper(toks[0].text)
	rest := toks[1:]
	ps, err := params(rest)
	if err != nil && (isVerb(verb, "DEFINE", 3) || isVerb(verb, "ASSIGN", 3) || isVerb(verb, "DEASSIGN", 4)) {
		p.fail(line, verb+": "+err.Error())
		return
	}
	switch {
	case isVerb(verb, "DEFINE", 3), isVerb(verb, "ASSIGN", 3):
		what := "DEFINE"
		nameAt, valueAt := 0, 1
		if verb[0] == 'A' {
			what, nameAt, valueAt = "ASSIGN", 1, 0
		}
		switch {
		case len(ps) == 0:
			p.fail(line, what+" without a logical name or value")
			return
		case len(ps) == 1 && what == "DEFINE":
			p.fail(line, fmt.Sprintf("DEFINE %s without a value", wordText(ps[0][0])))
			return
		case len(ps) == 1:
			p.fail(line, "ASSIGN with a value but no logical name")
			return
		case len(ps) > 2:
			p.fail(line, what+": too many parameters (quote a value that contains spaces)")
			return
		case len(ps[nameAt]) != 1:
			p.fail(line, what+": the logical name must be a single name, not a list")
			return
		}
		name := wordText(ps[nameAt][0])
		if what == "ASSIGN" {
			name = strings.TrimSuffix(name, ":") // ASSIGN drops a trailing colon
		}
		vals := make([]string, len(ps[valueAt]))
		for i, t := range ps[valueAt] {
			vals[i] = t.text
		}
		p.define(line, name, strings.Join(vals, ", "))
	case isVerb(verb, "DEASSIGN", 4):
		for _, t := range rest {
			if t.kind == tokQualifier && isVerb(t.text, "ALL", 1) {
				p.warn(line, "DEASSIGN/ALL ignored")
				return
			}
		}
		if len(ps) != 1 || len(ps[0]) != 1 {
			p.fail(line, "DEASSIGN needs exactly one logical name")
			return
		}
		p.deassign(line, strings.TrimSuffix(wordText(ps[0][0]), ":"))
	default:
		p.warn(line, "DCL command %s ignored", printable(verb))
	}
}

// wordText is the name a word stands for: upper case unless quoted.
func wordText(t token) string {
	if t.quoted {
		return t.text
	}
	return strings.ToUpper(t.text)
}

// printable shortens and cleans a word for a warning.
func printable(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func (p *startupParser) isPOP(line int, name string) bool {
	if strings.HasPrefix(name, prefix) && len(name) > len(prefix) {
		return true
	}
	if name == "" {
		p.warn(line, "an empty logical name: ignored")
	} else {
		p.warn(line, "logical name %s is not a TCPIP$POP_ name: ignored", printable(name))
	}
	return false
}

func (p *startupParser) define(line int, name, value string) {
	if !p.isPOP(line, name) {
		return
	}
	if i, ok := p.index[name]; ok {
		p.warn(line, "%s redefined: the definition on line %d is superseded", name, p.defs[i].Line)
		p.defs[i] = Definition{}
	}
	p.index[name] = len(p.defs)
	p.defs = append(p.defs, Definition{Name: name, Value: value, Line: line})
}

func (p *startupParser) deassign(line int, name string) {
	if !p.isPOP(line, name) {
		return
	}
	i, ok := p.index[name]
	if !ok {
		p.warn(line, "DEASSIGN %s: not defined earlier in this file", name)
		return
	}
	p.defs[i] = Definition{}
	delete(p.index, name)
}
