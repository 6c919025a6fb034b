package gateway

// Implementation notes
//
//   - One goroutine per connection runs serve: greeting, then a loop that
//     reads one command line (at most 255 octets, RFC 2449 §4), dispatches
//     it through one switch, and writes exactly one response. Handlers
//     return nil after a positive reply, an *Error for a negative one (one
//     place, reply, writes it and counts errors in a row), or another
//     error when the connection cannot go on.
//   - Output goes through a 4 KiB bufio.Writer that is flushed only when no
//     more input is buffered (RFC 2449 §6.6 PIPELINING), so a pipelined
//     batch gets its answers in few segments. Input is a 1 KiB
//     bufio.Reader; nothing is dropped from it except after STLS, where
//     plaintext pipelined behind the command is discarded (CVE-2011-0411).
//   - Writes go through blockConn (server.go), under TLS if any, so the
//     blocked-client back-off applies to every octet sent.
//   - RFC 1939 §6: the maildrop changes only in the UPDATE state, after
//     QUIT. Any other end (client gone, idle timeout, shutdown, error)
//     calls Maildrop.Close only.
//   - RETR and TOP stream from Maildrop.Open (the spool's decoder
//     dot-stuffs as it decodes) into a pooled 128 KiB send writer; the
//     per-session state is the message list and two bitmaps.
//   - Output is flushed only when no command is waiting: an answer, or a
//     pipelined batch of answers, leaves in one write (while it fits).

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/sirupsen/logrus"
)

// state is the POP3 session state (RFC 1939 §3).
type state int

// The session states.
const (
	stateAuthorization state = iota
	stateTransaction
	stateUpdate
)

// Session end reasons, logged as the "end" field of "session end".
const (
	endQuit         = EndQuit
	endIdle         = EndIdle
	endGone         = EndGone
	endTwoFailures  = EndTwoFailures
	endShutdown     = EndShutdown
	endTooManyErrs  = EndTooManyErrors
	endBlocked      = EndBlocked
	endError        = EndError
	endTooManySessn = EndTooManySess
)

// bitmap is a set of message indexes.
type bitmap []uint64

func newBitmap(n int) bitmap            { return make(bitmap, (n+63)/64) }
func (b bitmap) has(i int) bool         { return b[i/64]&(1<<(uint(i)%64)) != 0 }
func (b bitmap) set(i int)              { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitmap) clear()                 { clear(b) }
func (b bitmap) list(n int) (out []int) { return b.appendTo(nil, n) }
func (b bitmap) appendTo(out []int, n int) []int {
	for w, x := range b {
		for ; x != 0; x &= x - 1 { // a word at a time: most are empty
			i := w*64 + bits.TrailingZeros64(x)
			if i >= n {
				return out
			}
			out = append(out, i)
		}
	}
	return out
}

// conn is one POP3 session.
type conn struct {
	srv         *Server
	raw         net.Conn   // the accepted connection
	bc          *blockConn // raw with the blocked-write back-off
	nc          net.Conn   // bc, or TLS over bc
	br          *bufio.Reader
	first       firstOctet   // br's source after an idle wait over TLS (idlereader.go)
	in          polledReader // br's source in clear (pollread.go)
	bw          *bufio.Writer
	small       *bufio.Writer // the session's own writer; bw is a pooled large one while a message is sent
	sink        sink          // where small writes: nc, or for a moment the large writer
	log         *logrus.Entry
	ctx         context.Context
	cancel      context.CancelFunc
	dropped     atomic.Bool // closed by Shutdown or Close
	implicitTLS bool
	tooMany     bool
	tooManyAddr bool   // over MaxPerAddress
	key         string // the client's address as limits count it (addrKey)
	preCmds     int    // commands before login
	kicked      atomic.Bool
	id          string    // the session id of the log
	accepted    time.Time // when the connection was accepted
	live        live      // what Sessions reads
	ip          string    // the client's address, without port
	paid        bool      // this attempt has waited its login penalty

	state     state
	tls       bool
	timestamp string // the APOP timestamp of the greeting
	pending   string // the name given to USER, when haveUser
	haveUser  bool
	user      string // canonical name after login
	failures  int    // failed authorization attempts
	errs      int    // failed commands in a row
	replied   bool   // a reply to the current command has begun
	cmdTime   time.Time

	sel loginSel // what the login name selects (loginname.go)

	md        Maildrop
	msgs      msgList
	deleted   bitmap
	retrieved bitmap
	left      int   // messages not marked deleted
	leftSize  int64 // and their octets

	start                  time.Time
	nlisted, nretr, octets int64
	committed              CommitResult
	scratch                [64]byte

	rc          syscall.RawConn // the socket, for busy polling; nil if not a socket
	gate        pollGate
	maxFetching int32
	fetching    bool // the last command was RETR, TOP or DELE; counted in srv.fetching
	busy        bool // counted in srv.busy
}

// newConn sets up a connection; serve runs it.
func newConn(s *Server, rw net.Conn, implicitTLS bool) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	bc := &blockConn{Conn: rw, sched: s.blockedRetry()}
	c := &conn{srv: s, raw: rw, bc: bc, nc: bc, ctx: ctx, cancel: cancel, implicitTLS: implicitTLS}
	if s.BusyPoll > 0 {
		c.rc, c.gate, c.maxFetching = rawConnOf(rw), newPollGate(), maxFetching()
		if s.maxFetching > 0 {
			c.maxFetching = s.maxFetching
		}
	}
	c.ip, c.id, c.accepted = clientIP(rw.RemoteAddr()), newSessionID(), time.Now()
	c.log = s.logger().WithFields(logrus.Fields{FieldSession: c.id, FieldRemote: rw.RemoteAddr().String()})
	return c
}

