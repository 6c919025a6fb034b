//go:build bench

// Benchmarks and the memory-sensitive session test: they run with the
// benchmarks (make bench, go test -tags bench).

package gateway_test

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/gateway"
)

// benchMessage is a 1 MiB message with some lines that need stuffing.
var benchMessage = func() string {
	var b strings.Builder
	b.WriteString("Subject: bench\r\n\r\n")
	for b.Len() < 1<<20 {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again and again.\r\n")
		b.WriteString(".a line that starts with a dot\r\n")
	}
	return b.String()
}()

// BenchmarkRETR retrieves a 1 MiB message over loopback.
func BenchmarkRETR(b *testing.B) {
	env := startServer(b, func(s *gateway.Server, be *fakeBackend) {
		be.boxes["BIG"] = []string{benchMessage}
	})
	c := dial(b, env.addr)
	c.login("big", "bigpw")
	want := fmt.Sprintf("+OK %d octets", len(benchMessage))
	buf := make([]byte, 64*1024)
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.send("RETR 1")
		if l := c.line(); l != want {
			b.Fatalf("got %q", l)
		}
		// Read to the terminating ".\r\n", without splitting lines.
		var tail []byte
		for !strings.HasSuffix(string(tail), "\r\n.\r\n") {
			n, err := c.R.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			tail = append(tail[max(0, len(tail)-8):], buf[:n]...)
		}
	}
}

// TestSessionMemory bounds the memory of idle logged-in sessions
// (issue #9: target 32 KiB each, goroutine stack and buffers included).
func TestSessionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	env := startServer(t, func(s *gateway.Server, be *fakeBackend) {
		s.Logger.SetOutput(io.Discard)
		s.Logger.SetLevel(0)
		s.Logger.ReplaceHooks(nil)
		for i := 0; i < 200; i++ {
			be.boxes[fmt.Sprintf("U%d", i)] = aliceMessages
		}
		s.Auth = multiAuth{newFakeAuth()}
	})
	const n = 200
	// Warm up one session so that one-off allocations are not counted.
	w := dial(t, env.addr)
	w.login("U199", "pw")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	clients := make([]*client, 0, n)
	for i := 0; i < n-1; i++ {
		c := dial(t, env.addr)
		c.login(fmt.Sprintf("U%d", i), "pw")
		c.send("STAT")
		c.expect("+OK 3 160")
		clients = append(clients, c)
	}
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
	per := used / int64(n-1)
	t.Logf("about %d octets per idle logged-in session (client side included)", per)
	if per > 48*1024 {
		t.Errorf("%d octets per session, want at most 48 KiB (client side included)", per)
	}
	runtime.KeepAlive(clients)
}

// multiAuth accepts any U<n> user with password "pw".
type multiAuth struct{ *fakeAuth }

func (m multiAuth) CheckPassword(user, password string, now time.Time) (string, error) {
	if strings.HasPrefix(user, "U") && password == "pw" {
		return user, nil
	}
	return m.fakeAuth.CheckPassword(user, password, now)
}

func (m multiAuth) UserExists(user string) bool {
	return strings.HasPrefix(user, "U") || m.fakeAuth.UserExists(user)
}
