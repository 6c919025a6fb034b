//go:build bench

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mbox "github.com/emersion/go-mbox"
	"github.com/vmspop/vmspop/spool"
)

// millionMsg is what the test knows of a message it wrote, worked out
// from what it generated, never from vmspop's scan or index.
type millionMsg struct {
	k    int    // number in generation order, from 0
	uid  string // the UIDL vmspop must give (rewrite.UID's documented form)
	body string // the body as RETR sends it (CRLF line ends)
}

// millionCount is the number of messages: VMSPOP_MILLION (default 1,000,000).
func millionCount(t *testing.T) int {
	n := 1_000_000
	if v := os.Getenv("VMSPOP_MILLION"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 200 {
			t.Fatalf("VMSPOP_MILLION=%q: want a number >= 200", v)
		}
	}
	return n
}

var millionCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeMillion writes n generated MAIL-11 messages to path (mboxrd,
// through go-mbox as the spool does) and returns, for each, its expected
// UIDL and its body as sent. Message k arrived at base + k seconds + k%100
// centiseconds, so that every UID differs; bodies are 5 to 40 lines, some
// of them "From " lines (quoted on disk) and lines starting with '.'.
func writeMillion(t *testing.T, path string, n int) []millionMsg {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := mbox.NewWriter(bw)
	rng := rand.New(rand.NewPCG(22, 1_000_000))
	words := strings.Fields("queue print batch job DECnet area router backup tape volume shadow set quota disk block file directory mail folder extract purge")
	special := []string{"From the desk of the system manager", ">From a quoted line", ".", ".. two dots", "From "}
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.Local)
	msgs := make([]millionMsg, n)
	var text, body, hdr strings.Builder
	for k := range n {
		at := base.Add(time.Duration(k)*time.Second + time.Duration(k%100)*10*time.Millisecond)
		hdr.Reset()
		fmt.Fprintf(&hdr, "From:\tVAXA::JONES \"Fred Jones\"  %s.%02d\nTo:\tM001\nCC:\t\nSubj:\tmessage %d\n",
			strings.ToUpper(at.Format("2-Jan-2006 15:04:05")), k%100, k)
		body.Reset()
		text.Reset()
		lines := 5 + rng.IntN(36)
		for range lines {
			var l string
			if rng.IntN(16) == 0 {
				l = special[rng.IntN(len(special))]
			} else {
				var sb strings.Builder
				for range 3 + rng.IntN(9) {
					if sb.Len() > 0 {
						sb.WriteByte(' ')
					}
					sb.WriteString(words[rng.IntN(len(words))])
				}
				l = sb.String()
			}
			text.WriteString(l + "\n")
			body.WriteString(l + "\r\n")
		}
		// The decoded message is the header, the empty line and the body;
		// its UID sum is CRC-32C of the header lines, then its size.
		size := hdr.Len() + 1 + text.Len()
		sum := crc32.Checksum([]byte(hdr.String()), millionCastagnoli)
		var sz [8]byte
		binary.LittleEndian.PutUint64(sz[:], uint64(size))
		sum = crc32.Update(sum, millionCastagnoli, sz[:])
		msgs[k] = millionMsg{k: k, body: body.String(),
			uid: fmt.Sprintf("M001.%s%02d.%08x", at.Format("20060102150405"), k%100, sum)}
		if err := spool.WriteMessage(w, "JONES@VAXA", at, strings.NewReader(hdr.String()+"\n"+text.String())); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// millionSession is one logged-in session of M001 with generous deadlines
// (a first login to a million messages builds the index).
func millionSession(t *testing.T, addr string) *popClient {
	c := dialPOP(t, addr)
	c.conn.SetDeadline(time.Now().Add(30 * time.Minute))
	c.login("M001", "demo")
	return c
}

// listing returns the n-th (1-based) entries of LIST or UIDL as strings.
func listing(t *testing.T, c *popClient, verb string, want int) []string {
	if r := c.cmd("%s", verb); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("%s: %s", verb, r)
	}
	lines := c.multi()
	if len(lines) != want {
		t.Fatalf("%s: %d lines, want %d", verb, len(lines), want)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		num, v, ok := strings.Cut(l, " ")
		if !ok || num != strconv.Itoa(i+1) {
			t.Fatalf("%s line %d: %q", verb, i+1, l)
		}
		out[i] = v
	}
	return out
}

// checkMillion checks a session's view of the folder against want (the
// messages it must hold, in order): every UIDL; every LIST size against
// sizes when given (an earlier stage's), and for a sample of messages the
// RETR text: its octets equal LIST's and it ends with the generated body.
// It returns the LIST sizes.
func checkMillion(t *testing.T, stage, addr string, want []millionMsg, sizes map[int]string) map[int]string {
	t.Helper()
	start := time.Now()
	c := millionSession(t, addr)
	if r := c.cmd("STAT"); !strings.HasPrefix(r, fmt.Sprintf("+OK %d ", len(want))) {
		t.Fatalf("%s: STAT %q, want %d messages", stage, r, len(want))
	}
	t.Logf("%s: login to STAT of %d messages in %v", stage, len(want), time.Since(start))
	uids := listing(t, c, "UIDL", len(want))
	for i, u := range uids {
		if u != want[i].uid {
			t.Fatalf("%s: UIDL %d (generated message %d) = %q, want %q", stage, i+1, want[i].k, u, want[i].uid)
		}
	}
	list := listing(t, c, "LIST", len(want))
	got := make(map[int]string, len(want))
	for i, s := range list {
		got[want[i].k] = s
		if sizes != nil && sizes[want[i].k] != s {
			t.Fatalf("%s: LIST %d (generated message %d) = %s octets, was %s", stage, i+1, want[i].k, s, sizes[want[i].k])
		}
	}
	rng := rand.New(rand.NewPCG(uint64(len(stage)), 7))
	sample := []int{0, len(want) - 1}
	for range 200 {
		sample = append(sample, rng.IntN(len(want)))
	}
	for _, i := range sample {
		if r := c.cmd("RETR %d", i+1); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("%s: RETR %d: %s", stage, i+1, r)
		}
		var text strings.Builder
		for _, l := range c.multi() {
			text.WriteString(l + "\r\n")
		}
		if strconv.Itoa(text.Len()) != list[i] {
			t.Fatalf("%s: RETR %d sent %d octets, LIST says %s", stage, i+1, text.Len(), list[i])
		}
		if !strings.HasSuffix(text.String(), "\r\n\r\n"+want[i].body) || !strings.Contains(text.String(), fmt.Sprintf("Subject: message %d\r\n", want[i].k)) {
			t.Fatalf("%s: RETR %d is not generated message %d:\n%.2000s", stage, i+1, want[i].k, text.String())
		}
	}
	c.cmd("QUIT")
	return got
}

