// Command lmtpload delivers small messages over LMTP as fast as the server
// takes them and prints messages per second; scripts/lmtp-bench.sh runs it
// against vmspop and Dovecot.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2424", "LMTP server host:port")
	n := flag.Int("n", 2000, "messages in all")
	conns := flag.Int("c", 1, "connections")
	users := flag.Int("users", 10, "recipients user01..userNN")
	domain := flag.String("domain", "vms.example", "recipient domain")
	size := flag.Int("size", 2048, "approximate message size in octets")
	flag.Parse()

	body := strings.Repeat("The quick brown fox jumps over the lazy dog 0123456789.\r\n", *size/57+1)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", *addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, "lmtpload:", err)
				os.Exit(1)
			}
			c := smtp.NewClientLMTP(conn)
			defer c.Close()
			if err := c.Hello("bench.example"); err != nil {
				fmt.Fprintln(os.Stderr, "lmtpload: LHLO:", err)
				os.Exit(1)
			}
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					break
				}
				to := fmt.Sprintf("user%02d@%s", i%int64(*users)+1, *domain)
				msg := fmt.Sprintf("From: Bench <bench@b.example>\r\nTo: %s\r\nSubject: bench %d\r\nMessage-ID: <bench-%d-%d@b.example>\r\n\r\n%s", to, i, start.UnixNano(), i, body)
				if err := c.SendMail("bench@b.example", []string{to}, strings.NewReader(msg)); err != nil {
					failed.Add(1)
				}
			}
			c.Quit()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("%d messages, %d connections, %d failed, %.2f s, %.0f msg/s\n", *n, *conns, failed.Load(), d.Seconds(), float64(*n)/d.Seconds())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