// drop closes the connection from outside (Shutdown, Close).
func (c *conn) drop() {
	c.dropped.Store(true)
	c.cancel()
	c.raw.Close()
}

// serve runs the session to its end.
func (c *conn) serve() {
	c.start = time.Now()
	end := endError
	defer func() { c.finish(end) }()
	c.srv.observe(func(o Observer) { o.SessionStart() })
	c.log.Info("session start")
	c.in = polledReader{c: c, r: c.nc}
	c.br = bufio.NewReaderSize(&c.in, readBufferSize)
	c.sink.w = c.nc
	c.unparkWriter()
	if end = c.refuse(); end != "" {
		return
	}
	end = endError
	if c.implicitTLS {
		if err := c.handshake(); err != nil {
			end = c.endReason(err)
			return
		}
	}
	var line, text string
	if x := c.srv.Extensions; x != nil {
		text = x.Greeting
	}
	line, c.timestamp = greeting(text, c.srv.version(), c.srv.host(), localIP(c.raw), os.Getpid(), c.srv.seq.Add(1), c.srv.now().Unix())
	c.writeLine(line)
	end = c.loop()
}

// loop reads and answers commands until the session ends, and returns
// the end reason.
func (c *conn) loop() string {
	for {
		if c.br.Buffered() == 0 {
			if err := c.bw.Flush(); err != nil {
				return c.endReason(err)
			}
			c.releaseBigWriter()
			c.parkWriter()
			c.setBusy(false)
			if c.fetching {
				c.pollNext()
			}
		}
		c.setReadDeadline()
		line, err := c.readCommand() // idlereader.go
		c.unparkWriter()
		c.cmdTime = time.Now()
		c.replied = false
		c.setBusy(true)
		if err == errLineTooLong {
			c.trace("C: [line over 255 octets discarded]")
			if end, err := c.reply(&Error{Text: "line too long"}); end != "" || err != nil {
				return c.endOr(end, err)
			}
			continue
		}
		if err != nil {
			return c.endReason(err)
		}
		verb, arg, perr := parseCommand(line)
		if c.traceEnabled() {
			c.trace("C: " + redact(line))
		}
		var herr error
		var start time.Time // DEBUG: per-command timing
		if c.log.Logger.IsLevelEnabled(logrus.TraceLevel) {
			start = time.Now()
		}
		if berr := c.budget(); berr != nil {
			herr = berr
		} else if perr != nil {
			herr = &Error{Text: "unknown command"}
			if perr == errBadCharacter {
				herr = &Error{Text: "invalid character in command"}
			}
		} else {
			herr = c.handle(verb, arg)
		}
		end, err := c.reply(herr)
		if !start.IsZero() {
			c.log.WithFields(logrus.Fields{"command": verb, "ok": herr == nil, "us": time.Since(start).Microseconds()}).Trace("command done")
		}
		if end != "" || err != nil {
			return c.endOr(end, err)
		}
		c.setFetching(perr == nil && (verb == cmdRETR || verb == cmdTOP || verb == cmdDELE))
		c.publish()
		if verb == cmdQUIT && perr == nil && herr == nil {
			return endQuit
		}
	}
}

// setBusy counts the session in srv.busy while it has a command in hand,
// which tells busy-polling sessions to leave the CPU to it.
func (c *conn) setBusy(b bool) { c.count(&c.busy, &c.srv.busy, b) }

// setFetching counts the session in srv.fetching while its last command
// was RETR, TOP or DELE.
func (c *conn) setFetching(b bool) { c.count(&c.fetching, &c.srv.fetching, b) }

// count sets *flag to b, keeping n the number of sessions with it set
// (only when busy polling is on: the counters are for it).
func (c *conn) count(flag *bool, n *atomic.Int32, b bool) {
	if *flag != b && c.srv.BusyPoll > 0 {
		*flag = b
		if b {
			n.Add(1)
		} else {
			n.Add(-1)
		}
	}
}

// endOr returns end, or the reason err gives.
func (c *conn) endOr(end string, err error) string {
	if err != nil {
		return c.endReason(err)
	}
	return end
}

// reply maps a handler's result to the wire. It returns a non-empty end
// reason when the session must end after the reply, or an I/O error.
func (c *conn) reply(herr error) (string, error) {
	if herr == nil {
		c.errs = 0
		return "", nil
	}
	var e *Error
	if !errors.As(herr, &e) && c.replied {
		// A failed write, or a failure after the reply began (in the
		// middle of a multi-line response): nothing more can be sent for
		// this command, so the connection ends.
		return "", herr
	}
	e = response(herr)
	if e.Err != nil {
		c.log.WithError(e.Err).Error(e.Text)
	}
	if err := c.writeLine(e.line()); err != nil {
		return "", err
	}
	if e.end != "" {
		c.bw.Flush()
		return e.end, nil
	}
	if c.errs++; c.errs >= c.srv.maxErrors() {
		c.log.Warn("too many errors, closing connection")
		c.writeLine("-ERR too many errors, closing connection")
		c.bw.Flush()
		return endTooManyErrs, nil
	}
	return "", nil
}

