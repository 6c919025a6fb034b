package main

import (
	"bufio"
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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
)

// extDomain is the substitute domain of the extension e2e tests.
const extDomain = "vms.example.org"

// startExtServer is startServer with SMITH's MAIL folder holding two
// messages ("Filed one", "Filed two"), BOSS and PUBLIC accounts, and
// extDomain as the substitute domain.
func startExtServer(t *testing.T, env ...string) *e2eServer {
	t.Helper()
	s := startServer(t, append([]string{"TCPIP$POP_SUBSTITUTE_DOMAIN=" + extDomain, "TCPIP$POP_LOCAL_NAMES=VAXA"}, env...)...)
	sp := spool.New(s.Spool)
	for _, f := range []struct{ user, folder, subj string }{
		{"SMITH", spool.Mail, "Filed one"}, {"SMITH", spool.Mail, "Filed two"},
		{"BOSS", spool.NewMail, "Boss memo"},
	} {
		text := fmt.Sprintf("From:\tVAXA::JONES  7-MAY-2026 12:00:00.00\nTo:\t%s\nCC:\t\nSubj:\t%s\n\nText of %s.\n", f.user, f.subj, f.subj)
		msg := spool.NewMessage{Envelope: "x@example.org", Date: time.Now(), Text: strings.NewReader(text)}
		if err := sp.Append(t.Context(), f.user, f.folder, []spool.NewMessage{msg}); err != nil {
			t.Fatal(err)
		}
	}
	writeUAF(t, s.UAF, append(slices.Clone(defaultAccounts), e2eAccount{Name: "BOSS", Password: "bosspw", Secret: "apop-boss"}))
	return s
}

// fetchSubjects fetches with a real client (curl, fetchmail or mpop),
// logging in as user with password pass, keeping the mail on the server,
// and returns the Subject: of each message fetched.
func fetchSubjects(t *testing.T, tool string, s *e2eServer, user, pass string) []string {
	t.Helper()
	requireTool(t, tool)
	host, port, _ := net.SplitHostPort(s.Addr)
	dir := t.TempDir()
	var msgs []string
	switch tool {
	case "curl":
		run := func(url string) string {
			out, err := cliRun(t, nil, "curl", "-sS", "--max-time", "20", "-u", user+":"+pass, url)
			if err != nil {
				t.Fatalf("curl %s as %s: %v\n%s", url, user, err, out)
			}
			return out
		}
		list := strings.TrimSpace(run("pop3://" + s.Addr + "/"))
		n := 0
		if list != "" {
			n = strings.Count(list, "\n") + 1
		}
		for i := 1; i <= n; i++ {
			msgs = append(msgs, strings.ReplaceAll(run(fmt.Sprintf("pop3://%s/%d", s.Addr, i)), "\r\n", "\n"))
		}
	case "fetchmail":
		out := filepath.Join(dir, "out")
		os.Mkdir(out, 0o700)
		mda, _ := filepath.Abs("../../testdata/clients/savemsg.sh")
		rc := filepath.Join(dir, "fetchmailrc")
		conf := fmt.Sprintf("set no syslog\npoll %s with proto POP3 service %s auth password\n"+
			"  user \"%s\" there with password \"%s\" is \"tester\" here\n  sslproto '' keep mda \"%s %s\"\n", host, port, user, pass, mda, out)
		os.WriteFile(rc, []byte(conf), 0o600)
		res, err := cliRun(t, []string{"HOME=" + dir, "FETCHMAILHOME=" + dir}, "fetchmail", "-f", rc, "--pidfile", filepath.Join(dir, "pid"), "--nodetach", "-v")
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1) {
			t.Fatalf("fetchmail as %s: %v\n%s", user, err, res)
		}
		files, _ := filepath.Glob(filepath.Join(out, "msg.*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			msgs = append(msgs, strings.ReplaceAll(string(b), "\r\n", "\n"))
		}
	case "mpop":
		mbox := filepath.Join(dir, "mbox")
		os.WriteFile(mbox, nil, 0o600)
		conf := fmt.Sprintf("defaults\ntls off\n\naccount vms\nhost %s\nport %s\nuser %s\npassword %s\nauth user\n"+
			"keep on\nuidls_file %s\ndelivery mbox %s\ntimeout 15\n", host, port, user, pass, filepath.Join(dir, "uidls"), mbox)
		cfg := filepath.Join(dir, "mpoprc")
		os.WriteFile(cfg, []byte(conf), 0o600)
		if out, err := cliRun(t, []string{"HOME=" + dir}, "mpop", "-C", cfg, "vms"); err != nil {
			t.Fatalf("mpop as %s: %v\n%s", user, err, out)
		}
		msgs = cliMbox(t, mbox)
	default:
		t.Fatalf("unknown tool %s", tool)
	}
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, cliHeader(m, "Subject"))
	}
	return subjects
}

