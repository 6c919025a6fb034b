package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vmspop/vmspop/gateway"
)

// smtpSubmitter sends XTND XMIT messages through an SMTP relay
// (TCPIP$POP_SMTP_RELAY) with go-smtp's client, using STARTTLS when the
// relay offers it.
type smtpSubmitter struct {
	Addr   string // relay host:port
	Helo   string // our host name, for EHLO
	Domain string // the domain of the envelope sender, USER@Domain
	// TLSConfig is used for STARTTLS; nil means verify the relay's
	// certificate against the system roots for its host name.
	TLSConfig *tls.Config
	// Timeout bounds the connection and each exchange; zero means 2 min.
	Timeout time.Duration
}

var _ gateway.Submitter = (*smtpSubmitter)(nil)

// Submit sends s; the relay's refusal comes back as a *gateway.Error
// carrying its reply.
func (m *smtpSubmitter) Submit(ctx context.Context, s *gateway.Submission) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	c, err := m.dial(ctx, timeout)
	if err != nil {
		return err
	}
	// Close without QUIT abandons the transaction: nothing half-sent is
	// delivered.
	defer c.Close()
	from := strings.ToLower(s.User) + "@" + m.Domain
	if s.Sender != "" {
		from = s.Sender
	}
	if err := c.Mail(from, nil); err != nil {
		return relayErr(err)
	}
	for _, r := range s.Recipients {
		if err := c.Rcpt(r, nil); err != nil {
			return relayErr(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return relayErr(err)
	}
	if _, err := io.Copy(w, s.Message); err != nil {
		return err // not w.Close: that would send the final dot
	}
	if err := w.Close(); err != nil {
		return relayErr(err)
	}
	c.Quit()
	return nil
}

// dial connects to the relay and says EHLO; when the relay offers
// STARTTLS it connects again and starts TLS first (go-smtp's client can
// start TLS only before its first EHLO, and then says EHLO localhost).
func (m *smtpSubmitter) dial(ctx context.Context, timeout time.Duration) (*smtp.Client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", m.Addr, err)
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	if err := c.Hello(m.Helo); err != nil {
		c.Close()
		return nil, relayErr(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return c, nil
	}
	c.Quit()
	cfg := m.TLSConfig
	if cfg == nil {
		host, _, _ := net.SplitHostPort(m.Addr)
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if conn, err = d.DialContext(ctx, "tcp", m.Addr); err != nil {
		return nil, fmt.Errorf("relay %s: %w", m.Addr, err)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	c, err = smtp.NewClientStartTLS(conn, cfg)
	if err != nil {
		return nil, relayErr(err)
	}
	conn.SetDeadline(time.Time{})
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	return c, nil
}

// relayErr turns the relay's SMTP reply into the client's -ERR text; any
// other error (connection, TLS) is logged and answered generically.
func relayErr(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		msg := strings.Join(strings.Fields(se.Message), " ")
		if len(msg) > 300 {
			msg = msg[:300]
		}
		code := fmt.Sprint(se.Code)
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != (smtp.EnhancedCode{}) {
			code += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return &gateway.Error{Text: "relay refused the message: " + code + " " + msg}
	}
	return err
}
