// Command tlsload is popload (../shared/bench/popload, the client of
// compare.sh) with one more way in: -stls starts TLS with STLS (RFC 2595)
// on a plain port, where -tls uses implicit TLS (RFC 8314). Everything
// else is popload's, so that scripts/stls-compare.sh measures STLS and
// implicit TLS with compare.sh's method. Standard library only.
//
// It works against any RFC 1939 POP3 server that supports USER/PASS.
//
// Modes:
//
//	drain  each client: connect, USER/PASS, STAT, UIDL, LIST, RETR every
//	       message (read to the terminating dot line, dot-unstuffed), QUIT
//	       without DELE. Verifies each RETR byte count against LIST size.
//	login  each client, -n times: connect, USER/PASS, STAT, QUIT.
//	idle   open -clients connections, log in, hold them -hold seconds, QUIT.
//	raw    not POP3: connect and read until EOF (for a raw TCP streaming
//	       server such as ../rawserve), -n times per client.
//
// The last line of output is a machine-readable summary:
//
//	RESULT key=value ...
//
// MB means 10^6 bytes. "bytes" counts message payload bytes as delivered
// after dot-unstuffing (line endings as sent by the server, normally CRLF),
// i.e. the quantity LIST reports; wire_bytes counts every byte read.
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type cred struct{ user, pass string }

var (
	addr      = flag.String("addr", "127.0.0.1:110", "POP3 server host:port; several, separated by commas, take the connections in turn (as a round-robin balancer)")
	usersFile = flag.String("users", "", "file with lines user:password (client i uses line i mod count)")
	userFlag  = flag.String("user", "", "single user name (if -users not given)")
	passFlag  = flag.String("pass", "", "password for -user")
	clients   = flag.Int("clients", 1, "number of concurrent client connections")
	mode      = flag.String("mode", "drain", "drain | login | idle | raw")
	nIter     = flag.Int("n", 1, "sessions per client (drain, login, raw)")
	hold      = flag.Float64("hold", 10, "idle mode: seconds to hold all connections after they are all logged in")
	opTimeout = flag.Duration("timeout", 120*time.Second, "per-operation I/O deadline")
	maxTime   = flag.Duration("maxtime", 30*time.Minute, "overall safety limit; clients stop starting new sessions after this")
	verify    = flag.Bool("verify", true, "drain: compare RETR byte counts with LIST sizes")
	readyFile = flag.String("readyfile", "", "idle mode: create this file once all connections are logged in (removed at exit)")
	label     = flag.String("label", "", "free-form label echoed into the RESULT line")
	bufSize   = flag.Int("buf", 256<<10, "read buffer size in bytes")
	verbose   = flag.Bool("v", false, "print per-session lines")
	maxErrs   = flag.Int("showerrs", 5, "print at most this many individual errors")
	useTLS    = flag.Bool("tls", false, "implicit TLS (POP3S); the certificate is not verified; sessions are resumed as a long-running client would")
	useSTLS   = flag.Bool("stls", false, "as -tls, but on a plain port: read the greeting, then STLS (RFC 2595)")
)

// global counters
var (
	totMsgs       atomic.Int64
	totBytes      atomic.Int64 // payload bytes after unstuffing
	totWire       atomic.Int64 // bytes read from the socket
	totMismatch   atomic.Int64
	totSessions   atomic.Int64
	totErrors     atomic.Int64
	errShown      atomic.Int64
	mismatchShown atomic.Int64
)

