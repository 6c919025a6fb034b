package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/internal/poptest"
)

// Sentinel errors of the fake authenticator; they stand for the uaf ones.
var (
	errNoMailbox   = errors.New("fake: no mailbox")
	errUnknownUser = errors.New("uaf: unknown user")
	errBadPassword = errors.New("uaf: bad password")
	errDisUser     = errors.New("uaf: account disabled")
	errDisMail     = errors.New("uaf: mail disabled")
	errExpired     = errors.New("uaf: account expired")
	errNoSecret    = errors.New("uaf: no secret")
	errBadDigest   = errors.New("uaf: bad digest")
	errUAFBroken   = errors.New("uaf: cannot read accounts file")
)

// classify maps the fake sentinels, as cmd will map the uaf ones.
func classify(err error) gateway.AuthFailure {
	switch {
	case errors.Is(err, errUnknownUser):
		return gateway.FailUnknownUser
	case errors.Is(err, errBadPassword):
		return gateway.FailBadPassword
	case errors.Is(err, errDisUser):
		return gateway.FailDisUser
	case errors.Is(err, errDisMail):
		return gateway.FailDisMail
	case errors.Is(err, errExpired):
		return gateway.FailExpired
	case errors.Is(err, errNoSecret):
		return gateway.FailNoSecret
	case errors.Is(err, errBadDigest):
		return gateway.FailBadDigest
	default:
		return gateway.FailSystem
	}
}

// account is one user of the fake authenticator.
type account struct {
	password, secret string
	disUser, disMail bool
	expired          bool
	broken           bool // every check fails with a system error
}

// fakeAuth implements gateway.Authenticator with the uaf semantics:
// names are case-insensitive and canonically upper case; the password or
// digest is checked before the account flags.
type fakeAuth struct{ users map[string]account }

func newFakeAuth() *fakeAuth {
	return &fakeAuth{users: map[string]account{
		"ALICE":  {password: "wonderland", secret: "alicesecret"},
		"BOB":    {password: "bobpw", secret: "bobsecret", disUser: true},
		"CAROL":  {password: "carolpw", secret: "carolsecret", disMail: true},
		"DAVE":   {password: "davepw", secret: "davesecret", expired: true},
		"ERIN":   {password: "erin pw"},
		"LOCKIE": {password: "lockpw"},
		"BROKEN": {password: "brokenpw"},
		"FAULTY": {password: "faultypw", broken: true},
		"BIG":    {password: "bigpw"},
	}}
}

func (a *fakeAuth) lookup(user string) (string, account, error) {
	name := strings.ToUpper(user)
	acc, ok := a.users[name]
	if !ok {
		return "", acc, errUnknownUser
	}
	if acc.broken {
		return "", acc, errUAFBroken
	}
	return name, acc, nil
}

func (a *fakeAuth) flags(name string, acc account) (string, error) {
	switch {
	case acc.disUser:
		return "", errDisUser
	case acc.disMail:
		return "", errDisMail
	case acc.expired:
		return "", errExpired
	}
	return name, nil
}

func (a *fakeAuth) CheckPassword(user, password string, now time.Time) (string, error) {
	name, acc, err := a.lookup(user)
	if err != nil {
		return "", err
	}
	if password != acc.password {
		return "", errBadPassword
	}
	return a.flags(name, acc)
}

func (a *fakeAuth) CheckAPOP(user, timestamp, digest string, now time.Time) (string, error) {
	name, acc, err := a.lookup(user)
	if err != nil {
		return "", err
	}
	if acc.secret == "" {
		return "", errNoSecret
	}
	if digest != apopDigest(timestamp, acc.secret) {
		return "", errBadDigest
	}
	return a.flags(name, acc)
}

func (a *fakeAuth) CheckCRAMMD5(user, challenge, digest string, now time.Time) (string, error) {
	name, acc, err := a.lookup(user)
	if err != nil {
		return "", err
	}
	if acc.secret == "" {
		return "", errNoSecret
	}
	if digest != cramDigest(challenge, acc.secret) {
		return "", errBadDigest
	}
	return a.flags(name, acc)
}

func (a *fakeAuth) UserExists(user string) bool {
	_, ok := a.users[strings.ToUpper(user)]
	return ok
}

func (a *fakeAuth) HasSecret(user string) bool {
	return a.users[strings.ToUpper(user)].secret != ""
}

func apopDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

func cramDigest(challenge, secret string) string {
	m := hmac.New(md5.New, []byte(secret))
	m.Write([]byte(challenge))
	return hex.EncodeToString(m.Sum(nil))
}

// The messages of ALICE. Message 1 has body lines "." and "..two".
var aliceMessages = []string{
	"From: bob@example.com\r\nSubject: dots\r\n\r\nfirst line\r\n.\r\n..two\r\nlast\r\n",
	"From: carol@example.com\r\nSubject: lines\r\n\r\nline 1\r\nline 2\r\nline 3\r\n",
	"Subject: three\r\n\r\nshort\r\n",
}

// commit records one Commit call.
type commit struct {
	user string
	u    gateway.Update
}

// fakeBackend implements gateway.Backend over in-memory messages and
// records every Commit and Close.
type fakeBackend struct {
	mu       sync.Mutex
	boxes    map[string][]string
	commits  []commit
	opens    int
	closes   int
	inUse    map[string]bool
	commitFn func(u gateway.Update) error
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		boxes: map[string][]string{"ALICE": aliceMessages, "ERIN": nil, "BOB": nil, "CAROL": nil, "DAVE": nil},
		inUse: map[string]bool{"LOCKIE": true},
	}
}

