package main

import (
	"crypto/tls"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTLSTicketKeysShared: two instances on one spool that share a key file
// made by `vmspop ticketkeys rotate` resume each other's TLS sessions (Go's
// client, and openssl s_client with a session saved from one and offered
// to the other); an instance without the file does not. A rotation on the
// running instances is picked up: a ticket under the former key still
// resumes, one under a key rotated out does not.
func TestTLSTicketKeysShared(t *testing.T) {
	t.Parallel()
	a := lgPrepare(t)
	certFile, keyFile, pool := lgCert(t, a.Dir)
	keys := filepath.Join(a.Dir, "ticketkeys")
	rotate := func(args ...string) {
		t.Helper()
		out, err := exec.Command(vmspopBinary(t), append([]string{"ticketkeys", "rotate"}, append(args, keys)...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "a new key on top") {
			t.Fatalf("vmspop ticketkeys rotate %q: %v\n%s", args, err, out)
		}
	}
	rotate()
	tlsEnv := []string{"TCPIP$POP_TLS_LISTEN=127.0.0.1:0", "TCPIP$POP_CERT=" + certFile, "TCPIP$POP_KEY=" + keyFile}
	shared := append([]string{"TCPIP$POP_TLS_TICKET_KEYS=" + keys}, tlsEnv...)
	a.Addr = ""
	a.start(t, append([]string{lgRace}, shared...)...)
	b := &e2eServer{Dir: a.Dir, Spool: a.Spool, UAF: a.UAF, Log: filepath.Join(a.Dir, "b.log")}
	b.start(t, append([]string{lgRace}, shared...)...)
	c := &e2eServer{Dir: a.Dir, Spool: a.Spool, UAF: a.UAF, Log: filepath.Join(a.Dir, "c.log")}
	c.start(t, append([]string{lgRace}, tlsEnv...)...)

	client := func() *tls.Config {
		return &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	}
	cfg := client()
	if tlsLoginSession(t, a.TLSAddr, false, cfg) {
		t.Fatal("the first connection resumed a session")
	}
	if !tlsLoginSession(t, b.TLSAddr, false, cfg) {
		t.Fatal("instance B did not resume a session made by A: the key file is not shared")
	}
	if !tlsLoginSession(t, a.Addr, true, cfg) {
		t.Fatal("an STLS connection to A did not resume B's session")
	}
	other := client()
	tlsLoginSession(t, a.TLSAddr, false, other)
	if tlsLoginSession(t, c.TLSAddr, false, other) {
		t.Fatal("an instance without the key file resumed A's session")
	}

	// openssl: a session saved from A, offered to B.
	openssl := requireTool(t, "openssl")
	sess := filepath.Join(a.Dir, "sess.pem")
	sClient := func(addr string, sessArg ...string) string {
		t.Helper()
		args := append([]string{"s_client", "-connect", addr, "-servername", "localhost", "-CAfile", certFile, "-verify_return_error", "-ign_eof", "-crlf"}, sessArg...)
		cmd := exec.Command(openssl, args...)
		cmd.Stdin = strings.NewReader("USER smith\nPASS demo\nSTAT\nQUIT\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "+OK 6 ") {
			t.Fatalf("openssl %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := sClient(a.TLSAddr, "-sess_out", sess); !strings.Contains(out, "New, TLSv1.3") {
		t.Fatalf("openssl's first connection to A:\n%s", out)
	}
	if out := sClient(b.TLSAddr, "-sess_in", sess); !strings.Contains(out, "Reused, TLSv1.3") {
		t.Fatalf("openssl did not resume A's session on B:\n%s", out)
	}

	// A daily rotation: the servers read the file again at the next
	// ClientHello a second or more after the last look; the ticket the
	// cache holds (made under the former first key) still resumes.
	rotate()
	for _, s := range []*e2eServer{a, b} {
		connectUntilLogged(t, s, "TLS ticket keys reloaded", client)
	}
	if !tlsLoginSession(t, b.TLSAddr, false, cfg) {
		t.Fatal("after a rotation, a ticket under the former key did not resume")
	}
	// Rotating with --keep 1 drops every earlier key: the ticket B just
	// made under the former key is refused (a full handshake).
	rotate("--keep", "1")
	for _, s := range []*e2eServer{a, b} {
		connectUntilLogged(t, s, "keys=1", client)
	}
	if tlsLoginSession(t, a.TLSAddr, false, cfg) {
		t.Fatal("a ticket under a key rotated out resumed")
	}
	if !tlsLoginSession(t, b.TLSAddr, false, cfg) {
		t.Fatal("a ticket under the current key did not resume")
	}
}

// TestTLSTicketKeysBadFile: serve and check refuse a key file others may
// read, or one without a key, naming the setting; without CERT the setting
// is refused.
func TestTLSTicketKeysBadFile(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	certFile, keyFile, _ := lgCert(t, s.Dir)
	keys := filepath.Join(s.Dir, "ticketkeys")
	env := []string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, "TCPIP$POP_LISTEN=" + s.Addr,
		"TCPIP$POP_CERT=" + certFile, "TCPIP$POP_KEY=" + keyFile, "TCPIP$POP_TLS_TICKET_KEYS=" + keys}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"others may read", "", 0o604, "lets others read or write the keys"},
		{"no key", "# empty\n", 0o600, "no key in the file"},
		{"missing", "-", 0, "no such file"},
	} {
		os.Remove(keys)
		if tc.content != "-" {
			if tc.content == "" {
				if out, err := exec.Command(vmspopBinary(t), "ticketkeys", "rotate", keys).CombinedOutput(); err != nil {
					t.Fatalf("rotate: %v\n%s", err, out)
				}
			} else {
				lgWrite(t, keys, tc.content)
			}
			os.Chmod(keys, tc.mode)
		}
		for _, cmd := range []string{"check", "serve"} {
			out, errOut, code := lgRun(t, []string{cmd}, env...)
			if code == 0 || !strings.Contains(out+errOut, "TCPIP$POP_TLS_TICKET_KEYS") || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("%s: vmspop %s exit %d, want a failure naming TCPIP$POP_TLS_TICKET_KEYS and %q:\n%s%s", tc.name, cmd, code, tc.want, out, errOut)
			}
		}
	}
	out, errOut, code := lgRun(t, []string{"check"}, "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF, "TCPIP$POP_TLS_TICKET_KEYS="+keys)
	if code == 0 || !strings.Contains(out+errOut, "TLS_TICKET_KEYS") || !strings.Contains(out+errOut, "needs TCPIP$POP_CERT") {
		t.Errorf("TLS_TICKET_KEYS without CERT: check exit %d:\n%s%s", code, out, errOut)
	}
}

// TestTLSResumesAcrossReload: without a key file, the keys the server made
// are kept across a reload (SIGHUP), so clients that reconnect after it
// still resume their sessions; vmspop_tls_handshakes_total counts the
// full, resumed and failed handshakes.
func TestTLSResumesAcrossReload(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := lgCert(t, t.TempDir())
	maddr := freePort(t)
	s := lgServer(t, "TCPIP$POP_TLS_LISTEN=127.0.0.1:0", "TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile,
		"TCPIP$POP_METRICS_LISTEN="+maddr)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	tlsLoginSession(t, s.TLSAddr, false, cfg)
	s.cmd.Process.Signal(syscall.SIGHUP)
	svcWaitLog(t, s, 1, "configuration reloaded")
	if !tlsLoginSession(t, s.TLSAddr, false, cfg) {
		t.Fatal("a session made before the reload did not resume after it")
	}
	// A client that gives up in the handshake (plain text on port 995).
	p := dialPOPRaw(t, s.TLSAddr)
	p.conn.Write([]byte("USER smith\r\n"))
	p.r.ReadString('\n')
	p.conn.Close()
	want := map[string]float64{"full": 1, "resumed": 1, "failed": 1}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		fams := scrape(t, "http://"+maddr+"/metrics")
		got := map[string]float64{}
		for outcome := range want {
			got[outcome] = metricValue(fams, "vmspop_tls_handshakes_total", "outcome="+outcome)
		}
		if maps.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vmspop_tls_handshakes_total by outcome = %v, want %v", got, want)
		}
	}
}

