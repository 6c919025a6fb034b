package spool

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestUIDLMapRecordMergeLoad(t *testing.T) {
	s := New(t.TempDir())
	ctx := context.Background()
	if m, err := s.UIDLMap("smith"); m != nil || err != nil {
		t.Fatalf("no map yet: got %v, %v", m, err)
	}
	n, err := s.RecordUIDLs(ctx, "smith", map[string]string{"A.1": "old1", "B.2": "old2"})
	if err != nil || n != 2 {
		t.Fatalf("RecordUIDLs = %d, %v", n, err)
	}
	// A second run replaces one entry and adds one.
	n, err = s.RecordUIDLs(ctx, "SMITH", map[string]string{"B.2": "old2b", "C.3": "old3"})
	if err != nil || n != 3 {
		t.Fatalf("second RecordUIDLs = %d, %v", n, err)
	}
	m, err := s.UIDLMap("Smith")
	if err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[string]string{"A.1": "old1", "B.2": "old2b", "C.3": "old3"} {
		if got, ok := m.Lookup(uid); !ok || got != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", uid, got, ok, want)
		}
	}
	if _, ok := m.Lookup("D.4"); ok {
		t.Error("Lookup of an unknown UID succeeded")
	}
	// Unchanged file: the same map from the cache.
	if m2, _ := s.UIDLMap("SMITH"); m2 != m {
		t.Error("unchanged map was read again")
	}
	if _, err := s.RecordUIDLs(ctx, "SMITH", map[string]string{"E.5": "has space"}); err == nil {
		t.Error("an invalid UIDL was recorded")
	}
}

func TestUIDLMapDamaged(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	if _, err := s.RecordUIDLs(context.Background(), "SMITH", map[string]string{"A.1": "old1", "B.2": "old2"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "SMITH", uidlMapName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"cut short":      good[:len(good)-10],
		"no end line":    good[:len(good)-len("end 2 00000000\n")],
		"changed entry":  []byte(string(good[:len(uidlMapMagic)+1]) + "A.1 oldX" + string(good[len(uidlMapMagic)+1+len("A.1 old1"):])),
		"empty":          {},
		"wrong magic":    append([]byte("x"), good...),
		"dropped a line": append([]byte(uidlMapMagic+"\n"), good[len(uidlMapMagic)+1+len("A.1 old1\n"):]...),
	} {
		t.Run(name, func(t *testing.T) {
			s := New(root) // no cache
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			if m, err := s.UIDLMap("SMITH"); err == nil {
				t.Errorf("damaged map accepted: %d entries", m.Len())
			}
			if _, err := s.RecordUIDLs(context.Background(), "SMITH", map[string]string{"C.3": "old3"}); err == nil {
				t.Error("RecordUIDLs merged into a damaged map")
			}
		})
	}
}

func TestUIDLMapApply(t *testing.T) {
	m := &UIDLMap{old: map[string]string{"A": "a", "B": "b", "C": "x", "D": "x", "E": "F"}}
	for _, tc := range []struct {
		uids, want []string
	}{
		{[]string{"A", "B", "N"}, []string{"a", "b", "N"}},
		{[]string{"N", "M"}, nil},
		{nil, nil},
		// C and D would share "x": both keep their own UIDs.
		{[]string{"A", "C", "D"}, []string{"a", "C", "D"}},
		{[]string{"C", "D"}, nil},
		// E's old UIDL is F's own UID: E keeps its own.
		{[]string{"E", "F", "B"}, []string{"E", "F", "b"}},
		// Alone, E may use it.
		{[]string{"E"}, []string{"F"}},
	} {
		if got := m.Apply(tc.uids); !slices.Equal(got, tc.want) {
			t.Errorf("Apply(%q) = %q, want %q", tc.uids, got, tc.want)
		}
	}
	var none *UIDLMap
	if none.Apply([]string{"A"}) != nil || none.Len() != 0 {
		t.Error("nil map is not empty")
	}
}

func TestValidUIDL(t *testing.T) {
	long := string(make([]byte, 71))
	for s, want := range map[string]bool{
		"00000001a1b2c3d4": true, "SMITH.1992070221170808.0a1b2c3d": true, "": false,
		"a b": false, "a\x7f": false, long: false, "!~": true,
	} {
		if got := ValidUIDL(s); got != want {
			t.Errorf("ValidUIDL(%q) = %v", s, got)
		}
	}
}
