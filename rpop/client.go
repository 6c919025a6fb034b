package rpop

import (
	"bufio"

	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// maxLine bounds a response line (RFC 1939 §3: 512 octets with CRLF; a
// message line in RETR is allowed 1000 by RFC 5322 §2.1.1, and we take
// some slack for servers that do not wrap).
const (
	maxRespLine = 1024
	maxMsgLine  = 64 << 10
)

// Errors of the client; a ProtoError fails the account, a dial error the
// host.
var (
	ErrLineTooLong = errors.New("rpop: remote sent an over-long line")
	ErrTooLarge    = errors.New("rpop: message larger than the size limit")
)

// ProtoError is a -ERR answer or a protocol violation by the remote.
type ProtoError struct {
	Cmd  string // the command, password elided
	Resp string // the remote's line
}

func (e *ProtoError) Error() string { return fmt.Sprintf("rpop: %s: %s", e.Cmd, e.Resp) }

// client is a POP3 client connection (RFC 1939).
type client struct {
	ctx      context.Context // cancelled: every read and write fails
	conn     net.Conn
	r        *bufio.Reader
	timeout  time.Duration // per command/response and per read during RETR
	greeting string
}

func newClient(ctx context.Context, conn net.Conn, timeout time.Duration) *client {
	return &client{ctx: ctx, conn: conn, r: bufio.NewReaderSize(conn, maxMsgLine+2), timeout: timeout}
}

// readLine reads one line without its CRLF, refusing lines over max.
func (c *client) readLine(max int) ([]byte, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > max {
		return nil, ErrLineTooLong
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// status reads a +OK/-ERR line; -ERR becomes a ProtoError.
func (c *client) status(cmd string) (string, error) {
	line, err := c.readLine(maxRespLine)
	if err != nil {
		return "", fmt.Errorf("rpop: %s: %w", cmd, err)
	}
	s := string(line)
	if rest, ok := strings.CutPrefix(s, "+OK"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", &ProtoError{Cmd: cmd, Resp: s}
}

// cmd sends a command line and reads its status. shown is how the command
// appears in errors (passwords elided).
func (c *client) cmd(shown, line string) (string, error) {
	if err := c.ctx.Err(); err != nil {
		return "", err
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		return "", fmt.Errorf("rpop: %s: %w", shown, err)
	}
	return c.status(shown)
}

// multi reads a dot-terminated listing of short lines.
func (c *client) multi(cmd string, fn func(line string) error) error {
	for {
		line, err := c.readLine(maxRespLine)
		if err != nil {
			return fmt.Errorf("rpop: %s: %w", cmd, err)
		}
		if string(line) == "." {
			return nil
		}
		if err := fn(string(line)); err != nil {
			return err
		}
	}
}

// greet reads the greeting.
func (c *client) greet() error {
	g, err := c.status("greeting")
	c.greeting = g
	return err
}

// apopTimestamp returns the <...> timestamp of the greeting (RFC 1939 §7).
func (c *client) apopTimestamp() string {
	i := strings.IndexByte(c.greeting, '<')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(c.greeting[i:], '>')
	if j < 0 || !strings.Contains(c.greeting[i:i+j], "@") {
		return ""
	}
	return c.greeting[i : i+j+1]
}

// capa returns the server's capabilities (RFC 2449), or nil when it has
// no CAPA.
func (c *client) capa() (map[string]bool, error) {
	if _, err := c.cmd("CAPA", "CAPA"); err != nil {
		var pe *ProtoError
		if errors.As(err, &pe) {
			return nil, nil
		}
		return nil, err
	}
	caps := map[string]bool{}
	err := c.multi("CAPA", func(l string) error {
		f := strings.Fields(l)
		if len(f) > 0 {
			caps[strings.ToUpper(f[0])] = true
		}
		return nil
	})
	return caps, err
}

// startTLS runs STLS (RFC 2595 §4) and the handshake.
func (c *client) startTLS(ctx context.Context, cfg *tls.Config) error {
	if _, err := c.cmd("STLS", "STLS"); err != nil {
		return err
	}
	if c.r.Buffered() > 0 {
		return &ProtoError{Cmd: "STLS", Resp: "data after the STLS answer (injection?)"}
	}
	tc := tls.Client(c.conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("rpop: STLS handshake: %w", err)
	}
	c.conn = tc
	c.r = bufio.NewReaderSize(tc, maxMsgLine+2)
	return nil
}

// login authenticates with APOP when apop, else USER/PASS.
func (c *client) login(account, password string, apop bool) error {
	if apop {
		ts := c.apopTimestamp()
		sum := md5.Sum([]byte(ts + password))
		_, err := c.cmd("APOP "+account+" ***", "APOP "+account+" "+hex.EncodeToString(sum[:]))
		return err
	}
	if _, err := c.cmd("USER "+account, "USER "+account); err != nil {
		return err
	}
	_, err := c.cmd("PASS ***", "PASS "+password)
	return err
}

// msgInfo is one message of the remote maildrop.
type msgInfo struct {
	N    int
	UIDL string // "" when the server has no UIDL
}

// list returns the messages by number, with UIDLs when the server has
// them (hasUIDL false otherwise). LIST sizes are read but not trusted.
func (c *client) list() (msgs []msgInfo, hasUIDL bool, err error) {
	if _, err := c.cmd("LIST", "LIST"); err != nil {
		return nil, false, err
	}
	err = c.multi("LIST", func(l string) error {
		f := strings.Fields(l)
		if len(f) < 1 {
			return &ProtoError{Cmd: "LIST", Resp: l}
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 {
			return &ProtoError{Cmd: "LIST", Resp: l}
		}
		msgs = append(msgs, msgInfo{N: n})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if _, err := c.cmd("UIDL", "UIDL"); err != nil {
		var pe *ProtoError
		if errors.As(err, &pe) {
			return msgs, false, nil
		}
		return nil, false, err
	}
	byN := map[int]string{}
	err = c.multi("UIDL", func(l string) error {
		f := strings.Fields(l)
		if len(f) != 2 || !validUIDL(f[1]) {
			return &ProtoError{Cmd: "UIDL", Resp: l}
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return &ProtoError{Cmd: "UIDL", Resp: l}
		}
		byN[n] = f[1]
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	for i := range msgs {
		u, ok := byN[msgs[i].N]
		if !ok {
			return nil, false, &ProtoError{Cmd: "UIDL", Resp: fmt.Sprintf("no UIDL for message %d", msgs[i].N)}
		}
		msgs[i].UIDL = u
	}
	return msgs, true, nil
}

// validUIDL: RFC 1939 §7, 1 to 70 characters in 0x21-0x7E.
func validUIDL(s string) bool {
	if len(s) < 1 || len(s) > 70 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// retr fetches message n into w: dot-unstuffed, CRLF turned into LF, read
// to the terminating dot whatever LIST said. Past limit octets it keeps
// reading to the dot (so the session stays usable) but writes nothing
// more and returns ErrTooLarge. It returns the octets written.
func (c *client) retr(n int, w io.Writer, limit int64) (int64, error) {
	cmd := "RETR " + strconv.Itoa(n)
	if _, err := c.cmd(cmd, cmd); err != nil {
		return 0, err
	}
	var total int64
	over := false
	for {
		line, err := c.readLine(maxMsgLine)
		if err != nil {
			return total, fmt.Errorf("rpop: %s: %w", cmd, err)
		}
		if len(line) == 1 && line[0] == '.' {
			break
		}
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		if over {
			continue
		}
		if total+int64(len(line))+1 > limit {
			over = true
			continue
		}
		// line aliases the reader's buffer; write it before the next read.
		if _, err := w.Write(line); err != nil {
			return total, err
		}
		if _, err := w.Write(nl); err != nil {
			return total, err
		}
		total += int64(len(line)) + 1
	}
	if over {
		return total, ErrTooLarge
	}
	return total, nil
}

var nl = []byte{'\n'}

// quit sends QUIT; +OK means the deletions are committed (RFC 1939 §6).
func (c *client) quit() error {
	_, err := c.cmd("QUIT", "QUIT")
	return err
}
