package main

// "vmspop migrate uidl": records, for each imported message, the UIDL the
// old POP server gave it, so that clients that leave mail on the server
// fetch nothing again after the cutover (spool/uidlmap.go).

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
)

const migrateUsage = `usage: vmspop migrate uidl --from HOST:PORT [--tls] [--ca FILE] --accounts FILE [--dry-run]

Logs in to the old POP server as each user of the accounts file (lines
"USER PASSWORD"; the file must be readable by its owner only), reads the
UIDL and the header (TOP n 0) of every message, matches each one to a
message imported into the user's folders (arrival date, sender, Subject
and body size) and records the old UIDL in the spool: vmspop then answers
UIDL with it. Ambiguous and unmatched messages are reported, never
guessed. The old server is left as it was (no QUIT, so no UPDATE).

  --tls        the old server speaks POP3 over TLS (POP3S) on HOST:PORT
  --ca FILE    trust the PEM certificates in FILE for --tls
  --dry-run    match and report, but record nothing
`

// migrateTimeout bounds each network read or write with the old server.
const migrateTimeout = 2 * time.Minute

type migrateOptions struct {
	from, accounts, ca string
	tls, dryRun        bool
}

func runMigrate(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "uidl" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, migrateUsage)
			return 0
		}
		fmt.Fprint(stderr, migrateUsage)
		return 2
	}
	var o migrateOptions
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		name, val, hasVal := strings.Cut(a, "=")
		needVal := func() bool {
			if hasVal {
				return true
			}
			if i+1 >= len(rest) {
				return false
			}
			i++
			val = rest[i]
			return true
		}
		switch name {
		case "-h", "--help":
			fmt.Fprint(stdout, migrateUsage)
			return 0
		case "--tls":
			o.tls = true
		case "--dry-run":
			o.dryRun = true
		case "--from", "--accounts", "--ca":
			if !needVal() {
				fmt.Fprintf(stderr, "vmspop migrate: %s needs a value\n%s", name, migrateUsage)
				return 2
			}
			switch name {
			case "--from":
				o.from = val
			case "--accounts":
				o.accounts = val
			default:
				o.ca = val
			}
		default:
			fmt.Fprintf(stderr, "vmspop migrate: unknown argument %q\n%s", a, migrateUsage)
			return 2
		}
	}
	if o.from == "" || o.accounts == "" {
		fmt.Fprintf(stderr, "vmspop migrate: --from and --accounts are required\n%s", migrateUsage)
		return 2
	}
	if _, _, err := net.SplitHostPort(o.from); err != nil {
		fmt.Fprintf(stderr, "vmspop migrate: --from %q: %v\n", o.from, err)
		return 2
	}
	cfg, ok := loadToolConfig("migrate", env, stderr)
	if !ok {
		return 1
	}
	accounts, err := readMigrateAccounts(o.accounts)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop migrate: %v\n", err)
		return 1
	}
	rw, err := migrateRewrite(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop migrate: %v\n", err)
		return 1
	}
	var tlsCfg *tls.Config
	if o.tls {
		host, _, _ := net.SplitHostPort(o.from)
		tlsCfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if o.ca != "" {
			pem, err := os.ReadFile(o.ca)
			if err != nil {
				fmt.Fprintf(stderr, "vmspop migrate: %v\n", err)
				return 1
			}
			tlsCfg.RootCAs = x509.NewCertPool()
			if !tlsCfg.RootCAs.AppendCertsFromPEM(pem) {
				fmt.Fprintf(stderr, "vmspop migrate: %s: no PEM certificate\n", o.ca)
				return 1
			}
		}
	}
	m := &uidlMigrator{sp: spool.New(cfg.Spool), rw: rw, from: o.from, tls: tlsCfg, dryRun: o.dryRun, out: stdout}
	failed := 0
	var total migrateResult
	fmt.Fprintf(stdout, "%-12s %8s %8s %9s %9s %8s\n", "User", "Old", "Matched", "Ambiguous", "Not found", "Recorded")
	for _, a := range accounts {
		r, err := m.migrateUser(context.Background(), a.user, a.login, a.pass)
		if err != nil {
			fmt.Fprintf(stdout, "%-12s failed: %v\n", a.user, err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "%-12s %8d %8d %9d %9d %8d\n", a.user, r.old, r.matched, r.ambiguous, r.notFound, r.recorded)
		for _, p := range r.problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		total.old += r.old
		total.matched += r.matched
		total.ambiguous += r.ambiguous
		total.notFound += r.notFound
		total.recorded += r.recorded
	}
	fmt.Fprintf(stdout, "%-12s %8d %8d %9d %9d %8d\n", "Total", total.old, total.matched, total.ambiguous, total.notFound, total.recorded)
	if o.dryRun {
		fmt.Fprintln(stdout, "dry run: nothing recorded")
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "vmspop migrate: %d of %d users failed\n", failed, len(accounts))
		return 1
	}
	return 0
}

