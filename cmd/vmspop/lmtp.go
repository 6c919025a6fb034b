package main

// LMTP delivery in "serve": TCPIP$POP_LMTP_LISTEN names Unix socket paths
// and/or host:port addresses; each recipient's copy goes through the same
// path as "vmspop deliver" (package delivery: spool.Append in MAIL-11
// form, durable before the reply).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/lmtp"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

// lmtpDeliverer is the lmtp.Deliverer of serve: the accounts file decides
// who exists, the spool stores.
type lmtpDeliverer struct {
	spool *spool.Spool
	uaf   *uaf.Store
	now   func() time.Time
	count *deliveryCount // deliveries by exit status, for the metrics
}

var _ lmtp.Deliverer = (*lmtpDeliverer)(nil)

// deliverer returns the delivery.Deliverer of the accounts file as it is
// now (the store reloads it when it changes).
func (d *lmtpDeliverer) deliverer() (*delivery.Deliverer, error) {
	db, err := d.uaf.DB()
	if err != nil {
		return nil, err
	}
	return &delivery.Deliverer{Spool: d.spool, UAF: db, Now: d.now}, nil
}

func (d *lmtpDeliverer) Check(user string) error {
	dl, err := d.deliverer()
	if err != nil {
		return err
	}
	if _, err = dl.CheckUsers([]string{user}); err != nil {
		d.count.result(err)
	}
	return err
}

func (d *lmtpDeliverer) Deliver(ctx context.Context, user, sender string, msg io.ReaderAt, size int64) error {
	dl, err := d.deliverer()
	if err != nil {
		return err
	}
	err = dl.Deliver(ctx, []string{user}, sender, true, msg, size)
	d.count.result(err)
	return err
}

func (d *lmtpDeliverer) Class(err error) lmtp.Class {
	switch {
	case errors.Is(err, spool.ErrLocked):
		return lmtp.Locked
	case errors.Is(err, spool.ErrNoSpace):
		return lmtp.NoSpace
	case errors.Is(err, spool.ErrBadUser), errors.Is(err, delivery.ErrNoUser):
		return lmtp.NoUser
	case errors.Is(err, delivery.ErrNoMail):
		return lmtp.Unavailable
	case errors.Is(err, delivery.ErrBadMessage):
		return lmtp.BadMessage
	}
	return lmtp.Temporary
}

// listenLMTP opens the listeners of TCPIP$POP_LMTP_LISTEN: a path is a Unix
// socket (a stale socket file is replaced; the socket is mode 0666, as
// Dovecot's, so that the MTA's user can connect: restrict access with the
// directory's permissions), anything else host:port.
func listenLMTP(addrs []string) ([]net.Listener, error) {
	var out []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, err
	}
	for _, a := range addrs {
		if strings.HasPrefix(a, "/") {
			if fi, err := os.Lstat(a); err == nil && fi.Mode()&os.ModeSocket != 0 {
				os.Remove(a)
			}
			l, err := net.Listen("unix", a)
			if err != nil {
				return fail(fmt.Errorf("TCPIP$POP_LMTP_LISTEN: %w", err))
			}
			if err := os.Chmod(a, 0o666); err != nil {
				l.Close()
				return fail(fmt.Errorf("TCPIP$POP_LMTP_LISTEN: %w", err))
			}
			out = append(out, l)
			continue
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fail(fmt.Errorf("TCPIP$POP_LMTP_LISTEN: %w", err))
		}
		out = append(out, l)
	}
	return out, nil
}

// startLMTP runs the LMTP server of cfg, if any; the returned function
// stops it, letting deliveries under way finish for at most grace. Each
// delivery is counted in count.
func startLMTP(cfg *logicals.Config, host string, log *logrus.Logger, count *deliveryCount) (func(grace time.Duration), error) {
	if len(cfg.LMTPListen) == 0 {
		return func(time.Duration) {}, nil
	}
	store, err := uaf.NewStore(cfg.UAF)
	if err != nil {
		return nil, err
	}
	ls, err := listenLMTP(cfg.LMTPListen)
	if err != nil {
		return nil, err
	}
	domains := append([]string{host, "localhost"}, cfg.LocalNames...)
	if cfg.SubstituteDomain != "" {
		domains = append(domains, cfg.SubstituteDomain)
	}
	srv := &lmtp.Server{
		Hostname:   host,
		Domains:    domains,
		Postmaster: cfg.Postmaster,
		MaxSize:    cfg.LMTPMaximumSize,
		Deliver:    &lmtpDeliverer{spool: spool.New(cfg.Spool), uaf: store, now: time.Now, count: count},
		Logger:     log,
	}
	srv.Init()
	for _, l := range ls {
		log.WithField("addr", l.Addr().String()).Info("LMTP listening")
		go func() {
			if err := srv.Serve(l); err != nil {
				log.WithError(err).Error("LMTP listener stopped")
			}
		}()
	}
	return func(grace time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	}, nil
}