type sample struct {
	session time.Duration // connect .. QUIT reply (or EOF in raw mode)
	auth    time.Duration // connect .. +OK to PASS
	first   time.Duration // connect .. STAT reply
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type popConn struct {
	c        net.Conn
	cr       *countingReader
	r        *bufio.Reader
	w        *bufio.Writer
	greeting string // read before STLS; "" when still to be read
}

// tlsSessions holds each user's session cache: a user's connections
// resume its own sessions, as one mail client's would.
var tlsSessions sync.Map // user -> tls.ClientSessionCache

func sessionCache(user string) tls.ClientSessionCache {
	if c, ok := tlsSessions.Load(user); ok {
		return c.(tls.ClientSessionCache)
	}
	c, _ := tlsSessions.LoadOrStore(user, tls.NewLRUClientSessionCache(4))
	return c.(tls.ClientSessionCache)
}

// dials counts connections, to take the addresses in turn; resumed counts
// the TLS handshakes that resumed a session.
var dials, resumed atomic.Int64

// nextAddr returns the address of the next connection.
func nextAddr() string {
	addrs := strings.Split(*addr, ",")
	return addrs[(dials.Add(1)-1)%int64(len(addrs))]
}

func dial(user string) (*popConn, error) {
	c, err := net.DialTimeout("tcp", nextAddr(), *opTimeout)
	if err != nil {
		return nil, err
	}
	var greeting string
	if *useSTLS {
		if greeting, err = startTLS(c); err != nil {
			c.Close()
			return nil, err
		}
	}
	if *useTLS || *useSTLS {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", ClientSessionCache: sessionCache(user)})
		tc.SetDeadline(time.Now().Add(*opTimeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		if tc.ConnectionState().DidResume {
			resumed.Add(1)
		}
		c = tc
	}
	cr := &countingReader{r: c}
	return &popConn{c: c, cr: cr, r: bufio.NewReaderSize(cr, *bufSize), w: bufio.NewWriterSize(c, 4096), greeting: greeting}, nil
}

// startTLS reads the greeting in clear and sends STLS. The server sends
// nothing after its reply to STLS before the client's handshake, so a
// buffered reader takes nothing from the TLS stream (checked).
func startTLS(c net.Conn) (string, error) {
	c.SetDeadline(time.Now().Add(*opTimeout))
	r := bufio.NewReaderSize(c, 512)
	g, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(g, "+OK") {
		return "", fmt.Errorf("greeting: %q", strings.TrimRight(g, "\r\n"))
	}
	if _, err := io.WriteString(c, "STLS\r\n"); err != nil {
		return "", fmt.Errorf("STLS: %w", err)
	}
	l, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("STLS: %w", err)
	}
	if !strings.HasPrefix(l, "+OK") || r.Buffered() > 0 {
		return "", fmt.Errorf("STLS: %q", strings.TrimRight(l, "\r\n"))
	}
	return g, nil
}

func (p *popConn) close() {
	totWire.Add(p.cr.n)
	p.cr.n = 0
	p.c.Close()
}

func (p *popConn) deadline() { p.c.SetDeadline(time.Now().Add(*opTimeout)) }

// line reads one complete line (copy), handling lines longer than the buffer.
func (p *popConn) line() (string, error) {
	var acc []byte
	for {
		b, err := p.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			acc = append(acc, b...)
			if len(acc) > 1<<20 {
				return "", errors.New("response line too long")
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if acc != nil {
			acc = append(acc, b...)
			return string(acc), nil
		}
		return string(b), nil
	}
}

// status reads a single-line status response.
func (p *popConn) status(what string) (string, error) {
	l, err := p.line()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if !strings.HasPrefix(l, "+OK") {
		return "", fmt.Errorf("%s: %q", what, strings.TrimRight(l, "\r\n"))
	}
	return l, nil
}

func (p *popConn) cmd(what, c string) (string, error) {
	p.deadline()
	p.w.WriteString(c)
	p.w.WriteString("\r\n")
	if err := p.w.Flush(); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return p.status(what)
}

// multiLines reads the body of a multi-line response (after +OK) as
// dot-unstuffed lines without their terminator.
func (p *popConn) multiLines(fn func(l string)) error {
	for {
		l, err := p.line()
		if err != nil {
			return err
		}
		if l == ".\r\n" || l == ".\n" {
			return nil
		}
		fn(strings.TrimRight(strings.TrimPrefix(l, "."), "\r\n"))
	}
}

// retrBody consumes a multi-line response body, returning the number of
// payload bytes after dot-unstuffing (terminating ".\r\n" excluded).
func (p *popConn) retrBody() (int64, error) {
	var n int64
	atStart := true
	for {
		b, err := p.r.ReadSlice('\n')
		full := err == nil
		if err != nil && err != bufio.ErrBufferFull {
			return n, err
		}
		if atStart && len(b) > 0 && b[0] == '.' {
			if full && (len(b) == 3 && b[1] == '\r' || len(b) == 2) { // ".\r\n" or ".\n"
				return n, nil
			}
			b = b[1:] // dot-unstuff
		}
		n += int64(len(b))
		atStart = full
	}
}

func (p *popConn) login(cr cred) error {
	p.deadline()
	if p.greeting == "" {
		if _, err := p.status("greeting"); err != nil {
			return err
		}
	}
	if _, err := p.cmd("USER", "USER "+cr.user); err != nil {
		return err
	}
	if _, err := p.cmd("PASS", "PASS "+cr.pass); err != nil {
		return err
	}
	return nil
}

func (p *popConn) stat() (int, int64, error) {
	l, err := p.cmd("STAT", "STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(l)
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("STAT: bad reply %q", strings.TrimSpace(l))
	}
	n, err1 := strconv.Atoi(f[1])
	sz, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("STAT: bad reply %q", strings.TrimSpace(l))
	}
	return n, sz, nil
}

func noteErr(who string, err error) {
	totErrors.Add(1)
	if errShown.Add(1) <= int64(*maxErrs) {
		fmt.Fprintf(os.Stderr, "error: %s: %v\n", who, err)
	}
}

// openSession connects, logs in and sends STAT, timing the login and the
// STAT reply from t0, the moment it started; the caller closes p.
func openSession(cr cred) (p *popConn, s sample, t0 time.Time, n int, size int64, err error) {
	t0 = time.Now()
	if p, err = dial(cr.user); err != nil {
		return nil, s, t0, 0, 0, err
	}
	if err = p.login(cr); err == nil {
		s.auth = time.Since(t0)
		n, size, err = p.stat()
	}
	if err != nil {
		p.close()
		return nil, s, t0, 0, 0, err
	}
	s.first = time.Since(t0)
	return p, s, t0, n, size, nil
}

// drainSession performs one full drain session.
func drainSession(cr cred) (sample, error) {
	p, s, t0, nmsg, statSize, err := openSession(cr)
	if err != nil {
		return s, err
	}
	defer p.close()
	// UIDL
	if _, err := p.cmd("UIDL", "UIDL"); err != nil {
		return s, err
	}
	nuidl := 0
	uids := make(map[string]struct{}, nmsg)
	if err := p.multiLines(func(l string) {
		nuidl++
		if f := strings.Fields(l); len(f) == 2 {
			uids[f[1]] = struct{}{}
		}
	}); err != nil {
		return s, fmt.Errorf("UIDL body: %w", err)
	}
	// LIST
	if _, err := p.cmd("LIST", "LIST"); err != nil {
		return s, err
	}
	type ent struct {
		num  int
		size int64
	}
	list := make([]ent, 0, nmsg)
	var listErr error
	if err := p.multiLines(func(l string) {
		f := strings.Fields(l)
		if len(f) != 2 {
			listErr = fmt.Errorf("LIST: bad line %q", l)
			return
		}
		n, e1 := strconv.Atoi(f[0])
		sz, e2 := strconv.ParseInt(f[1], 10, 64)
		if e1 != nil || e2 != nil {
			listErr = fmt.Errorf("LIST: bad line %q", l)
			return
		}
		list = append(list, ent{n, sz})
	}); err != nil {
		return s, fmt.Errorf("LIST body: %w", err)
	}
	if listErr != nil {
		return s, listErr
	}
	var listSum int64
	for _, e := range list {
		listSum += e.size
	}
	if len(list) != nmsg || nuidl != nmsg || len(uids) != nmsg || listSum != statSize {
		fmt.Fprintf(os.Stderr, "warning: %s: STAT %d msgs/%d bytes, LIST %d msgs/%d bytes, UIDL %d lines/%d unique\n",
			cr.user, nmsg, statSize, len(list), listSum, nuidl, len(uids))
	}
	var msgs, payload int64
	for _, e := range list {
		if _, err := p.cmd("RETR", "RETR "+strconv.Itoa(e.num)); err != nil {
			return s, err
		}
		n, err := p.retrBody()
		if err != nil {
			return s, fmt.Errorf("RETR %d body: %w", e.num, err)
		}
		msgs++
		payload += n
		if *verify && n != e.size {
			totMismatch.Add(1)
			if mismatchShown.Add(1) <= 5 {
				fmt.Fprintf(os.Stderr, "mismatch: %s msg %d: LIST %d, RETR delivered %d bytes\n", cr.user, e.num, e.size, n)
			}
		}
	}
	if _, err := p.cmd("QUIT", "QUIT"); err != nil {
		return s, err
	}
	s.session = time.Since(t0)
	totMsgs.Add(msgs)
	totBytes.Add(payload)
	if *verbose {
		fmt.Printf("session user=%s msgs=%d bytes=%d stat_ms=%.2f total_ms=%.1f\n", cr.user, msgs, payload,
			ms(s.first), ms(s.session))
	}
	return s, nil
}

func loginSession(cr cred) (sample, error) {
	p, s, t0, n, _, err := openSession(cr)
	if err != nil {
		return s, err
	}
	defer p.close()
	if _, err := p.cmd("QUIT", "QUIT"); err != nil {
		return s, err
	}
	s.session = time.Since(t0)
	totMsgs.Add(int64(n))
	if *verbose {
		fmt.Printf("session user=%s msgs=%d auth_ms=%.2f stat_ms=%.2f total_ms=%.2f\n", cr.user, n, ms(s.auth), ms(s.first), ms(s.session))
	}
	return s, nil
}

func rawSession() (sample, error) {
	var s sample
	t0 := time.Now()
	c, err := net.DialTimeout("tcp", nextAddr(), *opTimeout)
	if err != nil {
		return s, err
	}
	defer c.Close()
	buf := make([]byte, *bufSize)
	var n int64
	for {
		c.SetReadDeadline(time.Now().Add(*opTimeout))
		k, err := c.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
	}
	s.session = time.Since(t0)
	totBytes.Add(n)
	totWire.Add(n)
	return s, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	// nearest-rank
	k := int(p/100*float64(len(ds))+0.9999999) - 1
	if k < 0 {
		k = 0
	}
	if k >= len(ds) {
		k = len(ds) - 1
	}
	return ds[k]
}

func loadUsers() ([]cred, error) {
	if *usersFile == "" {
		if *userFlag == "" {
			return nil, errors.New("need -users FILE or -user NAME -pass PW")
		}
		return []cred{{*userFlag, *passFlag}}, nil
	}
	data, err := os.ReadFile(*usersFile)
	if err != nil {
		return nil, err
	}
	var out []cred
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		u, pw, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("bad users line %q (want user:password)", l)
		}
		out = append(out, cred{u, pw})
	}
	if len(out) == 0 {
		return nil, errors.New("users file is empty")
	}
	return out, nil
}

