// Package lmtp is an LMTP server (RFC 2033) that hands each recipient's
// copy of a message to a Deliverer and answers DATA once per recipient,
// with 250 only once that copy is durable.
//
// It is built on github.com/emersion/go-smtp in LMTP mode, which gives
// LHLO, PIPELINING (RFC 2920), 8BITMIME (RFC 6152), SIZE (RFC 1870) and
// ENHANCEDSTATUSCODES (RFC 2034, 3463). This package maps recipients to
// users and errors to replies; it knows nothing of the spool.
package lmtp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/sirupsen/logrus"
)

// Deliverer stores one copy of a message for one user.
type Deliverer interface {
	// Check reports whether user (upper case) may receive mail: nil, or
	// an error that Class maps (NoUser, Unavailable, ...).
	Check(user string) error
	// Deliver stores msg (size octets, LF line ends, as received after
	// the DATA dot-unstuffing) in user's mailbox for the envelope sender
	// ("" for <>). It returns nil only once the copy is durable.
	Deliver(ctx context.Context, user, sender string, msg io.ReaderAt, size int64) error
	// Class says what kind of failure err, from Check or Deliver, is.
	Class(err error) Class
}

// Class is the kind of a delivery failure, which decides the reply.
type Class int

// Failure classes and their replies.
const (
	Temporary   Class = iota // 451 4.3.0: any other failure, retry later
	Locked                   // 451 4.2.0: the mailbox stayed locked
	NoSpace                  // 452 4.3.1: the spool is full
	NoUser                   // 550 5.1.1: no such user
	Unavailable              // 550 5.2.1: the user may not receive mail
	BadMessage               // 554 5.6.0: the message cannot be stored
)

func reply(c Class, detail string) *smtp.SMTPError {
	switch c {
	case Locked:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Mailbox locked, try again later"}
	case NoSpace:
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}
	case NoUser:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	case Unavailable:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 2, 1}, Message: "Mailbox disabled"}
	case BadMessage:
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: " + detail}
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
}

// DefaultMaxSize is the size limit when Server.MaxSize is 0.
const DefaultMaxSize = 64 << 20

// MaxLineLength bounds a command or message line in octets; a longer one
// gets 554 5.6.0 for every recipient.
const MaxLineLength = 1 << 20

// DefaultReadTimeout bounds the wait for a client's next line.
const DefaultReadTimeout = 5 * time.Minute

// Server is an LMTP server. Set its fields, then call Serve.
type Server struct {
	// Hostname is announced in the greeting.
	Hostname string
	// Domains are the domains (case-insensitive) whose recipients are
	// local: local@domain goes to user LOCAL. A recipient without a
	// domain is local too.
	Domains []string
	// Postmaster are the users that "postmaster" (any local domain) goes
	// to.
	Postmaster []string
	// MaxSize bounds a message in octets (SIZE); 0 means DefaultMaxSize.
	MaxSize int64
	// TempDir holds messages while they are delivered ("" = os.TempDir).
	TempDir string
	// Deliver stores the copies.
	Deliver Deliverer
	// Logger gets one line per delivered or refused recipient.
	Logger *logrus.Logger
	// ReadTimeout bounds the wait for a line; 0 means DefaultReadTimeout.
	ReadTimeout time.Duration

	srv    *smtp.Server
	nextID atomic.Uint64
	// Buffers reused from one message to the next: the spill buffers
	// (*[]byte) and copyLF's (*copier). Allocating them per message was a
	// tenth of the server's CPU (allocation and GC).
	bufs, copiers sync.Pool
	ctx           context.Context
	cancel        context.CancelFunc
}