// connectUntilLogged makes TLS sessions to s, each with a new client
// config, until its log holds sub (a key file is looked at by a
// ClientHello), for at most 30 s.
func connectUntilLogged(t *testing.T, s *e2eServer, sub string, client func() *tls.Config) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile(s.Log)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), sub) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q:\n%s", s.Log, sub, b)
		}
		tlsLoginSession(t, s.TLSAddr, false, client())
	}
}

// TestTicketKeysRotateAsRoot: a key file root makes goes to the spool
// owner, so that serve reads it after dropping root; rotating it again
// keeps that owner.
func TestTicketKeysRotateAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the file is chowned to the spool owner")
	}
	t.Parallel()
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	if err := os.Mkdir(spoolDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(spoolDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "ticketkeys")
	for range 2 {
		cmd := exec.Command(vmspopBinary(t), "ticketkeys", "rotate", keys)
		cmd.Env = append(lgEnv(), "TCPIP$POP_SPOOL="+spoolDir, "TCPIP$POP_UAF="+filepath.Join(dir, "uaf"))
		if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "owned by root") {
			t.Fatalf("vmspop ticketkeys rotate as root: %v\n%s", err, out)
		}
		fi, err := os.Stat(keys)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file owner %d:%d mode %v, want 65534:65534 0600", st.Uid, st.Gid, fi.Mode().Perm())
		}
	}
}