func (b *fakeBackend) OpenMaildrop(ctx context.Context, user string) (gateway.Maildrop, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inUse[user] {
		return nil, fmt.Errorf("fake: open %s: %w", user, gateway.ErrInUse)
	}
	msgs, ok := b.boxes[user]
	if !ok {
		return nil, fmt.Errorf("fake: open %s: %w", user, errNoMailbox)
	}
	b.inUse[user] = true
	b.opens++
	return &fakeMaildrop{b: b, user: user, msgs: msgs}, nil
}

// committed returns the Commit calls so far.
func (b *fakeBackend) committed() []commit {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]commit(nil), b.commits...)
}

type fakeMaildrop struct {
	b    *fakeBackend
	user string
	msgs []string
	done bool
}

func (m *fakeMaildrop) Messages() []gateway.MessageInfo {
	out := make([]gateway.MessageInfo, len(m.msgs))
	for i, s := range m.msgs {
		out[i] = gateway.MessageInfo{Size: int64(len(s)), UID: fmt.Sprintf("%s.%d", m.user, i+1)}
	}
	return out
}

func (m *fakeMaildrop) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(m.msgs) {
		return nil, fmt.Errorf("fake: no message %d", i)
	}
	return io.NopCloser(strings.NewReader(m.msgs[i])), nil
}

func (m *fakeMaildrop) Commit(ctx context.Context, u gateway.Update) (gateway.CommitResult, error) {
	m.b.mu.Lock()
	m.b.commits = append(m.b.commits, commit{m.user, u})
	fn := m.b.commitFn
	m.b.mu.Unlock()
	if fn != nil { // unlocked: it may block while other sessions go on
		if err := fn(u); err != nil {
			return gateway.CommitResult{}, err
		}
	}
	moved := 0
	for _, r := range u.Retrieved {
		if !contains(u.Deleted, r) {
			moved++
		}
	}
	return gateway.CommitResult{Deleted: len(u.Deleted), Moved: moved, Left: len(m.msgs) - len(u.Deleted) - moved}, nil
}

func (m *fakeMaildrop) Close() error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if m.done {
		return errors.New("fake: closed twice")
	}
	m.done = true
	m.b.closes++
	delete(m.b.inUse, m.user)
	return nil
}

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// testEnv is a running server with its fakes and log.
type testEnv struct {
	srv  *gateway.Server
	be   *fakeBackend
	log  *logtest.Hook
	addr string
	errc chan error
}

// startServer starts a server on 127.0.0.1:0; configure may change it
// before it starts. The server is shut down at the end of the test.
func startServer(t testing.TB, configure ...func(*gateway.Server, *fakeBackend)) *testEnv {
	t.Helper()
	return startServerOn(t, nil, configure...)
}

// startServerOn is startServer with the listener wrapped by wrapListener
// (when not nil).
func startServerOn(t testing.TB, wrapListener func(net.Listener) net.Listener, configure ...func(*gateway.Server, *fakeBackend)) *testEnv {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	be := newFakeBackend()
	srv := &gateway.Server{
		Hostname:     "host.example",
		Backend:      be,
		Auth:         newFakeAuth(),
		Classify:     classify,
		Logger:       logger,
		FailureDelay: time.Millisecond,
		IdleTimeout:  10 * time.Second,
	}
	for _, f := range configure {
		f(srv, be)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	if wrapListener != nil {
		l = wrapListener(l)
	}
	env := &testEnv{srv: srv, be: be, log: hook, addr: l.Addr().String(), errc: make(chan error, 1)}
	go func() { env.errc <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		<-env.errc
	})
	return env
}

// shutdown shuts the server down, waiting for sessions to end.
func (e *testEnv) shutdown(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if err := <-e.errc; !errors.Is(err, gateway.ErrServerClosed) {
		t.Errorf("Serve() = %v, want ErrServerClosed", err)
	}
	e.errc <- gateway.ErrServerClosed // for the cleanup
}

// entries returns the log entries with message msg.
func (e *testEnv) entries(msg string) []*logrus.Entry {
	var out []*logrus.Entry
	for _, en := range e.log.AllEntries() {
		if en.Message == msg {
			out = append(out, en)
		}
	}
	return out
}

// client is the shared POP test client (internal/poptest) with the
// gateway tests' own steps.
type client struct{ *poptest.Client }

// dial connects to addr and reads nothing.
func dial(t testing.TB, addr string) *client { return &client{poptest.DialNoGreeting(t, addr)} }

// The steps by the names the gateway's tests use.
func (c *client) send(lines ...string)        { c.T.Helper(); c.Send(lines...) }
func (c *client) line() string                { c.T.Helper(); return c.Line() }
func (c *client) expect(prefix string) string { c.T.Helper(); return c.Expect(prefix) }
func (c *client) startTLS(cfg *tls.Config)    { c.T.Helper(); c.StartTLS(cfg) }

// login reads the greeting and logs in with USER/PASS.
func (c *client) login(user, pass string) {
	c.T.Helper()
	c.expect("+OK POP server ready")
	c.send("USER "+user, "PASS "+pass)
	c.expect("+OK")
	c.expect("+OK maildrop has")
}

// expectClosed checks that the server closes the connection (within 5 s).
func (c *client) expectClosed() {
	c.T.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.ReadLine()
	if err == nil {
		c.T.Fatalf("got %q, want the connection closed", l)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.T.Fatalf("connection still open")
	}
}

// testTLSConfig returns a server config with a fresh self-signed
// certificate for host.example, valid for 30 days (the ticket rotation
// test moves its clock 10 days on), and a client config that trusts it.
func testTLSConfig(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "host.example"},
		DNSNames:     []string{"host.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}
	client = &tls.Config{RootCAs: pool, ServerName: "host.example", MinVersion: tls.VersionTLS12}
	return server, client
}

type hookAlias = logtest.Hook

func newNullLogger() (*logrus.Logger, *logtest.Hook) { return logtest.NewNullLogger() }
