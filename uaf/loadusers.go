package uaf

import (
	"fmt"
	"os"
	"strings"
)

// LoadUsers reads the accounts file at path for the accounts of names
// only, as a delivery needs: it returns a DB holding those of them that
// exist. Their lines are parsed as Load parses them; every other line is
// checked only for the form NAME:..., so that a damaged file still fails
// (rather than making a user look unknown) while the cost of the other
// accounts' fields, a large part of a delivery on a site with thousands of
// users, is not paid. A missing file gives an error that matches
// fs.ErrNotExist.
func LoadUsers(path string, names ...string) (*DB, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		if ValidName(n) {
			want[strings.ToUpper(n)] = true
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("uaf: %w", err)
	}
	defer f.Close()
	return parse(f, path, want)
}
