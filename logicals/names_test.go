package logicals

import (
	"regexp"
	"strings"
	"testing"
)

// TestNameCheckersMatchRegexps: isAccountName and isHostLabel accept
// exactly what the regular expressions they replace accepted.
func TestNameCheckersMatchRegexps(t *testing.T) {
	accountRE := regexp.MustCompile(`^([a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}\$?)$`)
	labelRE := regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	inputs := []string{"", "$", "a", "a$", "a$$", "$a", "_x", ".x", "-x", "x.", "x-", "vmail", "1000",
		"mail-user.1", "Ab_9", "a b", "a\n", "é", "a/b", "a:b", "a@b",
		strings.Repeat("a", 31), strings.Repeat("a", 32), strings.Repeat("a", 33),
		strings.Repeat("a", 32) + "$", strings.Repeat("a", 33) + "$",
		strings.Repeat("b", 62), strings.Repeat("b", 63), strings.Repeat("b", 64),
		"-" + strings.Repeat("b", 61) + "c", "a-" + strings.Repeat("b", 61), "a--b", "0", "0-0"}
	// Every one- and two-octet string over a small alphabet, too.
	alphabet := "aZ09_.-$ \x80"
	for i := range len(alphabet) {
		inputs = append(inputs, alphabet[i:i+1])
		for j := range len(alphabet) {
			inputs = append(inputs, alphabet[i:i+1]+alphabet[j:j+1], "x"+alphabet[i:i+1]+alphabet[j:j+1])
		}
	}
	for _, s := range inputs {
		if got, want := isAccountName(s), accountRE.MatchString(s); got != want {
			t.Errorf("isAccountName(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := isHostLabel(s), labelRE.MatchString(s); got != want {
			t.Errorf("isHostLabel(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
