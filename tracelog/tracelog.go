// Package tracelog reads the gateway's logrus logs (text or JSON, plain or
// gzip-compressed, one file or a rotated set) and prints the POP3
// transcript of each session, or a one-row summary per session: what
// `vmspop trace` prints (Run; cmd/vmspop parses its command line).
//
// It relies on the gateway's logging contract, whose field names and
// messages are the gateway's exported constants (gateway.FieldSession
// ...): every entry of a connection carries the session id (12 lower-hex
// digits) and the remote address, and the user once known; transcript
// lines have the message `C: <line>` or `S: <line>`; the last entry is
// gateway.MsgSessionEnd with the counters and the end reason.
package tracelog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
)

// maxLogLine is the longest log line read; longer lines are skipped.
const maxLogLine = 1 << 20

// isFailedEnd reports whether a `session end` reason makes a session match
// Filter.Failed.
func isFailedEnd(end string) bool {
	switch end {
	case gateway.EndTwoFailures, gateway.EndError, gateway.EndBlocked, gateway.EndTooManyErrors:
		return true
	}
	return false
}

// Filter selects sessions: a session must pass every field that is set.
type Filter struct {
	Session string       // a prefix of the session id, in any case
	User    string       // a user name of the session, in any case
	Client  ClientFilter // the client's address; zero: any
	Since   time.Time    // active at or after; zero: no bound
	Until   time.Time    // active at or before; zero: no bound
	Failed  bool         // a failed login, an error, or a failure end
}

// Run reads the log files ("-" is stdin; stdin alone when there are none),
// puts a rotated set back in time order, and writes to w the POP3
// transcript of each session that passes f, or with summary one row per
// session. It returns how many sessions matched and how many lines were
// skipped (not logrus text or JSON, or too long). An error reading a file
// comes before anything is written.
func Run(f Filter, summary bool, files []string, stdin io.Reader, w io.Writer) (matched, skipped int, err error) {
	f.Session = strings.ToLower(strings.TrimSpace(f.Session)) // ids are lower-case hex
	var read []fileEntries
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		fe, err := readLogFile(name, stdin)
		if err != nil {
			return 0, 0, err
		}
		skipped += fe.skipped
		read = append(read, fe)
	}
	var sessions []*traceSession
	for _, s := range groupSessions(orderFiles(read)) {
		if f.match(s) {
			sessions = append(sessions, s)
		}
	}
	bw := bufio.NewWriter(w)
	if summary {
		writeSummary(bw, sessions)
	} else {
		writeTranscripts(bw, sessions)
	}
	if err := bw.Flush(); err != nil {
		return 0, skipped, fmt.Errorf("write: %w", err)
	}
	return len(sessions), skipped, nil
}

// ParseTime parses a time given to select sessions: RFC 3339,
// "2006-01-02 15:04:05" (and shorter), or OpenVMS "25-NOV-2026 10:15:32.45"
// (month names in any case); times without a zone are in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	// The accepted forms, tried in order.
	layouts := []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04",
		"2006-01-02",
		"2-Jan-2006 15:04:05", // OpenVMS; fractional seconds (.45) are accepted when parsing
		"2-Jan-2006 15:04",
		"2-Jan-2006",
	}
	v := strings.TrimSpace(s)
	for _, layout := range layouts {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q (want RFC 3339, 2006-01-02 15:04:05 or 25-NOV-2026 10:15:32.45)", s)
}

// ClientFilter matches the remote address of a session (ParseClient).
type ClientFilter struct {
	prefix netip.Prefix // valid: match the client IP against it
	text   string       // otherwise: a prefix of the ip:port text
}

// ParseClient reads a client filter: an IP address ("127.0.0.1", "::1",
// "[::1]"), a CIDR prefix ("10.0.0.0/8"), or else a prefix of "ip:port".
func ParseClient(s string) (ClientFilter, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return ClientFilter{}, errors.New("empty client filter")
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")); err == nil {
		a = a.Unmap()
		return ClientFilter{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		return ClientFilter{prefix: p.Masked()}, nil
	}
	return ClientFilter{text: v}, nil
}

// set reports whether the filter was given.
func (c ClientFilter) set() bool { return c.prefix.IsValid() || c.text != "" }

// match reports whether a session's remote address passes the filter.
func (c ClientFilter) match(remote string) bool {
	if !c.prefix.IsValid() {
		return strings.HasPrefix(remote, c.text)
	}
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return c.prefix.Contains(a.Unmap().WithZone(""))
}

// match reports whether session s passes every filter.
func (f *Filter) match(s *traceSession) bool {
	if f.Session != "" && !strings.HasPrefix(s.id, f.Session) {
		return false
	}
	if f.User != "" && !slices.ContainsFunc(s.users, func(u string) bool { return strings.EqualFold(u, f.User) }) {
		return false
	}
	if f.Client.set() && !f.Client.match(s.remote) {
		return false
	}
	if !f.Since.IsZero() && (!s.hasTime || s.last.Before(f.Since)) {
		return false
	}
	if !f.Until.IsZero() && (!s.hasTime || s.first.After(f.Until)) {
		return false
	}
	if f.Failed && !s.failed() {
		return false
	}
	return true
}

