package mail11

import "testing"

// FuzzParseVMSDate: a date that parses formats back to itself.
func FuzzParseVMSDate(f *testing.F) {
	for _, s := range []string{" 2-JUL-1992 21:17:08.08", "29-FEB-2000 23:59", "1-jan-1858", "31-DEC-9999 23:59:59.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseVMSDate(s, est)
		if err != nil {
			return
		}
		back, err := ParseVMSDate(FormatVMSDate(d), est)
		if err != nil || !back.Equal(d) {
			t.Fatalf("ParseVMSDate(%q) = %v; FormatVMSDate gives %q, back %v, %v", s, d, FormatVMSDate(d), back, err)
		}
	})
}