// finish ends the session: the maildrop is closed (after Commit or
// instead of it), the connection closed, and the session summary logged.
func (c *conn) finish(end string) {
	c.setBusy(false)
	c.setFetching(false)
	if c.dropped.Load() && end != endQuit {
		end = endShutdown
		if c.kicked.Load() {
			end = endKicked
		}
	}
	// The lock goes first: a client that reconnects as soon as it reads
	// the QUIT reply must find the maildrop free.
	if c.md != nil {
		if err := c.md.Close(); err != nil {
			c.log.WithError(err).Error("cannot close maildrop")
		}
	}
	switch end {
	case endQuit, endTwoFailures, endTooManyErrs, endTooManySessn, endTooManyAddr, endTooManyCmds:
		if err := c.bw.Flush(); err != nil {
			c.log.WithError(err).Info("cannot send the last reply")
		} else {
			c.lingerClose()
		}
	}
	c.releaseBigWriter()
	c.dropWriter()
	if c.tls && end == endQuit {
		c.nc.Close() // sends close_notify
	}
	c.raw.Close()
	c.cancel()
	f := logrus.Fields{
		FieldUser:       c.user,
		FieldDurationMS: time.Since(c.start).Milliseconds(),
		FieldListed:     c.nlisted,
		FieldRetrieved:  c.nretr,
		FieldDeleted:    c.committed.Deleted,
		FieldMoved:      c.committed.Moved,
		FieldOctets:     c.octets,
		FieldEnd:        end,
	}
	if c.gate.polls > 0 {
		f["polls"] = strconv.Itoa(int(c.gate.hits)) + "/" + strconv.Itoa(int(c.gate.polls)) // found the next command / tried
	}
	c.log.WithFields(f).Info(MsgSessionEnd)
	c.srv.observe(func(o Observer) { o.SessionEnd(end) })
	c.srv.removeConn(c)
}

// lingerClose ends the sending side and reads what the client still sends
// for a moment: closing a socket with unread input makes the kernel send
// a reset, which can destroy the last replies before the client reads
// them (a client that pipelined commands after the one that ended the
// session). net/http does the same (closeWriteAndWait).
func (c *conn) lingerClose() {
	cw, ok := c.raw.(interface{ CloseWrite() error })
	if !ok || c.tls {
		return
	}
	if cw.CloseWrite() != nil {
		return
	}
	c.raw.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.raw, lingerBytes)
}

// lingerTime and lingerBytes bound lingerClose.
const (
	lingerTime  = 250 * time.Millisecond
	lingerBytes = 256 << 10
)

// endReason names the reason a read or write error ends the session.
func (c *conn) endReason(err error) string {
	switch {
	case c.dropped.Load():
		return endShutdown
	case errors.Is(err, errBlocked):
		c.log.Error("client blocked, closing connection")
		return endBlocked
	case errors.Is(err, errHandshakeTimeout):
		return endTLSTimeout
	case errors.Is(err, os.ErrDeadlineExceeded) && c.loginTimedOut():
		c.log.Info("login timeout, closing connection")
		return endLoginTimeout
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Info("idle timeout, closing connection")
		return endIdle
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return endGone
	default:
		c.log.WithError(err).Error("connection error")
		return endError
	}
}

// setReadDeadline arms the idle timer before a read.
func (c *conn) setReadDeadline() {
	if t := c.readDeadline(); !t.IsZero() {
		c.raw.SetReadDeadline(t)
	}
}

// handshake runs a TLS handshake over the connection and switches the
// buffers to it.
func (c *conn) handshake() error {
	wire := &tlsWire{blockConn: c.bc}
	tc := tls.Server(wire, c.srv.TLSConfig)
	c.raw.SetReadDeadline(time.Now().Add(c.srv.tlsHandshakeTimeout()))
	err := onOwnStack(func() error { return tc.HandshakeContext(c.ctx) }) // tlsstack.go
	if o, ok := c.srv.Observer.(TLSObserver); ok {
		switch {
		case err != nil:
			o.TLSHandshake(TLSFailed)
		case tc.ConnectionState().DidResume:
			o.TLSHandshake(TLSResumed)
		default:
			o.TLSHandshake(TLSFull)
		}
	}
	if err != nil {
		c.log.WithError(err).Warn("TLS handshake failed")
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errHandshakeTimeout
		}
		return err
	}
	c.nc = tc
	c.sink.w = &tlsOut{tc: tc, wire: wire, srv: c.srv}
	c.br.Reset(tc)
	c.small.Reset(&c.sink)
	c.tls = true
	return nil
}

// traceLevel is the level of the C:/S: transcript lines.
func (c *conn) traceLevel() logrus.Level {
	if c.srv.Trace {
		return logrus.InfoLevel
	}
	return logrus.DebugLevel
}

// traceEnabled reports whether transcript lines are logged.
func (c *conn) traceEnabled() bool { return c.log.Logger.IsLevelEnabled(c.traceLevel()) }

// trace logs one transcript line.
func (c *conn) trace(line string) {
	if c.traceEnabled() {
		c.log.Log(c.traceLevel(), line)
	}
}

// redact returns the command line as the transcript shows it: secrets
// become *** (PASS, the APOP digest, an AUTH initial response). It looks
// at the raw keyword, so lines that fail to parse are redacted too.
func redact(line []byte) string {
	kw, rest := nextField(string(line))
	switch strings.ToUpper(kw) {
	case cmdPASS:
		return "PASS ***"
	case cmdAPOP:
		name, _ := nextField(rest)
		return "APOP " + name + " ***"
	case cmdAUTH:
		mech, rest := nextField(rest)
		if strings.TrimSpace(rest) != "" {
			return "AUTH " + mech + " ***"
		}
	}
	return string(line)
}