// init builds the go-smtp server once, before the first Serve.
func (s *Server) init() {
	if s.srv != nil {
		return
	}
	if s.MaxSize <= 0 {
		s.MaxSize = DefaultMaxSize
	}
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = DefaultReadTimeout
	}
	if s.Logger == nil {
		s.Logger = logrus.New()
		s.Logger.SetOutput(io.Discard)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.LMTP = true
	srv.Domain = s.Hostname
	srv.MaxMessageBytes = s.MaxSize
	srv.MaxRecipients = 1000
	// Body lines longer than SMTP's 1000 octets do reach delivery agents;
	// the bound only keeps one line from taking unbounded memory.
	srv.MaxLineLength = MaxLineLength
	srv.ReadTimeout = s.ReadTimeout
	srv.WriteTimeout = s.ReadTimeout
	srv.ErrorLog = errorLog{s.Logger}
	s.srv = srv
}

// Init prepares the server; call it before Serve when Serve runs on
// several listeners at once.
func (s *Server) Init() { s.init() }

// Serve accepts LMTP connections on l until Close or Shutdown.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	return s.srv.Serve(l)
}

// Shutdown stops accepting and waits for open connections until ctx is
// done; deliveries under way finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	err := s.srv.Shutdown(ctx)
	s.cancel()
	return err
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.init()
	s.cancel()
	return s.srv.Close()
}

type errorLog struct{ log *logrus.Logger }

func (e errorLog) Printf(format string, v ...any) { e.log.Errorf("lmtp: "+format, v...) }
func (e errorLog) Println(v ...any)               { e.log.Error(append([]any{"lmtp: "}, v...)...) }

// rcpt is one accepted RCPT TO: the address as given and its users.
type rcpt struct {
	addr  string
	users []string
}

// session is one LMTP connection's state.
type session struct {
	s      *Server
	log    *logrus.Entry
	from   string
	rcpts  []rcpt
	remote string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	id := s.nextID.Add(1)
	remote := "local"
	if a := c.Conn().RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		remote = a.String()
	}
	return &session{s: s, remote: remote, log: s.Logger.WithFields(logrus.Fields{"session": fmt.Sprintf("lmtp-%d", id), "remote": remote, "lhlo": c.Hostname()})}, nil
}

func (ss *session) Reset()        { ss.from, ss.rcpts = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.from, ss.rcpts = from, nil
	return nil
}

// users maps a recipient address to the users it names.
func (ss *session) users(addr string) ([]string, error) {
	local, domain := addr, ""
	i := strings.LastIndexByte(addr, '@')
	if i >= 0 {
		local, domain = addr[:i], addr[i+1:]
	}
	if i >= 0 && !ss.isLocal(domain) {
		return nil, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 2}, Message: "Not a local domain"}
	}
	if strings.EqualFold(local, "postmaster") && len(ss.s.Postmaster) > 0 {
		return ss.s.Postmaster, nil
	}
	// The name is checked before it is upper-cased: strings.ToUpper folds
	// some non-ASCII letters into ASCII ones ("ſmith" is "SMITH").
	if !isASCII(local) {
		return nil, reply(NoUser, "")
	}
	user := strings.ToUpper(local)
	if err := ss.s.Deliver.Check(user); err != nil {
		c := ss.s.Deliver.Class(err)
		if c != NoUser && c != Unavailable {
			ss.log.WithError(err).WithField("rcpt", addr).Warn("recipient check failed")
		}
		return nil, reply(c, "")
	}
	return []string{user}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (ss *session) isLocal(domain string) bool {
	domain = strings.TrimSuffix(domain, ".")
	for _, d := range ss.s.Domains {
		if strings.EqualFold(domain, d) {
			return true
		}
	}
	return false
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	users, err := ss.users(to)
	if err != nil {
		ss.log.WithFields(logrus.Fields{"from": ss.from, "rcpt": to}).Info("recipient refused: " + err.Error())
		return err
	}
	ss.rcpts = append(ss.rcpts, rcpt{addr: to, users: users})
	return nil
}

// Data is not used in LMTP mode; LMTPData is.
func (ss *session) Data(r io.Reader) error {
	return errors.New("lmtp: DATA without per-recipient status")
}

