package admin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
)

func serveTest(t *testing.T, path string) {
	t.Helper()
	serveTestDelivered(t, path, nil)
}

func serveTestDelivered(t *testing.T, path string, delivered func(int)) {
	t.Helper()
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := logtest.NewNullLogger()
	h := Handler{
		Who:       func() []Session { return []Session{{ID: "a1", User: "SMITH", State: "TRANSACTION", Start: time.Now()}} },
		Kick:      func(u string) int { return 1 },
		Delivered: delivered,
	}
	go Serve(ln, h, log)
	t.Cleanup(func() { ln.Close() })
}

// TestRequest: WHO and KICK from the server's own user; a bad request
// gets an error.
func TestRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", "admin.sock")
	serveTest(t, path)
	r, err := Request(path, "WHO")
	if err != nil || len(r.Sessions) != 1 || r.Sessions[0].User != "SMITH" {
		t.Errorf("WHO = %+v, %v", r, err)
	}
	if r, err := Request(path, "KICK smith"); err != nil || r.Kicked != 1 {
		t.Errorf("KICK = %+v, %v", r, err)
	}
	if _, err := Request(path, "REBOOT"); err == nil || !strings.Contains(err.Error(), "unknown request") {
		t.Errorf("REBOOT: %v", err)
	}
	// A second Listen on the same path replaces the stale socket; a
	// regular file there is refused.
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(filepath.Dir(path), "file")); err == nil {
		t.Error("Listen over a regular file succeeded")
	}
}

// TestDelivered: DELIVERED <status> reaches the handler (vmspop deliver's
// report); a status outside 0-255 is refused.
func TestDelivered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", "admin.sock")
	got := make(chan int, 4)
	serveTestDelivered(t, path, func(s int) { got <- s })
	for _, s := range []int{0, 75} {
		if _, err := Request(path, fmt.Sprintf("DELIVERED %d", s)); err != nil {
			t.Fatalf("DELIVERED %d: %v", s, err)
		}
		if g := <-got; g != s {
			t.Errorf("DELIVERED %d counted as %d", s, g)
		}
	}
	for _, bad := range []string{"DELIVERED", "DELIVERED 256", "DELIVERED -1", "DELIVERED x"} {
		if _, err := Request(path, bad); err == nil || !strings.Contains(err.Error(), "exit status") {
			t.Errorf("%s: %v, want an error", bad, err)
		}
	}
	if len(got) != 0 {
		t.Errorf("a bad request was counted: %d", <-got)
	}
}

// TestOtherUserRefused (as root): a client running as another user
// cannot reach the socket (directory 0700, socket 0600), and even when
// the modes are opened up by mistake, SO_PEERCRED refuses it.
func TestOtherUserRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user (CI runs as root)")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("/usr/bin/python3 is not installed")
	}
	base, err := os.MkdirTemp("/tmp", "vmspop-admin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	path := filepath.Join(base, "run", "admin.sock")
	serveTest(t, path)
	client := func() string {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", py, "-c",
			`import socket,sys
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror); sys.exit(0)
s.sendall(b"WHO\n"); print(s.recv(4096).decode())`, path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as nobody: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := client(); !strings.Contains(out, "Permission denied") {
		t.Errorf("nobody through the 0700 directory: %q, want permission denied", out)
	}
	os.Chmod(filepath.Dir(path), 0o755)
	os.Chmod(path, 0o666)
	if out := client(); !strings.Contains(out, `"error":"permission denied"`) || strings.Contains(out, "SMITH") {
		t.Errorf("nobody with the modes opened: %q, want refused by peer credentials", out)
	}
}
