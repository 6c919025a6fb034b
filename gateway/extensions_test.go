package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/maildrop"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
)

// extAuth is the fake authenticator with the extensions' add-ons: grants,
// per-account login delays, and admission without a credential.
type extAuth struct {
	*fakeAuth
	grants map[string]gateway.Rights // "OWNER/USER"
	delays map[string]time.Duration
}

func (a *extAuth) Rights(owner, user string) gateway.Rights {
	return a.grants[strings.ToUpper(owner)+"/"+strings.ToUpper(user)]
}

func (a *extAuth) LoginDelay(user string) (time.Duration, bool) {
	d, ok := a.delays[strings.ToUpper(user)]
	return d, ok
}

func (a *extAuth) CheckAccount(user string, now time.Time) (string, error) {
	name, acc, err := a.lookup(user)
	if err != nil {
		return "", err
	}
	return a.flags(name, acc)
}

// extSpool fills a spool: ALICE has 2 messages in NEWMAIL, 1 in MAIL,
// 1 in WASTEBASKET and 1 in PRIVATE; BOSS 2 in NEWMAIL and 1 in MAIL;
// the public area 1 in ANNOUNCES; CL1 (a unified account) the two
// messages of CommuniGate Pro's example, X-Real-To abcdef and xyz.
func extSpool(t testing.TB) *spool.Spool {
	t.Helper()
	sp := spool.New(t.TempDir())
	put := func(user, folder string, subjects ...string) {
		var msgs []spool.NewMessage
		for i, s := range subjects {
			d := time.Date(2026, 11, 21, 9, i, 0, 0, time.UTC)
			text := fmt.Sprintf("From:\tSMTP%%\"tester@example.net\"  %s\nTo:\t%s\nCC:\t\nSubj:\t%s\n\n", mail11.FormatVMSDate(d), user, s)
			if rt, ok := strings.CutPrefix(s, "real-to "); ok {
				text += "X-Real-To: " + rt + "\n\n"
			}
			text += "Body of " + s + ".\n"
			msgs = append(msgs, spool.NewMessage{Envelope: "tester@example.net", Date: d, Text: strings.NewReader(text)})
		}
		if err := sp.Append(context.Background(), user, folder, msgs); err != nil {
			t.Fatal(err)
		}
	}
	put("ALICE", spool.NewMail, "new one", "new two")
	put("ALICE", spool.Mail, "old one")
	put("ALICE", spool.Wastebasket, "trash one")
	put("ALICE", "PRIVATE", "private one")
	put("BOSS", spool.NewMail, "boss new one", "boss new two")
	put("BOSS", spool.Mail, "boss old one")
	put(gateway.PublicOwner, "ANNOUNCES", "announcement")
	put("CL1", spool.NewMail, "real-to abcdef", "real-to xyz")
	return sp
}

// folderCounts returns "FOLDER=n ..." for user, sorted.
func folderCounts(t testing.TB, sp *spool.Spool, user string) string {
	t.Helper()
	fs, err := sp.Folders(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+"="+strconv.Itoa(f.Messages))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// foldersLines returns the "# folders: " lines of a transcript.
func foldersLines(t testing.TB, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(l, "# folders: "); ok {
			out = append(out, strings.TrimSpace(f))
		}
	}
	return out
}

// startExtServer starts a server with Extensions over a real spool.
func startExtServer(t testing.TB, configure func(*gateway.Server, *extAuth, *spool.Spool)) (*testEnv, *spool.Spool) {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	sp := extSpool(t)
	fa := newFakeAuth()
	for _, u := range []string{"BOSS", "CL1", "PUBLIC"} {
		fa.users[u] = account{password: strings.ToLower(u) + "pw", secret: strings.ToLower(u) + "secret"}
	}
	fa.users["CL1"] = account{password: "mypassword"} // CommuniGate Pro's example
	auth := &extAuth{fakeAuth: fa, grants: map[string]gateway.Rights{}, delays: map[string]time.Duration{}}
	srv := &gateway.Server{
		Hostname: "host.example",
		Backend: &maildrop.SpoolBackend{
			Spool:   sp,
			Rewrite: &rewrite.Settings{Hostname: "host.example"},
			Logger:  logger,
		},
		Auth:         auth,
		Classify:     classify,
		Logger:       logger,
		FailureDelay: time.Millisecond,
		IdleTimeout:  10 * time.Second,
		Extensions:   &gateway.Extensions{Domains: []string{"example.com", "VAXA"}},
	}
	if configure != nil {
		configure(srv, auth, sp)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{srv: srv, log: hook, addr: l.Addr().String(), errc: make(chan error, 1)}
	go func() { env.errc <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		<-env.errc
	})
	return env, sp
}

