package maildrop_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/maildrop"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
)

// vmsMessage is an SMTP message in MAIL-11 form of about size octets.
func vmsMessage(i, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From:\tSMTP%%\"sender%d@example.org\"  25-NOV-2026 10:%02d:%02d.%02d\nTo:\tBIG\nCC:\t\nSubj:\tmessage %d\n\n", i, i/60%60, i%60, i%100, i)
	fmt.Fprintf(&b, "From: sender%d@example.org\nTo: big@example.org\nSubject: message %d\nMessage-ID: <%d@example.org>\n\n", i, i, i)
	for b.Len() < size {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again and again.\n")
		if b.Len()%7 == 0 {
			b.WriteString(".a line that starts with a dot\n")
		}
	}
	return b.String()
}

// benchSpool makes a spool where BIG's NEWMAIL holds n MAIL-11 messages
// of about size octets (appended 1,000 at a time) and returns its root.
func benchSpool(b *testing.B, n, size int) string {
	root := b.TempDir()
	sp := spool.New(root)
	for i := 0; i < n; i += 1000 {
		var msgs []spool.NewMessage
		for j := i; j < min(n, i+1000); j++ {
			msgs = append(msgs, spool.NewMessage{Envelope: "a@b", Date: time.Unix(1764064800, 0), Text: strings.NewReader(vmsMessage(j, size))})
		}
		if err := sp.Append(context.Background(), "BIG", spool.NewMail, msgs); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// benchBackend serves the spool at root (a new Spool: no index decoded in
// memory yet).
func benchBackend(root string) *maildrop.SpoolBackend {
	return &maildrop.SpoolBackend{Spool: spool.New(root), Rewrite: &rewrite.Settings{Hostname: "bench.example"}, LeaveInNewmail: true}
}

// openBig opens BIG's maildrop, requires n messages in it and closes it.
func openBig(b *testing.B, be *maildrop.SpoolBackend, n int) {
	md, err := be.OpenMaildrop(context.Background(), "BIG")
	if err != nil {
		b.Fatal(err)
	}
	if got := len(md.Messages()); got != n {
		b.Fatalf("%d messages, want %d", got, n)
	}
	md.Close()
}

func spoolServer(b *testing.B, n, size int) string {
	root := benchSpool(b, n, size)
	log := logrus.New()
	log.SetLevel(logrus.ErrorLevel)
	srv := &gateway.Server{
		Hostname: "bench.example",
		Backend:  benchBackend(root),
		Auth:     benchAuth{},
		Logger:   log,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// drain logs in, retrieves every message with one RETR at a time, and
// returns the octets received.
func drain(b *testing.B, addr string) int64 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	line := func() string {
		l, err := r.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		return string(l)
	}
	line()
	fmt.Fprintf(c, "USER big\r\n")
	line()
	fmt.Fprintf(c, "PASS bigpw\r\n")
	if l := line(); !strings.HasPrefix(l, "+OK") {
		b.Fatal(l)
	}
	fmt.Fprintf(c, "STAT\r\n")
	var n int
	fmt.Sscanf(line(), "+OK %d", &n)
	var total int64
	for i := 1; i <= n; i++ {
		fmt.Fprintf(c, "RETR %d\r\n", i)
		for {
			l, err := r.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			total += int64(len(l))
			if len(l) == 3 && l[0] == '.' {
				break
			}
		}
	}
	fmt.Fprintf(c, "QUIT\r\n")
	line()
	return total
}

// BenchmarkSpoolDrain drains 2,000 ~8 KiB MAIL-11 messages through the
// real spool, rewrite and server over loopback (compare.sh's drain).
func BenchmarkSpoolDrain(b *testing.B) {
	addr := spoolServer(b, 2000, 8<<10)
	drain(b, addr) // builds the index
	b.ResetTimer()
	var total int64
	for i := 0; i < b.N; i++ {
		total += drain(b, addr)
	}
	b.SetBytes(total / int64(b.N))
}

// BenchmarkSpoolRetrLarge drains 20 1 MiB messages.
func BenchmarkSpoolRetrLarge(b *testing.B) {
	addr := spoolServer(b, 20, 1<<20)
	drain(b, addr)
	b.ResetTimer()
	var total int64
	for i := 0; i < b.N; i++ {
		total += drain(b, addr)
	}
	b.SetBytes(total / int64(b.N))
}

// BenchmarkOpenWarm opens a 100,000-message folder whose index is current
// (compare.sh's warm login, without the network).
func BenchmarkOpenWarm(b *testing.B) {
	be := benchBackend(benchSpool(b, 100000, 300))
	openBig(b, be, 100000) // builds the index
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		openBig(b, be, 100000)
	}
}

// BenchmarkOpenCold opens a 10,000-message folder of ~9 KiB messages
// (about 90 MB, like compare.sh's drain mailbox) that has no index yet:
// a first login's scan, MAIL-11 parsing and header rebuilding.
func BenchmarkOpenCold(b *testing.B) {
	root := benchSpool(b, 10000, 9<<10)
	idx := filepath.Join(root, "BIG", ".NEWMAIL.idx")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := os.Remove(idx); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
		be := benchBackend(root) // and no index in memory either
		b.StartTimer()
		openBig(b, be, 10000)
	}
}

// benchAuth lets BIG in with the password bigpw.
type benchAuth struct{}

func (benchAuth) CheckPassword(user, password string, _ time.Time) (string, error) {
	if strings.ToUpper(user) != "BIG" || password != "bigpw" {
		return "", errors.New("bench: bad password")
	}
	return "BIG", nil
}

func (benchAuth) CheckAPOP(string, string, string, time.Time) (string, error) {
	return "", errors.New("bench: no APOP")
}

func (benchAuth) CheckCRAMMD5(string, string, string, time.Time) (string, error) {
	return "", errors.New("bench: no CRAM-MD5")
}

func (benchAuth) UserExists(user string) bool { return strings.ToUpper(user) == "BIG" }
func (benchAuth) HasSecret(string) bool       { return false }

// BenchmarkList reads the size of every message of a 100,000-message
// folder, as LIST does (after a warm login).
func BenchmarkList(b *testing.B) {
	be := benchBackend(benchSpool(b, 100000, 300))
	openBig(b, be, 100000) // builds the index
	md, err := be.OpenMaildrop(context.Background(), "BIG")
	if err != nil {
		b.Fatal(err)
	}
	defer md.Close()
	l := md.(gateway.Lister)
	b.ResetTimer()
	var total int64
	for range b.N {
		for i := range l.Count() {
			total += l.Size(i)
		}
	}
	if total <= 0 {
		b.Fatal("no sizes")
	}
}
