package main

// The demo spool and the test inputs of deliver and import:
//
//	testdata/rfc822/   RFC 5322 messages (deliver's input)
//	testdata/extract/  VMS MAIL EXTRACT/ALL files (import's input)
//	testdata/spool/    users SMITH, JONES and FIELD with varied mail
//
// They hold 8-bit octets (ISO-8859-1 cent signs, UTF-8, NULs), so they are
// written by Go, reproducibly: go test ./cmd/vmspop -run TestDemoSpool -update-demo

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/spool"
)

var updateDemo = flag.Bool("update-demo", false, "rewrite testdata/spool, testdata/extract and testdata/rfc822")

const (
	rfc822Dir  = "../../testdata/rfc822"
	extractDir = "../../testdata/extract"
	demoDir    = "../../testdata/spool"
)

// demoRFC822 are the RFC 5322 test messages, by file name.
var demoRFC822 = map[string]string{
	"plain.eml": "Return-Path: <john.smith@example.com>\n" +
		"Received: from mail.example.com (mail.example.com [192.0.2.25])\n" +
		"\tby vms.example.com with ESMTP id 4F2A1; Wed, 25 Nov 2026 10:15:30 +0000\n" +
		"From: John Smith <john.smith@example.com>\n" +
		"To: Jones <jones@vms.example.com>\n" +
		"Cc: Field <field@vms.example.com>\n" +
		"Subject: Lunch on Friday?\n" +
		"Date: Wed, 25 Nov 2026 10:15:00 +0000\n" +
		"Message-ID: <lunch-1@example.com>\n" +
		"\n" +
		"Fred,\n\nAre we still on for lunch on Friday? The usual place at noon.\n\nJohn\n",
	"alternative.eml": "From: Newsletter <news@example.org>\n" +
		"To: smith@vms.example.com\n" +
		"Subject: November news\n" +
		"Date: Tue, 24 Nov 2026 08:00:00 +0000\n" +
		"Message-ID: <news-11@example.org>\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: multipart/alternative; boundary=\"b1\"\n" +
		"\n" +
		"This is a multi-part message in MIME format.\n" +
		"--b1\n" +
		"Content-Type: text/plain; charset=us-ascii\n" +
		"\n" +
		"News for November: the VAX 11/780 turns 49.\n" +
		"--b1\n" +
		"Content-Type: text/html; charset=us-ascii\n" +
		"\n" +
		"<p>News for November: the <b>VAX 11/780</b> turns 49.</p>\n" +
		"--b1--\n",
	"utf8.eml": "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jm@example.de>\n" +
		"To: =?UTF-8?Q?Fran=C3=A7oise?= <smith@vms.example.com>\n" +
		"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4g4oKs?=\n" +
		"Date: Mon, 23 Nov 2026 16:45:12 +0100\n" +
		"Message-ID: <gruesse@example.de>\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"Content-Transfer-Encoding: 8bit\n" +
		"\n" +
		"Grüße aus Köln! Das Bier kostet 3 € — naïve café.\n",
	"quoted-local.eml": "From: \"Q. Public\" <\"john q\\\"public\"@example.com>\n" +
		"To: jones@vms.example.com\n" +
		"Subject: A sender with quotes in the local part\n" +
		"Date: Sun, 22 Nov 2026 12:00:00 +0000\n" +
		"\n" +
		"Reply to me if your mailer can.\n",
	"fromlines.eml": "From: Mbox Tester <tester@example.net>\n" +
		"To: jones@vms.example.com\n" +
		"Subject: From lines and dots\n" +
		"Date: Sat, 21 Nov 2026 09:30:00 +0000\n" +
		"\n" +
		"From the beginning:\n" +
		"From here on, mbox must quote.\n" +
		">From a quoted line\n" +
		">>From a doubly quoted line\n" +
		".\n" +
		"..\n" +
		". a dot and a space\n" +
		"The end.\n",
}