// TestE2ELoginNames: curl, fetchmail and mpop log in as MAIL#smith (the
// MAIL folder) and smith@domain (NEWMAIL), and a foreign domain is refused.
func TestE2ELoginNames(t *testing.T) {
	s := startExtServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	all := []string{"Lunch on Friday?", "Federation news", "Local note", "Forwarded", "=?iso-8859-1?q?Cent_signs_=A2?=", "Unknown node"}
	for _, tool := range []string{"curl", "fetchmail", "mpop"} {
		t.Run(tool, func(t *testing.T) {
			if got := fetchSubjects(t, tool, s, "MAIL#smith", "demo"); !slices.Equal(got, []string{"Filed one", "Filed two"}) {
				t.Errorf("%s as MAIL#smith fetched %q", tool, got)
			}
			if got := fetchSubjects(t, tool, s, "smith@"+strings.ToUpper(extDomain), "demo"); !slices.Equal(got, all) {
				t.Errorf("%s as smith@%s fetched %q", tool, extDomain, got)
			}
		})
	}
	// Nothing moved: the clients kept the mail, and reading MAIL moves
	// nothing.
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Mail); len(got) != 2 {
		t.Errorf("MAIL = %q, want the two filed messages", got)
	}
	p := dialPOP(t, s.Addr)
	if r := p.cmd("USER smith@elsewhere.example"); !strings.HasPrefix(r, "-ERR [AUTH] user \"smith@elsewhere.example\" is unknown") {
		t.Errorf("USER with a foreign domain: %s", r)
	}
	// DELE in MAIL#smith moves the message to WASTEBASKET.
	p.login("mail#smith", "demo")
	if r := p.cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE: %s", r)
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	if got := folderSubjects(t, s.Spool, "SMITH", spool.Wastebasket); !slices.Equal(got, []string{"Filed one"}) {
		t.Errorf("WASTEBASKET = %q, want [Filed one]", got)
	}
}

// writeClientCerts writes a client CA (ca.pem) and, for each name, a
// client certificate it signed with that subject CN (NAME.pem,
// NAME.key) into dir.
func writeClientCerts(t *testing.T, dir string, names ...string) string {
	t.Helper()
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100), Subject: pkix.Name{CommonName: "vmspop e2e client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	caFile := filepath.Join(dir, "ca.pem")
	write(caFile, "CERTIFICATE", caDER)
	for i, n := range names {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(101 + i)), Subject: pkix.Name{CommonName: n},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		write(filepath.Join(dir, n+".pem"), "CERTIFICATE", der)
		write(filepath.Join(dir, n+".key"), "PRIVATE KEY", kder)
	}
	return caFile
}

