package maildrop_test

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/maildrop"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
)

// headerCases are messages whose rebuilt header depends on more than the
// MAIL-11 From: line: no date there (the From_ line's date is used), an
// 8-bit body (charset), a binary body (foreign), an exact duplicate (UID
// suffix) and a header line that mboxrd quotes on disk.
var headerCases = []string{
	"From:\tVAXA::JONES \"Fred Jones\"  25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\tdated\n\nbody\n",
	"From:\tVAXA::JONES\nTo:\tSMITH\nCC:\t\nSubj:\tno date\n\nbody\n",
	"From:\tVAXA::JONES  25-NOV-2026 10:16:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tlatin\n\ncaf\xe9\n",
	"From:\tVAXA::JONES  25-NOV-2026 10:17:00.00\nTo:\tSMITH\nCC:\t\nSubj:\tbinary\n\n\x00\x01\x02\n",
	"From:\tVAXA::JONES \"Fred Jones\"  25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\tdated\n\nbody\n",
	"From:\tVAXA::JONES  25-NOV-2026 10:18:00.00\nTo:\tSMITH\nFrom me\nSubj:\tquoted\n\nFrom here\n",
}

// sent opens SMITH's NEWMAIL at root with the given header limit and
// returns each message's LIST size, UIDL and RETR text.
func sent(t *testing.T, root string, limit int) (sizes []int64, uids, texts []string) {
	t.Helper()
	be := &maildrop.SpoolBackend{Spool: spool.New(root), Rewrite: &rewrite.Settings{Hostname: "vms.example"}, LeaveInNewmail: true}
	maildrop.SetHeaderLimit(be, limit)
	md, err := be.OpenMaildrop(context.Background(), "SMITH")
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	for i, m := range md.Messages() {
		r, err := md.Open(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != m.Size {
			t.Errorf("limit %d: message %d: RETR gives %d octets, LIST %d", limit, i+1, len(b), m.Size)
		}
		sizes, uids, texts = append(sizes, m.Size), append(uids, m.UID), append(texts, string(b))
	}
	return sizes, uids, texts
}

// TestHeaderLimit checks that a message past the header limit, whose
// rebuilt header is not kept but rebuilt at RETR, is sent exactly as one
// whose header is kept: same size, UID and octets, after a scan and from
// the index.
func TestHeaderLimit(t *testing.T) {
	roots := [2]string{t.TempDir(), t.TempDir()}
	for _, root := range roots {
		var msgs []spool.NewMessage
		for i, c := range headerCases {
			msgs = append(msgs, spool.NewMessage{Envelope: "JONES@VAXA", Date: time.Date(2026, 11, 20, 9, i, 0, 0, time.Local), Text: strings.NewReader(c)})
		}
		if err := spool.New(root).Append(context.Background(), "SMITH", spool.NewMail, msgs); err != nil {
			t.Fatal(err)
		}
	}
	for pass := range 2 { // a scan, then the index
		wantSizes, wantUIDs, wantTexts := sent(t, roots[0], 0)
		gotSizes, gotUIDs, gotTexts := sent(t, roots[1], 1)
		if len(gotTexts) != len(headerCases) || len(wantTexts) != len(headerCases) {
			t.Fatalf("pass %d: %d and %d messages, want %d", pass, len(wantTexts), len(gotTexts), len(headerCases))
		}
		for i := range wantTexts {
			if gotSizes[i] != wantSizes[i] || gotUIDs[i] != wantUIDs[i] || gotTexts[i] != wantTexts[i] {
				t.Errorf("pass %d, message %d: header rebuilt at RETR gives %d %q\n%s\nkept: %d %q\n%s", pass, i+1,
					gotSizes[i], gotUIDs[i], gotTexts[i], wantSizes[i], wantUIDs[i], wantTexts[i])
			}
		}
		if !strings.HasSuffix(gotUIDs[4], "-2") || !strings.Contains(gotTexts[1], "Date: Fri, 20 Nov 2026 09:01:00") {
			t.Errorf("pass %d: duplicate UID %q, undated message\n%s", pass, gotUIDs[4], gotTexts[1])
		}
	}
}

// TestPreparedInParallel: a folder large enough to be scanned in a
// goroutine of its own, its messages prepared on every CPU (parsing and
// rebuilding headers while the scan goes on), gives the same sizes, UIDs
// (exact duplicates among them, whose headers name their own UID) and
// octets as the same folder visited one message after the other on one
// CPU.
func TestPreparedInParallel(t *testing.T) {
	roots := [2]string{t.TempDir(), t.TempDir()}
	for _, root := range roots {
		var msgs []spool.NewMessage
		for i := range 2000 { // about 1.3 MB: scanned in a goroutine of its own
			c := headerCases[i%len(headerCases)]
			if i%3 == 0 { // every third is an exact duplicate of an earlier one
				c = headerCases[0]
			}
			c += strings.Repeat("line of text\n", i%80)
			msgs = append(msgs, spool.NewMessage{Envelope: "JONES@VAXA", Date: time.Date(2026, 11, 20, 9, i%7, 0, 0, time.Local), Text: strings.NewReader(c)})
		}
		if err := spool.New(root).Append(context.Background(), "SMITH", spool.NewMail, msgs); err != nil {
			t.Fatal(err)
		}
	}
	procs := runtime.GOMAXPROCS(1)
	wantSizes, wantUIDs, wantTexts := sent(t, roots[0], 500)
	runtime.GOMAXPROCS(max(2, procs))
	gotSizes, gotUIDs, gotTexts := sent(t, roots[1], 500)
	runtime.GOMAXPROCS(procs)
	if len(gotTexts) != 2000 || len(wantTexts) != 2000 {
		t.Fatalf("%d and %d messages, want 2000", len(wantTexts), len(gotTexts))
	}
	seen := map[string]bool{}
	for i := range wantTexts {
		if gotSizes[i] != wantSizes[i] || gotUIDs[i] != wantUIDs[i] || gotTexts[i] != wantTexts[i] {
			t.Fatalf("message %d: prepared in parallel %d %q\n%s\none by one: %d %q\n%s", i+1,
				gotSizes[i], gotUIDs[i], gotTexts[i], wantSizes[i], wantUIDs[i], wantTexts[i])
		}
		if seen[gotUIDs[i]] {
			t.Fatalf("message %d: UID %q twice", i+1, gotUIDs[i])
		}
		seen[gotUIDs[i]] = true
	}
	dups := 0
	for _, u := range gotUIDs {
		if strings.Contains(u, "-") {
			dups++
		}
	}
	if dups < 20 {
		t.Fatalf("%d UIDs with a duplicate suffix, want at least 20", dups)
	}
}
