// Command deliverload runs a local delivery agent once per message, as an
// MTA does, as fast as it completes, and prints messages per second;
// scripts/deliver-bench.sh runs it for vmspop-deliver, "vmspop deliver" and
// dovecot-lda.
//
// usage: deliverload [-n N] [-c C] [-users U] [-size S] [-env K=V]... -- COMMAND ARG...
//
// In the arguments, {user} is replaced by the recipient (user01..userUU).
// The message goes to the command's standard input; any exit status but 0
// counts as a failure.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int("n", 500, "messages in all")
	conc := flag.Int("c", 1, "deliveries running at once")
	users := flag.Int("users", 10, "recipients user01..userNN")
	size := flag.Int("size", 2048, "approximate message size in octets")
	var env []string
	flag.Func("env", "K=V added to the command's environment (repeatable)", func(kv string) error {
		env = append(env, kv)
		return nil
	})
	flag.Parse()
	argv := flag.Args()
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "usage: deliverload [-n N] [-c C] [-users U] [-size S] [-env K=V]... -- COMMAND ARG...")
		os.Exit(2)
	}
	body := strings.Repeat("The quick brown fox jumps over the lazy dog 0123456789.\n", *size/56+1)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				user := fmt.Sprintf("user%02d", i%int64(*users)+1)
				msg := fmt.Sprintf("From: Bench <bench@b.example>\nTo: %s@vms.example\nSubject: bench %d\nMessage-ID: <bench-%d-%d@b.example>\n\n%s", user, i, start.UnixNano(), i, body)
				args := make([]string, len(argv))
				for j, a := range argv {
					args[j] = strings.ReplaceAll(a, "{user}", user)
				}
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Env = append(os.Environ(), env...)
				cmd.Stdin = strings.NewReader(msg)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Run(); err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "deliverload: %s: %v: %s", strings.Join(args, " "), err, stderr.String())
					}
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("%d messages, %d at once, %d failed, %.2f s, %.0f msg/s\n", *n, *conc, failed.Load(), d.Seconds(), float64(*n)/d.Seconds())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