// TestE2ESASLExternal: curl and openssl s_client present TLS client
// certificates; the one for smith logs smith in with AUTH EXTERNAL, the
// one for jones cannot log in as smith.
func TestE2ESASLExternal(t *testing.T) {
	requireTool(t, "curl")
	requireTool(t, "openssl")
	dir := t.TempDir()
	caFile := writeClientCerts(t, dir, "smith", "jones")
	s, cert := cliStartTLS(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1", "TCPIP$POP_CLIENT_CA="+caFile)
	curl := func(who, user string, flags ...string) (string, error) {
		return cliRun(t, nil, "curl", append(flags, "-sS", "--max-time", "15", "--cacert", cert.CertFile,
			"--cert", filepath.Join(dir, who+".pem"), "--key", filepath.Join(dir, who+".key"),
			"--login-options", "AUTH=EXTERNAL", "-u", user+":", "pop3s://"+s.TLSAddr+"/")...)
	}
	out, err := curl("smith", "smith")
	if err != nil || strings.Count(out, "\n") != len(fixtureMessages) {
		t.Fatalf("curl EXTERNAL with smith's certificate: %v\n%s\n%s", err, out, s.stderr)
	}
	if out, err := curl("jones", "smith", "-v"); err == nil || !strings.Contains(out, `-ERR [AUTH] authorization identity "smith" is not allowed for "jones"`) {
		t.Fatalf("curl EXTERNAL as smith with jones's certificate: %v\n%s", err, out)
	}
	// openssl s_client, STLS: jones's certificate, identity smith: refused;
	// no identity: jones (whose NEWMAIL is empty).
	sclient := func(who, script string) string {
		cmd := exec.Command("openssl", "s_client", "-quiet", "-ign_eof", "-starttls", "pop3", "-connect", s.Addr,
			"-CAfile", cert.CertFile, "-cert", filepath.Join(dir, who+".pem"), "-key", filepath.Join(dir, who+".key"))
		cmd.Stdin = strings.NewReader(script)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl s_client: %v\n%s", err, b)
		}
		return string(b)
	}
	out = sclient("jones", "AUTH EXTERNAL c21pdGg=\r\nAUTH EXTERNAL =\r\nQUIT\r\n")
	if !strings.Contains(out, `-ERR [AUTH] authorization identity "smith" is not allowed for "jones"`) ||
		!strings.Contains(out, "+OK maildrop has 0 messages") {
		t.Fatalf("openssl s_client as jones:\n%s", out)
	}
	log, _ := os.ReadFile(s.Log)
	if !strings.Contains(string(log), "method=EXTERNAL") {
		t.Errorf("server log has no EXTERNAL login")
	}
}

// TestE2ESASLLogin: curl logs in with AUTH LOGIN (when
// TCPIP$POP_AUTH_METHODS offers it) as MAIL#smith.
func TestE2ESASLLogin(t *testing.T) {
	requireTool(t, "curl")
	s := startExtServer(t, "TCPIP$POP_AUTH_METHODS=USER,APOP,PLAIN,LOGIN")
	out, err := cliRun(t, nil, "curl", "-sS", "-v", "--max-time", "15", "--login-options", "AUTH=LOGIN", "-u", "MAIL#smith:demo", "pop3://"+s.Addr+"/")
	if err != nil || !strings.Contains(out, "AUTH LOGIN") || !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Fatalf("curl AUTH LOGIN: %v\n%s", err, out)
	}
	if log, _ := os.ReadFile(s.Log); !strings.Contains(string(log), "method=LOGIN") {
		t.Errorf("server log has no LOGIN login")
	}
}

