package uaf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadUsers reads the accounts file at path for the accounts of names
// only, as a delivery needs: it returns a DB holding those of them that
// exist. Their lines are parsed as Load parses them; every other line is
// checked only for the form NAME:..., so that a damaged file still fails
// (rather than making a user look unknown) while the cost of the other
// accounts' fields, a large part of a delivery on a site with thousands of
// users, is not paid. A missing file gives an error that matches
// fs.ErrNotExist.
func LoadUsers(path string, names ...string) (*DB, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		if ValidName(n) {
			want[strings.ToUpper(n)] = true
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("uaf: %w", err)
	}
	defer f.Close()
	db := NewDB()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine+2) // room for CRLF
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, _, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return nil, &ParseError{File: path, Line: n, Msg: "want NAME:HASH[:key=value...]"}
		}
		if !ValidName(string(name)) {
			return nil, &ParseError{File: path, Line: n, Msg: fmt.Sprintf("bad user name %q", name)}
		}
		if !want[strings.ToUpper(string(name))] {
			continue
		}
		a, msg := parseLine(string(line))
		if msg != "" {
			return nil, &ParseError{File: path, Line: n, Msg: msg}
		}
		if _, dup := db.accounts[a.Name]; dup {
			return nil, &ParseError{File: path, Line: n, Msg: fmt.Sprintf("duplicate user %s", a.Name)}
		}
		db.accounts[a.Name] = a
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: path, Line: n + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("uaf: read %s: %w", path, err)
	}
	return db, nil
}