// demoExtract are the EXTRACT/ALL files, by name. Messages are separated
// by a form feed line.
var demoExtract = map[string]string{
	"decnet.txt": "\f\n" +
		"From:\tVAXA::JONES \"Fred Jones\"  2-JUL-1992 21:17:08.08\n" +
		"To:\tSMITH\nCC:\t\nSubj:\tDECnet mail\n\nHello over DECnet.\n" +
		"\f\n" +
		"From:\tFIELD  3-JUL-1992 09:00:00.00\n" +
		"To:\tSMITH\nCC:\t\nSubj:\tLocal mail\n\nFrom the same node.\n" +
		"\f\n" +
		"From:\tBRIDGE::\"wilma@flintstone.example\" \"Wilma\" 14-FEB-1993 12:30:45.10\n" +
		"To:\tSMITH\nCC:\tJONES\nSubj:\tQuoted DECnet\n\nThrough a gateway.\n" +
		"\f\n" +
		"From:\tABCDEF::SMTP%\"james.jones@federation.gov\"  1-APR-1994 08:00:00.00\n" +
		"To:\tSMITH\nCC:\t\nSubj:\tCluster forwarding\n\nReceived: from federation.gov\nFrom: james.jones@federation.gov\nSubject: Cluster forwarding\n\nForwarded inside the cluster.\n",
	"smtp.txt": "From:\tSMTP%\"john.smith@example.com\" \"John Smith\" 25-NOV-2026 10:15:32.45\n" +
		"To:\tJONES\nCC:\t\nSubj:\tLunch on Friday?\n\n" +
		"From: John Smith <john.smith@example.com>\nTo: jones@vms.example.com\nSubject: Lunch on Friday?\n\nAre we still on?\n" +
		"\f\n" +
		"From:\tSMTP%\"\xa2ABCMTS::MRGATE::\\\xa2ABCDEF::VIVALDI \\\xa2\xa2@xyz.org\" \"Antonio Vivaldi\"  4-MAR-1995 11:11:11.11\n" +
		"To:\tJONES\nCC:\t\nSubj:\tThe four seasons\n\nFrom: \"ABCMTS::MRGATE::\\\"ABCDEF::VIVALDI\\\"\"@xyz.org\nSubject: The four seasons\n\nSpring, summer, autumn, winter.\n",
	"8bit.txt": "From:\tPARIS::DUPONT \"Fran\xe7ois Dupont\" 10-OCT-1996 14:02:03.04\r\n" +
		"To:\tSMITH\r\nCC:\t\r\nSubj:\tCaf\xe9 cr\xe8me \xe0 10 \xa2?\r\n\r\nLatin-1 text: gar\xe7on, na\xefve, \xa9 1996.\r\n" +
		"\f\r\n" +
		"From:\tSMTP%\"jm@example.de\" \"Jörg Müller\" 23-NOV-2026 16:45:12.00\n" +
		"To:\tSMITH\nCC:\t\nSubj:\tGrüße aus Köln €\n\nUTF-8 text: Grüße, naïve café, 3 €.\n",
	// malformed.txt: the From: line at line 8 has a bad date, the message
	// at line 13 has no From: line, the one at line 18 is cut off in its
	// header by the end of the file.
	"malformed.txt": "From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\n" +
		"To:\tSMITH\nCC:\t\nSubj:\tfine\n\nok\n" +
		"\f\n" +
		"From:\tVAXA::JONES 31-FEB-1992 10:00:00.00\n" + // line 8
		"To:\tSMITH\n\nbad date\n" +
		"\f\n" +
		"To:\tSMITH\nSubj:\tno sender\n\nwho sent this?\n" + // line 13
		"\f\n" +
		"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\n", // line 18, EOF in header
}

// malformedErrors are the line numbers ParseExtract must report for
// malformed.txt.
var malformedErrors = []string{"malformed.txt:8:", "malformed.txt:13:", "malformed.txt:18:"}

func demoDate(day, hour int) time.Time {
	return time.Date(2026, 11, day, hour, 7, 30, 120_000_000, time.UTC)
}

// demoMessage is one message of the demo spool.
type demoMessage struct {
	user, folder string
	what         string // what it demonstrates
	msg          spool.NewMessage
}

// vmsMessage builds a MAIL-11 message as VMS MAIL stores it.
func vmsMessage(from, personal, to, cc, subj string, date time.Time, body string) spool.NewMessage {
	f := from
	if personal != "" {
		f += ` "` + personal + `"`
	}
	text := fmt.Sprintf("From:\t%s  %s\nTo:\t%s\nCC:\t%s\nSubj:\t%s\n\n%s", f, mail11.FormatVMSDate(date), to, cc, subj, body)
	return spool.NewMessage{Envelope: importEnvelope(from), Date: date, Text: strings.NewReader(text)}
}

// delivered builds a message as `vmspop deliver` stores it.
func delivered(t *testing.T, raw string, date time.Time) spool.NewMessage {
	t.Helper()
	r := strings.NewReader(raw)
	d, err := delivery.Prepare(r, int64(len(raw)), "", false, date)
	if err != nil {
		t.Fatalf("delivery.Prepare: %v", err)
	}
	return d.NewMessage()
}