// runVMS runs the vmspop binary with the server's spool and accounts.
func runVMS(t *testing.T, s *e2eServer, args ...string) string {
	t.Helper()
	cmd := exec.Command(vmspopBinary(t), args...)
	cmd.Env = append(os.Environ(), "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF,
		"TCPIP$POP_SUBSTITUTE_DOMAIN="+extDomain, "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vmspop %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestE2EAlerts: "vmspop alert" refuses the next logins with the alerts,
// one each, for curl and a scripted client; --as-mail delivers to NEWMAIL.
func TestE2EAlerts(t *testing.T) {
	requireTool(t, "curl")
	s := startExtServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	runVMS(t, s, "alert", "smith", "Quota", "almost", "full")
	if out := runVMS(t, s, "alert", "smith", "Server moves on Friday"); !strings.Contains(out, "2 pending") {
		t.Errorf("second alert: %s", out)
	}
	out, err := cliRun(t, nil, "curl", "-sS", "-v", "--max-time", "15", "-u", "smith:demo", "pop3://"+s.Addr+"/")
	if err == nil || !strings.Contains(out, "-ERR ALERT: Quota almost full") {
		t.Fatalf("curl with an alert pending: %v\n%s", err, out)
	}
	p := dialPOP(t, s.Addr)
	p.cmd("USER smith")
	if r := p.cmd("PASS demo"); r != "-ERR ALERT: Server moves on Friday" {
		t.Fatalf("second login: %s", r)
	}
	p.cmd("USER smith")
	if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "+OK maildrop has 6 messages") {
		t.Fatalf("third login: %s", r)
	}
	p.cmd("QUIT")
	runVMS(t, s, "alert", "--as-mail", "smith", "Backup tonight")
	out, err = cliRun(t, nil, "curl", "-sS", "--max-time", "15", "-u", "smith:demo", "pop3://"+s.Addr+"/7")
	if err != nil || !strings.Contains(out, "Subject: Alert: Backup tonight") || !strings.Contains(out, "\r\n\r\nBackup tonight\r\n") {
		t.Fatalf("alert as mail: %v\n%s", err, out)
	}
}

// TestE2ESharedFolder: after "vmspop uaf modify boss --grant smith:read",
// curl, fetchmail and mpop log in as ~boss/NEWMAIL#smith with smith's
// password and fetch BOSS's mail, which stays in BOSS's NEWMAIL; DELE is
// refused; after --grant smith:read,delete DELE moves it to BOSS's
// WASTEBASKET; --revoke closes the door again.
func TestE2ESharedFolder(t *testing.T) {
	s := startExtServer(t)
	const login = "~boss/NEWMAIL#smith"
	p := dialPOP(t, s.Addr)
	p.cmd("USER %s", login)
	if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [AUTH] BOSS has not granted SMITH access") {
		t.Fatalf("before the grant: %s", r)
	}
	runVMS(t, s, "uaf", "modify", "boss", "--grant", "smith:read")
	for _, tool := range []string{"curl", "fetchmail", "mpop"} {
		t.Run(tool, func(t *testing.T) {
			if got := fetchSubjects(t, tool, s, login, "demo"); !slices.Equal(got, []string{"Boss memo"}) {
				t.Errorf("%s as %s fetched %q", tool, login, got)
			}
		})
	}
	p.cmd("USER %s", login)
	if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "+OK maildrop has 1 messages") {
		t.Fatalf("after the grant: %s", r)
	}
	if r := p.cmd("DELE 1"); !strings.HasPrefix(r, "-ERR no right to delete") {
		t.Errorf("DELE with read access: %s", r)
	}
	p.cmd("QUIT")
	if got := folderSubjects(t, s.Spool, "BOSS", spool.NewMail); !slices.Equal(got, []string{"Boss memo"}) {
		t.Errorf("BOSS's NEWMAIL = %q", got)
	}
	// With the delete right, DELE moves BOSS's message to his WASTEBASKET.
	runVMS(t, s, "uaf", "modify", "boss", "--grant", "smith:read,delete")
	p = dialPOP(t, s.Addr)
	p.login(login, "demo")
	if r := p.cmd("DELE 1"); r != "+OK message 1 deleted" {
		t.Errorf("DELE with the delete right: %s", r)
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	if nm, wb := folderSubjects(t, s.Spool, "BOSS", spool.NewMail), folderSubjects(t, s.Spool, "BOSS", spool.Wastebasket); len(nm) != 0 || !slices.Equal(wb, []string{"Boss memo"}) {
		t.Errorf("after DELE: BOSS's NEWMAIL %q, WASTEBASKET %q", nm, wb)
	}
	runVMS(t, s, "uaf", "modify", "boss", "--revoke", "smith")
	p = dialPOP(t, s.Addr)
	p.cmd("USER %s", login)
	if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [AUTH] BOSS has not granted") {
		t.Errorf("after --revoke: %s", r)
	}
}

