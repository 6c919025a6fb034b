package main

// The "vmspop rpop" subcommand (records of remote POP3 accounts, polling
// them once or forever) and the poller's Sink: the same MAIL-11 delivery
// as "vmspop deliver" (delivery.Prepare + spool.Append). See docs/rpop.md.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/metrics"
	"github.com/vmspop/vmspop/rpop"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

const rpopUsage = `usage: vmspop rpop COMMAND ...
  add USER --host HOST[:PORT] --account NAME --password-stdin [--leave] [--apop]
      [--tls|--stls|--stls-if-offered] [--ca FILE] [--period DURATION|disabled]
      [--unified [FIELD|none] [--domain D,...] [--map FILE]] [--user-set]
  modify ID [the same options; --password-stdin reads a new password]
  remove ID
  list [USER]      records with their Last status
  show ID          one record (the password is not shown)
  poll USER        poll USER's records once now; exit 0 only if every one succeeded
  run              poll every record on its schedule until SIGTERM
`

// rpopSink delivers fetched messages as "vmspop deliver" does.
type rpopSink struct {
	sp  *spool.Spool
	now func() time.Time
}

// Deliver appends the messages to their users' NEWMAIL in MAIL-11 form,
// one append (one journal, one fsync) per user.
func (s *rpopSink) Deliver(ctx context.Context, ds []*rpop.Delivery) error {
	byUser := map[string][]spool.NewMessage{}
	var users []string
	now := s.now()
	for _, d := range ds {
		del, err := delivery.Prepare(d.Msg, d.Size, d.Sender, d.SenderSet, now)
		if err != nil {
			return err
		}
		for _, u := range d.Users {
			if _, ok := byUser[u]; !ok {
				users = append(users, u)
			}
			byUser[u] = append(byUser[u], del.NewMessage())
		}
	}
	var failed []error
	for _, u := range users {
		if err := s.sp.Append(ctx, u, spool.NewMail, byUser[u]); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", u, err))
		}
	}
	return errors.Join(failed...)
}

// Delivered finishes any interrupted update of user's folders, then looks
// for "X-RPOP-ID: KEY" lines in each of them.
func (s *rpopSink) Delivered(ctx context.Context, user string, keys []string) (map[string]bool, error) {
	if err := s.sp.Recover(ctx, user); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return s.sp.FindFieldValues(ctx, user, rpop.KeyField, keys)
}

// rpopFile returns the records file of cfg.
func rpopFile(cfg *logicals.Config) *rpop.File {
	p := cfg.RPOP.File
	if p == "" {
		p = filepath.Join(filepath.Dir(cfg.UAF), "rpop")
	}
	return &rpop.File{Path: p}
}

// localUsers reports whether a name is a user who may receive mail: in the
// accounts file without DISMAIL, or, with no accounts file, a valid name
// with a spool directory.
type localUsers struct {
	cfg *logicals.Config
	mu  sync.Mutex
	db  *uaf.DB
	mod time.Time
}