func longBody() string {
	var b strings.Builder
	for i := 1; b.Len() < 200<<10; i++ {
		fmt.Fprintf(&b, "Line %05d: SYS$SYSTEM:SYSGEN.EXE; the quick brown fox jumps over the lazy dog.\n", i)
	}
	return b.String()
}

func demoMessages(t *testing.T) []demoMessage {
	return []demoMessage{
		{"SMITH", "NEWMAIL", "DECnet NODE::USER with a personal name",
			vmsMessage("VAXA::JONES", "Fred Jones", "SMITH", "", "Staff meeting moved", demoDate(2, 9),
				"The staff meeting is now at 14:00 in the VAXcluster room.\n")},
		{"SMITH", "NEWMAIL", "plain local USER",
			vmsMessage("FIELD", "", "SMITH", "JONES", "Backup tapes", demoDate(3, 17),
				"Please mount the backup tapes tonight.\n")},
		{"SMITH", "NEWMAIL", "quoted DECnet NODE::\"user@host\"",
			vmsMessage(`BRIDGE::"wilma@flintstone.example"`, "Wilma Flintstone", "SMITH", "", "Through the gateway", demoDate(4, 11),
				"Sent through the DECnet-Internet gateway.\n")},
		{"SMITH", "NEWMAIL", "cluster forwarding NODE::SMTP%\"user@domain\"",
			vmsMessage(`ABCDEF::SMTP%"james.jones@federation.gov"`, "", "SMITH", "", "Cluster forwarding", demoDate(5, 8),
				"Received: from federation.gov by ABCDEF\nFrom: james.jones@federation.gov\nTo: smith@vms.example.com\nSubject: Cluster forwarding\n\nForwarded by the cluster's SMTP node.\n")},
		{"SMITH", "NEWMAIL", "SMTP% delivered from rfc822/plain.eml (original headers in the body)",
			delivered(t, demoRFC822["plain.eml"], demoDate(25, 10))},
		{"SMITH", "NEWMAIL", "cent-sign SMTP address (manual 15.1.6.1.1)",
			vmsMessage("SMTP%\"\xa2ABCMTS::MRGATE::\\\xa2ABCDEF::VIVALDI \\\xa2\xa2@xyz.org\"", "Antonio Vivaldi", "SMITH", "", "The four seasons", demoDate(6, 12),
				"From: \"ABCMTS::MRGATE::\\\"ABCDEF::VIVALDI\\\"\"@xyz.org\nTo: smith@vms.example.com\nSubject: The four seasons\n\nSpring, summer, autumn, winter.\n")},
		{"SMITH", "NEWMAIL", "8-bit ISO-8859-1 (DEC MCS) subject and body",
			vmsMessage("PARIS::DUPONT", "Fran\xe7ois Dupont", "SMITH", "", "Caf\xe9 cr\xe8me \xe0 1 \xa2", demoDate(7, 15),
				"Gar\xe7on! Un caf\xe9 cr\xe8me, s'il vous pla\xeet. \xa9 1996\n")},
		{"SMITH", "NEWMAIL", "UTF-8 delivered from rfc822/utf8.eml",
			delivered(t, demoRFC822["utf8.eml"], demoDate(23, 16))},
		{"SMITH", "NEWMAIL", "a long message (~200 KB)",
			vmsMessage("VAXA::OPERATOR", "System Operator", "SMITH", "", "SYSGEN listing", demoDate(8, 3), longBody())},
		{"SMITH", "NEWMAIL", "multipart/alternative delivered from rfc822/alternative.eml",
			delivered(t, demoRFC822["alternative.eml"], demoDate(24, 8))},
		{"SMITH", "MAIL", "an old message already read (MAIL folder)",
			vmsMessage("VAXA::JONES", "Fred Jones", "SMITH", "", "Welcome aboard", time.Date(1992, 7, 2, 21, 17, 8, 80_000_000, time.UTC),
				"Welcome to the VAXcluster.\n")},
		{"JONES", "NEWMAIL", "\"From \", \">From \", \">>From \" and \".\" lines, delivered from rfc822/fromlines.eml",
			delivered(t, demoRFC822["fromlines.eml"], demoDate(21, 9))},
		{"JONES", "NEWMAIL", "a body without a final newline",
			vmsMessage("VAXA::SMITH", "John Smith", "JONES", "", "No newline at the end", demoDate(9, 13),
				"This line has no newline at the end.")},
		{"JONES", "NEWMAIL", "foreign (binary) message with NUL bytes",
			vmsMessage("VAXA::SMITH", "", "JONES", "", "SYS$LOGIN:DATA.BIN", demoDate(10, 14),
				"Foreign file follows\n\x00\x01\x02\x03binary\x00data\xff\xfe\n\x00\n")},
		{"JONES", "NEWMAIL", "SMTP sender with quotes in the local part, delivered from rfc822/quoted-local.eml",
			delivered(t, demoRFC822["quoted-local.eml"], demoDate(22, 12))},
		{"JONES", "NEWMAIL", "DECnet reply",
			vmsMessage("VAXB::SMITH", "John Smith", "JONES", "", "RE: Lunch on Friday?", demoDate(25, 11),
				"Yes, noon at the usual place.\n")},
		{"FIELD", "NEWMAIL", "a single message for a third user",
			vmsMessage("VAXA::SYSTEM", "", "FIELD", "", "Disk quota", demoDate(11, 7),
				"Your disk quota is nearly exhausted.\n")},
	}
}

