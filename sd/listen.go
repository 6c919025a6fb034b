package sd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// listenFDsStart is the first descriptor passed (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// Listener is a socket passed by the service manager.
type Listener struct {
	net.Listener
	// Name is the socket's name from $LISTEN_FDNAMES (FileDescriptorName=
	// in the .socket unit; by default the unit's name), or "".
	Name string
}

// Listeners returns the listening sockets passed to this process by socket
// activation, or none when $LISTEN_PID does not name pid (they were meant
// for another process) or $LISTEN_FDS is unset. The descriptors are set
// close-on-exec. A passed descriptor that is not a listening stream
// socket is an error.
func Listeners(lookup func(string) (string, bool), pid int) ([]Listener, error) {
	p, ok := lookup("LISTEN_PID")
	if !ok {
		return nil, nil
	}
	if n, err := strconv.Atoi(p); err != nil || n != pid {
		return nil, nil
	}
	v, _ := lookup("LISTEN_FDS")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("sd: bad LISTEN_FDS %q", v)
	}
	var names []string
	if s, ok := lookup("LISTEN_FDNAMES"); ok && s != "" {
		names = strings.Split(s, ":")
	}
	var out []Listener
	for i := range n {
		fd := listenFDsStart + i
		syscall.CloseOnExec(fd)
		name := ""
		if i < len(names) {
			name = names[i]
		}
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close() // FileListener made its own copy
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("sd: descriptor %d (%q) is not a listening socket: %w", fd, name, err)
		}
		out = append(out, Listener{Listener: l, Name: name})
	}
	return out, nil
}