func (l *localUsers) ok(name string) bool {
	if !spool.ValidName(name) {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fi, err := os.Stat(l.cfg.UAF)
	if err != nil {
		d, err := spool.New(l.cfg.Spool).UserDir(name)
		if err != nil {
			return false
		}
		_, err = os.Stat(d)
		return err == nil
	}
	if l.db == nil || !fi.ModTime().Equal(l.mod) {
		db, err := uaf.Load(l.cfg.UAF)
		if err != nil {
			return false
		}
		l.db, l.mod = db, fi.ModTime()
	}
	a, ok := l.db.Lookup(name)
	return ok && a.Flags&uaf.DisMail == 0
}

// rpopOptions builds the poller options from cfg; self lists our own
// listening addresses.
func rpopOptions(cfg *logicals.Config, self func() []net.Addr) rpop.Options {
	var domains []string
	if cfg.SubstituteDomain != "" {
		domains = append(domains, cfg.SubstituteDomain)
	}
	if cfg.Hostname != "" {
		domains = append(domains, cfg.Hostname)
	}
	domains = append(domains, cfg.LocalNames...)
	lu := &localUsers{cfg: cfg}
	return rpop.Options{
		Timeout:       cfg.RPOP.Timeout,
		MaxSize:       int64(cfg.RPOP.MessageSizeLimit),
		UseAPOP:       cfg.RPOP.UseAPOP,
		SourceAddr:    cfg.RPOP.SourceAddress,
		AllowSelfPoll: cfg.RPOP.AllowSelfPoll,
		Self:          self,
		Postmaster:    cfg.Postmaster,
		Domains:       domains,
		LocalUser:     lu.ok,
	}
}

// newPoller returns the poller of cfg.
func newPoller(cfg *logicals.Config, log logrus.FieldLogger, self func() []net.Addr) *rpop.Poller {
	return &rpop.Poller{
		File:                rpopFile(cfg),
		Sink:                &rpopSink{sp: spool.New(cfg.Spool), now: time.Now},
		Options:             rpopOptions(cfg, self),
		Logger:              log,
		Processes:           max(cfg.RPOP.Processes, 1),
		DelayFailedHosts:    cfg.RPOP.DelayFailedHosts,
		DelayFailedAccounts: cfg.RPOP.DelayFailedAccounts,
		MinUserPeriod:       cfg.RPOP.MinimumPeriod,
		MaxUserAccounts:     cfg.RPOP.MaximumAccounts,
	}
}

// startRPOP runs the poller inside serve when TCPIP$POP_RPOP_PROCESSES is
// not 0; the returned function stops it and waits for running polls. m,
// when not nil, counts every poll (the metrics endpoint).
func startRPOP(ctx context.Context, cfg *logicals.Config, log logrus.FieldLogger, listeners []net.Listener, m *metrics.Metrics) func() {
	if cfg.RPOP.Processes <= 0 {
		return func() {}
	}
	self := func() []net.Addr {
		out := make([]net.Addr, len(listeners))
		for i, l := range listeners {
			out[i] = l.Addr()
		}
		return out
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := newPoller(cfg, log, self)
		if m != nil {
			p.Observe = func(_ *rpop.Record, res rpop.Result) {
				outcome := "ok"
				switch {
				case res.Busy:
					outcome = "busy"
				case res.Err != nil:
					outcome = "failed"
				}
				m.Polled(outcome, res.Messages, res.Octets, res.Duration)
			}
		}
		p.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// configuredSelf lists the addresses serve would listen on.
func configuredSelf(cfg *logicals.Config) func() []net.Addr {
	return func() []net.Addr {
		var out []net.Addr
		for _, a := range []string{cfg.Listen, cfg.TLSListen} {
			if a == "" {
				continue
			}
			if ta, err := net.ResolveTCPAddr("tcp", a); err == nil {
				out = append(out, ta)
			}
		}
		return out
	}
}

func runRPOP(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, rpopUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	var pos string
	switch sub {
	case "add", "modify", "remove", "show", "poll":
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprintf(stderr, "vmspop rpop %s: missing argument\n%s", sub, rpopUsage)
			return 2
		}
		pos, rest = rest[0], rest[1:]
	case "list":
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			pos, rest = rest[0], rest[1:]
		}
	case "run":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, rpopUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "vmspop rpop: unknown command %q\n%s", sub, rpopUsage)
		return 2
	}
	var rf recordFlags
	var flags []func(*flag.FlagSet)
	if sub == "add" || sub == "modify" {
		flags = append(flags, rf.register)
		rest = defaultUnified(rest)
	}
	cfg, warns, extra, ok := loadConfig(rest, "rpop "+sub, env, stderr, flags...)
	if !ok {
		return 2
	}
	if len(extra) > 0 {
		fmt.Fprintf(stderr, "vmspop rpop %s: unexpected arguments %q\n", sub, extra)
		return 2
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, "vmspop: warning:", w.String())
	}
	// A user name is checked before it is upper-cased, as everywhere:
	// strings.ToUpper("ſmith") is "SMITH".
	if (sub == "list" || sub == "poll") && pos != "" && !spool.ValidName(pos) {
		fmt.Fprintf(stderr, "vmspop rpop %s: invalid user name %q\n", sub, pos)
		return 2
	}
	file := rpopFile(cfg)
	var err error
	switch sub {
	case "add":
		err = rpopAdd(cfg, file, pos, &rf, stdin, stdout)
	case "modify":
		err = rpopModify(cfg, file, pos, &rf, stdin)
	case "remove":
		err = file.Update(func(recs []rpop.Record) ([]rpop.Record, error) {
			i := rpop.Find(recs, pos)
			if i < 0 {
				return nil, fmt.Errorf("no record %s", pos)
			}
			return append(recs[:i], recs[i+1:]...), nil
		})
		if err == nil {
			os.Remove(filepath.Join(file.StateDir(), pos+".log"))
			os.Remove(filepath.Join(file.StateDir(), pos+".lock"))
		}
	case "list":
		err = rpopList(file, strings.ToUpper(pos), stdout)
	case "show":
		err = rpopShow(file, pos, stdout)
	case "poll", "run":
		return rpopPollRun(cfg, file, sub, strings.ToUpper(pos), stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmspop rpop %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// recordFlags are the options of add and modify.
type recordFlags struct {
	host, account, ca, period    string
	unified, domains, addressMap string
	passwordStdin                bool
	leave, apop, userSet         optBool
	tls, stls, stlsOpt, plain    bool
}

// defaultUnified gives a --unified with no field after it (last, or
// followed by another option) the default special field, X-Real-To.
func defaultUnified(args []string) []string {
	var out []string
	for i, a := range args {
		out = append(out, a)
		if (a == "--unified" || a == "-unified") && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			out = append(out, rpop.DefaultSpecialField)
		}
	}
	return out
}

// optBool is a boolean option that knows whether it was given, so that
// modify can turn an option off (--leave=false) and leaves alone the ones
// not given.
type optBool struct{ v, set bool }

func (b *optBool) String() string {
	if b == nil {
		return "false"
	}
	return strconv.FormatBool(b.v)
}

func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.v, b.set = v, true
	return nil
}

