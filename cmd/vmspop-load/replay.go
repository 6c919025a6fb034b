package main

// "vmspop-load replay": the ceiling a POP client can reach on this
// machine. It records one user's session from a running server (every
// reply byte for byte: USER, PASS, STAT, UIDL, LIST, each RETR) and then
// serves those replies back to any number of clients, each RETR reply
// sent from the recording with sendfile(2): a server doing no work at
// all. A client measured against it ("load run", or compare.sh's popload)
// shows how much of a drain's time is the client's and the kernel's,
// which no server can remove.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// recording is one user's session, as the server sent it.
type recording struct {
	path    string            // file holding the RETR replies, one after another
	replies map[string][]byte // greeting, USER, PASS, STAT, UIDL, LIST
	off     []int64           // RETR i's reply is path[off[i-1] : off[i-1]+size[i-1]]
	size    []int64
}

func loadReplay(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("vmspop-load replay", flag.ContinueOnError)
	from := fs.String("from", "", "server to record from, `HOST:PORT`")
	user := fs.String("user", "", "user whose NEWMAIL is recorded")
	password := fs.String("password", "", "the user's password")
	listen := fs.String("listen", "127.0.0.1:0", "address to serve the recording on")
	dir := fs.String("dir", "", "directory for the recording (default: a new temporary one, removed at exit)")
	set, err := parseLoadFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireFlags(set, "from", "user", "password"); err != nil {
		return err
	}
	if strings.ContainsAny(*user+*password, "\r\n") {
		return loadUsagef("--user and --password must be one line each")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "vmspop-replay-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	rec, err := record(*from, *user, *password, filepath.Join(*dir, "replies"))
	if err != nil {
		return fmt.Errorf("recording from %s: %w", *from, err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replaying %d messages of %s (recorded from %s) on %s\n", len(rec.off), *user, *from, l.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		<-sig
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go rec.serve(c)
	}
}

// record runs one session as user against addr and keeps every reply.
func record(addr, user, password, path string) (*recording, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, loadReadBuf)
	rec := &recording{path: path, replies: map[string][]byte{}}
	reply := func(cmd string, multi bool, dst io.Writer) ([]byte, error) {
		if cmd != "" {
			if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
				return nil, err
			}
		}
		var out []byte
		first := true
		for {
			line, err := r.ReadSlice('\n')
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return nil, err
			}
			if dst != nil {
				if _, err := dst.Write(line); err != nil {
					return nil, err
				}
			} else {
				out = append(out, line...)
			}
			if first {
				if !strings.HasPrefix(string(line), "+OK") {
					what, _, _ := strings.Cut(cmd, " ") // the verb, not a password
					if what == "" {
						what = "greeting"
					}
					return nil, fmt.Errorf("%s: %q", what, strings.TrimSpace(string(line)))
				}
				if !multi {
					return out, nil
				}
				first = false
			} else if string(line) == ".\r\n" {
				return out, nil
			}
		}
	}
	steps := []struct {
		key, cmd string
		multi    bool
	}{
		{"greeting", "", false}, {"USER", "USER " + user, false}, {"PASS", "PASS " + password, false},
		{"STAT", "STAT", false}, {"UIDL", "UIDL", true}, {"LIST", "LIST", true},
	}
	for _, s := range steps {
		b, err := reply(s.cmd, s.multi, nil)
		if err != nil {
			return nil, err
		}
		rec.replies[s.key] = b
	}
	n, _, ok := twoInts(strings.TrimPrefix(strings.TrimSpace(string(rec.replies["STAT"])), "+OK "))
	if !ok {
		return nil, fmt.Errorf("STAT: %q", rec.replies["STAT"])
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cw := &countWriter{w: bufio.NewWriterSize(f, 1<<20)}
	for i := 1; i <= n; i++ {
		start := cw.n
		if _, err := reply("RETR "+strconv.Itoa(i), true, cw); err != nil {
			return nil, fmt.Errorf("RETR %d: %w", i, err)
		}
		rec.off = append(rec.off, start)
		rec.size = append(rec.size, cw.n-start)
	}
	if err := cw.w.Flush(); err != nil {
		return nil, err
	}
	if _, err := reply("QUIT", false, nil); err != nil {
		return nil, err
	}
	return rec, f.Close()
}

type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// serve answers one client from the recording: any USER and PASS get the
// recorded replies, RETR n is sent with sendfile, QUIT ends the session.
func (rec *recording) serve(c net.Conn) {
	defer c.Close()
	f, err := os.Open(rec.path)
	if err != nil {
		return
	}
	defer f.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	w.Write(rec.replies["greeting"])
	if w.Flush() != nil {
		return
	}
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
		verb = strings.ToUpper(verb)
		switch verb {
		case "QUIT":
			w.WriteString("+OK replay done\r\n")
			w.Flush()
			return
		case "RETR":
			i, err := strconv.Atoi(arg)
			if err != nil || i < 1 || i > len(rec.off) {
				w.WriteString("-ERR no such message\r\n")
				break
			}
			if w.Flush() != nil {
				return
			}
			if _, err := f.Seek(rec.off[i-1], io.SeekStart); err != nil {
				return
			}
			// *os.File under an io.LimitedReader: net uses sendfile(2).
			if _, err := io.Copy(c, &io.LimitedReader{R: f, N: rec.size[i-1]}); err != nil {
				return
			}
		default:
			if b, ok := rec.replies[verb]; ok {
				w.Write(b)
			} else {
				w.WriteString("-ERR not in the recording\r\n")
			}
		}
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
	}
}
