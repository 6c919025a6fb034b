package gateway_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/gateway"
)

// transcript is one parsed golden file of testdata/transcripts.
type transcript struct {
	options map[string]string
	commit  string // "" = not checked, "none", or "USER deleted=a,b retrieved=c"
	steps   []step
}

// step is one line of a transcript: 'S' (expect), 'C' (send) or 'X'
// (close, starttls).
type step struct {
	kind byte
	text string
	line int
}

func parseTranscript(t *testing.T, file string) *transcript {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &transcript{options: map[string]string{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
		case strings.HasPrefix(l, "# option: "):
			for _, o := range strings.Fields(strings.TrimPrefix(l, "# option: ")) {
				k, v, _ := strings.Cut(o, "=")
				tr.options[k] = v
			}
		case strings.HasPrefix(l, "# commit: "):
			tr.commit = strings.TrimPrefix(l, "# commit: ")
		case strings.HasPrefix(l, "#"):
		case len(l) >= 3 && (l[0] == 'S' || l[0] == 'C' || l[0] == 'X') && l[1:3] == ": ":
			tr.steps = append(tr.steps, step{l[0], l[3:], n})
		case len(l) == 2 && l[1] == ':' && (l[0] == 'S' || l[0] == 'C'):
			tr.steps = append(tr.steps, step{l[0], "", n})
		default:
			t.Fatalf("%s:%d: bad line %q", file, n, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tr
}

// configure applies the transcript's options to the server.
func (tr *transcript) configure(t *testing.T, srv *gateway.Server, be *fakeBackend, clientTLS **tls.Config) {
	list := func(v string) []string {
		if v == "" {
			return []string{}
		}
		return strings.Split(v, ",")
	}
	num := func(k, v string) int {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("option %s=%q: %v", k, v, err)
		}
		return n
	}
	for k, v := range tr.options {
		switch k {
		case "security":
			switch v {
			case "SECURE":
				srv.Security = gateway.Secure
			case "FRIENDLY":
				srv.Security = gateway.Friendly
			default:
				t.Fatalf("bad security %q", v)
			}
		case "disuserpass":
			srv.DisUserPass = true
		case "maxsessions":
			srv.MaxSessions = num(k, v)
		case "maxerrors":
			srv.MaxErrors = num(k, v)
		case "expire":
			srv.Expire = v
		case "logindelay":
			srv.LoginDelay = time.Duration(num(k, v)) * time.Second
		case "authmethods":
			srv.AuthMethods = list(v)
		case "authtlsonly":
			srv.AuthTLSOnly = list(v)
		case "messagemaximum":
			srv.MessageMaximum = num(k, v)
		case "tls":
			srv.TLSConfig, *clientTLS = testTLSConfig(t)
		case "commitfail":
			be.commitFn = func(gateway.Update) error { return errors.New("fake: disk on fire") }
		case "prelogin", "hold":
		default:
			t.Fatalf("unknown option %q", k)
		}
	}
}

var (
	timestampRE = regexp.MustCompile(`<[^>]*>$`)
	substRE     = regexp.MustCompile(`\{(apop|cram|plain|b64|long):([^}]*)\}`)
)

// expand replaces {apop:SECRET}, {cram:USER:SECRET}, {plain:AUTHZ:USER:PASS},
// {b64:TEXT} and {long:N} in a client line.
func expand(t *testing.T, s, timestamp, challenge string) string {
	return substRE.ReplaceAllStringFunc(s, func(m string) string {
		p := substRE.FindStringSubmatch(m)
		args := strings.Split(p[2], ":")
		switch p[1] {
		case "apop":
			return apopDigest(timestamp, args[0])
		case "cram":
			chal, err := base64.StdEncoding.DecodeString(challenge)
			if err != nil {
				t.Fatalf("challenge %q: %v", challenge, err)
			}
			return base64.StdEncoding.EncodeToString([]byte(args[0] + " " + cramDigest(string(chal), args[1])))
		case "plain":
			return base64.StdEncoding.EncodeToString([]byte(strings.Join(args, "\x00")))
		case "b64":
			return base64.StdEncoding.EncodeToString([]byte(p[2]))
		default:
			n, _ := strconv.Atoi(args[0])
			return strings.Repeat("x", n)
		}
	})
}

// match compares a server line with an expected one; '*' is a wildcard
// and nothing else is special.
func match(want, got string) bool {
	if !strings.Contains(want, "*") {
		return want == got
	}
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `?`, `\?`)
	ok, err := path.Match(r.Replace(want), got)
	return err == nil && ok
}

// TestTranscripts runs every testdata/transcripts/*.txt against a fresh
// server and fake backend. The goldens are written and checked by hand.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("../testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			tr := parseTranscript(t, file)
			var clientTLS *tls.Config
			env := startServer(t, func(s *gateway.Server, be *fakeBackend) { tr.configure(t, s, be, &clientTLS) })
			if up, ok := tr.options["prelogin"]; ok {
				u, p, _ := strings.Cut(up, ":")
				c := dial(t, env.addr)
				c.login(u, p)
				c.send("QUIT")
				c.expect("+OK")
				c.expectClosed()
			}
			var held []*client
			if n, ok := tr.options["hold"]; ok {
				k, _ := strconv.Atoi(n)
				for i := 0; i < k; i++ {
					h := dial(t, env.addr)
					h.expect("+OK POP server ready")
					held = append(held, h)
				}
			}
			tr.run(t, env, clientTLS)
			for _, h := range held {
				h.Conn.Close()
			}
			env.shutdown(t)
			tr.checkCommit(t, env)
			checkNoSecrets(t, env)
		})
	}
}

