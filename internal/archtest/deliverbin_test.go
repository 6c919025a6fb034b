package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// notInDeliver are packages (a path, or a path prefix ending in "/") that
// cmd/vmspop-deliver must not link: each would initialise at every start
// of the process an MTA runs per message (docs/performance.md, Delivery),
// and delivery needs none of them.
var notInDeliver = []string{
	"github.com/prometheus/", "google.golang.org/protobuf/", "github.com/sirupsen/logrus",
	"html/template", "text/template", "net/http", "crypto/tls", "crypto/x509", "expvar", "regexp",
	"github.com/emersion/go-smtp", "github.com/pires/go-proxyproto",
	module + "/gateway", module + "/maildrop", module + "/metrics",
	module + "/lmtp", module + "/rpop", module + "/tracelog", module + "/penalty", module + "/admin",
}

// TestDeliverBinaryLinksLittle: the delivery agent's binary links only
// what delivery needs, so that its start stays cheap.
func TestDeliverBinaryLinksLittle(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/cmd/vmspop-deliver").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps gave %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, bad := range notInDeliver {
			if d == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(d, bad)) || strings.HasPrefix(d, bad+"/") {
				t.Errorf("cmd/vmspop-deliver links %s", d)
			}
		}
	}
}
