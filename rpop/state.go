package rpop

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmspop/vmspop/internal/atomicfile"
)

// Status is the outcome of a record's last poll, as the "Last" column
// shows it.
type Status struct {
	When     time.Time
	OK       bool
	Messages int    // messages stored
	Octets   int64  // their size
	Err      string // the error when !OK
}

// String formats s for the Last column.
func (s Status) String() string {
	if s.When.IsZero() {
		return "not yet"
	}
	t := s.When.Local().Format("2006-01-02 15:04:05")
	if s.OK {
		return fmt.Sprintf("%s ok, %d messages, %d octets", t, s.Messages, s.Octets)
	}
	return fmt.Sprintf("%s failed: %s", t, s.Err)
}

// intent is a message about to be stored: its key (which the stored copy
// carries in its KeyField) and the users it goes to.
type intent struct {
	UIDL  string
	Users []string
}

// state is a record's poll state, rebuilt from its log. The log is
// append-only between compactions; every line is fsynced before the step
// it guards. Lines:
//
//	seen UIDL [KEY]       Leave: UIDL is stored (and KEY's intent is done)
//	forget UIDL           Leave: UIDL vanished from the remote
//	pending KEY UIDL U,.. about to store KEY for users U
//	clear                 every pending intent is done (QUIT committed)
//	last UNIX ok N OCTETS / last UNIX err TEXT
type state struct {
	Seen    map[string]bool
	Pending map[string]intent
	Last    Status

	f *os.File // the open log, for appending; nil when only read
}

// stateLog returns the path of a record's log.
func stateLog(dir, id string) string { return filepath.Join(dir, id+".log") }

// ReadStatus returns the last status of record id (zero if never polled).
func ReadStatus(dir, id string) Status {
	st, _ := readState(stateLog(dir, id))
	if st == nil {
		return Status{}
	}
	return st.Last
}

func readState(path string) (*state, error) {
	st := &state{Seen: map[string]bool{}, Pending: map[string]intent{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		st.apply(sc.Text())
	}
	// A torn last line (killed mid-write) does not parse and is ignored:
	// the step it guarded had not started.
	return st, sc.Err()
}

func (st *state) apply(line string) {
	f := strings.SplitN(line, " ", 4)
	switch {
	case f[0] == "seen" && len(f) >= 2:
		st.Seen[f[1]] = true
		if len(f) >= 3 {
			delete(st.Pending, f[2])
		}
	case f[0] == "forget" && len(f) == 2:
		delete(st.Seen, f[1])
	case f[0] == "pending" && len(f) == 4:
		st.Pending[f[1]] = intent{UIDL: f[2], Users: strings.Split(f[3], ",")}
	case f[0] == "clear" && len(f) == 1:
		clear(st.Pending)
	case f[0] == "last" && len(f) >= 3:
		sec, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return
		}
		s := Status{When: time.Unix(sec, 0)}
		rest := ""
		if len(f) == 4 {
			rest = f[3]
		}
		switch f[2] {
		case "ok":
			s.OK = true
			fmt.Sscanf(rest, "%d %d", &s.Messages, &s.Octets)
		case "err":
			s.Err = rest
		default:
			return
		}
		st.Last = s
	}
}

// openState locks record id's state (so that serve and "rpop poll" never
// poll one record at once), reads it, compacts the log and opens it for
// appending. It returns errBusy when another process holds the lock.
func openState(dir, id string) (*state, func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	lf, err := os.OpenFile(filepath.Join(dir, id+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, errBusy
		}
		return nil, nil, err
	}
	path := stateLog(dir, id)
	st, err := readState(path)
	if err != nil {
		lf.Close()
		return nil, nil, err
	}
	if err := atomicfile.Write(path, st.compact()); err != nil {
		lf.Close()
		return nil, nil, err
	}
	st.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		lf.Close()
		return nil, nil, err
	}
	return st, func() { st.f.Close(); lf.Close() }, nil
}

var errBusy = errors.New("rpop: record is being polled by another process")

// compact returns the log text that rebuilds st.
func (st *state) compact() []byte {
	var b strings.Builder
	uidls := make([]string, 0, len(st.Seen))
	for u := range st.Seen {
		uidls = append(uidls, u)
	}
	sort.Strings(uidls)
	for _, u := range uidls {
		b.WriteString("seen " + u + "\n")
	}
	for k, in := range st.Pending {
		fmt.Fprintf(&b, "pending %s %s %s\n", k, in.UIDL, strings.Join(in.Users, ","))
	}
	if !st.Last.When.IsZero() {
		b.WriteString(st.Last.line() + "\n")
	}
	return []byte(b.String())
}

func (s Status) line() string {
	if s.OK {
		return fmt.Sprintf("last %d ok %d %d", s.When.Unix(), s.Messages, s.Octets)
	}
	return fmt.Sprintf("last %d err %s", s.When.Unix(), oneLine(s.Err))
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// log appends line to the log and fsyncs it, then applies it.
func (st *state) log(line string) error {
	if _, err := st.f.WriteString(line + "\n"); err != nil {
		return err
	}
	if err := st.f.Sync(); err != nil {
		return err
	}
	st.apply(line)
	return nil
}
