package main

// Two vmspop instances on one spool behind a real HAProxy (send-proxy-v2):
// POP clients drain while LMTP delivers to the same users through both
// instances, and one instance is SIGKILLed and restarted.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// popSession is one drain: it returns the Message-IDs it retrieved and
// whether the server acknowledged QUIT (the deletions are then committed),
// with the inner interval during which the server certainly held the
// mailbox: from PASS's +OK to the last command sent.
type popSession struct {
	ids        []string
	committed  bool
	inUse      bool
	held       bool
	start, end time.Time
}

func drainOnce(src, addr, user string) (ps popSession, err error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return ps, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	line := func() (string, error) {
		l, err := r.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err
	}
	cmd := func(s string) (string, error) {
		if ps.held {
			ps.end = time.Now()
		}
		if _, err := fmt.Fprintf(c, "%s\r\n", s); err != nil {
			return "", err
		}
		l, err := line()
		if err == nil && !strings.HasPrefix(l, "+OK") {
			err = fmt.Errorf("%s: %s", s, l)
		}
		return l, err
	}
	if _, err := line(); err != nil {
		return ps, err
	}
	if _, err := cmd("USER " + user); err != nil {
		return ps, err
	}
	if l, err := cmd("PASS demo"); err != nil {
		ps.inUse = strings.Contains(l, "[IN-USE]")
		return ps, err
	}
	ps.held, ps.start, ps.end = true, time.Now(), time.Now()
	st, err := cmd("STAT")
	if err != nil {
		return ps, err
	}
	var n int
	fmt.Sscanf(st, "+OK %d", &n)
	for i := 1; i <= n; i++ {
		if _, err := cmd(fmt.Sprintf("RETR %d", i)); err != nil {
			return ps, err
		}
		var id string
		for {
			l, err := line()
			if err != nil {
				return ps, err
			}
			if l == "." {
				break
			}
			if m := messageIDRE.FindStringSubmatch(l); m != nil {
				id = m[1]
			}
		}
		ps.ids = append(ps.ids, id)
		if _, err := cmd(fmt.Sprintf("DELE %d", i)); err != nil {
			return ps, err
		}
	}
	if _, err := cmd("QUIT"); err != nil {
		return ps, err
	}
	ps.committed = true
	return ps, nil
}