func (b *optBool) IsBoolFlag() bool { return true }

func (f *recordFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.host, "host", "", "remote POP3 server HOST[:PORT]")
	fs.StringVar(&f.account, "account", "", "remote account name")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the remote password from the first line of standard input")
	fs.Var(&f.leave, "leave", "leave messages on the remote (remember their UIDLs); modify: --leave=false undoes it")
	fs.Var(&f.apop, "apop", "log in with APOP when the greeting offers it; modify: --apop=false undoes it")
	fs.BoolVar(&f.tls, "tls", false, "implicit TLS (port 995)")
	fs.BoolVar(&f.stls, "stls", false, "STLS, required")
	fs.BoolVar(&f.stlsOpt, "stls-if-offered", false, "STLS when the server offers it")
	fs.BoolVar(&f.plain, "plain", false, "no TLS (modify: undo --tls/--stls)")
	fs.StringVar(&f.ca, "ca", "", "PEM file of CA certificates to verify the remote with")
	fs.StringVar(&f.period, "period", "", "poll period (e.g. 10m) or disabled")
	fs.StringVar(&f.unified, "unified", "", "Unified Domain-Wide record: the special header field (alone: X-Real-To), or none for To/Cc")
	fs.StringVar(&f.domains, "domain", "", "Unified: domains whose local parts are local users, comma-separated")
	fs.StringVar(&f.addressMap, "map", "", "Unified: address map file (\"address USER\" lines)")
	fs.Var(&f.userSet, "user-set", "set up by the user: the minimum period and maximum accounts apply")
}

