package rpop

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/sirupsen/logrus"
)

// KeyField is the header field that every stored message carries first:
// its delivery key, which a Sink's Delivered looks for after a crash.
const KeyField = "X-RPOP-ID"

// Delivery is one fetched message to store.
type Delivery struct {
	Users     []string // local users, upper case; each gets one copy
	Sender    string   // envelope sender when SenderSet
	SenderSet bool     // false: the Sink takes it from Return-Path/From
	Key       string   // the delivery key (also in the KeyField line)
	// Msg holds the RFC 5322 message (LF line ends), starting with the
	// "X-RPOP-ID: Key" line; Size octets.
	Msg  io.ReaderAt
	Size int64
}

// Sink stores messages. Deliver must append the messages crash-safely to
// each of their users' NEWMAIL (all or nothing per user) and return only
// once they are on disk; the Deliveries' readers are valid only during the
// call.
// Delivered reports which of keys are already stored for user (in any
// folder), after finishing any update a crash interrupted.
type Sink interface {
	Deliver(ctx context.Context, ds []*Delivery) error
	Delivered(ctx context.Context, user string, keys []string) (map[string]bool, error)
}

// Options are the module-wide settings (the TCPIP$POP_RPOP_* logicals).
type Options struct {
	Timeout       time.Duration // per command and per read; 0 = 2 minutes
	MaxSize       int64         // message size cap in octets; 0 = 100 MiB
	UseAPOP       bool          // module-wide Use APOP
	SourceAddr    string        // local IP address to dial from; "" = the OS picks
	AllowSelfPoll bool          // poll remotes that are our own listeners
	// Self returns our own listening addresses (for the Allow Self-Poll
	// guard); nil means none.
	Self       func() []net.Addr
	Postmaster []string // Unified: users for messages no one matched; "" = the record's user
	Domains    []string // Unified: domains (besides each record's) whose local parts are users
	// LocalUser reports whether an upper-case name is a local user that may
	// receive mail (Unified distribution).
	LocalUser func(name string) bool
	TempDir   string // for fetched messages; "" = os.TempDir()
}

// Result is the outcome of one poll of a record.
type Result struct {
	Messages   int
	Octets     int64
	Duration   time.Duration
	Err        error
	HostFailed bool // the host could not be reached: Delay Failed Hosts applies
	Busy       bool // another process was polling the record; nothing done
}

// Poll polls rec once: fetches its new messages, stores them through sink,
// deletes them remotely (or records their UIDLs with Leave), and records
// the outcome as the record's Last status. stateDir holds the state logs.
func Poll(ctx context.Context, rec *Record, stateDir string, sink Sink, opts *Options, log logrus.FieldLogger) Result {
	start := time.Now()
	opts = opts.withDefaults()
	st, unlock, err := openState(stateDir, rec.ID)
	if err != nil {
		return Result{Err: err, Busy: errors.Is(err, errBusy)}
	}
	defer unlock()
	res := poll(ctx, rec, st, sink, opts)
	res.Duration = time.Since(start)
	s := Status{When: time.Now(), OK: res.Err == nil, Messages: res.Messages, Octets: res.Octets}
	if res.Err != nil {
		s.Err = res.Err.Error()
	}
	if err := st.log(s.line()); err != nil && res.Err == nil {
		res.Err = err
	}
	fields := logrus.Fields{"rpop": rec.ID, "user": rec.User, "host": rec.Host, "account": rec.Account,
		"messages": res.Messages, "octets": res.Octets, "duration": res.Duration.Round(time.Millisecond).String()}
	if res.Err != nil {
		fields["outcome"] = "failed"
		log.WithFields(fields).WithError(res.Err).Warn("rpop poll")
	} else {
		fields["outcome"] = "ok"
		log.WithFields(fields).Info("rpop poll")
	}
	return res
}

