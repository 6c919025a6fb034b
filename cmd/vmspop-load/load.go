// Command vmspop-load is the project's own load tool (make bench):
//
//   - "populate" fills a spool with test users PREFIX001..PREFIXnnn,
//     each with a NEWMAIL of generated MAIL-11 messages (DECnet, local and
//     SMTP senders, bodies with "." and "From " lines, so that dot-stuffing
//     and mboxrd quoting are exercised), appended through spool.Append as
//     deliver and import do, and optionally adds the users to an accounts
//     file.
//   - "run" drives a running server with C concurrent clients doing S
//     sessions each, either draining the mailbox (USER, PASS, STAT, UIDL,
//     LIST, RETR of every message, QUIT; no DELE) or only logging in (USER,
//     PASS, STAT, QUIT), and prints one row of figures.
//   - "replay" records a session and serves it back with no work per
//     command (replay.go): the ceiling a client can reach.
//   - "hold" holds one idle logged-in session per user open until
//     interrupted (hold.go): the idle crowd of scripts/idle-drain.sh.
//
// The client is kept cheap, since on a small machine it shares the CPUs
// with the server: one goroutine per client, large bufio buffers, message
// text read with ReadSlice and only counted (dot-unstuffed), never copied.
//
// A user is never used by two clients at once (the second session would
// get -ERR [IN-USE]): client c owns the users whose index is c modulo C,
// so --clients may not exceed --nusers.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

const loadUsage = `usage: vmspop-load populate --spool DIR --users N --messages M [--size BYTES]
                            [--users-prefix P] [--uaf FILE --password PW]
       vmspop-load run --addr HOST:PORT --nusers N --password PW [--users-prefix P]
                       [--mode drain|login] [--clients C] [--sessions S]
                       [--pipeline W] [--timeout D] [--header=false]
       vmspop-load replay --from HOST:PORT --user U --password PW
                          [--listen HOST:PORT] [--dir DIR]
       vmspop-load hold --addr HOST:PORT --nusers N --password PW
                        [--users-prefix P] [--sources K] [--ready FILE]

populate creates users P001..Pnnn (P is LOAD by default; more digits
when N > 999) in the spool DIR (never taken from TCPIP$POP_SPOOL) and
appends M generated MAIL-11 messages to each one's NEWMAIL, of sizes
spread evenly between BYTES/2 and 3*BYTES/2 (default 8192). Running it
again appends M more. With --uaf, each user is added to the accounts
file FILE with password PW (an existing account gets the new password).
These are test accounts: the password is given on the command line.

run connects to the server at HOST:PORT with C clients (default 1), each
doing S sessions (default 1) one after another, as users P001..Pnnn, and
prints a table. Client c uses the users whose number is c modulo C, in
turn, so that no user has two sessions at once: C must not exceed N.
  drain  USER, PASS, STAT, UIDL, LIST, RETR of every message (W RETR
         commands in flight with --pipeline W, default 1), QUIT; the
         dot-unstuffed size of every message must equal its LIST size
  login  USER, PASS, STAT, QUIT
Nothing is deleted. The login time is from connect to the STAT reply.
--timeout (default 60s) bounds every command.

replay records one session of user U on the server at --from (every
reply of USER, PASS, STAT, UIDL, LIST and each RETR, byte for byte) and
then serves the recording on --listen (default 127.0.0.1:0; the address
is printed) until interrupted: any user and password get the recorded
replies, and each RETR reply leaves with sendfile(2). It is a server
doing no work: what "load run" (or another client) reaches against it
is the most any server can give that client on this machine.

hold logs in one session as each of the users P001..Pnnn (USER, PASS,
STAT) and holds them all open and idle until interrupted (SIGINT or
SIGTERM), then QUITs them (nothing is deleted). The connections come
from 127.0.0.1 to 127.0.0.K in turn (--sources, default 1), and --ready
FILE is created once all are logged in: the idle load that
scripts/idle-drain.sh drains beside.

Exit status: 0 success; 1 failure (run: any session error or size
mismatch, reported on standard error); 2 usage error.
`

// loadBcryptCost is the bcrypt cost of the accounts populate writes: that
// of "vmspop uaf add", so that first logins cost what they cost in use.
const loadBcryptCost = bcrypt.DefaultCost