// apply copies the given options onto r; stdin gives the password.
func (f *recordFlags) apply(r *rpop.Record, stdin io.Reader, adding bool) error {
	if f.host != "" {
		r.Host = f.host
	}
	if f.account != "" {
		r.Account = f.account
	}
	if f.passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return errors.New("--password-stdin: no password on standard input")
		}
		r.Password = strings.TrimRight(line, "\r\n")
	} else if adding {
		return errors.New("--password-stdin is required")
	}
	if f.leave.set {
		r.Leave = f.leave.v
	}
	if f.apop.set {
		r.APOP = f.apop.v
	}
	if f.userSet.set {
		r.UserSet = f.userSet.v
	}
	n := 0
	for _, b := range []bool{f.tls, f.stls, f.stlsOpt, f.plain} {
		if b {
			n++
		}
	}
	if n > 1 {
		return errors.New("give at most one of --tls, --stls, --stls-if-offered, --plain")
	}
	switch {
	case f.tls:
		r.TLS = rpop.TLSImplicit
	case f.stls:
		r.TLS = rpop.TLSSTLS
	case f.stlsOpt:
		r.TLS = rpop.TLSIfOffered
	case f.plain:
		r.TLS = rpop.TLSNone
	}
	if f.ca != "" {
		abs, err := filepath.Abs(f.ca)
		if err != nil {
			return err
		}
		r.CA = abs
	}
	switch f.period {
	case "":
	case "disabled":
		r.Disabled = true
	default:
		d, err := time.ParseDuration(f.period)
		if err != nil || d <= 0 {
			return fmt.Errorf("--period %q: want a duration such as 10m, or disabled", f.period)
		}
		r.Period, r.Disabled = rpop.Duration(d), false
	}
	if f.unified != "" {
		r.Unified = f.unified
	}
	if f.domains != "" {
		r.Domains = strings.Split(f.domains, ",")
	}
	if f.addressMap != "" {
		abs, err := filepath.Abs(f.addressMap)
		if err != nil {
			return err
		}
		r.AddressMap = abs
	}
	return r.Check()
}

// checkUserLimits applies Minimum Poll Period and Maximum Accounts per
// User to a user-set record.
func checkUserLimits(cfg *logicals.Config, recs []rpop.Record, r *rpop.Record) error {
	if !r.UserSet {
		return nil
	}
	if p := time.Duration(r.Period); p > 0 && p < cfg.RPOP.MinimumPeriod {
		return fmt.Errorf("period %v is under the minimum for users, %v (TCPIP$POP_RPOP_MINIMUM_PERIOD)", p, cfg.RPOP.MinimumPeriod)
	}
	n := 0
	for _, o := range recs {
		if o.UserSet && o.User == r.User && o.ID != r.ID {
			n++
		}
	}
	if max := cfg.RPOP.MaximumAccounts; max > 0 && n >= max {
		return fmt.Errorf("%s already has %d user-set records, the maximum (TCPIP$POP_RPOP_MAXIMUM_ACCOUNTS)", r.User, n)
	}
	return nil
}

