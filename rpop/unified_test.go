package rpop

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
)

func TestDistribute(t *testing.T) {
	amap := filepath.Join(t.TempDir(), "map")
	os.WriteFile(amap, []byte("# address map\nsales@vms.example  smith\njim@old.example JONES\n"), 0o644)
	local := map[string]bool{"ALICE": true, "BOB": true, "SMITH": true, "JONES": true, "POSTMASTER": true}
	tests := []struct {
		name       string
		field      string
		postmaster []string
		header     string
		sender     string
		senderSet  bool
		users      []string
		gone, kept []string // fields removed / kept
	}{
		{name: "X-Real-To and Return-Path", field: "X-Real-To",
			header: "Return-Path: <s@far.example>\nX-Real-To: alice@vms.example\nX-Real-To: Bob <bob@VMS.example>\nTo: list@lists.example\n",
			sender: "s@far.example", senderSet: true, users: []string{"ALICE", "BOB"},
			gone: []string{"Return-Path", "X-Real-To"}, kept: []string{"To"}},
		{name: "special field absent: To/Cc/Bcc", field: "X-Real-To",
			header: "To: alice@vms.example, stranger@other.org\nCc: bob@vms.example\nBcc: ghost@vms.example\n",
			users:  []string{"ALICE", "BOB"}, kept: []string{"To", "Cc"}},
		{name: "no special field configured", field: NoSpecialField,
			header: "X-Real-To: bob@vms.example\nTo: alice@vms.example\n",
			users:  []string{"ALICE"}, kept: []string{"X-Real-To"}},
		{name: "nobody: postmasters", field: "X-Real-To", postmaster: []string{"POSTMASTER"},
			header: "Return-Path: <>\nTo: someone@else.example\n", senderSet: true,
			users: []string{"POSTMASTER"}, gone: []string{"Return-Path"}},
		{name: "nobody, no postmaster: the record's user", field: "X-Real-To",
			header: "X-Real-To: nobody@vms.example\n", users: []string{"OWNER"}, gone: []string{"X-Real-To"}},
		{name: "address map and bare local name", field: "X-Real-To",
			header: "X-Real-To: sales@vms.example, jim@old.example, alice, alice@vms.example\n",
			users:  []string{"SMITH", "JONES", "ALICE"}},
		{name: "other domain's local part is not ours", field: "X-Real-To", postmaster: []string{"POSTMASTER"},
			header: "X-Real-To: alice@elsewhere.example\n", users: []string{"POSTMASTER"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &Record{ID: "u", User: "OWNER", Unified: tc.field, Domains: []string{"vms.example"}, AddressMap: amap}
			opts := &Options{Postmaster: tc.postmaster, LocalUser: func(u string) bool { return local[u] }}
			f := &fetcher{rec: rec, opts: opts}
			var err error
			if f.amap, err = readAddressMap(amap); err != nil {
				t.Fatal(err)
			}
			h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(tc.header + "\nbody\n")))
			if err != nil {
				t.Fatal(err)
			}
			sender, set, users := f.distribute(&h)
			if sender != tc.sender || set != tc.senderSet || !slices.Equal(users, tc.users) {
				t.Errorf("distribute = %q, %v, %v; want %q, %v, %v", sender, set, users, tc.sender, tc.senderSet, tc.users)
			}
			for _, k := range tc.gone {
				if h.Has(k) {
					t.Errorf("%s still in the header", k)
				}
			}
			for _, k := range tc.kept {
				if !h.Has(k) {
					t.Errorf("%s removed from the header", k)
				}
			}
		})
	}
}
