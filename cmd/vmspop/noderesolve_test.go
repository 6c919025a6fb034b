package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// TestNodeResolver: the node name first, then under the local domain;
// canonical names lower-cased; answers cached for resolveTTL, failures
// too, with one warning; every lookup under the timeout.
func TestNodeResolver(t *testing.T) {
	hosts := map[string]string{ // a hosts file: name → canonical name
		"vaxb":                  "vaxb.example.net.",
		"vaxc.acme.widgets.com": "VAXC.Acme.Widgets.com.",
		"both":                  "both.example.net.",
		"both.acme.widgets.com": "both.acme.widgets.com.",
	}
	var mu sync.Mutex
	var asked []string
	lookup := func(ctx context.Context, host string) (string, error) {
		mu.Lock()
		asked = append(asked, host)
		mu.Unlock()
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > resolveTimeout {
			t.Errorf("lookup of %s without the timeout", host)
		}
		if c, ok := hosts[host]; ok {
			return c, nil
		}
		return "", &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	r := newNodeResolver(lookup, "vms.acme.widgets.com", log)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	tests := []struct {
		node, want string
		asks       []string
	}{
		{"VAXB", "vaxb.example.net", []string{"vaxb"}},
		{"VAXC", "vaxc.acme.widgets.com", []string{"vaxc", "vaxc.acme.widgets.com"}},
		{"BOTH", "both.example.net", []string{"both"}},
		{"NOWHERE", "", []string{"nowhere", "nowhere.acme.widgets.com"}},
		{"VAXB", "vaxb.example.net", nil}, // cached
		{"NOWHERE", "", nil},              // cached too
	}
	for _, tt := range tests {
		asked = nil
		if got := r.Resolve(tt.node); got != tt.want {
			t.Errorf("Resolve(%s) = %q, want %q", tt.node, got, tt.want)
		}
		if fmt.Sprint(asked) != fmt.Sprint(tt.asks) {
			t.Errorf("Resolve(%s) asked %q, want %q", tt.node, asked, tt.asks)
		}
	}
	var warns []string
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warns = append(warns, fmt.Sprint(e.Data["node"]))
		}
	}
	if fmt.Sprint(warns) != "[NOWHERE]" {
		t.Errorf("warnings for %q, want one for NOWHERE", warns)
	}
	// After the TTL the resolver asks again.
	now = now.Add(resolveTTL)
	asked = nil
	r.Resolve("VAXB")
	if len(asked) != 1 {
		t.Errorf("after the TTL: asked %q", asked)
	}
	// A host name of one label: only the node name is asked.
	r = newNodeResolver(lookup, "vms", log)
	asked = nil
	r.Resolve("NOWHERE")
	if fmt.Sprint(asked) != "[nowhere]" {
		t.Errorf("single-label host: asked %q", asked)
	}
}

// TestTransformResolverLocalhost: the real server translates a DECnet
// node that is not in the node table through the system resolver: here
// LOCALHOST, which every machine's /etc/hosts names.
func TestTransformResolverLocalhost(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	lgAppend(t, s.Spool, "SMITH", "NEWMAIL", "From:\tLOCALHOST::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\te\n\nx\n")
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	if got := lgFrom(t, s, len(fixtureMessages)+1); got != "jones@localhost" {
		t.Errorf("From: of LOCALHOST::JONES = %q, want jones@localhost", got)
	}
}

// TestTransformResolver: the same through a hosts file of the test's: the
// server runs in a mount namespace of its own whose /etc/hosts is that
// file (unshare(1); it needs CAP_SYS_ADMIN, which a container may not
// give, and then the test is skipped). Names that resolve neither way
// fall back to GENERIC with one warning.
func TestTransformResolver(t *testing.T) {
	requireTool(t, "unshare")
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	lgWrite(t, hosts, "127.0.0.1 localhost\n10.9.9.9 vaxb.example.net vaxb\n10.9.9.8 vaxc.acme.example\n")
	if out, err := exec.Command("unshare", "-m", "bash", "-c", `mount --bind "$0" /etc/hosts && grep -q vaxb /etc/hosts`, hosts).CombinedOutput(); err != nil {
		t.Skipf("no mount namespace here (unshare -m needs CAP_SYS_ADMIN): %v %s", err, out)
	}
	wrapper := filepath.Join(dir, "vmspop-hosts")
	// bash, not dash: dash drops the TCPIP$POP_* names from the environment.
	lgWrite(t, wrapper, "#!/bin/bash\nexec unshare -m bash -c 'mount --bind \"$0\" /etc/hosts && exec \"$@\"' "+hosts+" "+vmspopBinary(t)+` "$@"`+"\n")
	os.Chmod(wrapper, 0o755)

	s := lgPrepare(t)
	lgAppend(t, s.Spool, "SMITH", "NEWMAIL",
		"From:\tVAXB::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tb\n\nx\n",
		"From:\tVAXC::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tc\n\nx\n",
		"From:\tNOSUCH::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\td\n\nx\n")
	s.Bin = wrapper
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_HOSTNAME=vms.acme.example", "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	n := len(fixtureMessages)
	for i, want := range []string{"jones@vaxb.example.net", "jones@vaxc.acme.example", `"NOSUCH::JONES"@vms.acme.example`} {
		if got := lgFrom(t, s, n+1+i); got != want {
			t.Errorf("From: of message %d = %q, want %q", n+1+i, got, want)
		}
	}
	if got := lgFrom(t, s, 1); got != "jones@vaxa.example.com" {
		t.Errorf("node table entry: From: %q", got)
	}
	log := lgStopLog(t, s)
	if len(lgLogLines(log, "not resolved", "NOSUCH")) != 1 {
		t.Errorf("want one warning for NOSUCH in the log:\n%s", log)
	}
	if len(lgLogLines(log, "not resolved", "VAXB")) > 0 {
		t.Errorf("VAXB resolved but warned:\n%s", log)
	}
}
