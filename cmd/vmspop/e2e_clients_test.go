package main

// End-to-end tests with real clients: TLS (curl, poplib, openssl s_client,
// crypto/tls) and the mail fetchers fetchmail and mpop.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/spool"
)

// cliCert is a self-signed server certificate written to PEM files.
type cliCert struct {
	CertFile, KeyFile string
	Serial            *big.Int
	CN                string
}

// cliWriteCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost to certFile/keyFile (atomically, by rename).
func cliWriteCert(t testing.TB, certFile, keyFile, cn string, serial int64) *cliCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"vmspop e2e"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(path, typ string, b []byte) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(keyFile, "PRIVATE KEY", kder)
	write(certFile, "CERTIFICATE", der)
	return &cliCert{CertFile: certFile, KeyFile: keyFile, Serial: big.NewInt(serial), CN: cn}
}

// cliStartTLS starts the fixture server with STLS and an implicit-TLS
// listener; it returns the server and its certificate.
func cliStartTLS(t *testing.T, env ...string) (*e2eServer, *cliCert) {
	t.Helper()
	dir := t.TempDir()
	c := cliWriteCert(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "vmspop e2e one", 1001)
	env = append([]string{"TCPIP$POP_CERT=" + c.CertFile, "TCPIP$POP_KEY=" + c.KeyFile, "TCPIP$POP_TLS_LISTEN=127.0.0.1:0"}, env...)
	return startServer(t, env...), c
}

// cliPeerCert dials the implicit-TLS listener and returns the server's
// leaf certificate (not verified: the test compares it itself).
func cliPeerCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// cliRun runs a command with a deadline and returns its combined output.
func cliRun(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s timed out", name)
	}
}

