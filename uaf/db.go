package uaf

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/vmspop/vmspop/internal/atomicfile"
	"golang.org/x/crypto/bcrypt"
)

// maxLine is the longest line Parse accepts, newline excluded.
const maxLine = 64 * 1024

// ParseError is a defect in an accounts file. Parse returns it for the first
// bad line; the whole file is refused.
type ParseError struct {
	File string // the name given to Parse
	Line int    // 1-based line number
	Msg  string // what is wrong
}

// Error returns "uaf: FILE:LINE: what is wrong".
func (e *ParseError) Error() string {
	return fmt.Sprintf("uaf: %s:%d: %s", e.File, e.Line, e.Msg)
}

// DB is an accounts file in memory. Its methods are safe for concurrent use.
// A DB obtained from a Store is shared: treat it as read-only.
type DB struct {
	mu       sync.RWMutex
	accounts map[string]*Account // by upper-case name
}

// NewDB returns an empty DB.
func NewDB() *DB {
	return &DB{accounts: make(map[string]*Account)}
}

// Parse reads an accounts file (format in the package doc). name is used in
// error messages only. Any bad line makes Parse return a *ParseError and no
// DB.
func Parse(r io.Reader, name string) (*DB, error) {
	return parse(r, name, nil)
}

// parse is Parse; with want set, only the accounts it names (upper case)
// are parsed and kept, and every other line is checked for the form
// NAME:... only.
func parse(r io.Reader, name string, want map[string]bool) (*DB, error) {
	db := NewDB()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine+2) // room for CRLF
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if want != nil {
			user, _, ok := bytes.Cut(line, []byte{':'})
			if !ok {
				return nil, &ParseError{File: name, Line: n, Msg: "want NAME:HASH[:key=value...]"}
			}
			if !ValidName(string(user)) {
				return nil, &ParseError{File: name, Line: n, Msg: fmt.Sprintf("bad user name %q", user)}
			}
			if !want[strings.ToUpper(string(user))] {
				continue
			}
		}
		a, msg := parseLine(string(line))
		if msg != "" {
			return nil, &ParseError{File: name, Line: n, Msg: msg}
		}
		if _, dup := db.accounts[a.Name]; dup {
			return nil, &ParseError{File: name, Line: n, Msg: fmt.Sprintf("duplicate user %s", a.Name)}
		}
		db.accounts[a.Name] = a
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: name, Line: n + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("uaf: read %s: %w", name, err)
	}
	return db, nil
}

// parseLine parses one account line; msg says what is wrong.
func parseLine(line string) (a *Account, msg string) {
	fields := strings.Split(line, ":")
	if len(fields) < 2 {
		return nil, "want NAME:HASH[:key=value...]"
	}
	name := fields[0]
	if !ValidName(name) {
		return nil, fmt.Sprintf("bad user name %q", name)
	}
	a = &Account{Name: strings.ToUpper(name)}
	if fields[1] != "" {
		if msg := checkHash(fields[1]); msg != "" {
			return nil, msg
		}
		a.Hash = []byte(fields[1])
	}
	seen := make(map[string]bool)
	for _, f := range fields[2:] {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Sprintf("field %q is not key=value", f)
		}
		if seen[key] {
			return nil, fmt.Sprintf("duplicate field %q", key)
		}
		seen[key] = true
		switch key {
		case "apop":
			if val == "" {
				continue
			}
			s, err := base64.StdEncoding.Strict().DecodeString(val)
			if err != nil {
				return nil, "apop= is not valid base64"
			}
			if len(s) > 0 {
				a.Secret = s
			}
		case "flags":
			fl, err := ParseFlags(val)
			if err != nil {
				return nil, fmt.Sprintf("bad flags %q", val)
			}
			a.Flags = fl
		case "vms":
			h, err := ParseVMSHash(val)
			if err != nil {
				return nil, fmt.Sprintf("bad vms= hash %q", val)
			}
			a.VMS = h
		case "expires":
			t, err := ParseDate(val)
			if err != nil {
				return nil, fmt.Sprintf("bad expires date %q (want YYYY-MM-DD)", val)
			}
			a.Expires = t
		case "logindelay":
			d, err := ParseLoginDelay(val)
			if err != nil {
				return nil, fmt.Sprintf("bad logindelay %q (want e.g. 5m)", val)
			}
			a.LoginDelay, a.HasLoginDelay = d, true
		case "grants":
			gs, msg := parseGrants(val)
			if msg != "" {
				return nil, msg
			}
			a.Grants = gs
		default:
			return nil, fmt.Sprintf("unknown field %q", key)
		}
	}
	return a, ""
}