// TestExtensionTranscripts runs testdata/transcripts/extensions/*.txt
// against a server with Extensions over a real spool (extSpool). Options:
// security=SECURE, greeting=TEXT (underscores for spaces),
// logindelay=SECONDS, userdelay=USER:SECONDS, grant=OWNER:USER:read[+delete],
// tls. "# folders: USER FOLDER=n ..." lines check the spool afterwards.
func TestExtensionTranscripts(t *testing.T) {
	files, err := filepath.Glob("../testdata/transcripts/extensions/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			tr := parseTranscript(t, file)
			var clientTLS *tls.Config
			env, sp := startExtServer(t, func(s *gateway.Server, a *extAuth, sp *spool.Spool) {
				for k, v := range tr.options {
					switch k {
					case "security":
						s.Security = gateway.Secure
					case "greeting":
						s.Extensions.Greeting = strings.ReplaceAll(v, "_", " ")
					case "logindelay":
						n, _ := strconv.Atoi(v)
						s.LoginDelay = time.Duration(n) * time.Second
					case "userdelay":
						for _, ud := range strings.Split(v, ",") {
							u, n, _ := strings.Cut(ud, ":")
							sec, _ := strconv.Atoi(n)
							a.delays[u] = time.Duration(sec) * time.Second
						}
					case "grant":
						for _, g := range strings.Split(v, ",") {
							f := strings.Split(g, ":")
							a.grants[f[0]+"/"+f[1]] = gateway.Rights{Read: strings.Contains(f[2], "read"), Delete: strings.Contains(f[2], "delete")}
						}
					case "alert":
						for i, a := range strings.Split(v, ",") {
							u, text, _ := strings.Cut(a, ":")
							if err := sp.QueueAlert(context.Background(), u, strings.ReplaceAll(text, "_", " "), time.Unix(int64(i), 0)); err != nil {
								t.Fatal(err)
							}
						}
					case "views":
						dv := gateway.DomainViews{}
						for _, m := range strings.Split(v, ",") {
							d, acct, _ := strings.Cut(m, ":")
							dv[d] = acct
						}
						s.Extensions.Views = dv
					case "submit":
						s.Extensions.Submit = &fakeSubmitter{refuse: v == "refuse"}
						s.Extensions.MaxSubmitSize = 200
					case "tls":
						if s.TLSConfig == nil {
							s.TLSConfig, clientTLS = testTLSConfig(t)
						}
					case "clientcert":
						if s.TLSConfig == nil {
							s.TLSConfig, clientTLS = testTLSConfig(t)
						}
						addClientCert(t, s.TLSConfig, clientTLS, v)
					default:
						t.Fatalf("unknown option %q", k)
					}
				}
			})
			tr.run(t, env, clientTLS)
			env.shutdown(t)
			for _, want := range foldersLines(t, file) {
				user, counts, _ := strings.Cut(want, " ")
				if got := folderCounts(t, sp, user); got != counts {
					t.Errorf("folders of %s: %s, want %s", user, got, counts)
				}
			}
		})
	}
}

// TestPerAccountLoginDelay: an account's own delay overrides the
// server's, in both directions.
func TestPerAccountLoginDelay(t *testing.T) {
	env, _ := startExtServer(t, func(s *gateway.Server, a *extAuth, _ *spool.Spool) {
		s.LoginDelay = time.Hour
		a.delays["ALICE"] = 0 // no delay for ALICE
		a.delays["ERIN"] = 5 * time.Minute
	})
	login := func(user, pass string) string {
		c := dial(t, env.addr)
		c.expect("+OK")
		c.send("USER "+user, "PASS "+pass, "QUIT")
		c.expect("+OK")
		r := c.line()
		c.line() // QUIT
		return r
	}
	for i := 0; i < 2; i++ {
		if r := login("alice", "wonderland"); !strings.HasPrefix(r, "+OK maildrop") {
			t.Fatalf("ALICE login %d: %s", i+1, r)
		}
	}
	if r := login("erin", "erin pw"); !strings.HasPrefix(r, "+OK maildrop") {
		t.Fatalf("ERIN first login: %s", r)
	}
	if r := login("erin", "erin pw"); r != `-ERR [LOGIN-DELAY] minimum time between logins not reached for "erin"` {
		t.Fatalf("ERIN second login: %s", r)
	}
	// BOSS has no delay of its own: the server's hour applies.
	login("boss", "bosspw")
	if r := login("MAIL#boss", "bosspw"); !strings.HasPrefix(r, "-ERR [LOGIN-DELAY]") {
		t.Fatalf("BOSS second login: %s", r)
	}
}