// loadBatchBytes is how much generated mail populate appends at once.
const loadBatchBytes = 16 << 20

// loadReadBuf is the size of a run client's read buffer.
const loadReadBuf = 256 << 10

// loadMaxErrors is how many error messages run prints.
const loadMaxErrors = 10

// loadUsageError is a mistake in the command line (exit status 2).
type loadUsageError struct{ msg string }

func (e *loadUsageError) Error() string { return e.msg }

func loadUsagef(format string, args ...any) error {
	return &loadUsageError{msg: fmt.Sprintf(format, args...)}
}

// errLoadFailed ends a run whose errors have been reported already.
var errLoadFailed = errors.New("load run failed")

// runLoad runs vmspop-load with args, the arguments after the command. It
// returns 0 on success, 1 on failure and 2 on a usage error.
func runLoad(args []string, stdout, stderr io.Writer) int {
	var err error
	name := "load"
	switch {
	case len(args) == 0:
		err = loadUsagef("missing mode (populate, run, replay or hold)")
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		err = flag.ErrHelp
	case args[0] == "populate":
		name = "load populate"
		err = loadPopulate(args[1:], stdout)
	case args[0] == "run":
		name = "load run"
		err = loadRun(args[1:], stdout, stderr)
	case args[0] == "replay":
		name = "load replay"
		err = loadReplay(args[1:], stdout)
	case args[0] == "hold":
		name = "load hold"
		err = loadHold(args[1:], stdout, stderr)
	default:
		err = loadUsagef("unknown mode %q (want populate, run, replay or hold)", args[0])
	}
	var ue *loadUsageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, loadUsage)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "vmspop-%s: %s\nRun \"vmspop-load -h\" for usage.\n", name, ue.msg)
		return 2
	case errors.Is(err, errLoadFailed):
		return 1
	default:
		fmt.Fprintf(stderr, "vmspop-%s: %v\n", name, err)
		return 1
	}
}

// parseLoadFlags parses args with fs and returns the names of the flags
// given. Positional arguments are refused.
func parseLoadFlags(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	fs.SetOutput(io.Discard) // errors are reported by runLoad
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &loadUsageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, loadUsagef("unexpected argument %q", fs.Arg(0))
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set, nil
}

// requireFlags returns a usage error naming the first of names not set.
func requireFlags(set map[string]bool, names ...string) error {
	for _, n := range names {
		if !set[n] {
			return loadUsagef("--%s is required", n)
		}
	}
	return nil
}

// loadUsers names the n load users with prefix: PREFIX001..PREFIXnnn, with
// at least three digits.
func loadUsers(prefix string, n int) ([]string, error) {
	width := max(3, len(strconv.Itoa(n)))
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%0*d", strings.ToUpper(prefix), width, i+1)
	}
	if n > 0 && !spool.ValidName(names[n-1]) {
		return nil, loadUsagef("--users-prefix %q: user names such as %s are not [A-Za-z0-9_$-]{1,31}", prefix, names[n-1])
	}
	return names, nil
}

// userRange shows the users of a run: LOAD001-005, or LOAD001 alone.
func userRange(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	first, last := names[0], names[len(names)-1]
	i := len(first)
	for i > 0 && first[i-1] >= '0' && first[i-1] <= '9' {
		i--
	}
	return first + "-" + last[i:]
}

// populateOpts are the flags of "load populate".
type populateOpts struct {
	spool    string
	users    int
	messages int
	size     int
	prefix   string
	uafPath  string
	password string
	cost     int
}