// TestScaleOutHAProxy: HAProxy (send-proxy-v2, leastconn) in front of two
// vmspop instances on one spool; 50 POP clients from 40 loopback addresses
// drain 10 mailboxes while LMTP delivers to them through both instances,
// and one instance is SIGKILLed and restarted. Afterwards every message
// acknowledged by LMTP was committed by exactly one POP session (or was
// retrieved by a session the kill cut after its UPDATE, or is still in
// NEWMAIL), no two sessions held one mailbox at once, and both instances
// logged the clients' own addresses.
func TestScaleOutHAProxy(t *testing.T) {
	const users, clients = 10, 50
	n := e2eEnvInt("VMSPOP_SCALEOUT_MESSAGES", 600)
	dir := t.TempDir()
	var accounts []e2eAccount
	for u := 1; u <= users; u++ {
		accounts = append(accounts, e2eAccount{Name: fmt.Sprintf("USER%02d", u), Password: "demo"})
	}
	spoolDir, uafPath := filepath.Join(dir, "spool"), filepath.Join(dir, "uaf")
	os.MkdirAll(spoolDir, 0o700)
	writeUAF(t, uafPath, accounts)
	inst := make([]*e2eServer, 2)
	envs := make([][]string, 2)
	for i := range inst {
		inst[i] = &e2eServer{Dir: dir, Spool: spoolDir, UAF: uafPath, Log: filepath.Join(dir, fmt.Sprintf("pop%d.log", i+1)), Addr: freePort(t)}
		envs[i] = []string{"TCPIP$POP_LMTP_LISTEN=" + filepath.Join(dir, fmt.Sprintf("lmtp%d.sock", i+1)), "TCPIP$POP_PROXY_TRUSTED=127.0.0.1", "TCPIP$POP_TRACE=0"}
		inst[i].start(t, envs[i]...)
	}
	front := freePort(t)
	startHAProxy(t, dir, front, inst[0].Addr, inst[1].Addr)
	begin := time.Now()

	// LMTP: two connections, one per instance; a message whose attempt
	// fails is retried through the other instance.
	var delivered atomic.Int64
	failed := make([]atomic.Int32, n)
	lmtpDone := make(chan error, 1)
	go func() {
		socks := []string{filepath.Join(dir, "lmtp1.sock"), filepath.Join(dir, "lmtp2.sock")}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var c *smtp.Client
				sock := w
				for i := w; i < n; i += 2 {
					for attempt := 0; ; attempt++ {
						if attempt > 50 {
							errs <- fmt.Errorf("message %d: too many attempts", i)
							return
						}
						if c == nil {
							conn, err := net.Dial("unix", socks[sock])
							if err != nil {
								sock = 1 - sock
								time.Sleep(20 * time.Millisecond)
								continue
							}
							c = smtp.NewClientLMTP(conn)
							if err := c.Hello("mta.example"); err != nil {
								c.Close()
								c = nil
								continue
							}
						}
						to := fmt.Sprintf("user%02d@vms.example", i%users+1)
						msg := fmt.Sprintf("From: s@b.example\nTo: %s\nSubject: m %d\nMessage-ID: <so-%d@b.example>\n\nbody %d\n", to, i, i, i)
						codes, err := lmtpSend(c, "s@b.example", []string{to}, msg)
						if err == nil && codes[to] == 250 {
							delivered.Add(1)
							break
						}
						failed[i].Add(1)
						if err != nil {
							c.Close()
							c = nil
							sock = 1 - sock
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
				if c != nil {
					c.Quit()
				}
			}()
		}
		wg.Wait()
		close(errs)
		lmtpDone <- errors.Join(func() []error {
			var l []error
			for e := range errs {
				l = append(l, e)
			}
			return l
		}()...)
	}()

	// POP clients drain until told to stop.
	var mu sync.Mutex
	committed := map[string]int{}
	uncertain := map[string]bool{}
	held := map[string][][2]time.Time{}
	var sessions, inUse atomic.Int64
	stop := make(chan struct{})
	var cwg sync.WaitGroup
	for k := 0; k < clients; k++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			src := fmt.Sprintf("127.0.0.%d", 10+k%40)
			user := fmt.Sprintf("USER%02d", k%users+1)
			for {
				select {
				case <-stop:
					return
				default:
				}
				ps, err := drainOnce(src, front, user)
				mu.Lock()
				if ps.held {
					held[user] = append(held[user], [2]time.Time{ps.start, ps.end})
				}
				for _, id := range ps.ids {
					if ps.committed {
						committed[id]++
					} else {
						uncertain[id] = true
					}
				}
				mu.Unlock()
				sessions.Add(1)
				if ps.inUse {
					inUse.Add(1)
				}
				if err != nil || len(ps.ids) == 0 {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}

	// SIGKILL instance 1 when a third is delivered, then restart it.
	deadline := time.Now().Add(60 * time.Second)
	for delivered.Load() < int64(n/3) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d delivered after 60 s", delivered.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d delivered after %v; SIGKILL instance 1", delivered.Load(), time.Since(begin).Round(time.Millisecond))
	inst[0].cmd.Process.Signal(syscall.SIGKILL)
	<-inst[0].exited
	time.Sleep(500 * time.Millisecond) // sessions on it are cut; HAProxy's check marks it down
	inst[0].start(t, envs[0]...)
	if err := <-lmtpDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("all delivered after %v", time.Since(begin).Round(time.Millisecond))
	time.Sleep(time.Second) // let the clients drain what came last
	close(stop)
	cwg.Wait()

	// Whatever is left, one last drain per user.
	for u := 1; u <= users; u++ {
		user := fmt.Sprintf("USER%02d", u)
		var ps popSession
		var err error
		for try := 0; try < 50; try++ {
			if ps, err = drainOnce("127.0.0.9", front, user); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("final drain of %s: %v", user, err)
		}
		for _, id := range ps.ids {
			committed[id]++
		}
	}

	t.Logf("drained after %v", time.Since(begin).Round(time.Millisecond))
	// Census.
	dups, lost := 0, 0
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("so-%d@b.example", i)
		c := committed[id]
		switch {
		case c == 0 && uncertain[id]:
			// retrieved by a session cut after its UPDATE: the client has it
		case c == 0:
			lost++
			t.Errorf("%s: delivered but never retrieved", id)
		case c > 1+int(failed[i].Load()):
			dups++
			t.Errorf("%s: committed by %d sessions, %d failed LMTP attempts", id, c, failed[i].Load())
		}
	}
	// No two sessions held one mailbox at once.
	for user, iv := range held {
		for a := range iv {
			for b := a + 1; b < len(iv); b++ {
				if iv[a][0].Before(iv[b][1]) && iv[b][0].Before(iv[a][1]) {
					t.Errorf("%s: sessions held the mailbox at once: %v and %v", user, iv[a], iv[b])
				}
			}
		}
	}
	// Both instances logged the clients' addresses, not HAProxy's.
	for i, s := range inst {
		b, _ := os.ReadFile(s.Log)
		if !regexpClient.Match(b) {
			t.Errorf("instance %d logged no client address (127.0.0.10-49):\n%s", i+1, tail(b))
		}
	}
	t.Logf("%d messages, %d POP sessions (%d [IN-USE]), %d retrieved by cut sessions", n, sessions.Load(), inUse.Load(), len(uncertain))
}

// regexpClient matches a log line naming one of the test clients' own
// loopback addresses (the PROXY v2 source).
var regexpClient = regexp.MustCompile(`remote="?127\.0\.0\.([1-4][0-9]):`)
