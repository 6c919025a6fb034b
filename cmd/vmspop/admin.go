package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/admin"
	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
)

// startAdmin opens the admin socket of TCPIP$POP_ADMIN_SOCKET, if set,
// for vmspop who and kick; the returned function closes it.
func startAdmin(cfg *logicals.Config, log *logrus.Logger, current func() *gateway.Server, dlv *deliveryCount) (func(), error) {
	if cfg.AdminSocket == "" {
		return func() {}, nil
	}
	ln, err := admin.Listen(cfg.AdminSocket)
	if err != nil {
		return nil, fmt.Errorf("TCPIP$POP_ADMIN_SOCKET: %w", err)
	}
	h := admin.Handler{
		Who: func() []admin.Session {
			var out []admin.Session
			srv := current()
			if srv == nil {
				return nil
			}
			for _, s := range srv.Sessions() {
				out = append(out, admin.Session{ID: s.ID, User: s.User, Remote: s.Remote, State: s.State, Start: s.Start, Octets: s.Octets, TLS: s.TLS})
			}
			return out
		},
		Kick: func(user string) int {
			if srv := current(); srv != nil {
				return srv.Kick(user)
			}
			return 0
		},
		Delivered: dlv.status,
	}
	go admin.Serve(ln, h, log)
	log.WithField("path", cfg.AdminSocket).Info("admin socket listening")
	return func() { ln.Close() }, nil
}

// adminRequest reads the logicals for the socket's path and sends one
// request.
func adminRequest(name string, args []string, env func(string) (string, bool), stderr io.Writer, request func(rest []string) (string, bool)) (*admin.Reply, int) {
	cfg, _, rest, ok := loadConfig(args, name, env, stderr)
	if !ok {
		return nil, 2
	}
	req, ok := request(rest)
	if !ok {
		return nil, 2
	}
	if cfg.AdminSocket == "" {
		fmt.Fprintf(stderr, "vmspop %s: TCPIP$POP_ADMIN_SOCKET is not defined (the server's admin socket)\n", name)
		return nil, 2
	}
	r, err := admin.Request(cfg.AdminSocket, req)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop %s: %v\n", name, err)
		return nil, 1
	}
	return r, 0
}

// runWho lists the live sessions, as doveadm who does.
func runWho(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	r, code := adminRequest("who", args, env, stderr, func(rest []string) (string, bool) {
		if len(rest) != 0 {
			fmt.Fprintln(stderr, "usage: vmspop who [--startup FILE]")
			return "", false
		}
		return "WHO", true
	})
	if r == nil {
		return code
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tADDRESS\tSTATE\tTLS\tAGE\tOCTETS\tSESSION")
	for _, s := range r.Sessions {
		user := s.User
		if user == "" {
			user = "-"
		}
		tls := "no"
		if s.TLS {
			tls = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", user, s.Remote, strings.ToLower(s.State), tls,
			time.Since(s.Start).Round(time.Second), s.Octets, s.ID)
	}
	tw.Flush()
	return 0
}

// runKick closes a user's sessions without UPDATE.
func runKick(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	var user string
	r, code := adminRequest("kick", args, env, stderr, func(rest []string) (string, bool) {
		if len(rest) != 1 {
			fmt.Fprintln(stderr, "usage: vmspop kick [--startup FILE] USER")
			return "", false
		}
		if !spool.ValidName(rest[0]) { // before upper-casing: strings.ToUpper("ſmith") is "SMITH"
			fmt.Fprintf(stderr, "vmspop kick: invalid user name %q\n", rest[0])
			return "", false
		}
		user = strings.ToUpper(rest[0])
		return "KICK " + user, true
	})
	if r == nil {
		return code
	}
	fmt.Fprintf(stdout, "%s: %d session(s) closed\n", user, r.Kicked)
	if r.Kicked == 0 {
		return 1
	}
	return 0
}
