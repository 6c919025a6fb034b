package main

// "load hold": N logged-in sessions held open and idle, so that a drain
// can be measured with them (scripts/idle-drain.sh).

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// holdOpts are the flags of "load hold".
type holdOpts struct {
	addr     string
	prefix   string
	nusers   int
	password string
	sources  int
	parallel int
	ready    string
	timeout  time.Duration
}

// holdConcurrency is how many logins hold runs at once by default.
const holdConcurrency = 64

func loadHold(args []string, stdout, stderr io.Writer) error {
	var o holdOpts
	fs := flag.NewFlagSet("vmspop-load hold", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "", "server `HOST:PORT`")
	fs.StringVar(&o.prefix, "users-prefix", "LOAD", "user name prefix")
	fs.IntVar(&o.nusers, "nusers", 0, "number of users, one session each")
	fs.StringVar(&o.password, "password", "", "password of the users")
	fs.IntVar(&o.sources, "sources", 1, "local addresses 127.0.0.1..127.0.0.N to connect from")
	fs.IntVar(&o.parallel, "parallel", holdConcurrency, "logins in progress at once")
	fs.StringVar(&o.ready, "ready", "", "file created once every session is logged in")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "bound on each command")
	set, err := parseLoadFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireFlags(set, "addr", "nusers", "password"); err != nil {
		return err
	}
	switch {
	case o.nusers < 1 || o.nusers > 99999:
		return loadUsagef("--nusers %d: want 1 to 99999", o.nusers)
	case o.sources < 1 || o.sources > 254:
		return loadUsagef("--sources %d: want 1 to 254", o.sources)
	case o.parallel < 1:
		return loadUsagef("--parallel %d: want at least 1", o.parallel)
	case o.timeout <= 0:
		return loadUsagef("--timeout must be positive")
	case o.password == "" || strings.ContainsAny(o.password, "\r\n"):
		return loadUsagef("--password must be one non-empty line")
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return loadUsagef("--addr %q: %v", o.addr, err)
	}
	names, err := loadUsers(o.prefix, o.nusers)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	conns := make([]*heldConn, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	for i, name := range names {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = holdLogin(&o, i, name)
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			if failed < loadMaxErrors {
				fmt.Fprintf(stderr, "vmspop-load hold: %s: %v\n", names[i], err)
			}
			failed++
		}
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.quit()
			}
		}
	}()
	if failed > 0 {
		fmt.Fprintf(stderr, "vmspop-load hold: %d of %d logins failed\n", failed, len(names))
		return errLoadFailed
	}
	fmt.Fprintf(stdout, "holding %d sessions (%s) from %d address(es), logged in in %.1f s\n",
		len(names), userRange(names), o.sources, time.Since(start).Seconds())
	if o.ready != "" {
		if err := os.WriteFile(o.ready, nil, 0o644); err != nil {
			return err
		}
		defer os.Remove(o.ready)
	}
	<-ctx.Done()
	return nil
}

// heldConn is one idle logged-in session.
type heldConn struct {
	c net.Conn
	r *bufio.Reader
}

// holdLogin connects the i'th session (from 127.0.0.(1 + i mod sources))
// and logs in as name; STAT must answer.
func holdLogin(o *holdOpts, i int, name string) (*heldConn, error) {
	d := net.Dialer{Timeout: o.timeout}
	if o.sources > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.sources))}
	}
	c, err := d.Dial("tcp", o.addr)
	if err != nil {
		return nil, err
	}
	h := &heldConn{c: c, r: bufio.NewReaderSize(c, 512)}
	c.SetDeadline(time.Now().Add(o.timeout))
	for _, cmd := range []string{"", "USER " + name, "PASS " + o.password, "STAT"} {
		if cmd != "" {
			if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
				c.Close()
				return nil, err
			}
		}
		line, err := h.r.ReadSlice('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if !bytes.HasPrefix(line, []byte("+OK")) {
			c.Close()
			return nil, fmt.Errorf("%s: %s", strings.Fields(cmd + " greeting")[0], printable(bytes.TrimRight(line, "\r\n")))
		}
	}
	c.SetDeadline(time.Time{})
	return h, nil
}

// quit ends the session with QUIT (nothing is deleted) and closes it.
func (h *heldConn) quit() {
	h.c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(h.c, "QUIT\r\n")
	h.r.ReadSlice('\n')
	h.c.Close()
}
