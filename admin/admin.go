// Package admin is vmspop's local administration channel: a Unix socket
// that `vmspop who` and `vmspop kick USER` talk to (as Dovecot's doveadm
// who/kick). Only root and the user the server runs as (the spool's
// owner) can use it: the socket has mode 0600 in a directory of mode 0700
// that the server creates, and every connection's peer credentials
// (SO_PEERCRED) are checked again.
//
// The protocol is one request line ("WHO", "KICK <user>", or "DELIVERED
// <status>", which vmspop deliver sends after each run so that the
// server's metrics count deliveries by exit status) and one JSON reply
// (Reply).
package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Session is one live session as `who` lists it.
type Session struct {
	ID     string    `json:"id"`
	User   string    `json:"user"`
	Remote string    `json:"remote"`
	State  string    `json:"state"`
	Start  time.Time `json:"start"`
	Octets int64     `json:"octets"`
	TLS    bool      `json:"tls"`
}

// Reply is the server's answer to one request.
type Reply struct {
	Sessions []Session `json:"sessions,omitempty"`
	Kicked   int       `json:"kicked"`
	Error    string    `json:"error,omitempty"`
}

// Handler is what the server does for the requests.
type Handler struct {
	Who  func() []Session
	Kick func(user string) int
	// Delivered counts one run of vmspop deliver with its exit status
	// (0-255); nil means deliveries are not counted.
	Delivered func(status int)
}

// Listen creates the socket at path: its directory is created with mode
// 0700 if missing (an existing one must not be writable by others), a
// stale socket is removed, and the new one gets mode 0600.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("admin socket: directory %s is writable by group or others (mode %v)", dir, fi.Mode().Perm())
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("admin socket: %s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// Serve answers requests on ln until it is closed.
func Serve(ln net.Listener, h Handler, log logrus.FieldLogger) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go serveConn(c, h, log)
	}
}

// allowed reports whether the peer of c is root or runs as this process.
func allowed(c net.Conn) (int, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, false
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil || cred == nil {
		return -1, false
	}
	uid := int(cred.Uid)
	return uid, uid == 0 || uid == os.Getuid()
}

func serveConn(c net.Conn, h Handler, log logrus.FieldLogger) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	enc := json.NewEncoder(c)
	line, err := bufio.NewReader(io.LimitReader(c, 1024)).ReadString('\n')
	if err != nil {
		return
	}
	uid, ok := allowed(c)
	if !ok {
		log.WithField("uid", uid).Warn("admin socket: connection refused")
		enc.Encode(Reply{Error: "permission denied"})
		return
	}
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	var r Reply
	switch strings.ToUpper(verb) {
	case "WHO":
		r.Sessions = h.Who()
	case "KICK":
		user := strings.TrimSpace(arg)
		if user == "" {
			r.Error = "KICK needs a user name"
			break
		}
		r.Kicked = h.Kick(user)
		log.WithFields(logrus.Fields{"user": strings.ToUpper(user), "sessions": r.Kicked, "uid": uid}).Info("admin: kick")
	case "DELIVERED":
		n, err := strconv.Atoi(strings.TrimSpace(arg))
		if err != nil || n < 0 || n > 255 {
			r.Error = "DELIVERED needs an exit status (0-255)"
			break
		}
		if h.Delivered != nil {
			h.Delivered(n)
		}
	default:
		r.Error = fmt.Sprintf("unknown request %q", verb)
	}
	enc.Encode(r)
}

// Request sends one request to the socket at path and returns the reply.
func Request(path, request string) (*Reply, error) {
	c, err := net.DialTimeout("unix", path, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", request); err != nil {
		return nil, err
	}
	var r Reply
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if r.Error != "" {
		return &r, errors.New(r.Error)
	}
	return &r, nil
}