// TestE2EUnifiedViews: two messages delivered by "vmspop deliver" to the
// unified account CL1 with X-Real-To: abcdef and xyz; curl logged in as
// abcdef@client1.com and xyz@client1.com sees one each, as CL1 both. With
// TCPIP$POP_VIEW_FIELD=X-Original-To the names are looked for there.
func TestE2EUnifiedViews(t *testing.T) {
	requireTool(t, "curl")
	for _, field := range []string{"", "X-Original-To"} {
		t.Run("field="+field, func(t *testing.T) {
			env := []string{"TCPIP$POP_UNIFIED_DOMAINS=client1.com=CL1", "TCPIP$POP_LEAVE_IN_NEWMAIL=1"}
			if field != "" {
				env = append(env, "TCPIP$POP_VIEW_FIELD="+field)
			}
			s := startExtServer(t, env...)
			writeUAF(t, s.UAF, append(slices.Clone(defaultAccounts), e2eAccount{Name: "CL1", Password: "mypassword"}))
			for _, who := range []string{"abcdef", "xyz"} {
				// The other field names the other user: only the configured
				// field counts.
				other := map[string]string{"abcdef": "xyz", "xyz": "abcdef"}[who]
				real, orig := who, other
				if field != "" {
					real, orig = other, who
				}
				cmd := exec.Command(vmspopBinary(t), "deliver", "CL1")
				cmd.Env = append(os.Environ(), "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF, "GORACE=atexit_sleep_ms=0")
				cmd.Stdin = strings.NewReader("From: tester@example.net\r\nTo: " + who + "@client1.com\r\nX-Real-To: " + real +
					"\r\nX-Original-To: " + orig + "\r\nSubject: for " + who + "\r\n\r\nHello " + who + ".\r\n")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("vmspop deliver: %v\n%s", err, out)
				}
			}
			for user, want := range map[string][]string{
				"CL1":                {"for abcdef", "for xyz"},
				"abcdef@client1.com": {"for abcdef"},
				"xyz@Client1.com":    {"for xyz"},
				"other@client1.com":  nil,
			} {
				if got := fetchSubjects(t, "curl", s, user, "mypassword"); !slices.Equal(got, want) {
					t.Errorf("curl as %s fetched %q, want %q", user, got, want)
				}
			}
		})
	}
}

// TestE2EGreetingAndLoginDelay: TCPIP$POP_GREETING reaches the wire, and
// "vmspop uaf modify smith --login-delay 1h" limits smith's logins (and is
// advertised in CAPA after login) while jones, without one, is free.
func TestE2EGreetingAndLoginDelay(t *testing.T) {
	s := startExtServer(t, "TCPIP$POP_GREETING=Welcome to VAXA")
	runVMS(t, s, "uaf", "modify", "smith", "--login-delay", "1h")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	g, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(g, "+OK Welcome to VAXA <") || !strings.HasSuffix(g, "@vms.example>\r\n") {
		t.Errorf("greeting %q", g)
	}
	p := dialPOP(t, s.Addr)
	p.login("smith", "demo")
	p.cmd("CAPA")
	if capa := strings.Join(p.multi(), "\n"); !strings.Contains(capa, "LOGIN-DELAY 3600") {
		t.Errorf("CAPA after smith's login:\n%s", capa)
	}
	p.cmd("QUIT")
	for i := 0; i < 2; i++ {
		p = dialPOP(t, s.Addr)
		p.login("jones", "demo")
		p.cmd("QUIT")
	}
	p = dialPOP(t, s.Addr)
	p.cmd("USER smith")
	if r := p.cmd("PASS demo"); !strings.HasPrefix(r, "-ERR [LOGIN-DELAY]") {
		t.Errorf("smith's second login within the hour: %s", r)
	}
}

// TestConfigureClientCA: TCPIP$POP_CLIENT_CA needs TLS and a PEM file.
func TestConfigureClientCA(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	ca := writeClientCerts(t, dir)
	cfg := logicals.Default()
	for _, tc := range []struct {
		file    string
		tls     bool
		wantErr string
	}{
		{ca, false, "needs TLS"},
		{bad, true, "no PEM certificate"},
		{filepath.Join(dir, "missing.pem"), true, "no such file"},
		{ca, true, ""},
	} {
		srv := &gateway.Server{Hostname: "vms.example", AuthMethods: cfg.AuthMethods}
		if tc.tls {
			srv.TLSConfig = &tls.Config{}
		}
		cfg.ClientCA = tc.file
		err := configureExtensions(srv, cfg, nil, logrus.New())
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.file, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s (tls %v): %v, want %q", tc.file, tc.tls, err, tc.wantErr)
		case tc.wantErr == "" && (srv.TLSConfig.ClientCAs == nil || !slices.Contains(srv.AuthMethods, "EXTERNAL") || slices.Contains(cfg.AuthMethods, "EXTERNAL")):
			t.Errorf("client CA not configured: %+v, methods %v", srv.TLSConfig, srv.AuthMethods)
		}
	}
}
