package gateway

import (
	"bytes"
	"errors"
)

// Command keywords (RFC 1939, 2449, 2595, 5034).
const (
	cmdUSER = "USER"
	cmdPASS = "PASS"
	cmdAPOP = "APOP"
	cmdQUIT = "QUIT"
	cmdSTAT = "STAT"
	cmdLIST = "LIST"
	cmdRETR = "RETR"
	cmdDELE = "DELE"
	cmdNOOP = "NOOP"
	cmdRSET = "RSET"
	cmdTOP  = "TOP"
	cmdUIDL = "UIDL"
	cmdCAPA = "CAPA"
	cmdSTLS = "STLS"
	cmdAUTH = "AUTH"
)

// verbs lists every keyword the server knows.
var verbs = [...]string{cmdUSER, cmdPASS, cmdAPOP, cmdQUIT, cmdSTAT, cmdLIST, cmdRETR,
	cmdDELE, cmdNOOP, cmdRSET, cmdTOP, cmdUIDL, cmdCAPA, cmdSTLS, cmdAUTH, cmdXTND}

// Errors of parseCommand.
var (
	errEmptyCommand   = errors.New("gateway: empty command")
	errBadCharacter   = errors.New("gateway: control character in command")
	errUnknownCommand = errors.New("gateway: unknown command")
)

// parseCommand splits a command line (CRLF removed) into its keyword,
// upper-cased and taken from the list of known keywords, and the argument
// text after the first space (RFC 1939 §3: keywords are case-insensitive).
// It allocates only the argument string.
func parseCommand(line []byte) (verb, arg string, err error) {
	if len(line) == 0 {
		return "", "", errEmptyCommand
	}
	for _, b := range line {
		if (b < 0x20 && b != '\t') || b == 0x7f {
			return "", "", errBadCharacter
		}
	}
	kw := line
	if sp := bytes.IndexByte(line, ' '); sp >= 0 {
		kw = line[:sp]
		arg = string(line[sp+1:])
	}
	for _, v := range verbs {
		if len(kw) == len(v) && bytes.EqualFold(kw, []byte(v)) {
			return v, arg, nil
		}
	}
	return "", "", errUnknownCommand
}

// nextField returns the first space-separated field of s and the rest.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[i:j], s[j:]
}

// parseNumber parses a decimal number of 1 to 9 digits (no sign).
func parseNumber(s string) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// splitArgs returns the space-separated fields of s; ok is false when
// there are more than max of them.
func splitArgs(s string, max int) (args []string, ok bool) {
	var buf [3]string
	args = buf[:0]
	for {
		f, rest := nextField(s)
		if f == "" {
			return args, true
		}
		if len(args) == max {
			return nil, false
		}
		args = append(args, f)
		s = rest
	}
}