func tlsConfig(rec *Record) (*tls.Config, error) {
	host := rec.HostPort()
	h, _, _ := net.SplitHostPort(host)
	cfg := &tls.Config{ServerName: h, MinVersion: tls.VersionTLS12}
	if rec.CA != "" {
		pem, err := os.ReadFile(rec.CA)
		if err != nil {
			return nil, fmt.Errorf("rpop: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("rpop: CA file %s has no PEM certificate", rec.CA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// checkSelf refuses an address that is one of our own listeners.
func checkSelf(addrs []net.IP, port string, opts *Options) error {
	if opts.AllowSelfPoll || opts.Self == nil {
		return nil
	}
	var local []net.IP
	for _, s := range opts.Self() {
		ta, ok := s.(*net.TCPAddr)
		if !ok || fmt.Sprint(ta.Port) != port {
			continue
		}
		if ta.IP == nil || ta.IP.IsUnspecified() {
			if local == nil {
				ifs, _ := net.InterfaceAddrs()
				for _, a := range ifs {
					if ipn, ok := a.(*net.IPNet); ok {
						local = append(local, ipn.IP)
					}
				}
			}
			for _, ip := range addrs {
				if slices.ContainsFunc(local, ip.Equal) {
					return fmt.Errorf("rpop: %s:%s is this server (Allow Self-Poll is off)", ip, port)
				}
			}
			continue
		}
		for _, ip := range addrs {
			if ip.Equal(ta.IP) {
				return fmt.Errorf("rpop: %s:%s is this server (Allow Self-Poll is off)", ip, port)
			}
		}
	}
	return nil
}

// hostError marks a failure to reach the host.
type hostError struct{ err error }

func (e *hostError) Error() string { return e.err.Error() }
func (e *hostError) Unwrap() error { return e.err }

func dial(ctx context.Context, rec *Record, opts *Options) (net.Conn, error) {
	host, port, _ := net.SplitHostPort(rec.HostPort())
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, &hostError{err}
	}
	if err := checkSelf(ips, port, opts); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: opts.Timeout}
	if opts.SourceAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(opts.SourceAddr)}
	}
	var lastErr error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, &hostError{lastErr}
}

