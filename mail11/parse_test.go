package mail11

import (
	"strings"
	"testing"
	"time"
)

var est = time.FixedZone("EST", -5*3600)

func TestParse(t *testing.T) {
	d := func(y int, m time.Month, day, h, mi, s, cs int) time.Time {
		return time.Date(y, m, day, h, mi, s, cs*10_000_000, est)
	}
	tests := []struct {
		name    string
		block   string
		want    Header
		wantErr string // substring of the error; "" = no error
	}{
		{
			name:  "decnet",
			block: "From:\tABCDEF::JONES \"Jim Jones\"  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tLunch on Friday?\n",
			want: Header{From: "ABCDEF::JONES", PersonalName: "Jim Jones", Date: d(1992, 7, 2, 21, 17, 8, 8),
				FromField: `ABCDEF::JONES "Jim Jones"  2-JUL-1992 21:17:08.08`, To: "SMITH", Subj: "Lunch on Friday?"},
		},
		{
			name:  "smtp",
			block: "From:\tSMTP%\"james.jones@federation.gov\"  12-DEC-2001 09:05:00.99\nTo:\tSMITH\nCC:\tJONES,BROWN\nSubj:\tRe: budget\n",
			want: Header{From: `SMTP%"james.jones@federation.gov"`, Date: d(2001, 12, 12, 9, 5, 0, 99),
				FromField: `SMTP%"james.jones@federation.gov"  12-DEC-2001 09:05:00.99`, To: "SMITH", CC: "JONES,BROWN", Subj: "Re: budget"},
		},
		{
			name:  "smtp with personal name and cents",
			block: "From:\tSMTP%\"\xa2A::B\xa2@x.org\" \"Ann Other\" 1-JAN-2000 00:00:00.00\nTo:\tME\nSubj:\tx\n",
			want: Header{From: "SMTP%\"\xa2A::B\xa2@x.org\"", PersonalName: "Ann Other", Date: d(2000, 1, 1, 0, 0, 0, 0),
				FromField: "SMTP%\"\xa2A::B\xa2@x.org\" \"Ann Other\" 1-JAN-2000 00:00:00.00", To: "ME", Subj: "x"},
		},
		{
			name:  "crlf and spaces instead of tab",
			block: "From: NODE::USER  2-JUL-1992 21:17:08.08\r\nTo:  JONES\r\nCC:\r\nSubj: Hi\r\n",
			want: Header{From: "NODE::USER", Date: d(1992, 7, 2, 21, 17, 8, 8),
				FromField: "NODE::USER  2-JUL-1992 21:17:08.08", To: "JONES", Subj: "Hi"},
		},
		{
			name:  "continuation lines",
			block: "From:\tNODE::USER  2-JUL-1992 21:17:08.08\nTo:\tJONES,SMITH,\n\tBROWN,\n  WHITE\nSubj:\tA long\n\tsubject\n",
			want: Header{From: "NODE::USER", Date: d(1992, 7, 2, 21, 17, 8, 8),
				FromField: "NODE::USER  2-JUL-1992 21:17:08.08", To: "JONES,SMITH, BROWN, WHITE", Subj: "A long subject"},
		},
		{
			name:    "missing date",
			block:   "From:\tJONES\nTo:\tSMITH\nSubj:\tno date\n",
			want:    Header{From: "JONES", FromField: "JONES", To: "SMITH", Subj: "no date"},
			wantErr: "no date",
		},
		{
			name:    "bad date",
			block:   "From:\tJONES  31-FEB-1992 10:00:00.00\nSubj:\tx\n",
			want:    Header{From: "JONES", FromField: "JONES  31-FEB-1992 10:00:00.00", Subj: "x"},
			wantErr: "out of range",
		},
		{
			name:  "date without seconds",
			block: "From:\tJONES  2-JUL-1992 21:17\n",
			want:  Header{From: "JONES", FromField: "JONES  2-JUL-1992 21:17", Date: d(1992, 7, 2, 21, 17, 0, 0)},
		},
		{
			name:  "8-bit latin-1",
			block: "From:\tNODE::MUELLER \"J\xf6rg M\xfcller\"  2-JUL-1992 21:17:08.08\nTo:\tJONES\nSubj:\tPr\xfcfung \xa2 5\n",
			want: Header{From: "NODE::MUELLER", PersonalName: "J\xf6rg M\xfcller", Date: d(1992, 7, 2, 21, 17, 8, 8),
				FromField: "NODE::MUELLER \"J\xf6rg M\xfcller\"  2-JUL-1992 21:17:08.08", To: "JONES", Subj: "Pr\xfcfung \xa2 5"},
		},
		{
			name:  "8-bit utf-8",
			block: "From:\tNODE::MUELLER \"Jörg Müller\"  2-JUL-1992 21:17:08.08\nSubj:\tPrüfung\n",
			want: Header{From: "NODE::MUELLER", PersonalName: "Jörg Müller", Date: d(1992, 7, 2, 21, 17, 8, 8),
				FromField: "NODE::MUELLER \"Jörg Müller\"  2-JUL-1992 21:17:08.08", Subj: "Prüfung"},
		},
		{
			name:  "lower-case names and Subject",
			block: "from:\tJONES  2-jul-1992 21:17:08.08\nsubject:\tx\ncc:\ty\n",
			want:  Header{From: "JONES", FromField: "JONES  2-jul-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8), Subj: "x", CC: "y"},
		},
		{
			name:  "form feed",
			block: "\fFrom:\tJONES  2-JUL-1992 21:17:08.08\n",
			want:  Header{From: "JONES", FromField: "JONES  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8)},
		},
		{
			name:  "stops at empty line",
			block: "From:\tJONES  2-JUL-1992 21:17:08.08\n\nTo:\tNOT-A-HEADER\n",
			want:  Header{From: "JONES", FromField: "JONES  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8)},
		},
		{
			name:    "missing from",
			block:   "To:\tJONES\nSubj:\tx\n",
			want:    Header{To: "JONES", Subj: "x"},
			wantErr: "no From:",
		},
		{
			name:    "garbage line",
			block:   "From:\tJONES  2-JUL-1992 21:17:08.08\nthis is not a header\nSubj:\tx\n",
			want:    Header{From: "JONES", FromField: "JONES  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8), Subj: "x"},
			wantErr: "line 2: not a header field",
		},
		{
			name:    "continuation first",
			block:   "\tcontinued\nFrom:\tJONES  2-JUL-1992 21:17:08.08\n",
			want:    Header{From: "JONES", FromField: "JONES  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8)},
			wantErr: "line 1: continuation",
		},
		{
			name:    "duplicate field",
			block:   "From:\tJONES  2-JUL-1992 21:17:08.08\nSubj:\tfirst\nSubj:\tsecond\n",
			want:    Header{From: "JONES", FromField: "JONES  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8), Subj: "first"},
			wantErr: "line 3: second Subj",
		},
		{
			name:    "unbalanced personal name",
			block:   "From:\tNODE::USER \"Jim Jones  2-JUL-1992 21:17:08.08\n",
			want:    Header{From: "NODE::USER", PersonalName: "Jim Jones", FromField: "NODE::USER \"Jim Jones  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8)},
			wantErr: "unbalanced quotes",
		},
		{
			name:    "unbalanced address",
			block:   "From:\tSMTP%\"a@b  2-JUL-1992 21:17:08.08\n",
			want:    Header{From: "SMTP%\"a@b", FromField: "SMTP%\"a@b  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8)},
			wantErr: "unbalanced quotes",
		},
		{
			name:    "unquoted personal name",
			block:   "From:\tNODE::USER Jim  2-JUL-1992 21:17:08.08\n",
			want:    Header{From: "NODE::USER", PersonalName: "Jim", FromField: "NODE::USER Jim  2-JUL-1992 21:17:08.08", Date: d(1992, 7, 2, 21, 17, 8, 8)},
			wantErr: "not quoted",
		},
		{
			name:    "empty from",
			block:   "From:\t\n",
			wantErr: "no address",
		},
		{
			name:    "empty block",
			block:   "",
			wantErr: "no From:",
		},
		{
			name:    "quoted name holding a date",
			block:   "From:\tNODE::USER \"x  2-JUL-1992 21:17\"\n",
			want:    Header{From: "NODE::USER", PersonalName: "x  2-JUL-1992 21:17", FromField: "NODE::USER \"x  2-JUL-1992 21:17\""},
			wantErr: "no date",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIn([]byte(tt.block), est)
			if tt.wantErr == "" && err != nil {
				t.Errorf("Parse error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Parse error = %v; want one containing %q", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "mail11: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if got.From != tt.want.From || got.PersonalName != tt.want.PersonalName || got.FromField != tt.want.FromField ||
				got.To != tt.want.To || got.CC != tt.want.CC || got.Subj != tt.want.Subj || !got.Date.Equal(tt.want.Date) {
				t.Errorf("Parse(%q) =\n  %+v\nwant\n  %+v", tt.block, got, tt.want)
			}
		})
	}
}

func TestParseLocal(t *testing.T) {
	m, err := Parse([]byte("From:\tJONES  2-JUL-1992 21:17:08.08\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Date.Location() != time.Local || m.Date.Hour() != 21 {
		t.Errorf("Parse date = %v; want 21:17 local time", m.Date)
	}
}

func TestParseVMSDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{" 2-JUL-1992 21:17:08.08", time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, est), true},
		{"2-JUL-1992 21:17:08.08", time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, est), true},
		{"02-jul-1992 21:17:08", time.Date(1992, 7, 2, 21, 17, 8, 0, est), true},
		{"2-Jul-1992 9:05", time.Date(1992, 7, 2, 9, 5, 0, 0, est), true},
		{"2-JUL-1992", time.Date(1992, 7, 2, 0, 0, 0, 0, est), true},
		{"2-JUL-1992:21:17:08.08", time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, est), true},
		{"29-FEB-2000 23:59:59.99", time.Date(2000, 2, 29, 23, 59, 59, 990_000_000, est), true},
		{"31-DEC-1999 00:00:00.5", time.Date(1999, 12, 31, 0, 0, 0, 500_000_000, est), true},
		{"17-NOV-1858 00:00:00.00", time.Date(1858, 11, 17, 0, 0, 0, 0, est), true},
		{"29-FEB-1900 00:00:00.00", time.Time{}, false},
		{"32-JAN-1992 00:00:00.00", time.Time{}, false},
		{"0-JAN-1992 00:00:00.00", time.Time{}, false},
		{"1-XYZ-1992 00:00:00.00", time.Time{}, false},
		{"1-JAN-92 00:00:00.00", time.Time{}, false},
		{"1-JAN-1992 24:00:00.00", time.Time{}, false},
		{"1-JAN-1992 23:60:00.00", time.Time{}, false},
		{"1-JAN-1992 23:59:60.00", time.Time{}, false},
		{"1-JAN-1992 23:59:59.123", time.Time{}, false},
		{"1-JAN-1992 23", time.Time{}, false},
		{"1-JAN-1992x", time.Time{}, false},
		{"", time.Time{}, false},
		{"-", time.Time{}, false},
		{"1-JA", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseVMSDate(tt.in, est)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseVMSDate(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "mail11: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
	if got, err := ParseVMSDate("2-JUL-1992 21:17", nil); err != nil || got.Location() != time.Local {
		t.Errorf("ParseVMSDate(nil loc) = %v, %v; want local time", got, err)
	}
}

func TestFormatVMSDate(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, est), " 2-JUL-1992 21:17:08.08"},
		{time.Date(2024, 12, 31, 0, 0, 0, 999_999_999, time.UTC), "31-DEC-2024 00:00:00.99"},
		{time.Date(2000, 1, 10, 9, 5, 1, 0, time.UTC), "10-JAN-2000 09:05:01.00"},
	}
	for _, tt := range tests {
		got := FormatVMSDate(tt.in)
		if got != tt.want {
			t.Errorf("FormatVMSDate(%v) = %q; want %q", tt.in, got, tt.want)
		}
		back, err := ParseVMSDate(got, tt.in.Location())
		if err != nil || !back.Equal(tt.in.Truncate(10*time.Millisecond)) {
			t.Errorf("ParseVMSDate(FormatVMSDate(%v)) = %v, %v", tt.in, back, err)
		}
	}
}
