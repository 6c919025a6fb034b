package rpop

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

// TLS modes of a record.
const (
	TLSNone      = ""         // plain POP3 (the default)
	TLSImplicit  = "tls"      // implicit TLS from the first octet (port 995)
	TLSSTLS      = "stls"     // STLS required: fail if the server does not offer it
	TLSIfOffered = "stls-opt" // STLS when CAPA lists it, else plain
)

// NoSpecialField is the Unified value of a domain-wide record whose
// recipients come from To:/Cc:/Bcc: (no special header field).
const NoSpecialField = "none"

// Record is one remote account to poll.
type Record struct {
	ID       string `json:"id"`       // stable short name, unique in the file
	User     string `json:"user"`     // local user, upper case; for Unified records the fallback (postmaster) user
	Host     string `json:"host"`     // host[:port]; port 110, or 995 with TLSImplicit
	Account  string `json:"account"`  // remote account name
	Password string `json:"password"` // remote password (the file is mode 0600)
	Leave    bool   `json:"leave,omitempty"`
	APOP     bool   `json:"apop,omitempty"`
	TLS      string `json:"tls,omitempty"` // one of the TLS* modes
	CA       string `json:"ca,omitempty"`  // PEM file of CA certificates; "" = system roots
	// Period is the poll period; 0 with Disabled false means DefaultPeriod.
	Period   Duration `json:"period,omitempty"`
	Disabled bool     `json:"disabled,omitempty"`
	// Unified is the special header field of a Unified Domain-Wide record
	// ("X-Real-To"), NoSpecialField for To/Cc distribution, "" for a
	// per-user record.
	Unified    string   `json:"unified,omitempty"`
	Domains    []string `json:"domains,omitempty"`     // Unified: domains whose local parts are local users
	AddressMap string   `json:"address_map,omitempty"` // Unified: file of "address USER" lines
	// UserSet marks a record a user set up (not the administrator): the
	// Minimum Poll Period and Maximum Accounts per User apply to it.
	UserSet bool `json:"user_set,omitempty"`
}

// DefaultPeriod is the poll period of a record that names none.
const DefaultPeriod = 10 * time.Minute

// Duration is a time.Duration that reads and writes as "10m0s" in JSON.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// HostPort returns the address to dial: Host with the default port added.
func (r *Record) HostPort() string {
	if _, _, err := net.SplitHostPort(r.Host); err == nil {
		return r.Host
	}
	if r.TLS == TLSImplicit {
		return net.JoinHostPort(r.Host, "995")
	}
	return net.JoinHostPort(r.Host, "110")
}

// EffectivePeriod is the period the poller uses: the record's, or
// DefaultPeriod, raised to minUser for user-set records.
func (r *Record) EffectivePeriod(minUser time.Duration) time.Duration {
	p := time.Duration(r.Period)
	if p <= 0 {
		p = DefaultPeriod
	}
	if r.UserSet && p < minUser {
		p = minUser
	}
	return p
}

// Check reports what is wrong with r, if anything.
func (r *Record) Check() error {
	var errs []error
	if r.User == "" {
		errs = append(errs, errors.New("no local user"))
	}
	if r.Host == "" {
		errs = append(errs, errors.New("no host"))
	} else if strings.ContainsAny(r.Host, " \t/") {
		errs = append(errs, fmt.Errorf("bad host %q", r.Host))
	} else if h, p, err := net.SplitHostPort(r.Host); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || h == "" {
			errs = append(errs, fmt.Errorf("bad host %q (HOST[:PORT])", r.Host))
		}
	}
	if r.Account == "" || strings.ContainsAny(r.Account, " \r\n") {
		errs = append(errs, errors.New("the remote account must be one word"))
	}
	if strings.ContainsAny(r.Password, "\r\n") {
		errs = append(errs, errors.New("the password must be one line"))
	}
	switch r.TLS {
	case TLSNone, TLSImplicit, TLSSTLS, TLSIfOffered:
	default:
		errs = append(errs, fmt.Errorf("bad TLS mode %q", r.TLS))
	}
	if r.Period < 0 {
		errs = append(errs, errors.New("the period must not be negative"))
	}
	if r.Unified != "" && r.Unified != NoSpecialField && !validFieldName(r.Unified) {
		errs = append(errs, fmt.Errorf("bad header field name %q", r.Unified))
	}
	return errors.Join(errs...)
}

func validFieldName(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return s != ""
}

// File is the records file.
type File struct {
	Path string // the JSON file; its state lives in Path + ".state/"
}

// StateDir is the directory of the records' state logs.
func (f *File) StateDir() string { return f.Path + ".state" }

type fileData struct {
	Records []Record `json:"records"`
}

// Load reads the records; a missing file holds none.
func (f *File) Load() ([]Record, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d fileData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("rpop: %s: %w", f.Path, err)
	}
	return d.Records, nil
}

// Update runs fn on the records under an exclusive lock and writes the
// result atomically (temporary file, fsync, rename, directory fsync) with
// mode 0600.
func (f *File) Update(fn func([]Record) ([]Record, error)) error {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lf, err := os.OpenFile(f.Path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	recs, err := f.Load()
	if err != nil {
		return err
	}
	recs, err = fn(recs)
	if err != nil {
		return err
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].User < recs[j].User })
	b, err := json.MarshalIndent(fileData{Records: recs}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(f.Path, append(b, '\n'))
}

// NewID returns a fresh record id, 8 hex digits.
func NewID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Find returns the index of the record with id, or -1.
func Find(recs []Record, id string) int {
	for i := range recs {
		if recs[i].ID == id {
			return i
		}
	}
	return -1
}
