//go:build bench

// Timing- and memory-sensitive end-to-end tests: they measure the server
// process (PSS, wall time) and belong with the benchmarks (make bench, go
// test -tags bench), not in make test on a shared machine.

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestRetr100MBMemory retrieves a 100 MB message and samples the server's
// RSS meanwhile: it must grow by less than 16 MB (issue #9). RETR streams
// from the file through fixed buffers.
func TestRetr100MBMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MB message")
	}
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: freePort(t)}
	writeUAF(t, s.UAF, defaultAccounts)
	line := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz "), 2)
	line = append(line, '\n')
	var body bytes.Buffer
	body.WriteString("From:\tVAXA::JONES  25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\tbig\n\n")
	for body.Len() < 100<<20 {
		body.Write(line)
	}
	if err := spool.New(s.Spool).Append(context.Background(), "SMITH", spool.NewMail, []spool.NewMessage{{Envelope: "a@b", Date: time.Now(), Text: &body}}); err != nil {
		t.Fatal(err)
	}
	body.Reset()
	s.Bin = plainBinary(t)
	s.start(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1", "TCPIP$POP_TRACE=0", "TCPIP$POP_LOG_LEVEL=ERROR")
	cmd := s.cmd
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	read := func() string { l, _ := r.ReadString('\n'); return l }
	read()
	fmt.Fprintf(c, "USER smith\r\nPASS demo\r\nLIST 1\r\n")
	read()
	read()
	var size int64
	fmt.Sscanf(read(), "+OK 1 %d", &size)
	if size < 100<<20 {
		t.Fatalf("LIST 1 says %d octets", size)
	}
	base := rssKiB(t, cmd.Process.Pid)
	peak := base
	done := make(chan struct{})
	doneReading := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-time.After(5 * time.Millisecond):
			case <-doneReading:
				return
			}
			if v := rssKiB(t, cmd.Process.Pid); v > peak {
				peak = v
			}
		}
	}()
	start := time.Now()
	fmt.Fprintf(c, "RETR 1\r\n")
	first := read()
	var got int64
	buf := make([]byte, 256<<10)
	tail := []byte{}
	for !bytes.HasSuffix(tail, []byte("\r\n.\r\n")) {
		n, err := r.Read(buf)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		got += int64(n)
		tail = append(tail[max(0, len(tail)-8):], buf[:n]...)
	}
	took := time.Since(start)
	close(doneReading)
	<-done
	if !strings.HasPrefix(first, "+OK") || got < size {
		t.Fatalf("RETR: %q, %d octets of %d", first, got, size)
	}
	growth := peak - base
	t.Logf("RETR of %d octets in %v (%.0f MB/s); RSS %d KiB before, peak %d KiB (+%d KiB)", size, took, float64(size)/took.Seconds()/1e6, base, peak, growth)
	if growth >= 16<<10 {
		t.Fatalf("server RSS grew by %d KiB while sending a 100 MB message, want < 16 MiB", growth)
	}
}

// pssKiB reads a process's proportional set size.
func pssKiB(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatal("no Pss")
	return 0
}

// TestManySessions holds N logged-in sessions open at once against the
// real binary and reports the server's memory per session (issue #9: at
// most 32 KiB each, and 10,000 sessions at once). It is slow, so it runs
// only when asked:
//
//	VMSPOP_MANY_SESSIONS=10000 go test -run TestManySessions -v ./cmd/vmspop
func TestManySessions(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("VMSPOP_MANY_SESSIONS"))
	if n <= 0 {
		t.Skip("set VMSPOP_MANY_SESSIONS=N to run")
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	// An idle session holds one descriptor (its socket) in the server;
	// the test holds the other end of each connection.
	lim.Cur = min(lim.Max, uint64(n+1000))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(n+200) {
		t.Skipf("open-file limit %d is too low for %d sessions (%v)", lim.Cur, n, err)
	}
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log"), Addr: freePort(t)}
	var accounts []e2eAccount
	sp := spool.New(s.Spool)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("U%05d", i)
		accounts = append(accounts, e2eAccount{Name: name, Password: "pw"})
		msg := spool.NewMessage{Envelope: "a@b", Date: time.Now(), Text: strings.NewReader(fmt.Sprintf("From:\tVAXA::JONES  25-NOV-2026 10:15:32.45\nTo:\t%s\nCC:\t\nSubj:\thello\n\nhello\n", name))}
		if err := sp.Append(context.Background(), name, spool.NewMail, []spool.NewMessage{msg}); err != nil {
			t.Fatal(err)
		}
	}
	writeUAF(t, s.UAF, accounts) // bcrypt.MinCost: this measures sessions, not bcrypt
	s.Bin = plainBinary(t)
	s.start(t, "TCPIP$POP_TRACE=0", "TCPIP$POP_LOG_LEVEL=ERROR", fmt.Sprintf("TCPIP$POP_MAXIMUM_THREADS=%d", n+10))
	cmd := s.cmd
	time.Sleep(200 * time.Millisecond)
	before := pssKiB(t, cmd.Process.Pid)
	conns := make([]net.Conn, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				mu.Lock()
				failed = append(failed, err.Error())
				mu.Unlock()
				return
			}
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			r := bufio.NewReader(c)
			r.ReadString('\n')
			fmt.Fprintf(c, "USER U%05d\r\nPASS pw\r\nSTAT\r\n", i)
			var replies []string
			for k := 0; k < 3; k++ {
				l, _ := r.ReadString('\n')
				replies = append(replies, strings.TrimSpace(l))
			}
			if !strings.HasPrefix(replies[2], "+OK 1 ") {
				mu.Lock()
				failed = append(failed, strings.Join(replies, " | "))
				mu.Unlock()
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d sessions failed, e.g. %q", len(failed), n, failed[0])
	}
	time.Sleep(500 * time.Millisecond)
	after := pssKiB(t, cmd.Process.Pid)
	per := float64(after-before) / float64(n)
	t.Logf("%d logged-in sessions open at once: server PSS %d -> %d KiB, %.1f KiB per session", n, before, after, per)
	for _, c := range conns {
		c.Close()
	}
	if per > 32 {
		t.Fatalf("%.1f KiB per idle logged-in session, want <= 32", per)
	}
}