func TestClientTLS(t *testing.T) {
	s, cert := cliStartTLS(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	msg1 := "Subject: Lunch on Friday?"

	t.Run("curl-stls", func(t *testing.T) {
		requireTool(t, "curl")
		out, err := cliRun(t, nil, "curl", "-sS", "--max-time", "15", "--ssl-reqd", "--cacert", cert.CertFile, "-u", "smith:demo", "pop3://"+s.Addr+"/1")
		if err != nil {
			t.Fatalf("curl STLS: %v\n%s\n%s", err, out, s.stderr)
		}
		if !strings.Contains(out, msg1) || !strings.HasSuffix(out, wantBody(0)) {
			t.Errorf("curl STLS RETR 1 = %q", out)
		}
	})
	t.Run("curl-pop3s", func(t *testing.T) {
		requireTool(t, "curl")
		out, err := cliRun(t, nil, "curl", "-sS", "--max-time", "15", "--cacert", cert.CertFile, "-u", "smith:demo", "pop3s://"+s.TLSAddr+"/3")
		if err != nil {
			t.Fatalf("curl pop3s: %v\n%s\n%s", err, out, s.stderr)
		}
		if !strings.Contains(out, "Subject: Local note") || !strings.HasSuffix(out, wantBody(2)) {
			t.Errorf("curl pop3s RETR 3 = %q", out)
		}
	})
	t.Run("curl-untrusted", func(t *testing.T) {
		requireTool(t, "curl")
		// Without --cacert the self-signed certificate must be refused.
		out, err := cliRun(t, nil, "curl", "-sS", "--max-time", "15", "-u", "smith:demo", "pop3s://"+s.TLSAddr+"/1")
		if err == nil {
			t.Fatalf("curl accepted an untrusted certificate:\n%s", out)
		}
	})
	for _, mode := range []string{"--ssl", "--stls"} {
		t.Run("poplib"+mode, func(t *testing.T) {
			requireTool(t, "python3")
			addr := s.Addr
			if mode == "--ssl" {
				addr = s.TLSAddr
			}
			dir := t.TempDir()
			if b, err := runPopcheck(t, addr, "smith", "demo", dir, mode, cert.CertFile); err != nil {
				t.Fatalf("popcheck %s: %v\n%s", mode, err, b)
			}
			for i := range fixtureMessages {
				data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.eml", i+1)))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasSuffix(data, []byte(wantBody(i))) {
					t.Errorf("%s message %d = %q, want body %q", mode, i+1, data, wantBody(i))
				}
			}
		})
	}
	t.Run("openssl-starttls", func(t *testing.T) {
		requireTool(t, "openssl")
		cmd := exec.Command("openssl", "s_client", "-starttls", "pop3", "-connect", s.Addr, "-CAfile", cert.CertFile,
			"-verify_return_error", "-verify_ip", "127.0.0.1", "-crlf", "-quiet")
		cmd.Stdin = strings.NewReader("USER smith\nPASS demo\nRETR 1\nQUIT\n")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("openssl: %v\n%s\n%s", err, out.String(), errb.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("openssl timed out:\n%s\n%s", out.String(), errb.String())
		}
		got := strings.ReplaceAll(out.String(), "\r\n", "\n")
		for _, want := range []string{"+OK password required for \"smith\"\n", "+OK maildrop has 6 messages (1779 octets)\n",
			"+OK 332 octets\n", msg1 + "\n", "\n..\n...\nFrom the office\n>From quoted\n", " signing off (6 messages left)\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("openssl output lacks %q:\n%s", want, got)
			}
		}
		if strings.Contains(errb.String(), "verify error") {
			t.Errorf("openssl verify error:\n%s", errb.String())
		}
	})
	t.Run("tls11-refused", func(t *testing.T) {
		for _, addr := range []string{s.TLSAddr} {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
			if err == nil {
				c.Close()
				t.Fatalf("TLS 1.1 handshake with %s succeeded", addr)
			}
		}
		// And through STLS.
		p := dialPOP(t, s.Addr)
		if r := p.cmd("STLS"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("STLS: %s", r)
		}
		tc := tls.Client(p.conn, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
		if err := tc.Handshake(); err == nil {
			t.Fatal("TLS 1.1 handshake after STLS succeeded")
		}
		// TLS 1.2 is accepted.
		c, err := tls.Dial("tcp", s.TLSAddr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS 1.2: %v", err)
		}
		c.Close()
	})
	// Last, since it replaces the certificate the others trust.
	t.Run("reload", func(t *testing.T) {
		if got := cliPeerCert(t, s.TLSAddr); got.SerialNumber.Cmp(cert.Serial) != 0 || got.Subject.CommonName != cert.CN {
			t.Fatalf("initial certificate serial %v CN %q, want %v %q", got.SerialNumber, got.Subject.CommonName, cert.Serial, cert.CN)
		}
		time.Sleep(20 * time.Millisecond) // a later modification time
		next := cliWriteCert(t, cert.CertFile, cert.KeyFile, "vmspop e2e two", 2002)
		time.Sleep(1100 * time.Millisecond)
		got := cliPeerCert(t, s.TLSAddr)
		if got.SerialNumber.Cmp(next.Serial) != 0 || got.Subject.CommonName != next.CN {
			t.Fatalf("after reload: serial %v CN %q, want %v %q\n%s", got.SerialNumber, got.Subject.CommonName, next.Serial, next.CN, s.stderr)
		}
		// The new certificate is also what STLS and a verifying client get.
		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(next.CertFile)
		pool.AppendCertsFromPEM(pem)
		p := dialPOP(t, s.Addr)
		if r := p.cmd("STLS"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("STLS: %s", r)
		}
		tc := tls.Client(p.conn, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("STLS handshake with the reloaded certificate: %v", err)
		}
		log, _ := os.ReadFile(s.Log)
		if !bytes.Contains(log, []byte("TLS certificate reloaded")) {
			t.Errorf("log does not say the certificate was reloaded")
		}
	})
}

// cliSTLS upgrades a popClient's connection with STLS and returns it.
func cliSTLS(t *testing.T, p *popClient, cfg *tls.Config) {
	t.Helper()
	if r := p.cmd("STLS"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("STLS: %s", r)
	}
	tc := tls.Client(p.conn, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("STLS handshake: %v", err)
	}
	p.conn = tc
	p.r = bufio.NewReader(tc)
}

