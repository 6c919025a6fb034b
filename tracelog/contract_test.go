package tracelog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/internal/poptest"
)

// TestReadsGatewayLog: a real gateway session's log, in both formats, is
// read back by Main: its transcript, user and end reason. A field or
// message renamed on one side only breaks this test.
func TestReadsGatewayLog(t *testing.T) {
	for _, format := range []string{"TEXT", "JSON"} {
		t.Run(format, func(t *testing.T) {
			log := serveOneSession(t, format)
			var out bytes.Buffer
			if n, _, err := Run(Filter{User: "alice"}, false, nil, strings.NewReader(log), &out); err != nil || n != 1 {
				t.Fatalf("Run = %d sessions, %v; want 1\nlog:\n%s", n, err, log)
			}
			for _, want := range []string{"C: USER alice", "C: PASS ***", "S: +OK maildrop has 0 messages", "C: QUIT", gateway.EndQuit} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("trace output lacks %q:\n%s", want, out.String())
				}
			}
			out.Reset()
			if n, _, err := Run(Filter{}, true, nil, strings.NewReader(log), &out); err != nil || n != 1 || !strings.Contains(out.String(), "ALICE") {
				t.Errorf("Run summary = %d sessions, %v:\n%s", n, err, out.String())
			}
		})
	}
}

// serveOneSession runs a gateway server logging in format, logs alice in
// and out, and returns the log once the session has ended.
func serveOneSession(t *testing.T, format string) string {
	t.Helper()
	fm, err := Formatter(format)
	if err != nil {
		t.Fatal(err)
	}
	buf := &lockedBuffer{}
	log := logrus.New()
	log.SetFormatter(fm)
	log.SetOutput(buf)
	srv := &gateway.Server{Hostname: "vms.example", Backend: emptyBackend{}, Auth: oneUser{}, Logger: log, Trace: true}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c := poptest.Dial(t, l.Addr().String())
	c.Login("alice", "pw")
	c.Send("QUIT")
	c.Expect("+OK")
	ctx, cancel := context.WithTimeout(context.Background(), poptest.Timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, gateway.ErrServerClosed) {
		t.Fatal(err)
	}
	return buf.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type emptyBackend struct{}

func (emptyBackend) OpenMaildrop(context.Context, string) (gateway.Maildrop, error) {
	return emptyDrop{}, nil
}

type emptyDrop struct{}

func (emptyDrop) Messages() []gateway.MessageInfo { return nil }
func (emptyDrop) Open(context.Context, int) (io.ReadCloser, error) {
	return nil, errors.New("no message")
}
func (emptyDrop) Commit(context.Context, gateway.Update) (gateway.CommitResult, error) {
	return gateway.CommitResult{}, nil
}
func (emptyDrop) Close() error { return nil }

type oneUser struct{}

func (oneUser) CheckPassword(user, password string, _ time.Time) (string, error) {
	if strings.EqualFold(user, "alice") && password == "pw" {
		return "ALICE", nil
	}
	return "", errors.New("bad password")
}
func (oneUser) CheckAPOP(string, string, string, time.Time) (string, error) {
	return "", errors.New("no APOP")
}
func (oneUser) CheckCRAMMD5(string, string, string, time.Time) (string, error) {
	return "", errors.New("no CRAM-MD5")
}
func (oneUser) UserExists(user string) bool { return strings.EqualFold(user, "alice") }
func (oneUser) HasSecret(string) bool       { return false }
