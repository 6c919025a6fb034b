package archtest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vmspop/vmspop"

// allowed lists, for each package of the module, the packages of the
// module it may import directly (tests excluded). A package missing from
// the list, or a new import, fails the test: the layering changes only on
// purpose, here.
//
//   - gateway speaks POP3 only: it imports no package of the project
//     (storage comes in through gateway.Backend).
//   - spool stores bytes: it imports no package of the project but
//     internal/atomicfile (crash-safe replacement of a small file), a
//     leaf of the standard library only, which rpop and uaf share with it.
//   - mail11 (MAIL-11 text both ways) is a leaf; rewrite (MAIL-11 header
//     to RFC 822) imports only mail11.
//   - nothing imports a command (cmd/...) or the test helpers
//     (internal/poptest) outside tests.
var allowed = map[string][]string{
	"gateway":             {},
	"spool":               {"internal/atomicfile"},
	"mail11":              {},
	"rewrite":             {"mail11"},
	"logicals":            {"rewrite", "spool"},
	"uaf":                 {"internal/atomicfile", "spool"},
	"maildrop":            {"gateway", "mail11", "rewrite", "spool"},
	"delivery":            {"mail11", "spool", "uaf"},
	"tracelog":            {"gateway"},
	"penalty":             {},
	"sd":                  {},
	"lmtp":                {},
	"rpop":                {"internal/atomicfile"},
	"scripts/lmtpload":    {},
	"scripts/tlsload":     {},
	"scripts/deliverload": {},
	"admin":               {},
	"ticketkeys":          {"internal/atomicfile"},
	"metrics":             {"gateway", "penalty", "spool"},
	"internal/poptest":    {},
	"internal/atomicfile": {},
	"internal/archtest":   {},
	"internal/spoolowner": {"logicals"},
	"internal/delivercmd": {"delivery", "internal/spoolowner", "logicals", "spool"},
	"cmd/vmspop": {"admin", "delivery", "gateway", "internal/delivercmd", "internal/spoolowner", "lmtp", "logicals", "mail11", "maildrop", "metrics",
		"penalty", "rewrite", "rpop", "sd", "spool", "ticketkeys", "tracelog", "uaf"},
	"cmd/vmspop-deliver": {"internal/delivercmd"},
	"cmd/vmspop-load":    {"mail11", "spool", "uaf"},
}

// leaves must not depend on any package of the module, even indirectly,
// but those of base.
var leaves = []string{"gateway", "spool", "mail11", "internal/atomicfile"}

// base are the helpers a leaf may depend on: leaves themselves, importing
// only the standard library.
var base = []string{"internal/atomicfile"}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < len(allowed) {
		t.Fatalf("go list found %d packages, want at least %d", len(pkgs), len(allowed))
	}
	return pkgs
}

// own returns the module-relative names of the module's packages in paths.
func own(paths []string) []string {
	var out []string
	for _, p := range paths {
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	for _, p := range list(t) {
		name := strings.TrimPrefix(p.ImportPath, module+"/")
		want, ok := allowed[name]
		if !ok {
			t.Errorf("package %s has no import rule in archtest.allowed", name)
			continue
		}
		for _, imp := range own(p.Imports) {
			if strings.HasPrefix(imp, "cmd/") {
				t.Errorf("%s imports the command %s", name, imp)
			}
			if imp == "internal/poptest" {
				t.Errorf("%s imports the test helpers internal/poptest", name)
			}
			if !slices.Contains(want, imp) {
				t.Errorf("%s imports %s; allowed: %v", name, imp, want)
			}
		}
		if slices.Contains(leaves, name) {
			deps := slices.DeleteFunc(own(p.Deps), func(d string) bool { return slices.Contains(base, d) })
			if len(deps) > 0 {
				t.Errorf("%s depends on %v; it must depend on no package of the project", name, deps)
			}
		}
	}
}
