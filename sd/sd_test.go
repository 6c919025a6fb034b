package sd_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/sd"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "notify")
		name, env := path, path
		if abstract {
			name = "\x00vmspop-sd-test-" + filepath.Base(filepath.Dir(path))
			env = "@" + name[1:]
		}
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		n := sd.NewNotifier(mapLookup(map[string]string{"NOTIFY_SOCKET": env}))
		if !n.Enabled() {
			t.Fatal("not enabled")
		}
		if err := n.Notify(sd.ReloadingNow()...); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 256)
		k, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got := string(buf[:k])
		if !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") || len(got) < len("RELOADING=1\nMONOTONIC_USEC=1") {
			t.Errorf("abstract=%v: datagram %q", abstract, got)
		}
	}
}

func TestNotifyDisabled(t *testing.T) {
	n := sd.NewNotifier(mapLookup(nil))
	if n.Enabled() || n.Notify(sd.Ready) != nil {
		t.Error("a Notifier without NOTIFY_SOCKET must do nothing")
	}
	bad := sd.Notifier{Socket: "relative"}
	if bad.Notify(sd.Ready) == nil {
		t.Error("a relative NOTIFY_SOCKET was accepted")
	}
}

// TestListenersOtherPID: descriptors meant for another process (a parent
// that did not unset the variables) are left alone. The descriptors
// themselves are tested end to end (cmd/vmspop, systemd-socket-activate).
func TestListenersOtherPID(t *testing.T) {
	ls, err := sd.Listeners(mapLookup(map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "2"}), os.Getpid())
	if err != nil || len(ls) != 0 {
		t.Errorf("Listeners for pid 1 = %v, %v", ls, err)
	}
	ls, err = sd.Listeners(mapLookup(nil), os.Getpid())
	if err != nil || len(ls) != 0 {
		t.Errorf("Listeners without LISTEN_PID = %v, %v", ls, err)
	}
	if _, err := sd.Listeners(mapLookup(map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "x"}), 1); err == nil {
		t.Error("LISTEN_FDS=x accepted")
	}
}