// writeLine writes one response line and logs it.
func (c *conn) writeLine(s string) error {
	c.replied = true
	c.trace("S: " + s)
	c.bw.WriteString(s)
	_, err := c.bw.WriteString("\r\n")
	return err
}

// writeBytes writes one line of a multi-line response built in b.
func (c *conn) writeBytes(b []byte) error {
	c.replied = true
	if c.traceEnabled() {
		c.trace("S: " + string(b))
	}
	c.bw.Write(b)
	_, err := c.bw.WriteString("\r\n")
	return err
}

// ok writes a positive response.
func (c *conn) ok(text string) error {
	if text == "" {
		return c.writeLine("+OK")
	}
	return c.writeLine("+OK " + text)
}

// handle dispatches one command. A panic is logged with its stack and
// answered "-ERR [SYS/TEMP] internal error", and the connection closes.
func (c *conn) handle(verb, arg string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.WithField("stack", string(debug.Stack())).Errorf("panic serving %s: %v", verb, r)
			err = errInternal
		}
	}()
	switch verb {
	case cmdUSER:
		return c.cmdUser(arg)
	case cmdPASS:
		return c.cmdPass(arg)
	case cmdAPOP:
		return c.cmdAPOP(arg)
	case cmdAUTH:
		return c.cmdAuth(arg)
	case cmdCAPA:
		return c.cmdCapa(arg)
	case cmdSTLS:
		return c.cmdSTLS(arg)
	case cmdQUIT:
		return c.cmdQuit(arg)
	case cmdNOOP:
		if c.state != stateTransaction {
			return errWrongState
		}
		if arg != "" {
			return errSyntax
		}
		return c.ok("")
	case cmdSTAT:
		return c.cmdStat(arg)
	case cmdLIST:
		return c.cmdList(arg, false)
	case cmdUIDL:
		return c.cmdList(arg, true)
	case cmdRETR:
		return c.cmdRetr(arg)
	case cmdTOP:
		return c.cmdTop(arg)
	case cmdDELE:
		return c.cmdDele(arg)
	case cmdRSET:
		return c.cmdRset(arg)
	case cmdXTND:
		return c.cmdXtnd(arg)
	}
	return &Error{Text: "unknown command"}
}

// ---- AUTHORIZATION state ----

// policy refuses a login method that is not allowed, or not yet (before
// TLS). Refusals are not failed attempts.
func (c *conn) policy(method string) error {
	if err := c.extPolicy(method); err != nil {
		return err
	}
	if !c.srv.methodAllowed(method) {
		return errf(CodeAuth, "%s is not allowed", method)
	}
	if !c.tls && c.srv.methodNeedsTLS(method) {
		return errf(CodeAuth, "%s requires TLS, use STLS first", method)
	}
	return nil
}

// allowedNow reports whether method may be used at this point.
func (c *conn) allowedNow(method string) bool { return c.policy(method) == nil }

// cmdUser handles USER name (RFC 1939 §7).
func (c *conn) cmdUser(arg string) error {
	if c.state != stateAuthorization {
		return errWrongState
	}
	if c.srv.DisUserPass {
		return errDisUserPass
	}
	if err := c.policy(MethodUser); err != nil {
		return err
	}
	args, ok := splitArgs(arg, 1)
	if !ok || len(args) != 1 {
		return errSyntax
	}
	name := args[0]
	c.haveUser = false
	// SECURE: an unknown name is answered exactly as a known one.
	if c.srv.Security != Secure {
		if err := c.waitPenalty(name); err != nil {
			return err
		}
	}
	if c.srv.Security != Secure && !c.auth().UserExists(name) {
		return c.authFailed(MethodUser, name, FailUnknownUser, nil, "")
	}
	c.pending, c.haveUser = name, true
	return c.ok(fmt.Sprintf("password required for %q", sanitize(name)))
}

// cmdPass handles PASS string (RFC 1939 §7). The whole rest of the line
// is the password, spaces included.
func (c *conn) cmdPass(arg string) error {
	if c.state != stateAuthorization {
		return errWrongState
	}
	if c.srv.DisUserPass {
		return errDisUserPass
	}
	if err := c.policy(MethodUser); err != nil {
		return err
	}
	if !c.haveUser {
		return &Error{Text: "give USER first"}
	}
	name := c.pending
	c.haveUser = false
	canonical, err := c.check(name, func() (string, error) { return c.auth().CheckPassword(name, arg, c.srv.now()) })
	if err != nil {
		return c.authFailed(MethodUser, name, c.srv.classify(err), err, "")
	}
	return c.login(MethodUser, name, canonical)
}

// cmdAPOP handles APOP name digest (RFC 1939 §7) against the greeting's
// timestamp.
func (c *conn) cmdAPOP(arg string) error {
	if c.state != stateAuthorization {
		return errWrongState
	}
	if err := c.policy(MethodAPOP); err != nil {
		return err
	}
	args, ok := splitArgs(arg, 2)
	if !ok || len(args) != 2 {
		return errSyntax
	}
	c.haveUser = false
	name, digest := args[0], args[1]
	canonical, err := c.check(name, func() (string, error) { return c.auth().CheckAPOP(name, c.timestamp, digest, c.srv.now()) })
	if err != nil {
		return c.authFailed(MethodAPOP, name, c.srv.classify(err), err, "")
	}
	return c.login(MethodAPOP, name, canonical)
}

