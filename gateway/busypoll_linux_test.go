package gateway

import (
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func TestPollReadable(t *testing.T) {
	never := func() bool { return false }

	t.Run("data", func(t *testing.T) {
		server, client := tcpPair(t)
		go func() {
			time.Sleep(5 * time.Millisecond)
			client.Write([]byte("RETR 2\r\n"))
		}()
		start := time.Now()
		if r := pollReadable(rawConnOf(server), 10*time.Second, never); r != pollData {
			t.Fatalf("pollReadable = %d, want pollData", r)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("data seen after %v", d)
		}
		buf := make([]byte, 8) // the peek consumed nothing
		server.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "RETR 2\r\n" {
			t.Errorf("read after poll = %q, %v", buf, err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		server, _ := tcpPair(t)
		start := time.Now()
		if r := pollReadable(rawConnOf(server), 3*time.Millisecond, never); r != pollTimeout {
			t.Fatalf("pollReadable = %d, want pollTimeout", r)
		}
		if d := time.Since(start); d < 3*time.Millisecond {
			t.Errorf("gave up after %v, before the window of 3ms", d)
		}
	})

	t.Run("stop", func(t *testing.T) {
		server, _ := tcpPair(t)
		start := time.Now()
		n := 0
		stop := func() bool { n++; return n == 3 }
		if r := pollReadable(rawConnOf(server), 10*time.Second, stop); r != pollStopped {
			t.Fatalf("pollReadable = %d, want pollStopped", r)
		}
		if d := time.Since(start); d > 5*time.Second || n != 3 {
			t.Errorf("stopped after %v and %d checks, want at the 3rd", d, n)
		}
	})

	t.Run("end of file", func(t *testing.T) {
		server, client := tcpPair(t)
		client.Close()
		if r := pollReadable(rawConnOf(server), 10*time.Second, never); r != pollData {
			t.Fatalf("pollReadable = %d after the peer closed, want pollData", r)
		}
	})

	t.Run("closed", func(t *testing.T) {
		server, _ := tcpPair(t)
		rc := rawConnOf(server)
		server.Close()
		if r := pollReadable(rc, 10*time.Second, never); r != pollStopped {
			t.Fatalf("pollReadable = %d on a closed socket, want pollStopped", r)
		}
	})

	if rawConnOf(struct{ net.Conn }{}) != nil {
		t.Error("rawConnOf found a socket in a wrapped net.Conn")
	}
}