// migrateAccount is a line of the accounts file: the user (upper case,
// for the spool), the name as written (to log in to the old server) and
// the password.
type migrateAccount struct{ user, login, pass string }

// readMigrateAccounts reads "USER PASSWORD" lines (the password is the
// rest of the line; blank lines and lines starting with "#" are skipped).
// The file must not be readable, writable or executable by group or
// others: it holds every user's password.
func readMigrateAccounts(path string) ([]migrateAccount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o: the accounts file holds passwords and must be readable by its owner only (chmod 600)", path, perm)
	}
	var out []migrateAccount
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		line = strings.TrimLeft(line, " \t")
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return nil, fmt.Errorf("%s:%d: want USER PASSWORD", path, n)
		}
		user, pass := line[:i], strings.TrimLeft(line[i:], " \t")
		if !spool.ValidName(user) {
			return nil, fmt.Errorf("%s:%d: invalid user name %q", path, n, user)
		}
		if pass == "" {
			return nil, fmt.Errorf("%s:%d: no password", path, n)
		}
		if seen[strings.ToUpper(user)] {
			return nil, fmt.Errorf("%s:%d: %s listed twice", path, n, user)
		}
		seen[strings.ToUpper(user)] = true
		out = append(out, migrateAccount{user: strings.ToUpper(user), login: user, pass: pass})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no accounts", path)
	}
	return out, nil
}

// migrateRewrite returns the header rewriting settings serve would use:
// they rebuild From: for old messages that lack X-VMS-From.
func migrateRewrite(cfg *logicals.Config) (*rewrite.Settings, error) {
	host := cfg.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	rw := &rewrite.Settings{
		Hostname:         host,
		SubstituteDomain: cfg.SubstituteDomain,
		LocalNames:       cfg.LocalNames,
		DECnet:           cfg.DECnetRewrite,
		QuotedDECnet:     cfg.QuotedDECnetRewrite,
	}
	if cfg.DECnetNodes != "" {
		f, err := os.Open(cfg.DECnetNodes)
		if err != nil {
			return nil, fmt.Errorf("TCPIP$POP_DECNET_NODES: %w", err)
		}
		defer f.Close()
		if rw.Nodes, err = rewrite.ParseNodeTable(f); err != nil {
			return nil, fmt.Errorf("TCPIP$POP_DECNET_NODES %s: %w", cfg.DECnetNodes, err)
		}
	}
	return rw, nil
}

type uidlMigrator struct {
	sp     *spool.Spool
	rw     *rewrite.Settings
	from   string
	tls    *tls.Config
	dryRun bool
	out    io.Writer
}

type migrateResult struct {
	old, matched, ambiguous, notFound, recorded int
	problems                                    []string
}

// oldMessage is a message as the old server lists it.
type oldMessage struct {
	n        int
	uidl     string
	size     int64 // LIST size (CRLF)
	bodySize int64 // size less the header TOP n 0 sent
	header   textproto.MIMEHeader
	// What it is matched on.
	date      time.Time // arrival date
	exactDate bool      // date from X-VMS-From (to the hundredth), else Date: (to the second)
	sender    string    // MAIL-11 address (from X-VMS-From), else the From: address
	subject   string    // decoded, white space collapsed
}

// localMessage is an imported message in the spool.
type localMessage struct {
	uid      string
	folder   string
	from     string    // MAIL-11 address
	rebuilt  string    // the From: address rebuilt from it
	date     time.Time // arrival date
	subject  string
	bodySize int64
	twins    int // messages of the user with the same own UID (exact duplicates)
}

func (m *uidlMigrator) migrateUser(ctx context.Context, user, login, pass string) (*migrateResult, error) {
	olds, err := m.fetchOld(login, pass)
	if err != nil {
		return nil, err
	}
	locals, err := m.localMessages(ctx, user)
	if err != nil {
		return nil, err
	}
	r := &migrateResult{old: len(olds)}
	pairs := matchMessages(olds, locals, r)
	r.matched = len(pairs)
	if len(pairs) > 0 && !m.dryRun {
		if _, err := m.sp.RecordUIDLs(ctx, user, pairs); err != nil {
			return nil, err
		}
		r.recorded = len(pairs)
	}
	return r, nil
}

