package logicals

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestConfigurationDocListsEveryLogical: docs/configuration.md has one
// table row per logical name of the table, and no row for a name that
// does not exist, with the right origin.
func TestConfigurationDocListsEveryLogical(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\|.*\\| (Table 15-2|vmspop) \\|$")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		if _, dup := documented[m[1]]; dup {
			t.Errorf("docs/configuration.md: %s has two rows", m[1])
		}
		documented[m[1]] = m[2]
	}
	var names []string
	for _, e := range table {
		names = append(names, e.name)
		origin, ok := documented[e.name]
		switch {
		case !ok:
			t.Errorf("docs/configuration.md has no row for TCPIP$POP_%s", e.name)
		case origin != e.origin:
			t.Errorf("docs/configuration.md: TCPIP$POP_%s is from %q, the table says %q", e.name, origin, e.origin)
		}
	}
	for name := range documented {
		if !slices.Contains(names, name) {
			t.Errorf("docs/configuration.md documents TCPIP$POP_%s, which is not a logical", name)
		}
	}
}