// TestGreetingTextLength: a long greeting is cut so that the line, CRLF
// included, stays within 512 octets, and keeps its APOP timestamp.
func TestGreetingTextLength(t *testing.T) {
	env, _ := startExtServer(t, func(s *gateway.Server, _ *extAuth, _ *spool.Spool) {
		s.Extensions.Greeting = strings.Repeat("long greeting ", 60)
	})
	c := dial(t, env.addr)
	g := c.line()
	if len(g)+2 > 512 || !strings.HasPrefix(g, "+OK long greeting") || !timestampRE.MatchString(g) {
		t.Fatalf("greeting (%d octets) %q", len(g), g)
	}
}

// addClientCert makes a CA that server trusts for client certificates,
// and a client certificate it signed for cn (with e-mail SANs after
// '/': "alice/alice@example.com") that client presents.
func addClientCert(t testing.TB, server, client *tls.Config, spec string) {
	t.Helper()
	cn, email, _ := strings.Cut(spec, "/")
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if email != "" {
		tmpl.EmailAddresses = []string{email}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server.ClientCAs = pool
	server.ClientAuth = tls.VerifyClientCertIfGiven
	client.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
}

// fakeSubmitter records what XTND XMIT submits; with refuse set it
// refuses as a relay would.
type fakeSubmitter struct {
	mu     sync.Mutex
	refuse bool
	got    []*gateway.Submission
	texts  []string
}

func (f *fakeSubmitter) Submit(ctx context.Context, s *gateway.Submission) error {
	b, err := io.ReadAll(s.Message)
	if err != nil {
		return err
	}
	if f.refuse {
		return &gateway.Error{Text: "relay refused the message: 554 5.7.1 no thanks"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, s)
	f.texts = append(f.texts, string(b))
	return nil
}

// TestXtndXmit: the message reaches the Submitter unstuffed, without
// Bcc, with To/Cc/Bcc as recipients and the logged-in user's address;
// too large a message is drained and refused; XTND is unknown without a
// Submitter and before login.
func TestXtndXmit(t *testing.T) {
	sub := &fakeSubmitter{}
	env, _ := startExtServer(t, func(s *gateway.Server, _ *extAuth, _ *spool.Spool) {
		s.Extensions.Submit = sub
		s.Extensions.MaxSubmitSize = 300
	})
	c := dial(t, env.addr)
	c.expect("+OK")
	c.send("XTND XMIT")
	c.expect("-ERR command not valid in this state")
	c.send("USER alice", "PASS wonderland")
	c.expect("+OK")
	c.expect("+OK maildrop has")
	c.send("XTND XMIT", "From: alice@example.com", "To: Bob <bob@example.org>, carol@example.org",
		"Cc: dave@example.net", "Bcc: eve@example.net", "Subject: hi", "", "..dotted line", "body", ".")
	c.expect("+OK send the message")
	c.expect("+OK message sent")
	if len(sub.got) != 1 {
		t.Fatalf("%d submissions", len(sub.got))
	}
	if got, want := strings.Join(sub.got[0].Recipients, " "), "bob@example.org carol@example.org dave@example.net eve@example.net"; got != want {
		t.Errorf("recipients %q, want %q", got, want)
	}
	if sub.got[0].User != "ALICE" {
		t.Errorf("user %q", sub.got[0].User)
	}
	want := "From: alice@example.com\r\nTo: Bob <bob@example.org>, carol@example.org\r\nCc: dave@example.net\r\nSubject: hi\r\n\r\n.dotted line\r\nbody\r\n"
	if sub.texts[0] != want {
		t.Errorf("message\n%q\nwant\n%q", sub.texts[0], want)
	}
	// Too large: drained to its dot, refused, the session goes on.
	c.send("XTND XMIT", "To: bob@example.org", "", strings.Repeat("x", 200), strings.Repeat("y", 200), ".")
	c.expect("+OK send")
	c.expect("-ERR message larger than 300 octets, not sent")
	c.send("XTND XMIT", "Subject: nobody", "", "text", ".")
	c.expect("+OK send")
	c.expect("-ERR no recipient in To, Cc or Bcc, not sent")
	c.send("XTND FOO")
	c.expect("-ERR XTND FOO is not supported")
	c.send("STAT")
	c.expect("+OK 2 ")
	if len(sub.got) != 1 {
		t.Errorf("%d submissions, want 1", len(sub.got))
	}
	// The envelope sender: a delegate sends as itself, a unified-account
	// view as the address it logged in as.
	env3, _ := startExtServer(t, func(s *gateway.Server, a *extAuth, _ *spool.Spool) {
		s.Extensions.Submit = sub
		s.Extensions.Views = gateway.DomainViews{"client1.com": "CL1"}
		a.grants["BOSS/ALICE"] = gateway.Rights{Read: true}
	})
	for _, l := range []struct{ login, pass, user, sender string }{
		{"~boss/MAIL#alice", "wonderland", "ALICE", ""},
		{"abcdef@Client1.com", "mypassword", "CL1", "abcdef@client1.com"},
	} {
		c := dial(t, env3.addr)
		c.login(l.login, l.pass)
		c.send("XTND XMIT", "To: bob@example.org", "", "Hi.", ".")
		c.expect("+OK send")
		c.expect("+OK message sent")
		c.send("QUIT")
		c.expect("+OK")
		if s := sub.got[len(sub.got)-1]; s.User != l.user || s.Sender != l.sender {
			t.Errorf("as %s: user %q sender %q, want %q %q", l.login, s.User, s.Sender, l.user, l.sender)
		}
	}
	// Off: an unknown command.
	env2, _ := startExtServer(t, nil)
	c2 := dial(t, env2.addr)
	c2.login("alice", "wonderland")
	c2.send("XTND XMIT")
	c2.expect("-ERR unknown command")
}

// TestSharedFolderLocks: the owner on NEWMAIL and a delegate on MAIL at
// once, each reading its folder while the other is open; a second session
// on a folder already open is [IN-USE].
func TestSharedFolderLocks(t *testing.T) {
	env, _ := startExtServer(t, func(_ *gateway.Server, a *extAuth, _ *spool.Spool) {
		a.grants["BOSS/ALICE"] = gateway.Rights{Read: true}
	})
	owner := dial(t, env.addr)
	owner.login("boss", "bosspw")
	delegate := dial(t, env.addr)
	delegate.login("~boss/MAIL#alice", "wonderland")
	third := dial(t, env.addr)
	third.expect("+OK")
	third.send("USER ~boss/NEWMAIL#alice", "PASS wonderland")
	third.expect("+OK")
	if r := third.line(); !strings.HasPrefix(r, "-ERR [IN-USE]") {
		t.Errorf("delegate on the owner's open NEWMAIL: %s", r)
	}
	// Both read while both sessions are open: each its own folder.
	for _, r := range []struct {
		c    *client
		subj string
	}{{owner, "boss new one"}, {delegate, "boss old one"}} {
		r.c.send("RETR 1")
		r.c.expect("+OK")
		var subj string
		for l := r.c.line(); l != "."; l = r.c.line() {
			if s, ok := strings.CutPrefix(l, "Subject: "); ok {
				subj = s
			}
		}
		if subj != r.subj {
			t.Errorf("RETR 1 read %q, want %q", subj, r.subj)
		}
	}
	for _, c := range []*client{owner, delegate} {
		c.send("STAT", "QUIT")
		c.expect("+OK")
		c.expect("+OK")
	}
}

// TestUnifiedViewUIDs: the seed's three logins. CL1 sees both messages;
// abcdef and xyz each see one, with the UID and size CL1 sees for it.
func TestUnifiedViewUIDs(t *testing.T) {
	env, _ := startExtServer(t, func(s *gateway.Server, _ *extAuth, _ *spool.Spool) {
		s.Extensions.Views = gateway.DomainViews{"client1.com": "CL1"}
	})
	list := func(user string) (uids, sizes []string) {
		c := dial(t, env.addr)
		c.login(user, "mypassword")
		c.send("UIDL")
		c.expect("+OK")
		for l := c.line(); l != "."; l = c.line() {
			uids = append(uids, strings.Fields(l)[1])
		}
		c.send("LIST")
		c.expect("+OK")
		for l := c.line(); l != "."; l = c.line() {
			sizes = append(sizes, strings.Fields(l)[1])
		}
		c.send("QUIT")
		c.expect("+OK")
		return uids, sizes
	}
	allU, allS := list("cl1")
	aU, aS := list("abcdef@client1.com")
	xU, xS := list("xyz@client1.com")
	if len(allU) != 2 || !slices.Equal(aU, allU[:1]) || !slices.Equal(xU, allU[1:]) ||
		!slices.Equal(aS, allS[:1]) || !slices.Equal(xS, allS[1:]) {
		t.Errorf("UIDs CL1 %q abcdef %q xyz %q; sizes %q %q %q", allU, aU, xU, allS, aS, xS)
	}
	if !gateway.ListsName("Abcdef@client1.com, xyz", "abcdef") || gateway.ListsName("abcdefg", "abcdef") {
		t.Error("ListsName")
	}
}
