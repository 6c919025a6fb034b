package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// svcWaitLog waits until the server's log has n lines that contain every
// one of subs, and returns the log.
func svcWaitLog(t *testing.T, s *e2eServer, n int, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(s.Log)
		if len(lgLogLines(string(b), subs...)) >= n {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never had %d lines with %q:\n%s", n, subs, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReload: after SIGHUP an account added to the accounts file, a
// certificate replaced by one with an older modification time, and a
// logical changed in the startup file are in effect; a session open across
// the reload finishes normally (its UPDATE included); a broken startup file
// is refused and the configuration before it kept.
func TestReload(t *testing.T) {
	s := lgPrepare(t)
	startup := filepath.Join(s.Dir, "TCPIP$POP_SYSTARTUP.COM")
	lgWrite(t, startup, "$ DEFINE/SYSTEM TCPIP$POP_EXPIRE \"NEVER\"\n")
	certFile, keyFile := filepath.Join(s.Dir, "cert.pem"), filepath.Join(s.Dir, "key.pem")
	cliWriteCert(t, certFile, keyFile, "vmspop reload one", 5001)
	tlsAddr := freePort(t)
	lgStartArgs(t, s, []string{"--startup", startup}, lgNodes(s),
		"TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile, "TCPIP$POP_TLS_LISTEN="+tlsAddr, "TCPIP$POP_AUTH_TLS_ONLY=-")

	capa := func() []string {
		t.Helper()
		p, _ := lgDial(t, s.Addr)
		defer p.cmd("QUIT")
		return lgCapa(p)
	}
	if c := capa(); !lgHas(c, "EXPIRE NEVER") {
		t.Fatalf("CAPA before the reload: %q", c)
	}
	open := dialPOP(t, s.Addr) // a session open across the reload
	open.login("smith", "demo")

	// The changes.
	lgWrite(t, startup, "$ DEFINE/SYSTEM TCPIP$POP_EXPIRE 30\n")
	writeUAF(t, s.UAF, append(defaultAccounts, e2eAccount{Name: "BROWN", Password: "new"}))
	cliWriteCert(t, certFile, keyFile, "vmspop reload two", 5002)
	old := time.Now().Add(-365 * 24 * time.Hour)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	log := svcWaitLog(t, s, 1, "configuration reloaded")

	if c := capa(); !lgHas(c, "EXPIRE 30") {
		t.Errorf("CAPA after the reload: %q", c)
	}
	p := dialPOP(t, s.Addr)
	p.login("brown", "new")
	p.cmd("QUIT")
	if got := cliPeerCert(t, tlsAddr).SerialNumber.Int64(); got != 5002 {
		t.Errorf("certificate serial after the reload = %d, want 5002 (the replaced one, older mtime)", got)
	}
	for _, want := range [][]string{{"setting changed", "TCPIP$POP_EXPIRE"}, {"TLS certificate changed"}} {
		if len(lgLogLines(log, want...)) == 0 {
			t.Errorf("no log line with %q:\n%s", want, log)
		}
	}

	// The session opened before the reload goes on and ends with UPDATE.
	if r := open.cmd("RETR 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR in the open session: %s", r)
	}
	open.multi()
	if r := open.cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE in the open session: %s", r)
	}
	if r := open.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT in the open session: %s", r)
	}
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); len(got) != 1 {
		t.Errorf("WASTEBASKET after the open session's QUIT = %q", got)
	}

	// A broken startup file is refused; the settings stay.
	lgWrite(t, startup, "$ DEFINE/SYSTEM TCPIP$POP_SECURITY PARANOID\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	log = svcWaitLog(t, s, 1, "reload refused")
	if len(lgLogLines(log, "reload refused", "PARANOID")) == 0 {
		t.Errorf("the refusal does not name the bad value:\n%s", log)
	}
	if c := capa(); !lgHas(c, "EXPIRE 30") {
		t.Errorf("CAPA after a refused reload: %q", c)
	}
	p = dialPOP(t, s.Addr)
	p.login("brown", "new")
	p.cmd("QUIT")
}