func loadPopulate(args []string, stdout io.Writer) error {
	var o populateOpts
	fs := flag.NewFlagSet("vmspop-load populate", flag.ContinueOnError)
	fs.StringVar(&o.spool, "spool", "", "spool `DIR`")
	fs.IntVar(&o.users, "users", 0, "number of users")
	fs.IntVar(&o.messages, "messages", 0, "messages per user")
	fs.IntVar(&o.size, "size", 8192, "average message size in octets")
	fs.StringVar(&o.prefix, "users-prefix", "LOAD", "user name prefix")
	fs.StringVar(&o.uafPath, "uaf", "", "accounts `FILE` to add the users to")
	fs.StringVar(&o.password, "password", "", "password of the users (with --uaf)")
	// Hidden: tests use bcrypt.MinCost.
	fs.IntVar(&o.cost, "bcrypt-cost", loadBcryptCost, "bcrypt cost")
	set, err := parseLoadFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireFlags(set, "spool", "users", "messages"); err != nil {
		return err
	}
	switch {
	case o.users < 1 || o.users > 99999:
		return loadUsagef("--users %d: want 1 to 99999", o.users)
	case o.messages < 1 || o.messages > 10_000_000:
		return loadUsagef("--messages %d: want 1 to 10000000", o.messages)
	case o.size < 256 || o.size > 64<<20:
		return loadUsagef("--size %d: want 256 to %d octets", o.size, 64<<20)
	case set["uaf"] != set["password"]:
		return loadUsagef("--uaf and --password go together")
	case set["uaf"] && (o.uafPath == "" || o.password == ""):
		return loadUsagef("--uaf and --password must not be empty")
	case len(o.password) > 72:
		return loadUsagef("--password longer than 72 bytes (the bcrypt limit)")
	case o.cost < bcrypt.MinCost || o.cost > bcrypt.MaxCost:
		return loadUsagef("--bcrypt-cost %d: want %d to %d", o.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	names, err := loadUsers(o.prefix, o.users)
	if err != nil {
		return err
	}

	start := time.Now()
	// Accounts first: a bad accounts file stops us before the spool grows.
	if o.uafPath != "" {
		if err := addLoadAccounts(o.uafPath, names, o.password, o.cost); err != nil {
			return err
		}
	}
	sp := spool.New(o.spool)
	var total int64
	for i, name := range names {
		n, err := populateUser(context.Background(), sp, name, uint64(i), o.messages, o.size)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		total += n
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "%s: %d messages each, %d in all (%.1f MB) appended to NEWMAIL in %.2f s\n",
		userRange(names), o.messages, len(names)*o.messages, float64(total)/1e6, took.Seconds())
	if o.uafPath != "" {
		fmt.Fprintf(stdout, "%s: accounts set in %s\n", userRange(names), o.uafPath)
	}
	return nil
}

// addLoadAccounts sets the password of each user in the accounts file at
// path, adding the users that are missing, under the writers' lock. One
// hash serves every user: they are test accounts.
func addLoadAccounts(path string, names []string, password string, cost int) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return uaf.Update(path, true, 10*time.Second, func(db *uaf.DB) error {
		for _, name := range names {
			a, ok := db.Lookup(name)
			if !ok {
				a = &uaf.Account{Name: name}
			}
			a.Hash = hash
			db.Put(a)
		}
		return nil
	})
}

// populateUser appends count generated messages to user's NEWMAIL, in
// batches of about loadBatchBytes, and returns the octets generated. seed
// makes each user's mail different and every run the same.
func populateUser(ctx context.Context, sp *spool.Spool, user string, seed uint64, count, size int) (int64, error) {
	g := newMailGen(user, seed, size)
	var buf []byte
	var ends []int
	var envs []string
	var dates []time.Time
	var total int64
	flush := func() error {
		msgs := make([]spool.NewMessage, len(ends))
		start := 0
		for i, end := range ends {
			msgs[i] = spool.NewMessage{Envelope: envs[i], Date: dates[i], Text: bytes.NewReader(buf[start:end])}
			start = end
		}
		if err := sp.Append(ctx, user, spool.NewMail, msgs); err != nil {
			return err
		}
		total += int64(len(buf))
		buf, ends, envs, dates = buf[:0], ends[:0], envs[:0], dates[:0]
		return nil
	}
	for k := range count {
		var env string
		var date time.Time
		buf, env, date = g.message(buf, k, count)
		ends = append(ends, len(buf))
		envs = append(envs, env)
		dates = append(dates, date)
		if len(buf) >= loadBatchBytes || k == count-1 {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// mailGen generates the test messages of one user.
type mailGen struct {
	user string
	rng  *rand.Rand
	size int
	base time.Time
}

// loadLines are the ordinary body lines that generated messages are made
// of, built once.
var loadLines = sync.OnceValue(func() [][]byte {
	words := strings.Fields(`the system manager has moved the staff meeting to
		building VAXcluster node queue print batch job DECnet area router
		backup tape volume shadow set quota disk block file directory mail
		folder extract purge account password expired operator console
		reply forward lunch Friday report budget invoice shipment customer
		order status ready pending approved review draft final version`)
	rng := rand.New(rand.NewPCG(1, 2))
	lines := make([][]byte, 256)
	for i := range lines {
		want := 20 + rng.IntN(57) // 20 to 76 octets
		var l []byte
		for len(l) < want {
			if len(l) > 0 {
				l = append(l, ' ')
			}
			l = append(l, words[rng.IntN(len(words))]...)
		}
		if i%7 == 0 && 'a' <= l[0] && l[0] <= 'z' {
			l[0] -= 'a' - 'A'
		}
		lines[i] = append(l, '\n')
	}
	return lines
})

// loadSpecialLines are the body lines that need dot-stuffing when sent or
// mboxrd quoting when stored; about one line in 16 is one of them.
var loadSpecialLines = [][]byte{
	[]byte(".\n"),
	[]byte("..\n"),
	[]byte(".signature follows\n"),
	[]byte("From the desk of the system manager\n"),
	[]byte(">From a quoted line\n"),
	[]byte(">>From twice quoted\n"),
	[]byte("From \n"),
	[]byte("... and so on\n"),
}

func newMailGen(user string, seed uint64, size int) *mailGen {
	return &mailGen{
		user: user,
		rng:  rand.New(rand.NewPCG(seed, 0x766d73706f70)), // "vmspop"
		size: size,
		base: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC),
	}
}

// message appends message k of count to buf and returns it with the
// envelope sender and the arrival date. Senders cycle through the MAIL-11
// forms (DECnet, SMTP with an RFC 822 header in the body, local user,
// SMTP forwarded in a cluster); sizes are spread evenly between size/2 and
// 3*size/2.
func (g *mailGen) message(buf []byte, k, count int) ([]byte, string, time.Time) {
	// Distinct arrival dates to the hundredth, so that UIDs differ.
	date := g.base.Add(time.Duration(k) * 1270 * time.Millisecond)
	vmsDate := mail11.FormatVMSDate(date)
	start := len(buf)
	target := g.size/2 + g.rng.IntN(g.size+1)
	subj := fmt.Sprintf("Load test message %d of %d", k+1, count)
	var env string
	switch k % 4 {
	case 0:
		env = "VAXA::JONES"
		buf = fmt.Appendf(buf, "From:\tVAXA::JONES \"Fred Jones\"  %s\nTo:\t%s\nCC:\t\nSubj:\t%s\n\n", vmsDate, g.user, subj)
	case 1:
		env = "john.smith@example.com"
		buf = fmt.Appendf(buf, "From:\tSMTP%%\"john.smith@example.com\" \"John Smith\"  %s\nTo:\t%s@vms.example.com\nCC:\t\nSubj:\t%s\n\n", vmsDate, strings.ToLower(g.user), subj)
		buf = fmt.Appendf(buf, "Return-Path: <john.smith@example.com>\nFrom: John Smith <john.smith@example.com>\nTo: %s@vms.example.com\nSubject: %s\nDate: %s\nMessage-ID: <load-%s-%d@example.com>\n\n",
			strings.ToLower(g.user), subj, date.Format(time.RFC1123Z), strings.ToLower(g.user), k+1)
	case 2:
		env = "FIELD"
		buf = fmt.Appendf(buf, "From:\tFIELD  %s\nTo:\t%s\nCC:\tSMITH\nSubj:\t%s\n\n", vmsDate, g.user, subj)
	default:
		env = "james.jones@federation.gov"
		buf = fmt.Appendf(buf, "From:\tABCDEF::SMTP%%\"james.jones@federation.gov\"  %s\nTo:\t%s\nCC:\t\nSubj:\t%s\n\n", vmsDate, g.user, subj)
		buf = fmt.Appendf(buf, "From: James Jones <james.jones@federation.gov>\nTo: %s@vms.example.com\nSubject: %s\nDate: %s\n\n",
			strings.ToLower(g.user), subj, date.Format(time.RFC1123Z))
	}
	lines := loadLines()
	for len(buf)-start < target {
		r := g.rng.Uint32()
		if r%16 == 0 {
			buf = append(buf, loadSpecialLines[(r>>4)%uint32(len(loadSpecialLines))]...)
		} else {
			buf = append(buf, lines[(r>>4)%uint32(len(lines))]...)
		}
	}
	return buf, env, date
}

// runOpts are the flags of "load run".
type runOpts struct {
	addr     string
	prefix   string
	nusers   int
	password string
	clients  int
	sessions int
	mode     string
	pipeline int
	timeout  time.Duration
	header   bool
}

func loadRun(args []string, stdout, stderr io.Writer) error {
	var o runOpts
	fs := flag.NewFlagSet("vmspop-load run", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "", "server `HOST:PORT`")
	fs.StringVar(&o.prefix, "users-prefix", "LOAD", "user name prefix")
	fs.IntVar(&o.nusers, "nusers", 0, "number of users")
	fs.StringVar(&o.password, "password", "", "password of the users")
	fs.IntVar(&o.clients, "clients", 1, "concurrent clients")
	fs.IntVar(&o.sessions, "sessions", 1, "sessions per client")
	fs.StringVar(&o.mode, "mode", "drain", "drain or login")
	fs.IntVar(&o.pipeline, "pipeline", 1, "RETR commands in flight")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "bound on each command")
	fs.BoolVar(&o.header, "header", true, "print the table header")
	set, err := parseLoadFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireFlags(set, "addr", "nusers", "password"); err != nil {
		return err
	}
	switch {
	case o.mode != "drain" && o.mode != "login":
		return loadUsagef("--mode %q: want drain or login", o.mode)
	case o.nusers < 1 || o.nusers > 99999:
		return loadUsagef("--nusers %d: want 1 to 99999", o.nusers)
	case o.clients < 1:
		return loadUsagef("--clients %d: want at least 1", o.clients)
	case o.clients > o.nusers:
		return loadUsagef("--clients %d exceeds --nusers %d: two sessions of one user would collide (IN-USE)", o.clients, o.nusers)
	case o.sessions < 1:
		return loadUsagef("--sessions %d: want at least 1", o.sessions)
	case o.pipeline < 1 || o.pipeline > 1000:
		return loadUsagef("--pipeline %d: want 1 to 1000", o.pipeline)
	case o.timeout <= 0:
		return loadUsagef("--timeout must be positive")
	case o.password == "" || strings.ContainsAny(o.password, "\r\n"):
		return loadUsagef("--password must be one non-empty line")
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return loadUsagef("--addr %q: %v", o.addr, err)
	}
	names, err := loadUsers(o.prefix, o.nusers)
	if err != nil {
		return err
	}

	results := make([]loadResult, o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range o.clients {
		var mine []string
		for u := c; u < len(names); u += o.clients {
			mine = append(mine, names[u])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &loadClient{opts: &o, res: &results[c]}
			for s := range o.sessions {
				cl.session(mine[s%len(mine)])
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	var total loadResult
	for i := range results {
		total.add(&results[i])
	}
	writeLoadTable(stdout, &o, userRange(names), &total, elapsed)
	if total.errors == 0 {
		return nil
	}
	for i, e := range total.errMsgs {
		if i == loadMaxErrors {
			fmt.Fprintf(stderr, "vmspop-load run: ... and %d more\n", total.errors-loadMaxErrors)
			break
		}
		fmt.Fprintf(stderr, "vmspop-load run: %s\n", e)
	}
	fmt.Fprintf(stderr, "vmspop-load run: %d error(s) in %d session(s)\n", total.errors, total.sessions)
	return errLoadFailed
}

// loadResult is what one client (or, added up, the run) did.
type loadResult struct {
	sessions int
	messages int64
	octets   int64
	errors   int // failed sessions plus size mismatches
	errMsgs  []string
	sessLat  []time.Duration // connect to QUIT reply, completed sessions
	loginLat []time.Duration // connect to STAT reply
}

func (r *loadResult) fail(format string, args ...any) {
	r.errors++
	if len(r.errMsgs) <= loadMaxErrors {
		r.errMsgs = append(r.errMsgs, fmt.Sprintf(format, args...))
	}
}

func (r *loadResult) add(o *loadResult) {
	r.sessions += o.sessions
	r.messages += o.messages
	r.octets += o.octets
	r.errors += o.errors
	for _, m := range o.errMsgs {
		if len(r.errMsgs) <= loadMaxErrors {
			r.errMsgs = append(r.errMsgs, m)
		}
	}
	r.sessLat = append(r.sessLat, o.sessLat...)
	r.loginLat = append(r.loginLat, o.loginLat...)
}

// percentileMS returns the p-th percentile (nearest rank) of d in
// milliseconds, sorting d; "-" when d is empty.
func percentileMS(d []time.Duration, p float64) string {
	if len(d) == 0 {
		return "-"
	}
	slices.Sort(d)
	i := int(math.Ceil(float64(len(d))*p)) - 1
	i = min(max(i, 0), len(d)-1)
	return strconv.FormatFloat(float64(d[i])/float64(time.Millisecond), 'f', 1, 64)
}

// writeLoadTable prints the run's row, after the header unless
// --header=false. Columns have fixed widths so that the rows of several
// runs line up.
func writeLoadTable(w io.Writer, o *runOpts, users string, r *loadResult, elapsed time.Duration) {
	const format = "%-5s %-13s %7v %8v %8v %8v %7v %7v %10v %10v %10v %11v %11v %6v\n"
	if o.header {
		fmt.Fprintf(w, format, "mode", "users", "clients", "sessions", "messages", "MB", "seconds", "MB/s",
			"sessions/s", "sess-p50ms", "sess-p95ms", "login-p50ms", "login-p95ms", "errors")
	}
	secs := elapsed.Seconds()
	mb := float64(r.octets) / 1e6
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	fmt.Fprintf(w, format, o.mode, users, o.clients, r.sessions, r.messages, f1(mb), f2(secs), f1(mb/secs),
		f1(float64(r.sessions)/secs), percentileMS(r.sessLat, 0.50), percentileMS(r.sessLat, 0.95),
		percentileMS(r.loginLat, 0.50), percentileMS(r.loginLat, 0.95), r.errors)
}

// loadClient is one client of a run; its sessions run one after another.
type loadClient struct {
	opts *runOpts
	res  *loadResult
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	num  []byte // scratch for command arguments
}

// session runs one session as user and records its outcome.
func (cl *loadClient) session(user string) {
	cl.res.sessions++
	start := time.Now()
	if err := cl.dial(); err != nil {
		cl.res.fail("%s: %v", user, err)
		return
	}
	defer cl.conn.Close()
	err := cl.converse(user, start)
	if err != nil {
		cl.res.fail("%s: %v", user, err)
		return
	}
	cl.res.sessLat = append(cl.res.sessLat, time.Since(start))
}

// dial connects and reuses the client's buffers for the new connection.
func (cl *loadClient) dial() error {
	c, err := net.DialTimeout("tcp", cl.opts.addr, cl.opts.timeout)
	if err != nil {
		return err
	}
	cl.conn = c
	if cl.r == nil {
		cl.r = bufio.NewReaderSize(c, loadReadBuf)
		cl.w = bufio.NewWriterSize(c, 4<<10)
	} else {
		cl.r.Reset(c)
		cl.w.Reset(c)
	}
	return nil
}

// converse runs the commands of one session.
func (cl *loadClient) converse(user string, start time.Time) error {
	cl.conn.SetDeadline(time.Now().Add(cl.opts.timeout))
	if _, err := cl.status("greeting"); err != nil {
		return err
	}
	if _, err := cl.command("USER", user); err != nil {
		return err
	}
	if _, err := cl.command("PASS", cl.opts.password); err != nil {
		return err
	}
	stat, err := cl.command("STAT", "")
	if err != nil {
		return err
	}
	cl.res.loginLat = append(cl.res.loginLat, time.Since(start))
	n, total, ok := twoInts(stat)
	if !ok {
		return fmt.Errorf("STAT: bad reply %s", printable([]byte(stat)))
	}
	if cl.opts.mode == "drain" {
		if err := cl.drain(user, n, total); err != nil {
			return err
		}
	}
	_, err = cl.command("QUIT", "")
	return err
}

// drain lists and retrieves the n messages (total octets, says STAT) of
// the mailbox, checking every size.
func (cl *loadClient) drain(user string, n int, total int64) error {
	if _, err := cl.command("UIDL", ""); err != nil {
		return err
	}
	uids := 0
	if err := cl.multiLine(func(line []byte) error {
		if len(bytes.Fields(line)) != 2 {
			return fmt.Errorf("UIDL: bad line %s", printable(line))
		}
		uids++
		return nil
	}); err != nil {
		return err
	}
	if uids != n {
		return fmt.Errorf("UIDL lists %d messages, STAT said %d", uids, n)
	}
	if _, err := cl.command("LIST", ""); err != nil {
		return err
	}
	sizes := make([]int64, 0, n)
	var sum int64
	if err := cl.multiLine(func(line []byte) error {
		i, size, ok := twoInts(string(line))
		if !ok || i != len(sizes)+1 {
			return fmt.Errorf("LIST: bad line %s", printable(line))
		}
		sizes = append(sizes, size)
		sum += size
		return nil
	}); err != nil {
		return err
	}
	if len(sizes) != n || sum != total {
		return fmt.Errorf("LIST gives %d messages (%d octets), STAT said %d (%d octets)", len(sizes), sum, n, total)
	}
	sent := 0
	for i := 1; i <= n; i++ {
		if sent < i {
			for sent < n && sent < i-1+cl.opts.pipeline {
				sent++
				cl.num = strconv.AppendInt(cl.num[:0], int64(sent), 10)
				cl.w.WriteString("RETR ")
				cl.w.Write(cl.num)
				cl.w.WriteString("\r\n")
			}
			cl.conn.SetDeadline(time.Now().Add(cl.opts.timeout))
			if err := cl.w.Flush(); err != nil {
				return err
			}
		}
		if _, err := cl.status("RETR " + strconv.Itoa(i)); err != nil {
			return err
		}
		got, err := cl.body()
		if err != nil {
			return fmt.Errorf("RETR %d: %w", i, err)
		}
		cl.res.messages++
		cl.res.octets += got
		if got != sizes[i-1] {
			cl.res.fail("%s: message %d: RETR sent %d octets (dot-unstuffed), LIST said %d", user, i, got, sizes[i-1])
		}
	}
	return nil
}

// command sends verb (and arg) and reads a status line, which must be
// +OK. It returns the text after "+OK ".
func (cl *loadClient) command(verb, arg string) (string, error) {
	cl.w.WriteString(verb)
	if arg != "" {
		cl.w.WriteByte(' ')
		cl.w.WriteString(arg)
	}
	cl.w.WriteString("\r\n")
	cl.conn.SetDeadline(time.Now().Add(cl.opts.timeout))
	if err := cl.w.Flush(); err != nil {
		return "", err
	}
	return cl.status(verb)
}

// status reads a status line; anything but +OK is an error naming what.
func (cl *loadClient) status(what string) (string, error) {
	line, err := cl.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s: connection closed", what)
		}
		return "", fmt.Errorf("%s: %w", what, err)
	}
	line = bytes.TrimRight(line, "\r\n")
	rest, ok := bytes.CutPrefix(line, []byte("+OK"))
	if !ok || len(rest) > 0 && rest[0] != ' ' {
		return "", fmt.Errorf("%s: %s", what, printable(line))
	}
	return string(bytes.TrimPrefix(rest, []byte(" "))), nil
}

// multiLine reads the lines of a multi-line reply up to its "." line,
// dot-unstuffed and without their CRLF, and passes each to fn.
func (cl *loadClient) multiLine(fn func(line []byte) error) error {
	for {
		line, err := cl.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return nil
			}
			line = line[1:]
		}
		if err := fn(line); err != nil {
			return err
		}
	}
}

// body reads the text of a RETR reply up to its ".\r\n" line and returns
// its size dot-unstuffed (RFC 1939 §3), CRLFs included: what LIST gives.
func (cl *loadClient) body() (int64, error) {
	var n int64
	lineStart := true
	for {
		chunk, err := cl.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				return n, errors.New("connection closed in the message")
			}
			return n, err
		}
		k := len(chunk)
		if lineStart && k > 0 && chunk[0] == '.' {
			if err == nil && k == 3 && chunk[1] == '\r' {
				return n, nil
			}
			k-- // the stuffed dot
		}
		n += int64(k)
		lineStart = err == nil
	}
}

// printable returns a server's line for an error message: as it is when
// it is printable UTF-8, else quoted.
func printable(line []byte) string {
	s := string(line)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// twoInts parses "N M" at the start of s (a STAT reply or a LIST line).
func twoInts(s string) (int, int64, bool) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(f[0])
	b, err2 := strconv.ParseInt(f[1], 10, 64)
	return a, b, err1 == nil && err2 == nil && a >= 0 && b >= 0
}