func TestClientAuthTLSOnly(t *testing.T) {
	s, cert := cliStartTLS(t, "TCPIP$POP_AUTH_TLS_ONLY=USER,PLAIN")
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(cert.CertFile)
	pool.AppendCertsFromPEM(b)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	p := dialPOP(t, s.Addr)
	if r := p.cmd("USER smith"); !strings.HasPrefix(r, "-ERR [AUTH] ") {
		t.Fatalf("USER before STLS = %q, want -ERR [AUTH] ...", r)
	}
	if r := p.cmd("AUTH PLAIN AHNtaXRoAGRlbW8="); !strings.HasPrefix(r, "-ERR [AUTH] ") {
		t.Fatalf("AUTH PLAIN before STLS = %q, want -ERR [AUTH] ...", r)
	}
	cliSTLS(t, p, cfg)
	p.login("smith", "demo")
	if r := p.cmd("STAT"); r != "+OK 6 1779" {
		t.Errorf("STAT = %q", r)
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("QUIT = %q", r)
	}
	// The implicit-TLS port allows USER at once.
	c, err := tls.Dial("tcp", s.TLSAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	q := &popClient{t: t, conn: c, r: bufio.NewReader(c)}
	if l := q.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q", l)
	}
	q.login("jones", "demo")
	if r := q.cmd("STAT"); r != "+OK 0 0" {
		t.Errorf("JONES STAT = %q", r)
	}
	q.cmd("QUIT")
}

// cliMbox splits an mbox file written by a fetcher into messages.
func cliMbox(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, part := range strings.Split("\n"+strings.ReplaceAll(string(data), "\r\n", "\n"), "\nFrom ") {
		if strings.TrimSpace(part) != "" {
			msgs = append(msgs, part)
		}
	}
	return msgs
}

// cliHeader returns the first value of header name in an RFC 5322 message.
func cliHeader(msg, name string) string {
	head, _, _ := strings.Cut(msg, "\n\n")
	for _, l := range strings.Split(head, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cliCheckFetched checks that msgs are the fixture messages, in order, with
// the right From: and Subject:.
func cliCheckFetched(t *testing.T, who string, msgs []string) {
	t.Helper()
	subjects := []string{"Lunch on Friday?", "Federation news", "Local note", "Forwarded", "=?iso-8859-1?q?Cent_signs_=A2?=", "Unknown node"}
	if len(msgs) != len(fixtureMessages) {
		t.Fatalf("%s delivered %d messages, want %d", who, len(msgs), len(fixtureMessages))
	}
	for i, m := range msgs {
		from := cliHeader(m, "From")
		if !strings.Contains(from, fixtureMessages[i].from) {
			t.Errorf("%s message %d From: %q, want %q", who, i+1, from, fixtureMessages[i].from)
		}
		if got := cliHeader(m, "Subject"); got != subjects[i] {
			t.Errorf("%s message %d Subject: %q, want %q", who, i+1, got, subjects[i])
		}
	}
}

func TestClientFetchmail(t *testing.T) {
	requireTool(t, "fetchmail")
	s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	home := t.TempDir()
	host, port, _ := net.SplitHostPort(s.Addr)
	outDir := filepath.Join(home, "out")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		t.Fatal(err)
	}
	mda, err := filepath.Abs("../../testdata/clients/savemsg.sh")
	if err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(home, "fetchmailrc")
	fetch := func(keep string) (int, string) {
		t.Helper()
		conf := fmt.Sprintf("set no syslog\npoll %s with proto POP3 service %s uidl auth password\n"+
			"  user \"smith\" there with password \"demo\" is \"tester\" here\n"+
			"  sslproto '' %s mda \"%s %s\"\n", host, port, keep, mda, outDir)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := cliRun(t, []string{"HOME=" + home, "FETCHMAILHOME=" + home},
			"fetchmail", "-f", rc, "-i", filepath.Join(home, "fetchids"), "--pidfile", filepath.Join(home, "pid"), "--nodetach", "-v")
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("fetchmail: %v\n%s", err, out)
		}
		return code, out
	}
	delivered := func() []string {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(outDir, "msg.*"))
		var msgs []string
		for _, f := range files { // msg.NNNN: arrival order
			b, _ := os.ReadFile(f)
			msgs = append(msgs, strings.ReplaceAll(string(b), "\r\n", "\n"))
		}
		return msgs
	}
	if code, out := fetch("keep"); code != 0 {
		t.Fatalf("fetchmail --keep exit %d:\n%s\n%s", code, out, s.stderr)
	}
	cliCheckFetched(t, "fetchmail", delivered())
	for i, m := range delivered() {
		if _, body, _ := strings.Cut(m, "\n\n"); body != strings.ReplaceAll(wantBody(i), "\r\n", "\n") {
			t.Errorf("fetchmail message %d body = %q, want %q", i+1, body, wantBody(i))
		}
	}
	// Second run with keep and UIDL: nothing new (fetchmail exits 1, "no mail").
	if code, out := fetch("keep"); code != 1 || len(delivered()) != len(fixtureMessages) {
		t.Fatalf("second fetchmail keep run: exit %d, %d messages delivered in all:\n%s", code, len(delivered()), out)
	}
	if n := len(folderSubjects(t, s.Spool, "SMITH", spool.NewMail)); n != len(fixtureMessages) {
		t.Fatalf("NEWMAIL holds %d messages after keep, want %d", n, len(fixtureMessages))
	}
	// A new message arrives; a run without keep fetches only it, and
	// (with flush) deletes the old ones it has seen too.
	late := spool.NewMessage{Envelope: "x@example.org", Date: time.Now(), Text: strings.NewReader("From:\tVAXA::JONES  7-MAY-2026 12:00:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tLate arrival\n\nHello.\n")}
	if err := spool.New(s.Spool).Append(t.Context(), "SMITH", spool.NewMail, []spool.NewMessage{late}); err != nil {
		t.Fatal(err)
	}
	if code, out := fetch("nokeep flush"); code != 0 {
		t.Fatalf("fetchmail without keep: exit %d\n%s", code, out)
	}
	all := delivered()
	if len(all) != len(fixtureMessages)+1 || cliHeader(all[len(all)-1], "Subject") != "Late arrival" || cliHeader(all[len(all)-1], "From") != "jones@vaxa.example.com" {
		t.Fatalf("after the third run %d messages delivered; last = %q", len(all), all[len(all)-1])
	}
	if got := folderSubjects(t, s.Spool, "SMITH", spool.NewMail); len(got) != 0 {
		t.Errorf("NEWMAIL after fetchmail without keep = %q, want empty", got)
	}
	if n := len(folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket)); n != len(fixtureMessages)+1 {
		t.Errorf("WASTEBASKET holds %d messages, want %d", n, len(fixtureMessages)+1)
	}
}