// cmdAuth handles AUTH [mechanism [initial-response]] (RFC 5034).
func (c *conn) cmdAuth(arg string) error {
	if c.state != stateAuthorization {
		return errWrongState
	}
	mech, rest := nextField(arg)
	if mech == "" {
		// The empty AUTH that Outlook sends: list the mechanisms.
		if err := c.ok(""); err != nil {
			return err
		}
		for _, m := range saslMechanisms {
			if c.allowedNow(m) {
				if err := c.writeLine(m); err != nil {
					return err
				}
			}
		}
		return c.writeLine(".")
	}
	ir, extra := nextField(rest)
	if strings.TrimSpace(extra) != "" {
		return errSyntax
	}
	mech = strings.ToUpper(mech)
	switch mech {
	case MethodPlain, MethodCRAMMD5, MethodLogin, MethodExternal:
	default:
		return errf(CodeAuth, "mechanism %s is not supported", sanitize(mech))
	}
	if err := c.policy(mech); err != nil {
		return err
	}
	c.haveUser = false
	switch mech {
	case MethodLogin:
		return c.authLogin(ir)
	case MethodExternal:
		return c.authExternal(ir)
	}
	if mech == MethodCRAMMD5 {
		if ir != "" {
			return errSyntax
		}
		return c.authCRAMMD5()
	}
	return c.authPlain(ir)
}

// saslResponse returns the client's first SASL response (RFC 5034 §4):
// the initial response of the AUTH line ("=" for an empty one) or, when
// there is none, the answer to an empty challenge. A cancelled exchange
// gives errCancelled, bad base64 a failed attempt.
func (c *conn) saslResponse(method, ir string) ([]byte, error) {
	if ir == "=" {
		return []byte{}, nil
	}
	line := []byte(ir)
	if ir == "" {
		var err error
		if line, err = c.challenge(""); err != nil {
			return nil, err
		}
		if line == nil {
			return nil, errCancelled
		}
	}
	resp, err := decodeBase64(line)
	if err != nil {
		return nil, c.authFailed(method, "", failMalformed, err, "malformed base64")
	}
	return resp, nil
}

// authPlain runs SASL PLAIN (RFC 4616) with go-sasl.
func (c *conn) authPlain(ir string) error {
	resp, err := c.saslResponse(MethodPlain, ir)
	if err != nil {
		return err
	}
	var identity, name, password string
	called := false
	srv := sasl.NewPlainServer(func(i, u, p string) error {
		identity, name, password, called = i, u, p, true
		return nil
	})
	if _, _, err := srv.Next(resp); err != nil || !called {
		return c.authFailed(MethodPlain, "", failMalformed, err, "malformed PLAIN response")
	}
	if identity != "" && !strings.EqualFold(identity, name) {
		return c.authFailed(MethodPlain, name, failBadIdentity, nil, sanitize(identity))
	}
	canonical, err := c.check(name, func() (string, error) { return c.auth().CheckPassword(name, password, c.srv.now()) })
	if err != nil {
		return c.authFailed(MethodPlain, name, c.srv.classify(err), err, "")
	}
	return c.login(MethodPlain, name, canonical)
}

// authCRAMMD5 runs CRAM-MD5 (RFC 2195): the challenge is a msg-id, the
// response "user hexdigest".
func (c *conn) authCRAMMD5() error {
	chal := fmt.Sprintf("<%d.%d@%s>", c.srv.seq.Add(1), c.srv.now().UnixNano(), c.srv.host())
	line, err := c.challenge(base64.StdEncoding.EncodeToString([]byte(chal)))
	if err != nil {
		return err
	}
	if line == nil {
		return errCancelled
	}
	resp, err := decodeBase64(line)
	if err != nil {
		return c.authFailed(MethodCRAMMD5, "", failMalformed, err, "malformed base64")
	}
	s := string(resp)
	sp := strings.LastIndexByte(s, ' ')
	if sp <= 0 || sp == len(s)-1 {
		return c.authFailed(MethodCRAMMD5, "", failMalformed, nil, "malformed CRAM-MD5 response")
	}
	name, digest := s[:sp], s[sp+1:]
	canonical, err := c.check(name, func() (string, error) { return c.auth().CheckCRAMMD5(name, chal, digest, c.srv.now()) })
	if err != nil {
		return c.authFailed(MethodCRAMMD5, name, c.srv.classify(err), err, "")
	}
	return c.login(MethodCRAMMD5, name, canonical)
}

// challenge sends "+ text", flushes, and reads the client's response line
// (at most 8192 octets). It returns nil when the client cancels with "*".
// An over-long line is answered as malformed.
func (c *conn) challenge(text string) ([]byte, error) {
	if err := c.writeLine("+ " + text); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	c.setReadDeadline()
	line, err := readLine(c.br, maxSASLLine)
	c.cmdTime = time.Now() // SECURE timing runs from the client's last line
	if err == errLineTooLong {
		c.trace("C: [line over 8192 octets discarded]")
		return nil, c.authFailed("SASL", "", failMalformed, err, "response line too long")
	}
	if err != nil {
		return nil, err
	}
	c.trace("C: ***")
	if len(line) == 1 && line[0] == '*' {
		return nil, nil
	}
	return line, nil
}

// decodeBase64 decodes a SASL response; whitespace around it is ignored.
func decodeBase64(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	out, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("gateway: malformed base64: %w", err)
	}
	return out, nil
}

