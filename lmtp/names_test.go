package lmtp_test

import (
	"strings"
	"testing"
)

// TestRecipientNotFolded: a local part outside ASCII is refused before it
// is upper-cased: strings.ToUpper("ſmith") is "SMITH", an account here,
// and must not receive the mail.
func TestRecipientNotFolded(t *testing.T) {
	st := &store{users: map[string]bool{"SMITH": true}, got: map[string][]string{}}
	addr := start(t, st, 0)
	got := session(t, addr, "LHLO mta.example\nMAIL FROM:<a@b.example>\nRCPT TO:<ſmith@vms.example>\nRCPT TO:<smıth@vms.example>\nQUIT\n", 6)
	want := []string{
		"550 5.1.1 No such user",
		"550 5.1.1 No such user",
		"221 2.0.0 Bye",
	}
	if tail := got[len(got)-3:]; strings.Join(tail, "\n") != strings.Join(want, "\n") {
		t.Errorf("replies:\n%s\nwant at the end:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(st.got["SMITH"]) != 0 {
		t.Errorf("SMITH got %q", st.got["SMITH"])
	}
}
