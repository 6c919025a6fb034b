package spool

// ValidName reports whether name is a valid VMS user or folder name:
// ^[A-Za-z0-9_$-]{1,31}$. It is the one rule for user names in vmspop
// (uaf.ValidName is this function): anything else is refused before it is
// upper-cased, looked up, or touches the file system. Checking before case
// folding matters: strings.ToUpper maps some letters outside the range
// into it ("ſ" becomes "S", "ı" becomes "I").
func ValidName(name string) bool {
	if len(name) < 1 || len(name) > 31 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '_', c == '$', c == '-':
		default:
			return false
		}
	}
	return true
}