// authFailed answers a failed authorization attempt. In SECURE mode every
// cause gets the same line, no sooner than the failure delay after the
// command arrived; the log always gets the FRIENDLY reason. The second
// failed attempt on a connection closes it (manual §15.1.3).
func (c *conn) authFailed(method, name string, cause AuthFailure, err error, detail string) error {
	if c.ctx.Err() != nil && errors.Is(err, c.ctx.Err()) {
		return err // the session is being closed
	}
	if cause == FailSystem {
		return &Error{Code: CodeSysTemp, Text: "unable to check credentials, try later",
			Err: fmt.Errorf("gateway: %s check for %q: %w", method, sanitize(name), err)}
	}
	c.attemptOver(name, false)
	c.srv.observe(func(o Observer) { o.Login(method, LoginFailed) })
	san := sanitize(name)
	reason := friendlyText(cause, method, san, detail)
	entry := c.log.WithFields(logrus.Fields{"method": method, "reason": reason})
	if name != "" {
		entry = entry.WithField(FieldUser, san)
	}
	entry.Warn(MsgLoginFailed)
	text := reason
	if c.srv.Security == Secure && cause != failMalformed {
		text = fmt.Sprintf("access to user account %q denied", san)
	}
	if d := c.srv.failureDelay(); d > 0 {
		if wait := time.Until(c.cmdTime.Add(d)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
			}
		}
	}
	e := &Error{Code: CodeAuth, Text: text}
	if c.failures++; c.failures >= 2 {
		c.log.Warn("two failed logins, closing connection")
		e.end = endTwoFailures
	}
	return e
}

// login finishes a successful authorization: the LOGIN-DELAY check, then
// the maildrop is opened (and locked), and the session enters TRANSACTION.
func (c *conn) login(method, name, canonical string) error {
	c.attemptOver(name, true)
	san := sanitize(name)
	if err := c.takeAlert(method, canonical); err != nil {
		c.srv.observe(func(o Observer) { o.Login(method, LoginRefused) })
		return err
	}
	if !c.loginDelayOK(canonical) {
		c.log.WithFields(logrus.Fields{"method": method, "reason": "login delay", "user": canonical}).Warn(MsgLoginFailed)
		c.srv.observe(func(o Observer) { o.Login(method, LoginRefused) })
		return errf(CodeLoginDelay, "minimum time between logins not reached for %q", san)
	}
	md, err := c.openMaildrop(canonical)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			c.srv.observe(func(o Observer) { o.Login(method, LoginRefused) })
			return e
		}
		entry := c.log.WithFields(logrus.Fields{"method": method, "user": canonical}).WithError(err)
		c.srv.observe(func(o Observer) { o.Login(method, LoginRefused) })
		if errors.Is(err, ErrInUse) {
			entry.WithField("reason", "maildrop locked").Warn(MsgLoginFailed)
			return errf(CodeInUse, "maildrop for %q is locked by another session", san)
		}
		entry.Error("cannot open maildrop")
		return errf(CodeSysTemp, "unable to open maildrop, try later")
	}
	c.md = md
	c.msgs = listOf(md)
	whole := true
	if m := c.srv.MessageMaximum; m > 0 && c.msgs.n > m {
		c.msgs.n, whole = m, false
	}
	c.deleted = newBitmap(c.msgs.n)
	c.retrieved = newBitmap(c.msgs.n)
	if sz, ok := md.(Sizer); ok && whole {
		c.left, c.leftSize = c.msgs.n, sz.TotalSize()
	} else {
		c.countAll()
	}
	c.user = canonical
	c.state = stateTransaction
	c.log = c.log.WithField(FieldUser, canonical)
	c.log.WithField("method", method).Info("login")
	c.srv.observe(func(o Observer) { o.Login(method, LoginOK) })
	n, size := c.totals()
	return c.ok(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
}

