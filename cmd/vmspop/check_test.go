package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheck: `vmspop check` passes a good configuration (exit 0) and
// reports every problem of a bad one at once (exit 1): a world-writable
// user directory, a linked folder, a foreign-owned folder, a broken
// accounts file, a certificate that does not match its key, a bad node
// table; a bad logical name is reported with its allowed values.
func TestCheck(t *testing.T) {
	vmspopBinary(t) // built before lgRun's time limit starts
	s := lgPrepare(t)
	certFile, keyFile := filepath.Join(s.Dir, "cert.pem"), filepath.Join(s.Dir, "key.pem")
	cliWriteCert(t, certFile, keyFile, "vmspop check", 6001)
	os.Chmod(s.UAF, 0o600)
	env := []string{"TCPIP$POP_SPOOL=" + s.Spool, "TCPIP$POP_UAF=" + s.UAF, lgNodes(s),
		"TCPIP$POP_CERT=" + certFile, "TCPIP$POP_KEY=" + keyFile, "TCPIP$POP_HOSTNAME=vms.example"}
	out, errOut, code := lgRun(t, []string{"check"}, env...)
	if code != 0 || !strings.Contains(out, "serve would start") || strings.Contains(out, "problem") {
		t.Fatalf("check of a good configuration: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"ok: accounts file", "2 accounts", "ok: TLS certificate", "ok: node table", "ok: spool"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}

	// Break everything.
	smith := filepath.Join(s.Spool, "SMITH")
	os.Chmod(smith, 0o777)
	os.Symlink("/etc/passwd", filepath.Join(smith, "MAIL"))
	os.WriteFile(filepath.Join(s.Spool, "JONES", "NEWMAIL"), nil, 0o600)
	problems := []string{"SMITH is writable by others", "MAIL is not a regular file", "TCPIP$POP_UAF", "TLS certificate", "TCPIP$POP_DECNET_NODES"}
	if os.Geteuid() == 0 {
		os.Chown(filepath.Join(s.Spool, "JONES", "NEWMAIL"), 4242, 4242)
		problems = append(problems, "NEWMAIL is owned by uid 4242")
	}
	lgWrite(t, s.UAF, "SMITH has no hash\n")
	other := filepath.Join(s.Dir, "other.pem")
	cliWriteCert(t, other, filepath.Join(s.Dir, "otherkey.pem"), "other", 6002)
	lgWrite(t, filepath.Join(s.Dir, "nodes"), "VAXA\n")
	env[3] = "TCPIP$POP_CERT=" + other // with the first key: no pair
	out, errOut, code = lgRun(t, []string{"check"}, env...)
	if code != 1 {
		t.Errorf("check of a broken configuration: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range problems {
		if len(lgLogLines(out, "problem:", want)) != 1 {
			t.Errorf("no single problem line with %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "problem(s): serve would not start") {
		t.Errorf("no summary:\n%s", out)
	}

	// Bad logical names: every one reported, and the other problems too.
	out, _, code = lgRun(t, []string{"check"}, append(env, "TCPIP$POP_SECURITY=PARANOID", "TCPIP_POP_MESSAGE_MAXIMUM=x")...)
	if code != 1 || !strings.Contains(out, `TCPIP$POP_SECURITY "PARANOID": must be FRIENDLY or SECURE`) || !strings.Contains(out, "TCPIP_POP_MESSAGE_MAXIMUM") {
		t.Errorf("bad logicals: exit %d\n%s", code, out)
	}
	for _, want := range problems {
		if len(lgLogLines(out, "problem:", want)) != 1 {
			t.Errorf("with bad logicals, no single problem line with %q in:\n%s", want, out)
		}
	}
}

// TestCheckExpiredCertificate: an expired certificate is a problem.
func TestCheckExpiredCertificate(t *testing.T) {
	vmspopBinary(t)
	s := lgPrepare(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7001), Subject: pkix.Name{CommonName: "expired"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(s.Dir, "cert.pem"), filepath.Join(s.Dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	out, _, code := lgRun(t, []string{"check"}, "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF,
		"TCPIP$POP_CERT="+certFile, "TCPIP$POP_KEY="+keyFile, "TCPIP$POP_HOSTNAME=vms.example")
	if code != 1 || len(lgLogLines(out, "problem:", "expired on")) != 1 {
		t.Errorf("expired certificate: exit %d\n%s", code, out)
	}
}