// logEntry is one parsed log line.
type logEntry struct {
	time   time.Time // zero when the line had no (valid) time
	level  logrus.Level
	msg    string
	fields map[string]string // every other key, values as text
}

// fileEntries holds what one file contributed.
type fileEntries struct {
	name    string
	entries []logEntry
	skipped int
}

// readLogFile reads and parses one file ("-" is stdin). A gzip stream is
// recognised by its magic bytes 1f 8b, whatever the name.
func readLogFile(name string, stdin io.Reader) (fileEntries, error) {
	fe := fileEntries{name: name}
	var r io.Reader
	if name == "-" {
		fe.name = "standard input"
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fe, err
		}
		defer f.Close()
		r = f
	}
	if err := readLogStream(r, &fe); err != nil {
		return fe, fmt.Errorf("%s: %w", fe.name, err)
	}
	return fe, nil
}

// readLogStream appends the entries of r to fe, decompressing gzip.
func readLogStream(r io.Reader, fe *fileEntries) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxLogLine {
			tooLong = true
		} else if len(chunk) > 0 {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 || tooLong {
			if tooLong {
				fe.skipped++
			} else if e, ok := parseLogLine(line); ok {
				fe.entries = append(fe.entries, e)
			} else if len(bytes.TrimSpace(line)) > 0 {
				fe.skipped++
			}
		}
		line, tooLong = line[:0], false
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// orderFiles puts the files in the order of their first timestamp (files
// without any go last, in the order given), so a rotated set
// named in glob order (server.log server.log.1 server.log.2.gz) is read
// oldest first. It returns every entry in that order.
func orderFiles(files []fileEntries) []logEntry {
	firstTime := func(fe fileEntries) (time.Time, bool) {
		for _, e := range fe.entries {
			if !e.time.IsZero() {
				return e.time, true
			}
		}
		return time.Time{}, false
	}
	slices.SortStableFunc(files, func(a, b fileEntries) int {
		ta, oka := firstTime(a)
		tb, okb := firstTime(b)
		switch {
		case oka && okb:
			return ta.Compare(tb)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	var all []logEntry
	for _, fe := range files {
		all = append(all, fe.entries...)
	}
	return all
}

// parseLogLine parses a logrus JSON or text line. ok is false for anything
// else: a line counts as logrus output only when it has a valid `level`.
func parseLogLine(line []byte) (logEntry, bool) {
	line = bytes.TrimRight(line, "\r\n")
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 {
		return logEntry{}, false
	}
	var kvs []keyValue
	if trimmed[0] == '{' {
		var err error
		if kvs, err = parseJSONLine(trimmed); err != nil {
			return logEntry{}, false
		}
	} else {
		var err error
		if kvs, err = parseLogfmt(string(trimmed)); err != nil {
			return logEntry{}, false
		}
	}
	e := logEntry{fields: make(map[string]string, len(kvs))}
	haveLevel := false
	for _, kv := range kvs {
		switch kv.key {
		case "level":
			l, err := logrus.ParseLevel(kv.value)
			if err != nil {
				return logEntry{}, false
			}
			e.level, haveLevel = l, true
		case "msg":
			e.msg = kv.value
		case "time":
			e.time = parseLogTime(kv.value)
		default:
			e.fields[kv.key] = kv.value
		}
	}
	if !haveLevel {
		return logEntry{}, false
	}
	return e, true
}

// parseLogTime reads the `time` of an entry; zero when unreadable.
func parseLogTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// keyValue is one field of a log line.
type keyValue struct {
	key, value string
}

// parseJSONLine reads a logrus JSON line; values that are not strings are
// kept as their JSON text (numbers exactly as written).
func parseJSONLine(line []byte) ([]keyValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, err
	}
	kvs := make([]keyValue, 0, len(m))
	for k, raw := range m {
		v := string(raw)
		var s string
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			v = s
		}
		kvs = append(kvs, keyValue{k, v})
	}
	// Map order is random; the order of fields does not matter to callers,
	// but keep it deterministic.
	slices.SortFunc(kvs, func(a, b keyValue) int { return strings.Compare(a.key, b.key) })
	return kvs, nil
}

// parseLogfmt splits a logrus TextFormatter line into its key=value pairs,
// in order. A key runs up to the first '='; a value is either a Go
// double-quoted string (strconv.Quote, which is what logrus writes for any
// value with a byte outside [A-Za-z0-9-._/@^+]) or runs up to the next space.
// Pairs are separated by one or more spaces. Anything else is an error.
func parseLogfmt(line string) ([]keyValue, error) {
	var kvs []keyValue
	i := 0
	for {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		// key
		start := i
		for i < len(line) && line[i] != '=' && line[i] != ' ' && line[i] != '"' {
			i++
		}
		if i == start || i == len(line) || line[i] != '=' {
			return nil, fmt.Errorf("logfmt: expected key= at offset %d", start)
		}
		key := line[start:i]
		i++ // '='
		// value
		var value string
		if i < len(line) && line[i] == '"' {
			q, err := strconv.QuotedPrefix(line[i:])
			if err != nil {
				return nil, fmt.Errorf("logfmt: bad quoted value of %s at offset %d", key, i)
			}
			if value, err = strconv.Unquote(q); err != nil {
				return nil, fmt.Errorf("logfmt: bad quoted value of %s at offset %d", key, i)
			}
			i += len(q)
			if i < len(line) && line[i] != ' ' {
				return nil, fmt.Errorf("logfmt: junk after quoted value of %s at offset %d", key, i)
			}
		} else {
			vs := i
			for i < len(line) && line[i] != ' ' {
				i++
			}
			value = line[vs:i]
		}
		kvs = append(kvs, keyValue{key, value})
	}
	if len(kvs) == 0 {
		return nil, errors.New("logfmt: empty line")
	}
	return kvs, nil
}

// traceSession is what the log says about one POP3 session.
type traceSession struct {
	id         string
	remote     string
	user       string   // last user name seen
	users      []string // every user name seen, first-seen order
	first      time.Time
	last       time.Time
	hasTime    bool
	transcript []string
	loginFail  bool
	hadError   bool
	ended      bool              // a `session end` entry was seen
	end        map[string]string // fields of the `session end` entry
}

// failed reports whether the session matches --failed: a `login failed`
// entry, an Error-level (or worse) entry, or a failure end reason.
func (s *traceSession) failed() bool {
	return s.loginFail || s.hadError || (s.ended && isFailedEnd(s.end[gateway.FieldEnd]))
}

// groupSessions collects the entries that carry a session id into sessions,
// in the order each session first appears. Entries without one (server
// start and shutdown) are ignored.
func groupSessions(entries []logEntry) []*traceSession {
	byID := map[string]*traceSession{}
	var order []*traceSession
	for _, e := range entries {
		id := e.fields[gateway.FieldSession]
		if id == "" {
			continue
		}
		s := byID[id]
		if s == nil {
			s = &traceSession{id: id}
			byID[id] = s
			order = append(order, s)
		}
		if r := e.fields[gateway.FieldRemote]; r != "" {
			s.remote = r
		}
		if u := e.fields[gateway.FieldUser]; u != "" {
			s.user = u
			if !slices.Contains(s.users, u) {
				s.users = append(s.users, u)
			}
		}
		if !e.time.IsZero() {
			if !s.hasTime || e.time.Before(s.first) {
				s.first = e.time
			}
			if !s.hasTime || e.time.After(s.last) {
				s.last = e.time
			}
			s.hasTime = true
		}
		if e.level <= logrus.ErrorLevel {
			s.hadError = true
		}
		switch {
		case isTranscript(e.msg):
			s.transcript = append(s.transcript, e.msg)
		case e.msg == gateway.MsgLoginFailed:
			s.loginFail = true
		case e.msg == gateway.MsgSessionEnd:
			s.ended = true
			s.end = e.fields
		}
	}
	return order
}

// isTranscript reports whether msg is a transcript line: "C: <line>" or
// "S: <line>" (an empty client line may be logged as a bare "C:").
func isTranscript(msg string) bool {
	return strings.HasPrefix(msg, "C: ") || strings.HasPrefix(msg, "S: ") || msg == "C:" || msg == "S:"
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtTime formats t in UTC to the second, "-" when unknown.
func fmtTime(t time.Time, ok bool) string {
	if !ok {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// writeTranscripts prints a header line and the C:/S: lines of each
// session, with a blank line between sessions.
func writeTranscripts(w io.Writer, sessions []*traceSession) {
	for i, s := range sessions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "# session %s client %s user %s %s .. %s end %s\n",
			s.id, orDash(s.remote), orDash(s.user),
			fmtTime(s.first, s.hasTime), fmtTime(s.last, s.hasTime), orDash(s.end[gateway.FieldEnd]))
		for _, l := range s.transcript {
			fmt.Fprintln(w, l)
		}
	}
}

// writeSummary prints a heading and one aligned row per session; nothing
// when there is no session.
func writeSummary(w io.Writer, sessions []*traceSession) {
	if len(sessions) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tSESSION\tCLIENT\tUSER\tDURATION\tL/R/D/M\tOCTETS\tEND")
	for _, s := range sessions {
		dur := "-"
		if ms, err := strconv.ParseInt(s.end[gateway.FieldDurationMS], 10, 64); err == nil {
			dur = (time.Duration(ms) * time.Millisecond).String()
		}
		counts := "-"
		if s.ended {
			counts = fmt.Sprintf("%s/%s/%s/%s", orDash(s.end[gateway.FieldListed]), orDash(s.end[gateway.FieldRetrieved]),
				orDash(s.end[gateway.FieldDeleted]), orDash(s.end[gateway.FieldMoved]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			fmtTime(s.first, s.hasTime), s.id, orDash(s.remote), orDash(s.user),
			dur, counts, orDash(s.end[gateway.FieldOctets]), orDash(s.end[gateway.FieldEnd]))
	}
	_ = tw.Flush()
}