// run plays the steps.
func (tr *transcript) run(t *testing.T, env *testEnv, clientTLS *tls.Config) {
	c := dial(t, env.addr)
	var timestamp, challenge string
	var pending []string
	flush := func() {
		if len(pending) > 0 {
			c.send(pending...)
			pending = nil
		}
	}
	for _, st := range tr.steps {
		switch st.kind {
		case 'C':
			pending = append(pending, expand(t, st.text, timestamp, challenge))
		case 'S':
			flush()
			got := c.line()
			if !match(st.text, got) {
				t.Fatalf("line %d: got  %q\nwant %q", st.line, got, st.text)
			}
			if m := timestampRE.FindString(got); strings.HasPrefix(got, "+OK POP server ready") && m != "" {
				timestamp = m
			}
			if strings.HasPrefix(got, "+ ") {
				challenge = got[2:]
			}
		case 'X':
			flush()
			switch st.text {
			case "close":
				c.expectClosed()
			case "starttls":
				c.startTLS(clientTLS)
			default:
				t.Fatalf("line %d: unknown action %q", st.line, st.text)
			}
		}
	}
	flush()
	c.Conn.Close()
}

// checkCommit checks the "# commit:" expectation.
func (tr *transcript) checkCommit(t *testing.T, env *testEnv) {
	got := env.be.committed()
	if tr.commit == "" {
		return
	}
	if tr.commit == "none" {
		if len(got) != 0 {
			t.Errorf("Commit called %d times (%+v), want never", len(got), got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("Commit called %d times, want once", len(got))
	}
	f := strings.Fields(tr.commit)
	want := commit{user: f[0]}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		var idx []int
		for _, s := range strings.Split(v, ",") {
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("bad commit line %q", tr.commit)
			}
			idx = append(idx, n)
		}
		switch k {
		case "deleted":
			want.u.Deleted = idx
		case "retrieved":
			want.u.Retrieved = idx
		}
	}
	if got[0].user != want.user || !slices.Equal(got[0].u.Deleted, want.u.Deleted) || !slices.Equal(got[0].u.Retrieved, want.u.Retrieved) {
		t.Errorf("Commit(%v) = %+v, want %+v", got[0].user, got[0].u, want)
	}
}

// checkNoSecrets asserts that no password, secret, digest or SASL response
// of the fake accounts reached the log.
func checkNoSecrets(t *testing.T, env *testEnv) {
	t.Helper()
	secrets := []string{"wonderland", "alicesecret", "bobpw", "carolpw", "davepw", "erin pw", "lockpw",
		"wrongpw", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wonderland"))}
	for _, e := range env.log.AllEntries() {
		s, _ := e.String()
		s += fmt.Sprint(e.Data)
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("log entry %q contains secret %q", s, sec)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		want, got string
		ok        bool
	}{
		{"+OK", "+OK", true},
		{"+OK", "+OK ", false},
		{"+OK *", "+OK 3 160", true},
		{"S [a, b] <*@h>", "S [a, b] <1.2@h>", true},
		{"S [a, b] <*@h>", "S a <1.2@h>", false},
		{"-ERR [AUTH] *", "-ERR [AUTH] x", true},
		{"-ERR [AUTH] *", "-ERR [SYS/TEMP] x", false},
		{"a?*", "ab", false},
	}
	for _, tt := range tests {
		if got := match(tt.want, tt.got); got != tt.ok {
			t.Errorf("match(%q, %q) = %v, want %v", tt.want, tt.got, got, tt.ok)
		}
	}
}