func main() {
	flag.Parse()
	var users []cred
	if *mode != "raw" {
		var err error
		users, err = loadUsers()
		if err != nil {
			fmt.Fprintln(os.Stderr, "popload:", err)
			os.Exit(2)
		}
	}
	switch *mode {
	case "drain", "login", "idle", "raw":
	default:
		fmt.Fprintln(os.Stderr, "popload: unknown -mode", *mode)
		os.Exit(2)
	}
	if *clients < 1 || *nIter < 1 {
		fmt.Fprintln(os.Stderr, "popload: -clients and -n must be >= 1")
		os.Exit(2)
	}
	if *mode == "idle" {
		runIdle(users)
		return
	}

	stopAt := time.Now().Add(*maxTime)
	var mu sync.Mutex
	var samples []sample
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var cr cred
			if len(users) > 0 {
				cr = users[i%len(users)]
			}
			local := make([]sample, 0, *nIter)
			for it := 0; it < *nIter && time.Now().Before(stopAt); it++ {
				var s sample
				var err error
				switch *mode {
				case "drain":
					s, err = drainSession(cr)
				case "login":
					s, err = loginSession(cr)
				case "raw":
					s, err = rawSession()
				}
				if err != nil {
					noteErr(fmt.Sprintf("client %d %s", i, cr.user), err)
					continue
				}
				totSessions.Add(1)
				local = append(local, s)
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	wall := time.Since(start)
	report(samples, wall)
}

func report(samples []sample, wall time.Duration) {
	sess := make([]time.Duration, 0, len(samples))
	auth := make([]time.Duration, 0, len(samples))
	first := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		sess = append(sess, s.session)
		auth = append(auth, s.auth)
		first = append(first, s.first)
	}
	for _, d := range [][]time.Duration{sess, auth, first} {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	}
	w := wall.Seconds()
	mb := float64(totBytes.Load()) / 1e6
	fmt.Printf("mode=%s addr=%s clients=%d n=%d sessions_ok=%d errors=%d tls_resumed=%d\n", *mode, *addr, *clients, *nIter, totSessions.Load(), totErrors.Load(), resumed.Load())
	fmt.Printf("messages=%d payload_bytes=%d wire_bytes=%d wall=%.3fs\n", totMsgs.Load(), totBytes.Load(), totWire.Load(), w)
	fmt.Printf("throughput: %.1f MB/s payload, %.0f msgs/s, %.1f sessions/s\n", mb/w, float64(totMsgs.Load())/w, float64(totSessions.Load())/w)
	fmt.Printf("session latency ms: p50=%.2f p90=%.2f p99=%.2f max=%.2f\n", ms(pct(sess, 50)), ms(pct(sess, 90)), ms(pct(sess, 99)), ms(pct(sess, 100)))
	if *mode != "raw" {
		fmt.Printf("auth (connect..PASS ok) ms: p50=%.2f p90=%.2f p99=%.2f\n", ms(pct(auth, 50)), ms(pct(auth, 90)), ms(pct(auth, 99)))
		fmt.Printf("stat (connect..STAT ok) ms: p50=%.2f p90=%.2f p99=%.2f\n", ms(pct(first, 50)), ms(pct(first, 90)), ms(pct(first, 99)))
	}
	if *mode == "drain" {
		fmt.Printf("size mismatches (RETR vs LIST): %d\n", totMismatch.Load())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT mode=%s clients=%d n=%d sessions=%d errors=%d msgs=%d bytes=%d wire_bytes=%d wall_s=%.3f mb_s=%.2f msgs_s=%.1f sessions_s=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f auth_p50_ms=%.3f auth_p99_ms=%.3f stat_p50_ms=%.3f stat_p99_ms=%.3f mismatches=%d",
		*mode, *clients, *nIter, totSessions.Load(), totErrors.Load(), totMsgs.Load(), totBytes.Load(), totWire.Load(), w, mb/w,
		float64(totMsgs.Load())/w, float64(totSessions.Load())/w,
		ms(pct(sess, 50)), ms(pct(sess, 90)), ms(pct(sess, 99)), ms(pct(sess, 100)),
		ms(pct(auth, 50)), ms(pct(auth, 99)), ms(pct(first, 50)), ms(pct(first, 99)), totMismatch.Load())
	if *label != "" {
		fmt.Fprintf(&b, " label=%s", strings.ReplaceAll(*label, " ", "_"))
	}
	fmt.Println(b.String())
	if totErrors.Load() > 0 || totMismatch.Load() > 0 {
		os.Exit(1)
	}
}