func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	sp, size, err := ss.spoolData(r)
	if err != nil {
		return err
	}
	defer sp.Close()
	f := sp.reader()
	start := time.Now()
	// The recipients' copies are made at once (their folders have their
	// own locks, and their syncs overlap), the replies sent in RCPT order.
	failed := make([]error, len(ss.rcpts))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, rc := range ss.rcpts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, u := range rc.users {
				if err := ss.s.Deliver.Deliver(ss.s.ctx, u, ss.from, f, size); err != nil {
					failed[i] = err
					ss.log.WithError(err).WithFields(logrus.Fields{"from": ss.from, "rcpt": rc.addr, "user": u, "size": size}).Warn("delivery failed")
					return
				}
				ss.log.WithFields(logrus.Fields{"from": ss.from, "rcpt": rc.addr, "user": u, "size": size, "ms": time.Since(start).Milliseconds()}).Info("delivered")
			}
		}()
	}
	wg.Wait()
	for i, rc := range ss.rcpts {
		if failed[i] != nil {
			status.SetStatus(rc.addr, reply(ss.s.Deliver.Class(failed[i]), failed[i].Error()))
		} else {
			status.SetStatus(rc.addr, nil)
		}
	}
	return nil
}

// maxParallel bounds the copies of one message made at once.
const maxParallel = 8

// spoolData collects the message, turning CRLF into LF (spill: in memory
// when small, else in an unlinked temporary file).
func (ss *session) spoolData(r io.Reader) (*spill, int64, error) {
	sp := &spill{dir: ss.s.TempDir, pool: &ss.s.bufs}
	if b, ok := ss.s.bufs.Get().(*[]byte); ok {
		sp.buf = *b
	}
	c, _ := ss.s.copiers.Get().(*copier)
	if c == nil {
		c = &copier{w: bufio.NewWriterSize(sp, 32<<10), buf: make([]byte, 32<<10)}
	}
	c.w.Reset(sp)
	n, err := copyLFBuf(c.w, r, c.buf)
	if err == nil {
		err = c.w.Flush()
	}
	c.w.Reset(nil)
	ss.s.copiers.Put(c)
	if err != nil {
		sp.Close()
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return nil, 0, se // 552 message too large
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, err
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			return nil, 0, reply(BadMessage, fmt.Sprintf("a line is longer than %d octets", MaxLineLength))
		}
		ss.log.WithError(err).Error("spooling the message")
		return nil, 0, reply(Temporary, "")
	}
	return sp, n, nil
}

// copier holds copyLF's buffers, reused from one message to the next.
type copier struct {
	w   *bufio.Writer
	buf []byte
}

// copyLF copies r to w with every CRLF turned into LF.
func copyLF(w *bufio.Writer, r io.Reader) (int64, error) {
	return copyLFBuf(w, r, make([]byte, 32<<10))
}

// copyLFBuf is copyLF reading through buf.
func copyLFBuf(w *bufio.Writer, r io.Reader, buf []byte) (int64, error) {
	var n int64
	cr := false // a CR ended the previous chunk
	for {
		m, err := r.Read(buf)
		chunk := buf[:m]
		for len(chunk) > 0 {
			if cr {
				cr = false
				if chunk[0] != '\n' {
					w.WriteByte('\r')
					n++
				}
			}
			i := bytes.IndexByte(chunk, '\r')
			if i < 0 {
				w.Write(chunk)
				n += int64(len(chunk))
				break
			}
			w.Write(chunk[:i])
			n += int64(i)
			chunk = chunk[i+1:]
			if len(chunk) == 0 {
				cr = true
				break
			}
			if chunk[0] != '\n' {
				w.WriteByte('\r')
				n++
			}
		}
		if err == io.EOF {
			if cr {
				w.WriteByte('\r')
				n++
			}
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