func rpopAdd(cfg *logicals.Config, file *rpop.File, user string, f *recordFlags, stdin io.Reader, stdout io.Writer) error {
	if !spool.ValidName(user) {
		return fmt.Errorf("invalid user name %q", user)
	}
	r := rpop.Record{ID: rpop.NewID(), User: strings.ToUpper(user)}
	if db, err := uaf.Load(cfg.UAF); err == nil {
		if _, ok := db.Lookup(r.User); !ok {
			return fmt.Errorf("no such user %s in %s", r.User, cfg.UAF)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := f.apply(&r, stdin, true); err != nil {
		return err
	}
	err := file.Update(func(recs []rpop.Record) ([]rpop.Record, error) {
		if err := checkUserLimits(cfg, recs, &r); err != nil {
			return nil, err
		}
		return append(recs, r), nil
	})
	if err == nil {
		fmt.Fprintln(stdout, r.ID)
	}
	return err
}

func rpopModify(cfg *logicals.Config, file *rpop.File, id string, f *recordFlags, stdin io.Reader) error {
	return file.Update(func(recs []rpop.Record) ([]rpop.Record, error) {
		i := rpop.Find(recs, id)
		if i < 0 {
			return nil, fmt.Errorf("no record %s", id)
		}
		r := recs[i]
		if err := f.apply(&r, stdin, false); err != nil {
			return nil, err
		}
		if err := checkUserLimits(cfg, recs, &r); err != nil {
			return nil, err
		}
		recs[i] = r
		return recs, nil
	})
}

func periodText(r *rpop.Record) string {
	if r.Disabled {
		return "disabled"
	}
	return r.EffectivePeriod(0).String()
}

func rpopFlagsText(r *rpop.Record) string {
	var f []string
	if r.Leave {
		f = append(f, "leave")
	}
	if r.APOP {
		f = append(f, "apop")
	}
	if r.TLS != "" {
		f = append(f, r.TLS)
	}
	if r.Unified != "" {
		f = append(f, "unified="+r.Unified)
	}
	if r.UserSet {
		f = append(f, "user-set")
	}
	if len(f) == 0 {
		return "-"
	}
	return strings.Join(f, ",")
}

func rpopList(file *rpop.File, user string, w io.Writer) error {
	recs, err := file.Load()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tPOLL EVERY\tACCOUNT\tHOST\tOPTIONS\tLAST")
	for i := range recs {
		r := &recs[i]
		if user != "" && r.User != user {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.User, periodText(r), r.Account, r.Host,
			rpopFlagsText(r), rpop.ReadStatus(file.StateDir(), r.ID))
	}
	return tw.Flush()
}

func rpopShow(file *rpop.File, id string, w io.Writer) error {
	recs, err := file.Load()
	if err != nil {
		return err
	}
	i := rpop.Find(recs, id)
	if i < 0 {
		return fmt.Errorf("no record %s", id)
	}
	r := &recs[i]
	fmt.Fprintf(w, "ID:        %s\nUser:      %s\nHost:      %s\nAccount:   %s\nPassword:  (set, %d characters)\n",
		r.ID, r.User, r.Host, r.Account, len(r.Password))
	fmt.Fprintf(w, "Poll every: %s\nOptions:   %s\n", periodText(r), rpopFlagsText(r))
	if r.CA != "" {
		fmt.Fprintf(w, "CA:        %s\n", r.CA)
	}
	if r.Unified != "" {
		fmt.Fprintf(w, "Domains:   %s\nMap:       %s\n", strings.Join(r.Domains, ","), r.AddressMap)
	}
	fmt.Fprintf(w, "Last:      %s\n", rpop.ReadStatus(file.StateDir(), r.ID))
	return nil
}

// rpopPollRun polls USER's records once (poll) or runs the poller (run).
func rpopPollRun(cfg *logicals.Config, file *rpop.File, sub, user string, stderr io.Writer) int {
	log, logFile, err := newLogger(cfg.LogLevel, cfg.LogFormat, cfg.Log, cfg.Trace)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer logFile.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p := newPoller(cfg, log, configuredSelf(cfg))
	if sub == "run" {
		if err := p.Run(ctx); err != nil {
			fmt.Fprintln(stderr, "vmspop rpop run:", err)
			return 1
		}
		return 0
	}
	recs, err := file.Load()
	if err != nil {
		fmt.Fprintln(stderr, "vmspop rpop poll:", err)
		return 1
	}
	opts := p.Options
	rc, n := 0, 0
	for i := range recs {
		r := &recs[i]
		if r.User != user {
			continue
		}
		n++
		if r.Disabled {
			fmt.Fprintf(stderr, "%s (%s@%s): disabled, not polled\n", r.ID, r.Account, r.Host)
			continue
		}
		res := rpop.Poll(ctx, r, file.StateDir(), p.Sink, &opts, log)
		if res.Err != nil {
			fmt.Fprintf(stderr, "vmspop rpop poll: %s (%s@%s): %v\n", r.ID, r.Account, r.Host, res.Err)
			rc = 1
		} else {
			fmt.Fprintf(stderr, "%s (%s@%s): %d messages, %d octets\n", r.ID, r.Account, r.Host, res.Messages, res.Octets)
		}
	}
	if n == 0 {
		fmt.Fprintf(stderr, "vmspop rpop poll: %s has no records\n", user)
		return 1
	}
	return rc
}