func TestClientMpop(t *testing.T) {
	requireTool(t, "mpop")
	for _, auth := range []string{"user", "apop"} {
		t.Run(auth, func(t *testing.T) {
			s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
			host, port, _ := net.SplitHostPort(s.Addr)
			dir := t.TempDir()
			mbox := filepath.Join(dir, "mbox")
			pass := "demo"
			if auth == "apop" {
				pass = "apop-demo"
			}
			conf := fmt.Sprintf("defaults\ntls off\n\naccount vms\nhost %s\nport %s\nuser smith\npassword %s\nauth %s\n"+
				"keep on\nonly_new on\nuidls_file %s\ndelivery mbox %s\ntimeout 15\n", host, port, pass, auth, filepath.Join(dir, "uidls"), mbox)
			cfg := filepath.Join(dir, "mpoprc")
			if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			run := func() string {
				t.Helper()
				out, err := cliRun(t, []string{"HOME=" + dir}, "mpop", "-C", cfg, "vms")
				if err != nil {
					t.Fatalf("mpop (auth %s): %v\n%s\n%s", auth, err, out, s.stderr)
				}
				return out
			}
			run()
			cliCheckFetched(t, "mpop auth "+auth, cliMbox(t, mbox))
			// keep on + UIDLs: a second run delivers nothing new.
			run()
			if n := len(cliMbox(t, mbox)); n != len(fixtureMessages) {
				t.Errorf("after a second mpop run the mbox holds %d messages, want %d", n, len(fixtureMessages))
			}
			log, _ := os.ReadFile(s.Log)
			if want := "method=" + strings.ToUpper(auth); !bytes.Contains(log, []byte(want)) {
				t.Errorf("server log has no login with %s", want)
			}
		})
	}
}