// runIdle opens -clients connections, logs each in (STAT once), waits until
// every connection is either logged in or failed, holds for -hold seconds,
// then sends QUIT on all.
func runIdle(users []cred) {
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	release := make(chan struct{})
	var okCount atomic.Int64
	var mu sync.Mutex
	var samples []sample
	start := time.Now()
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		ready.Add(1)
		go func(i int) {
			defer wg.Done()
			cr := users[i%len(users)]
			readyDone := false
			markReady := func() {
				if !readyDone {
					readyDone = true
					ready.Done()
				}
			}
			defer markReady()
			t0 := time.Now()
			p, err := dial(cr.user)
			if err != nil {
				noteErr(fmt.Sprintf("client %d %s", i, cr.user), err)
				return
			}
			defer p.close()
			if err := p.login(cr); err != nil {
				noteErr(fmt.Sprintf("client %d %s", i, cr.user), err)
				return
			}
			auth := time.Since(t0)
			if _, _, err := p.stat(); err != nil {
				noteErr(fmt.Sprintf("client %d %s", i, cr.user), err)
				return
			}
			first := time.Since(t0)
			okCount.Add(1)
			markReady()
			<-release
			if _, err := p.cmd("QUIT", "QUIT"); err != nil {
				noteErr(fmt.Sprintf("client %d %s QUIT", i, cr.user), err)
				return
			}
			totSessions.Add(1)
			mu.Lock()
			samples = append(samples, sample{auth: auth, first: first, session: first})
			mu.Unlock()
		}(i)
	}
	ready.Wait()
	setup := time.Since(start)
	fmt.Printf("idle: %d/%d connections logged in after %.2fs; holding %.1fs\n", okCount.Load(), *clients, setup.Seconds(), *hold)
	if *readyFile != "" {
		os.WriteFile(*readyFile, []byte(fmt.Sprintf("%d\n", okCount.Load())), 0o644)
		defer os.Remove(*readyFile)
	}
	time.Sleep(time.Duration(*hold * float64(time.Second)))
	close(release)
	wg.Wait()
	wall := time.Since(start)
	fmt.Printf("idle: setup_s=%.3f held=%d\n", setup.Seconds(), okCount.Load())
	// In idle mode "session" latency is connect..STAT ok (the login latency).
	fmt.Printf("(idle mode: session latency = connect..STAT ok; setup_s=%.3f)\n", setup.Seconds())
	report(samples, wall)
}