func poll(ctx context.Context, rec *Record, st *state, sink Sink, opts *Options) (res Result) {
	conn, err := dial(ctx, rec, opts)
	if err != nil {
		var he *hostError
		return Result{Err: err, HostFailed: errors.As(err, &he)}
	}
	defer conn.Close()
	// Cancelling ctx unblocks any read or write.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var tcfg *tls.Config
	if rec.TLS != TLSNone {
		if tcfg, err = tlsConfig(rec); err != nil {
			return Result{Err: err}
		}
	}
	if rec.TLS == TLSImplicit {
		tc := tls.Client(conn, tcfg)
		hctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return Result{Err: fmt.Errorf("rpop: TLS handshake: %w", err)}
		}
		conn = tc
	}
	c := newClient(ctx, conn, opts.Timeout)
	if err := c.greet(); err != nil {
		return Result{Err: err}
	}
	if rec.TLS == TLSSTLS || rec.TLS == TLSIfOffered {
		caps, err := c.capa()
		if err != nil {
			return Result{Err: err}
		}
		switch {
		case caps["STLS"]:
			if err := c.startTLS(ctx, tcfg); err != nil {
				return Result{Err: err}
			}
		case rec.TLS == TLSSTLS:
			return Result{Err: errors.New("rpop: the server does not offer STLS")}
		}
	}
	apop := rec.APOP && opts.UseAPOP
	if apop && c.apopTimestamp() == "" {
		// Falling back to USER/PASS would send the password in clear to a
		// server that may be an impostor stripping the timestamp.
		return Result{Err: errors.New("rpop: APOP asked for but the greeting has no timestamp")}
	}
	if err := c.login(rec.Account, rec.Password, apop); err != nil {
		return Result{Err: err}
	}
	msgs, hasUIDL, err := c.list()
	if err != nil {
		return Result{Err: err}
	}
	if rec.Leave && !hasUIDL {
		return Result{Err: errors.New("rpop: Leave needs UIDL, which the server lacks")}
	}

	// Recovery: which pending intents are already stored, per user.
	stored := map[string]map[string]bool{}
	if len(st.Pending) > 0 {
		byUser := map[string][]string{}
		for k, in := range st.Pending {
			for _, u := range in.Users {
				byUser[u] = append(byUser[u], k)
			}
		}
		for u, keys := range byUser {
			m, err := sink.Delivered(ctx, u, keys)
			if err != nil {
				return Result{Err: fmt.Errorf("rpop: checking %s's folders: %w", u, err)}
			}
			stored[u] = m
		}
	}
	if rec.Leave {
		present := map[string]bool{}
		for _, m := range msgs {
			present[m.UIDL] = true
		}
		var gone []string
		for u := range st.Seen {
			if !present[u] {
				gone = append(gone, "forget "+u)
			}
		}
		if err := st.logs(gone); err != nil {
			return Result{Err: err}
		}
	}

	f := &fetcher{rec: rec, opts: opts}
	if err := f.open(); err != nil {
		return Result{Err: err}
	}
	defer f.close()
	var skipped []string
	var batch []*Delivery
	var batchMsgs []msgInfo
	// flush stores a batch: intents logged (one fsync), messages appended
	// (one append per user), then DELE or "seen" (one fsync).
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var lines []string
		var todo []*Delivery
		for i, d := range batch {
			if in, ok := st.Pending[d.Key]; ok {
				var users []string
				for _, u := range d.Users {
					if !(slices.Contains(in.Users, u) && stored[u][d.Key]) {
						users = append(users, u)
					}
				}
				d.Users = users
			} else {
				lines = append(lines, fmt.Sprintf("pending %s %s %s", d.Key, uidlField(batchMsgs[i].UIDL), strings.Join(d.Users, ",")))
			}
			if len(d.Users) > 0 {
				todo = append(todo, d)
			}
		}
		if err := st.logs(lines); err != nil {
			return err
		}
		if len(todo) > 0 {
			if err := sink.Deliver(ctx, todo); err != nil {
				return fmt.Errorf("rpop: storing: %w", err)
			}
		}
		for _, d := range todo {
			res.Messages++
			res.Octets += d.Size
		}
		if rec.Leave {
			lines = lines[:0]
			for i, d := range batch {
				lines = append(lines, "seen "+batchMsgs[i].UIDL+" "+d.Key)
			}
			if err := st.logs(lines); err != nil {
				return err
			}
		} else {
			for _, m := range batchMsgs {
				cmd := fmt.Sprintf("DELE %d", m.N)
				if _, err := c.cmd(cmd, cmd); err != nil {
					return err
				}
			}
		}
		batch, batchMsgs = batch[:0], batchMsgs[:0]
		return f.reset()
	}
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return Result{Messages: res.Messages, Octets: res.Octets, Err: err}
		}
		if rec.Leave && st.Seen[m.UIDL] {
			continue
		}
		d, err := f.fetch(c, m)
		if errors.Is(err, ErrTooLarge) {
			skipped = append(skipped, fmt.Sprintf("message %d (%s)", m.N, m.UIDL))
			continue
		}
		if err != nil {
			return Result{Messages: res.Messages, Octets: res.Octets, Err: err}
		}
		batch, batchMsgs = append(batch, d), append(batchMsgs, m)
		if len(batch) >= batchMax || f.end >= batchBytes {
			if err := flush(); err != nil {
				return Result{Messages: res.Messages, Octets: res.Octets, Err: err}
			}
		}
	}
	if err := flush(); err != nil {
		return Result{Messages: res.Messages, Octets: res.Octets, Err: err}
	}
	if err := c.quit(); err != nil {
		return Result{Messages: res.Messages, Octets: res.Octets, Err: err}
	}
	// QUIT +OK: the deletions are committed (RFC 1939 §6), so every
	// intent is settled.
	if len(st.Pending) > 0 {
		if err := st.log("clear"); err != nil {
			return Result{Messages: res.Messages, Octets: res.Octets, Err: err}
		}
	}
	if len(skipped) > 0 {
		res.Err = fmt.Errorf("rpop: left on the server, over %d octets: %s", opts.MaxSize, strings.Join(skipped, ", "))
	}
	return res
}

func uidlField(u string) string {
	if u == "" {
		return "-"
	}
	return u
}