// matchMessages matches each old message to exactly one local message and
// returns own UID -> old UIDL for those; the rest are counted and
// described in r.
func matchMessages(olds []*oldMessage, locals []*localMessage, r *migrateResult) map[string]string {
	bySize := map[int64][]*localMessage{}
	for _, l := range locals {
		bySize[l.bodySize] = append(bySize[l.bodySize], l)
	}
	cand := make([][]*localMessage, len(olds))
	claims := map[*localMessage]int{}
	for i, o := range olds {
		for _, l := range bySize[o.bodySize] {
			if o.matches(l) {
				cand[i] = append(cand[i], l)
			}
		}
		if len(cand[i]) == 1 {
			claims[cand[i][0]]++
		}
	}
	pairs := map[string]string{}
	for i, o := range olds {
		c := cand[i]
		switch {
		case !spool.ValidUIDL(o.uidl):
			r.notFound++
			r.problems = append(r.problems, fmt.Sprintf("%s: the old UIDL is not 1-70 printable characters; not recorded", o.describe()))
		case len(c) == 0:
			r.notFound++
			r.problems = append(r.problems, fmt.Sprintf("%s: no imported message has this date, sender, Subject and body size (%d octets)", o.describe(), o.bodySize))
		case len(c) > 1:
			r.ambiguous++
			r.problems = append(r.problems, fmt.Sprintf("%s: matches %d imported messages (%s)", o.describe(), len(c), describeLocals(c)))
		case claims[c[0]] > 1:
			r.ambiguous++
			r.problems = append(r.problems, fmt.Sprintf("%s: %d old messages match the same imported message (%s)", o.describe(), claims[c[0]], describeLocals(c)))
		case c[0].twins > 1:
			r.ambiguous++
			r.problems = append(r.problems, fmt.Sprintf("%s: matches %d identical imported messages (%s)", o.describe(), c[0].twins, describeLocals(c)))
		default:
			pairs[c[0].uid] = o.uidl
		}
	}
	return pairs
}

func describeLocals(ls []*localMessage) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.folder+" "+l.uid)
	}
	return strings.Join(parts, ", ")
}

func (o *oldMessage) describe() string {
	return fmt.Sprintf("old message %d (UIDL %q, %s, %q)", o.n, o.uidl, o.header.Get("Date"), o.subject)
}

// matches reports whether local message l has o's arrival date, sender
// and Subject (body sizes are compared by the caller).
func (o *oldMessage) matches(l *localMessage) bool {
	if o.bodySize != l.bodySize || o.subject != l.subject {
		return false
	}
	if o.exactDate {
		return o.date.Equal(l.date) && strings.EqualFold(o.sender, l.from)
	}
	return o.date.Unix() == l.date.Unix() && strings.EqualFold(o.sender, l.rebuilt)
}

// wordDecoder decodes RFC 2047 words of any charset go-message knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// normText decodes a header value (RFC 2047 words when decode is set,
// else raw octets: UTF-8, or ISO-8859-1 / DEC MCS) to UTF-8 with runs of
// white space collapsed, for comparison.
func normText(v string, decode bool) string {
	if decode {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	} else if !utf8.ValidString(v) {
		r := make([]rune, 0, len(v))
		for i := 0; i < len(v); i++ {
			r = append(r, rune(v[i]))
		}
		v = string(r)
	}
	return strings.Join(strings.Fields(v), " ")
}

// localMessages describes every message of every folder of user.
func (m *uidlMigrator) localMessages(ctx context.Context, user string) ([]*localMessage, error) {
	folders, err := m.sp.Folders(ctx, user)
	if errors.Is(err, spool.ErrNoMailbox) {
		return nil, fmt.Errorf("no mail imported for %s in the spool", user)
	}
	if err != nil {
		return nil, err
	}
	var out []*localMessage
	for _, f := range folders {
		var found []*localMessage
		visit := func(i int, sm *spool.Message, text []byte, _ *spool.MessageList, _ any) ([]byte, error) {
			m11, _ := mail11.ParseIn(spool.DecodeHeader(text, sm), m.rw.Location)
			date := m11.Date
			if date.IsZero() {
				date = envelopeDate(sm.Envelope)
			}
			rebuilt, _ := m.rw.RewriteFrom(m11.From)
			found = append(found, &localMessage{
				// The UID the gateway gives the message (gateway/spooldrop.go).
				uid:      rewrite.UID(user, date, sm.Sum),
				folder:   f.Name,
				from:     normText(m11.From, false),
				rebuilt:  rebuilt,
				date:     date,
				subject:  normText(m11.Subj, false),
				bodySize: sm.BodySize,
			})
			return nil, nil
		}
		box, err := m.sp.OpenBox(ctx, user, f.Name, spool.OpenOptions{Visit: visit, NoIndex: true})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		box.Close()
		out = append(out, found...)
	}
	count := map[string]int{}
	for _, l := range out {
		count[l.uid]++
	}
	for _, l := range out {
		l.twins = count[l.uid]
	}
	return out, nil
}

