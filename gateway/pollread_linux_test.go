package gateway

import (
	"bufio"
	"io"
	"testing"
	"time"
)

// TestPolledReader: an armed read polls and reads the command itself (it
// is gone from the socket, and the session's reader has it); a command
// split across the poll and the next read comes out whole; with the
// peer gone the armed read reports end of file; an unarmed read is the
// connection's own.
func TestPolledReader(t *testing.T) {
	server, client := tcpPair(t)
	c := &conn{srv: &Server{BusyPoll: 10 * time.Second}, rc: rawConnOf(server), gate: newPollGate()}
	c.in = polledReader{c: c, r: server}
	br := bufio.NewReaderSize(&c.in, readBufferSize)

	c.in.armed = true
	go func() {
		time.Sleep(5 * time.Millisecond)
		client.Write([]byte("RETR 1\r\n"))
	}()
	if line, err := readLine(br, maxCommandLine); err != nil || string(line) != "RETR 1" {
		t.Fatalf("armed read: %q, %v; want RETR 1", line, err)
	}
	if n := c.srv.polls[pollData].Load(); n != 1 {
		t.Fatalf("%d polls by data, want 1", n)
	}

	// Half a command before the poll, the rest after it: one line.
	client.Write([]byte("RE"))
	c.in.armed = true
	go func() {
		time.Sleep(20 * time.Millisecond)
		client.Write([]byte("TR 2\r\nDELE 2\r\n"))
	}()
	if line, err := readLine(br, maxCommandLine); err != nil || string(line) != "RETR 2" {
		t.Fatalf("split command: %q, %v; want RETR 2", line, err)
	}
	if line, err := readLine(br, maxCommandLine); err != nil || string(line) != "DELE 2" {
		t.Fatalf("the next command: %q, %v; want DELE 2", line, err)
	}
	if c.in.armed {
		t.Fatal("still armed after the read")
	}

	// Unarmed: the connection's read.
	client.Write([]byte("NOOP\r\n"))
	if line, err := readLine(br, maxCommandLine); err != nil || string(line) != "NOOP" {
		t.Fatalf("unarmed read: %q, %v; want NOOP", line, err)
	}

	client.Close()
	c.in.armed = true
	if line, err := readLine(br, maxCommandLine); err != io.EOF {
		t.Fatalf("armed read after the peer closed: %q, %v; want EOF", line, err)
	}
	if n := c.srv.polls[pollData].Load(); n != 3 {
		t.Fatalf("%d polls by data, want 3", n)
	}
}