// logs appends lines with one fsync.
func (st *state) logs(lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	if _, err := st.f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		return err
	}
	if err := st.f.Sync(); err != nil {
		return err
	}
	for _, l := range lines {
		st.apply(l)
	}
	return nil
}

// Batches: at most batchMax messages or batchBytes octets are fetched
// before they are stored, so that the fsyncs of the state log and of the
// folder append are shared.
const (
	batchMax   = 64
	batchBytes = 8 << 20
)

// fetcher fetches a batch of messages into one reused unlinked temporary
// file.
type fetcher struct {
	rec  *Record
	opts *Options
	f    *os.File
	bw   *bufio.Writer
	end  int64 // octets of the file in use
	amap map[string]string
}

func (f *fetcher) open() error {
	tmp, err := os.CreateTemp(f.opts.TempDir, "vmspop-rpop-*")
	if err != nil {
		return err
	}
	os.Remove(tmp.Name())
	f.f = tmp
	f.bw = bufio.NewWriterSize(tmp, 64<<10)
	if f.rec.Unified != "" && f.rec.AddressMap != "" {
		if f.amap, err = readAddressMap(f.rec.AddressMap); err != nil {
			return err
		}
	}
	return nil
}

func (f *fetcher) close() { f.f.Close() }

// reset empties the file for the next batch.
func (f *fetcher) reset() error {
	f.end = 0
	if err := f.f.Truncate(0); err != nil {
		return err
	}
	_, err := f.f.Seek(0, io.SeekStart)
	return err
}

// fetch retrieves message m to the end of the file and prepares its
// delivery. A message over the size limit leaves nothing behind.
func (f *fetcher) fetch(c *client, m msgInfo) (*Delivery, error) {
	start := f.end
	if _, err := f.f.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	f.bw.Reset(f.f)
	h := sha256.New()
	h.Write([]byte(f.rec.ID + "\x00" + m.UIDL + "\x00"))
	n, err := c.retr(m.N, io.MultiWriter(f.bw, h), f.opts.MaxSize)
	if err != nil {
		return nil, err
	}
	if err := f.bw.Flush(); err != nil {
		return nil, err
	}
	f.end += n
	key := keyOf(h)
	d := &Delivery{Key: key, Users: []string{f.rec.User}}
	prefix := []byte(KeyField + ": " + key + "\n")
	body := io.NewSectionReader(f.f, start, n)
	bodyOff := int64(0)
	if f.rec.Unified != "" {
		hdr, off, err := readHeader(body, n)
		if err != nil {
			// Not a message we can route: the postmaster gets it as is.
			d.Users = f.postmasters()
		} else {
			d.Sender, d.SenderSet, d.Users = f.distribute(&hdr)
			var b strings.Builder
			if err := textproto.WriteHeader(&b, hdr); err != nil {
				return nil, err
			}
			prefix = append(prefix, strings.ReplaceAll(b.String(), "\r\n", "\n")...)
			bodyOff = off
		}
	}
	d.Msg = &prefixedReaderAt{p: prefix, r: body, off: bodyOff}
	d.Size = int64(len(prefix)) + n - bodyOff
	return d, nil
}

func keyOf(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)[:16]) }

// readHeader parses the header of the message in r (size octets) and
// returns it with the offset of the body.
func readHeader(r io.ReaderAt, size int64) (textproto.Header, int64, error) {
	cr := &countReader{r: io.NewSectionReader(r, 0, min(size, 1<<20))}
	br := bufio.NewReader(cr)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return textproto.Header{}, 0, err
	}
	return h, cr.n - int64(br.Buffered()), nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// prefixedReaderAt reads p followed by r from off on.
type prefixedReaderAt struct {
	p   []byte
	r   io.ReaderAt
	off int64
}

func (x *prefixedReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(x.p)) {
		n = copy(b, x.p[off:])
		if n == len(b) {
			return n, nil
		}
		off = int64(len(x.p))
	}
	m, err := x.r.ReadAt(b[n:], off-int64(len(x.p))+x.off)
	return n + m, err
}
