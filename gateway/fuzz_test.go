package gateway_test

import (
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
)

// panicHook counts recovered handler panics without keeping entries.
type panicHook struct{ n atomic.Int64 }

func (h *panicHook) Levels() []logrus.Level { return []logrus.Level{logrus.ErrorLevel} }
func (h *panicHook) Fire(e *logrus.Entry) error {
	if strings.HasPrefix(e.Message, "panic serving") {
		h.n.Add(1)
	}
	return nil
}

// FuzzConn runs whole sessions: the input is sent in one write, the
// client half-closes, and the server must answer and close without a
// panic (a recovered one counts as a failure too).
func FuzzConn(f *testing.F) {
	for _, s := range []string{
		"USER alice\r\nPASS wonderland\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\nQUIT\r\n",
		"CAPA\r\nAUTH\r\nAUTH PLAIN\r\nAGFsaWNlAHdvbmRlcmxhbmQ=\r\nLIST 1\r\nQUIT\r\n",
		"AUTH CRAM-MD5\r\n*\r\nAPOP alice 0123456789abcdef0123456789abcdef\r\nQUIT\r\n",
		"USER bob\r\nPASS bobpw\r\nUSER jones\r\n",
		"STLS\r\nNOOP\r\n",
		"user alice\npass wonderland\ntop 1 0\nretr 3\nquit\n",
	} {
		f.Add([]byte(s))
	}
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	logger.SetLevel(logrus.ErrorLevel)
	hook := &panicHook{}
	logger.AddHook(hook)
	srv := &gateway.Server{
		Hostname: "host.example", Backend: newFakeBackend(), Auth: newFakeAuth(), Classify: classify,
		Logger: logger, FailureDelay: -1, IdleTimeout: time.Second, Security: gateway.Friendly,
		BlockedRetry: []time.Duration{time.Second}, BusyPoll: 50 * time.Microsecond,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go srv.Serve(l)
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, in []byte) {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(in); err != nil {
			t.Fatal(err)
		}
		nc.(*net.TCPConn).CloseWrite()
		out, err := io.ReadAll(nc)
		if err != nil {
			t.Fatalf("reading the answers: %v", err)
		}
		if !strings.HasPrefix(string(out), "+OK POP server ready") {
			t.Fatalf("no greeting: %q", out)
		}
		if n := hook.n.Load(); n > 0 {
			t.Fatalf("%d handler panics", n)
		}
	})
}
