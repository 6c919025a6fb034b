package uaf

import "testing"

// TestLookupRefusesBeforeFolding: strings.ToUpper("ſmith") is "SMITH", so a
// name must be checked before it is upper-cased.
func TestLookupRefusesBeforeFolding(t *testing.T) {
	db := NewDB()
	db.Put(&Account{Name: "SMITH"})
	db.Put(&Account{Name: "IMAP"})
	for _, n := range []string{"smith", "SMITH", "imap"} {
		if _, ok := db.Lookup(n); !ok {
			t.Errorf("Lookup(%q) = false; want the account", n)
		}
	}
	for _, n := range []string{"ſmith", "ımap", "SMITH\x00", "smith "} {
		if a, ok := db.Lookup(n); ok {
			t.Errorf("Lookup(%q) = %s; want no account", n, a.Name)
		}
		if db.lookup(n) != nil {
			t.Errorf("lookup(%q) found an account", n)
		}
	}
}