// envelopeDate reads the date of a From_ line ("sender Wed Nov 25 10:00:00 2026").
func envelopeDate(env string) time.Time {
	if f := strings.Fields(env); len(f) >= 6 {
		if t, err := time.Parse(time.ANSIC, strings.Join(f[len(f)-5:], " ")); err == nil {
			return t
		}
	}
	return time.Time{}
}

// fetchOld logs in to the old server as login and reads the UIDL, size and
// header of every message. It ends the connection without QUIT, so that
// the old server enters no UPDATE state and changes nothing.
func (m *uidlMigrator) fetchOld(login, pass string) ([]*oldMessage, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	var conn net.Conn
	var err error
	if m.tls != nil {
		conn, err = tls.DialWithDialer(&d, "tcp", m.from, m.tls)
	} else {
		conn, err = d.Dial("tcp", m.from)
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	c := &oldPOP{conn: conn, tp: textproto.NewConn(conn)}
	if _, err := c.status(""); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if _, err := c.status("USER %s", login); err != nil {
		return nil, fmt.Errorf("USER: %w", err)
	}
	if _, err := c.status("PASS %s", pass); err != nil {
		return nil, fmt.Errorf("PASS: %w", err) // the server's text; the password is not in it
	}
	uidls, err := c.listing("UIDL")
	if err != nil {
		return nil, fmt.Errorf("UIDL: %w", err)
	}
	sizes, err := c.listing("LIST")
	if err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	var out []*oldMessage
	for _, n := range slices.Sorted(maps.Keys(uidls)) {
		size, err := strconv.ParseInt(sizes[n], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("LIST: message %d has size %q", n, sizes[n])
		}
		o := &oldMessage{n: n, uidl: uidls[n], size: size}
		if err := c.top(o); err != nil {
			return nil, fmt.Errorf("TOP %d 0: %w", n, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// oldPOP is a minimal POP3 client for the old server.
type oldPOP struct {
	conn net.Conn
	tp   *textproto.Conn
}

// status sends a command (none when format is "") and reads a +OK line.
func (c *oldPOP) status(format string, args ...any) (string, error) {
	c.conn.SetDeadline(time.Now().Add(migrateTimeout))
	if format != "" {
		if err := c.tp.PrintfLine(format, args...); err != nil {
			return "", err
		}
	}
	line, err := c.tp.ReadLine()
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(line, "+OK"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("server said %q", line)
}

// listing runs UIDL or LIST and returns message number -> value.
func (c *oldPOP) listing(cmd string) (map[int]string, error) {
	if _, err := c.status("%s", cmd); err != nil {
		return nil, err
	}
	lines, err := c.tp.ReadDotLines()
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		n, err := strconv.Atoi(firstOr(f, ""))
		if len(f) != 2 || err != nil || n < 1 {
			return nil, fmt.Errorf("bad line %q", l)
		}
		out[n] = f[1]
	}
	return out, nil
}

func firstOr(f []string, def string) string {
	if len(f) == 0 {
		return def
	}
	return f[0]
}

// top reads message o.n's header and works out what it is matched on.
func (c *oldPOP) top(o *oldMessage) error {
	if _, err := c.status("TOP %d 0", o.n); err != nil {
		return err
	}
	lines, err := c.tp.ReadDotLines()
	if err != nil {
		return err
	}
	var head int64
	for _, l := range lines {
		head += int64(len(l)) + 2
	}
	if len(lines) == 0 || lines[len(lines)-1] != "" {
		head += 2 // the empty line after the header
	}
	o.bodySize = o.size - head
	text := strings.Join(lines, "\r\n") + "\r\n\r\n"
	hdr, err := textproto.NewReader(bufio.NewReader(strings.NewReader(text))).ReadMIMEHeader()
	if err != nil && len(hdr) == 0 {
		return fmt.Errorf("header: %w", err)
	}
	o.header = hdr
	o.subject = normText(hdr.Get("Subject"), true)
	if v := hdr.Get("X-VMS-From"); v != "" {
		m11, _ := mail11.ParseIn([]byte("From:\t"+wordDecode(v)+"\n"), nil)
		if !m11.Date.IsZero() && m11.From != "" {
			o.date, o.exactDate, o.sender = m11.Date, true, normText(m11.From, false)
			return nil
		}
	}
	if t, err := mail.ParseDate(hdr.Get("Date")); err == nil {
		o.date = t
	}
	if a, err := mail.ParseAddress(hdr.Get("From")); err == nil {
		o.sender = a.Address
	} else {
		o.sender = strings.TrimSpace(hdr.Get("From"))
	}
	return nil
}

func wordDecode(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}