// checkHash says what is wrong with a bcrypt hash, or "".
func checkHash(h string) string {
	ok := len(h) == 60 && h[0] == '$' && h[1] == '2' && strings.ContainsRune("aby", rune(h[2])) &&
		h[3] == '$' && h[6] == '$'
	if ok {
		for i := 7; i < len(h); i++ {
			c := h[i]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
				ok = false
				break
			}
		}
	}
	if !ok {
		return "password hash is not a bcrypt hash"
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return "bad bcrypt hash: " + strings.TrimPrefix(err.Error(), "crypto/bcrypt: ")
	}
	return ""
}

// Load reads and parses the accounts file at path. A missing file gives an
// error that matches fs.ErrNotExist.
func Load(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("uaf: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Lookup returns a copy of the account of user name (any case).
func (db *DB) Lookup(name string) (*Account, bool) {
	if !ValidName(name) { // before case folding
		return nil, false
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	a, ok := db.accounts[strings.ToUpper(name)]
	if !ok {
		return nil, false
	}
	return a.clone(), true
}

// lookup returns the shared account of name; the caller must not modify it.
func (db *DB) lookup(name string) *Account {
	if !ValidName(name) { // before case folding
		return nil
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.accounts[strings.ToUpper(name)]
}

// Accounts returns copies of all accounts sorted by name.
func (db *DB) Accounts() []*Account {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]*Account, 0, len(db.accounts))
	for _, a := range db.accounts {
		out = append(out, a.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len returns the number of accounts.
func (db *DB) Len() int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return len(db.accounts)
}

// Put adds a copy of a, or replaces the account of the same name; the name
// is stored upper case. Put does not validate a: WriteFile and WriteTo
// refuse to write an invalid account.
func (db *DB) Put(a *Account) {
	if a == nil {
		return
	}
	c := a.clone()
	c.Name = strings.ToUpper(c.Name)
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.accounts == nil {
		db.accounts = make(map[string]*Account)
	}
	db.accounts[c.Name] = c
}

// Remove deletes the account of name (any case) and reports whether it
// existed.
func (db *DB) Remove(name string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	name = strings.ToUpper(name)
	_, ok := db.accounts[name]
	delete(db.accounts, name)
	return ok
}

// header is written at the top of every accounts file.
const header = `# vmspop accounts file (see "go doc github.com/vmspop/vmspop/uaf").
# Maintained with "vmspop uaf"; comments are not preserved.
# NAME:BCRYPT-HASH[:apop=BASE64-SECRET][:flags=DISUSER,DISMAIL][:expires=YYYY-MM-DD]
`

// WriteTo writes the accounts in file format, sorted by name. It writes
// nothing and returns an error if an account is invalid (bad name, hash or
// flags), since Parse would refuse the result.
func (db *DB) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	for _, a := range db.Accounts() {
		if !ValidName(a.Name) {
			return 0, fmt.Errorf("uaf: bad user name %q", a.Name)
		}
		if len(a.Hash) > 0 {
			if msg := checkHash(string(a.Hash)); msg != "" {
				return 0, fmt.Errorf("uaf: user %s: %s", a.Name, msg)
			}
		}
		if a.Flags&^allFlags != 0 {
			return 0, fmt.Errorf("uaf: user %s: undefined flags %s", a.Name, a.Flags)
		}
		buf.WriteString(a.Name)
		buf.WriteByte(':')
		buf.Write(a.Hash)
		if len(a.Secret) > 0 {
			buf.WriteString(":apop=")
			buf.WriteString(base64.StdEncoding.EncodeToString(a.Secret))
		}
		if a.Flags != 0 {
			buf.WriteString(":flags=")
			buf.WriteString(a.Flags.String())
		}
		if d := a.ExpiryDate(); d != "" {
			buf.WriteString(":expires=")
			buf.WriteString(d)
		}
		if a.HasLoginDelay {
			buf.WriteString(":logindelay=")
			buf.WriteString(a.LoginDelay.String())
		}
		if len(a.Grants) > 0 {
			buf.WriteString(":grants=")
			buf.WriteString(formatGrants(a.Grants))
		}
		if a.VMS != nil {
			buf.WriteString(":vms=")
			buf.WriteString(a.VMS.String())
		}
		buf.WriteByte('\n')
	}
	return buf.WriteTo(w)
}

// WriteFile replaces the file at path with the accounts, atomically: it
// writes a temporary file in the same directory with mode 0600 (whatever
// the umask), fsyncs it, gives it the owner of the file it replaces, renames
// it over path and fsyncs the directory. Readers see either the old or the
// new file, never a mix. Use Lock to serialise concurrent writers.
func (db *DB) WriteFile(path string) error {
	var buf bytes.Buffer
	if _, err := db.WriteTo(&buf); err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("uaf: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("uaf: %w", err)
	}
	if err := keepOwner(tmp, path); err != nil {
		tmp.Close()
		return err
	}
	if err := atomicfile.Commit(tmp, path, buf.Bytes()); err != nil {
		return fmt.Errorf("uaf: write %s: %w", path, err)
	}
	return nil
}
