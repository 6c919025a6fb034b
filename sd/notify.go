package sd

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"
)

// Notification states (sd_notify(3)).
const (
	Ready     = "READY=1"
	Stopping  = "STOPPING=1"
	Reloading = "RELOADING=1"
)

// Notifier sends state changes to the service manager.
type Notifier struct {
	// Socket is $NOTIFY_SOCKET: a path, or an abstract name starting with
	// "@". "" makes Notify a no-op (not started by a service manager).
	Socket string
}

// NewNotifier returns a Notifier for the socket lookup("NOTIFY_SOCKET")
// names.
func NewNotifier(lookup func(string) (string, bool)) *Notifier {
	s, _ := lookup("NOTIFY_SOCKET")
	return &Notifier{Socket: s}
}

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n != nil && n.Socket != "" }

// Notify sends one datagram holding the lines of state (e.g. Ready, or
// "STATUS=serving"). Nothing is sent when n is not Enabled.
func (n *Notifier) Notify(state ...string) error {
	if !n.Enabled() {
		return nil
	}
	name := n.Socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	} else if name[0] != '/' {
		return fmt.Errorf("sd: NOTIFY_SOCKET %q is neither a path nor an abstract name", n.Socket)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd: notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(state, "\n"))); err != nil {
		return fmt.Errorf("sd: notify: %w", err)
	}
	return nil
}

// ReloadingNow is the RELOADING=1 message with the MONOTONIC_USEC field
// systemd wants with it (systemd.service(5), Type=notify-reload).
func ReloadingNow() []string {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return []string{Reloading, fmt.Sprintf("MONOTONIC_USEC=%d", ts.Nano()/1000)}
}