// demoCounts are the message counts of the demo spool's folders.
var demoCounts = map[string]int{"SMITH/NEWMAIL": 10, "SMITH/MAIL": 1, "JONES/NEWMAIL": 5, "FIELD/NEWMAIL": 1}

// buildDemoSpool writes the demo spool under root with spool.Append and
// returns the folder files, relative to root.
func buildDemoSpool(t *testing.T, root string) []string {
	t.Helper()
	sp := spool.New(root)
	order := []string{}
	batches := map[string][]spool.NewMessage{}
	for _, m := range demoMessages(t) {
		k := m.user + "/" + m.folder
		if _, ok := batches[k]; !ok {
			order = append(order, k)
		}
		batches[k] = append(batches[k], m.msg)
	}
	for _, k := range order {
		user, folder, _ := strings.Cut(k, "/")
		if err := sp.Append(context.Background(), user, folder, batches[k]); err != nil {
			t.Fatalf("Append %s: %v", k, err)
		}
	}
	sort.Strings(order)
	return order
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDemoSpool checks that the committed test data is what the generators
// above produce, byte for byte, and that the demo spool decodes with the
// expected counts; with -update-demo it rewrites the files.
func TestDemoSpool(t *testing.T) {
	tmp := t.TempDir()
	folders := buildDemoSpool(t, tmp)
	if *updateDemo {
		writeFiles(t, rfc822Dir, demoRFC822)
		writeFiles(t, extractDir, demoExtract)
		for _, k := range folders {
			data, err := os.ReadFile(filepath.Join(tmp, k))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(demoDir, filepath.Dir(k)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(demoDir, k), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for dir, files := range map[string]map[string]string{rfc822Dir: demoRFC822, extractDir: demoExtract} {
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatalf("%v (run with -update-demo)", err)
			}
			if string(got) != want {
				t.Errorf("%s/%s is out of date (run with -update-demo)", dir, name)
			}
		}
	}
	if len(folders) != len(demoCounts) {
		t.Errorf("folders %v, want %v", folders, demoCounts)
	}
	for _, k := range folders {
		want, err := os.ReadFile(filepath.Join(tmp, k))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(demoDir, k))
		if err != nil {
			t.Fatalf("%v (run with -update-demo)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/spool/%s is out of date (run with -update-demo)", k)
		}
	}
	// The committed spool decodes, with the expected counts, and every
	// message has a MAIL-11 header that rewrite parses with its date.
	sp := spool.New(t.TempDir())
	for k, n := range demoCounts {
		user, folder, _ := strings.Cut(k, "/")
		data, err := os.ReadFile(filepath.Join(demoDir, k))
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := spool.ReadMessages(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if len(msgs) != n {
			t.Errorf("%s: %d messages, want %d", k, len(msgs), n)
		}
		for i, m := range msgs {
			hdr, _, _ := bytes.Cut(m, []byte("\n\n"))
			mm, err := mail11.ParseIn(hdr, time.UTC)
			if err != nil || mm.Date.IsZero() {
				t.Errorf("%s #%d: ParseMail11: %v (date %v)", k, i+1, err, mm.Date)
			}
		}
		// And the spool package agrees (Scan, not go-mbox).
		if err := os.MkdirAll(filepath.Join(sp.Root, user), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sp.Root, user, folder), data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := sp.ReadFolder(context.Background(), user, folder)
		if err != nil || len(got) != n {
			t.Errorf("%s: ReadFolder: %d messages, %v; want %d", k, len(got), err, n)
		}
		for i := range got {
			if i < len(msgs) && !bytes.Equal(got[i], msgs[i]) {
				t.Errorf("%s #%d: Scan and go-mbox disagree", k, i+1)
			}
		}
	}
}