// TestMillionMessages serves a folder of a million messages (issue 22;
// VMSPOP_MILLION sets another count) and checks the sizes and UIDLs the
// real server gives after the first login (index built by a scan), after
// an UPDATE that deleted every 100th message, and after the index was
// deleted and rebuilt, against what the test generated.
func TestMillionMessages(t *testing.T) {
	n := millionCount(t)
	dir := t.TempDir()
	s := &e2eServer{Dir: dir, Spool: filepath.Join(dir, "spool"), UAF: filepath.Join(dir, "uaf"), Log: filepath.Join(dir, "server.log")}
	writeUAF(t, s.UAF, []e2eAccount{{Name: "M001", Password: "demo"}})
	if err := os.MkdirAll(filepath.Join(s.Spool, "M001"), 0o700); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(s.Spool, "M001", spool.NewMail)
	start := time.Now()
	all := writeMillion(t, folder, n)
	fi, err := os.Stat(folder)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d messages (%d octets) in %v", n, fi.Size(), time.Since(start))
	nodes := filepath.Join(dir, "nodes")
	os.WriteFile(nodes, []byte("VAXA vaxa.example.com\n"), 0o644)
	s.Bin = plainBinary(t)
	env := []string{"TCPIP$POP_DECNET_NODES=" + nodes, "TCPIP$POP_LEAVE_IN_NEWMAIL=1", "TCPIP$POP_TRACE=0"}
	s.start(t, env...)

	sizes := checkMillion(t, "first login", s.Addr, all, nil)

	// UPDATE: every 100th message deleted (pipelined DELEs), then QUIT.
	c := millionSession(t, s.Addr)
	var kept []millionMsg
	var dele []string
	for i, m := range all {
		if i%100 == 0 {
			dele = append(dele, fmt.Sprintf("DELE %d", i+1))
		} else {
			kept = append(kept, m)
		}
	}
	for i := 0; i < len(dele); i += 500 {
		chunk := dele[i:min(i+500, len(dele))]
		c.c().Send(chunk...)
		for range chunk {
			if l := c.line(); !strings.HasPrefix(l, "+OK") {
				t.Fatalf("DELE: %s", l)
			}
		}
	}
	start = time.Now()
	if r := c.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	t.Logf("UPDATE deleting %d of %d messages in %v", len(dele), n, time.Since(start))
	checkMillion(t, "after UPDATE", s.Addr, kept, sizes)

	// Index rebuilt: a new server, no index file.
	s.stop()
	if err := os.Remove(filepath.Join(s.Spool, "M001", "."+spool.NewMail+".idx")); err != nil {
		t.Fatal(err)
	}
	s.Addr = ""
	s.start(t, env...)
	checkMillion(t, "index rebuilt", s.Addr, kept, sizes)
}