// cmdCapa handles CAPA (RFC 2449 §5); the list depends on the state and
// on TLS.
func (c *conn) cmdCapa(arg string) error {
	if c.state == stateUpdate {
		return errWrongState
	}
	if arg != "" {
		return errSyntax
	}
	lines := make([]string, 0, 12)
	lines = append(lines, "TOP", "UIDL")
	auth := c.state == stateAuthorization
	if auth && !c.srv.DisUserPass && c.allowedNow(MethodUser) {
		lines = append(lines, "USER")
	}
	if auth {
		sl := "SASL"
		for _, m := range saslMechanisms {
			if c.allowedNow(m) {
				sl += " " + m
			}
		}
		if sl != "SASL" {
			lines = append(lines, sl)
		}
	}
	lines = append(lines, "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING")
	if c.srv.Expire != "" {
		lines = append(lines, "EXPIRE "+c.srv.Expire)
	}
	if d := c.loginDelay(c.user); d > 0 {
		lines = append(lines, "LOGIN-DELAY "+strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
	lines = append(lines, "IMPLEMENTATION "+strings.ReplaceAll(c.srv.version(), " ", "-"))
	if auth && c.srv.TLSConfig != nil && !c.tls {
		lines = append(lines, "STLS")
	}
	if err := c.ok("Capability list follows"); err != nil {
		return err
	}
	for _, l := range lines {
		if err := c.writeLine(l); err != nil {
			return err
		}
	}
	return c.writeLine(".")
}

// cmdSTLS handles STLS (RFC 2595 §4). Plaintext the client pipelined
// behind STLS is discarded, never read as commands (CVE-2011-0411).
func (c *conn) cmdSTLS(arg string) error {
	if c.state != stateAuthorization {
		return errWrongState
	}
	if arg != "" {
		return errSyntax
	}
	if c.srv.TLSConfig == nil {
		return &Error{Text: "STLS is not available"}
	}
	if c.tls {
		return &Error{Text: "TLS is already active"}
	}
	if err := c.ok("Begin TLS negotiation"); err != nil {
		return err
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if n := c.br.Buffered(); n > 0 {
		c.br.Discard(n)
		c.log.WithField("octets", n).Warn("discarded plaintext pipelined after STLS")
	}
	if err := c.handshake(); err != nil {
		return err
	}
	// RFC 2595 §4: forget what the client said before TLS.
	c.haveUser = false
	return nil
}

// cmdQuit handles QUIT (RFC 1939 §5, §6). In TRANSACTION it enters the
// UPDATE state and commits the session's deletions and retrievals.
func (c *conn) cmdQuit(arg string) error {
	if arg != "" {
		return errSyntax
	}
	if c.state != stateTransaction {
		return c.ok(c.signOff() + " signing off")
	}
	c.state = stateUpdate
	u := Update{Deleted: c.deleted.list(c.msgs.n), Retrieved: c.retrieved.list(c.msgs.n)}
	if c.srv.Expire == "0" {
		// EXPIRE 0: retrieved messages may not stay on the server.
		for _, i := range u.Retrieved {
			c.deleted.set(i)
		}
		u.Deleted = c.deleted.list(c.msgs.n)
	}
	res, err := c.md.Commit(c.ctx, u)
	if err != nil {
		return &Error{Code: CodeSysTemp, Text: "some deleted messages not removed", Err: err, end: endQuit}
	}
	c.committed = res
	c.srv.observe(func(o Observer) { o.Committed(res.Deleted) })
	return c.ok(fmt.Sprintf("%s signing off (%d messages left)", c.signOff(), res.Left))
}

// signOff is the name in the QUIT reply.
func (c *conn) signOff() string {
	v := c.srv.version()
	if i := strings.IndexByte(v, ' '); i > 0 {
		return v[:i]
	}
	return v
}

// ---- TRANSACTION state ----

// totals returns the undeleted messages and their octets: kept up to
// date by DELE and RSET, so that STAT costs nothing in a large maildrop.
func (c *conn) totals() (n int, size int64) { return c.left, c.leftSize }

// countAll sets the totals when no message is marked deleted.
func (c *conn) countAll() {
	var size int64
	for i := range c.msgs.n {
		size += c.msgs.size(i)
	}
	c.left, c.leftSize = c.msgs.n, size
}

// message parses a message number and returns its 0-based index; deleted
// messages are refused (RFC 1939 §5).
func (c *conn) message(s string) (int, error) {
	n, ok := parseNumber(s)
	if !ok {
		return 0, &Error{Text: "invalid message number"}
	}
	if n < 1 || n > c.msgs.n {
		return 0, errf("", "no such message, only %d messages in maildrop", c.msgs.n)
	}
	if c.deleted.has(n - 1) {
		return 0, errf("", "message %d already deleted", n)
	}
	return n - 1, nil
}

// cmdStat handles STAT.
func (c *conn) cmdStat(arg string) error {
	if c.state != stateTransaction {
		return errWrongState
	}
	if arg != "" {
		return errSyntax
	}
	n, size := c.totals()
	return c.ok(strconv.Itoa(n) + " " + strconv.FormatInt(size, 10))
}

// cmdList handles LIST [n] and, with uidl set, UIDL [n].
func (c *conn) cmdList(arg string, uidl bool) error {
	if c.state != stateTransaction {
		return errWrongState
	}
	args, ok := splitArgs(arg, 1)
	if !ok {
		return errSyntax
	}
	if len(args) == 1 {
		i, err := c.message(args[0])
		if err != nil {
			return err
		}
		b := c.listLine(c.scratch[:0], i, uidl)
		if !uidl {
			c.nlisted++
		}
		return c.ok(string(b))
	}
	if uidl {
		if err := c.ok(""); err != nil {
			return err
		}
	} else {
		n, size := c.totals()
		if err := c.ok(fmt.Sprintf("%d messages (%d octets)", n, size)); err != nil {
			return err
		}
	}
	for i := range c.msgs.n {
		if c.deleted.has(i) {
			continue
		}
		if err := c.writeBytes(c.listLine(c.scratch[:0], i, uidl)); err != nil {
			return err
		}
		if !uidl {
			c.nlisted++
		}
	}
	return c.writeLine(".")
}

// listLine appends "n size" or "n uid" for message i to b.
func (c *conn) listLine(b []byte, i int, uidl bool) []byte {
	b = strconv.AppendInt(b, int64(i+1), 10)
	b = append(b, ' ')
	if uidl {
		return append(b, c.msgs.uid(i)...)
	}
	return strconv.AppendInt(b, c.msgs.size(i), 10)
}

// messageArgs checks that a command taking n arguments, the first a
// message number, is valid now, and returns the message's index and the
// arguments.
func (c *conn) messageArgs(arg string, n int) (int, []string, error) {
	if c.state != stateTransaction {
		return 0, nil, errWrongState
	}
	args, ok := splitArgs(arg, n)
	if !ok || len(args) != n {
		return 0, nil, errSyntax
	}
	i, err := c.message(args[0])
	return i, args, err
}

// cmdRetr handles RETR n: the whole message, dot-stuffed.
func (c *conn) cmdRetr(arg string) error {
	i, _, err := c.messageArgs(arg, 1)
	if err != nil {
		return err
	}
	if err := c.send(i, -1); err != nil {
		return err
	}
	c.retrieved.set(i)
	c.nretr++
	return nil
}

// cmdTop handles TOP n m: the header, the empty line and m body lines.
func (c *conn) cmdTop(arg string) error {
	i, args, err := c.messageArgs(arg, 2)
	if err != nil {
		return err
	}
	lines, ok := parseNumber(args[1])
	if !ok {
		return &Error{Text: "invalid number of lines"}
	}
	return c.send(i, int64(lines))
}

// useBigWriter switches the session to a large pooled writer for sending a
// message, so that a small message leaves in one write(2) together with
// its +OK line and final dot, and a large one in large writes. Replies
// already buffered move into the large writer, in order: a pipelined
// batch of commands is still answered with one write.
func (c *conn) useBigWriter() error {
	if c.bw != c.small {
		return nil
	}
	out := c.sink.w // the connection, or TLS over it
	big := c.srv.getWriter(out)
	if c.small.Buffered() > 0 {
		c.sink.w = big
		err := c.small.Flush() // a copy: big is larger than small
		c.sink.w = out
		if err != nil {
			c.srv.putWriter(big)
			return err
		}
	}
	c.bw = big
	return nil
}

// sink is the writer under the session's small buffer.
type sink struct{ w io.Writer }

func (s *sink) Write(p []byte) (int, error) { return s.w.Write(p) }

// releaseBigWriter returns the large writer (flushed or not) to the pool.
func (c *conn) releaseBigWriter() {
	if c.bw != c.small {
		c.srv.putWriter(c.bw)
		c.bw = c.small
	}
}

// send streams message i: all of it when lines < 0, else as TOP with that
// many body lines. Once "+OK" has gone, a read error ends the connection.
func (c *conn) send(i int, lines int64) error {
	rc, err := c.md.Open(c.ctx, i)
	if err != nil {
		return &Error{Code: CodeSysTemp, Text: "unable to read message, try later", Err: err}
	}
	defer rc.Close()
	if err := c.useBigWriter(); err != nil {
		return err
	}
	if lines < 0 {
		err = c.ok(strconv.FormatInt(c.msgs.size(i), 10) + " octets")
	} else {
		err = c.ok("top of message follows")
	}
	if err != nil {
		return err
	}
	dw := newDotWriter(c.bw)
	if ps, ok := rc.(PreStuffer); ok && lines < 0 {
		// The maildrop stuffs as it decodes: one pass over the lines.
		// Open's data ends with CRLF, so only the final dot is left.
		dw.n, err = ps.WriteStuffedTo(c.bw)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(c.bw, ".\r\n"); err != nil {
			return err
		}
	} else {
		var dst io.Writer = dw
		if lines >= 0 {
			dst = newTopWriter(dw, lines)
		}
		if wt, ok := rc.(io.WriterTo); ok {
			// The maildrop decodes in large blocks: no copy through a buffer.
			_, err = wt.WriteTo(dst)
		} else {
			buf := c.srv.getBuffer()
			_, err = io.CopyBuffer(dst, struct{ io.Reader }{rc}, *buf)
			c.srv.putBuffer(buf)
		}
		if err != nil && err != errTopDone {
			return err
		}
		if err := dw.Close(); err != nil {
			return err
		}
	}
	c.octets += dw.n
	if o := c.srv.Observer; o != nil {
		verb := cmdTOP
		if lines < 0 {
			verb = cmdRETR
		}
		o.Sent(verb, dw.n)
	}
	if c.traceEnabled() {
		b := append(c.scratch[:0], "S: ["...)
		if lines < 0 {
			b = append(b, "RETR "...)
			b = strconv.AppendInt(b, int64(i+1), 10)
		} else {
			b = append(b, "TOP "...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, lines, 10)
		}
		b = append(b, ": "...)
		b = appendThousands(b, dw.n)
		b = append(b, " octets]"...)
		c.trace(string(b))
	}
	if lines < 0 && dw.n != c.msgs.size(i) {
		c.log.WithFields(logrus.Fields{"message": i + 1, "size": c.msgs.size(i), "sent": dw.n}).Warn("message size differs from the listed size")
	}
	return nil
}

// cmdDele handles DELE n: the message is only marked (RFC 1939 §6).
func (c *conn) cmdDele(arg string) error {
	i, _, err := c.messageArgs(arg, 1)
	if err != nil {
		return err
	}
	if err := c.checkDele(); err != nil {
		return err
	}
	c.deleted.set(i)
	c.left--
	c.leftSize -= c.msgs.size(i)
	return c.ok("message " + strconv.Itoa(i+1) + " deleted")
}

// cmdRset handles RSET: every deletion mark is removed.
func (c *conn) cmdRset(arg string) error {
	if c.state != stateTransaction {
		return errWrongState
	}
	if arg != "" {
		return errSyntax
	}
	c.deleted.clear()
	c.countAll()
	n, size := c.totals()
	return c.ok(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
}

// localIP is the server-side IP address of a connection.
func localIP(nc net.Conn) string {
	switch a := nc.LocalAddr().(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return "unknown"
	default:
		if h, _, err := net.SplitHostPort(a.String()); err == nil {
			return h
		}
		return a.String()
	}
}
