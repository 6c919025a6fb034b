package main

// Folder fidelity against another mbox implementation: Python's mailbox
// module writes folders that the real server serves, and reads back the
// folders vmspop writes (UPDATE, deliver, import). Python's mbox is mboxo:
// it quotes "From " lines but leaves ">From " lines as they are, so a
// Python-written ">From " line reads back in vmspop as "From ". That is the
// one difference allowed (mboxrdUnquote below).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmspop/vmspop/spool"
)

type pyMessage struct {
	From string `json:"from"`
	Text []byte `json:"text"` // base64 in the JSON, as encoding/json does
}

// pyWriteMbox appends texts to the folder file path with mailbox.mbox.
func pyWriteMbox(t *testing.T, path string, texts ...string) {
	t.Helper()
	var msgs []pyMessage
	for _, text := range texts {
		msgs = append(msgs, pyMessage{From: "sender@example.org Wed Nov 25 10:00:00 2026", Text: []byte(text)})
	}
	in, _ := json.Marshal(msgs)
	cmd := exec.Command("python3", "../../testdata/clients/mboxtool.py", "write", path)
	cmd.Stdin = bytes.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mboxtool write: %v\n%s", err, out)
	}
}

// pyReadMbox returns the messages of the folder file path as mailbox.mbox
// reads them (get_bytes).
func pyReadMbox(t *testing.T, path string) [][]byte {
	t.Helper()
	out, err := exec.Command("python3", "../../testdata/clients/mboxtool.py", "read", path).Output()
	if err != nil {
		t.Fatalf("mboxtool read %s: %v", path, err)
	}
	var msgs []pyMessage
	if err := json.Unmarshal(out, &msgs); err != nil {
		t.Fatal(err)
	}
	texts := make([][]byte, len(msgs))
	for i, m := range msgs {
		texts[i] = m.Text
	}
	return texts
}

var quotedFromRE = regexp.MustCompile(`(?m)^>(>*From )`)

// mboxrdUnquote removes one '>' from every ^>+From  line: how vmspop reads
// what Python's mboxo left quoted.
func mboxrdUnquote(b []byte) []byte { return quotedFromRE.ReplaceAll(b, []byte("$1")) }

// sentForm is a message text as POP sends it: CRLF line ends, ending
// with CRLF (POP sends a final line end in any case).
func sentForm(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

// retrAll returns every message of a session as RETR sends them.
func retrAll(p *popClient, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		if r := p.cmd("RETR %d", i); !strings.HasPrefix(r, "+OK") {
			p.t.Fatalf("RETR %d: %s", i, r)
		}
		lines := p.multi()
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(l + "\r\n")
		}
		out = append(out, b.String())
	}
	return out
}

// bodyOf returns what follows the first empty line ("" when none).
func bodyOf(msg, eol string) string {
	if _, body, ok := strings.Cut(msg, eol+eol); ok {
		return body
	}
	if strings.HasPrefix(msg, eol) {
		return msg[len(eol):]
	}
	return ""
}

// pyMessages are MAIL-11 texts with every awkward ending: bodies ending
// in 0 to 3 newlines, an empty body, no body at all, an SMTP message whose
// body is only its RFC 822 header block, From_ look-alikes.
var pyMessages = []string{
	"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tzero\n\nno final newline",
	"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tone\n\none newline\n",
	"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\ttwo\n\ntwo newlines\n\n",
	"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tthree\n\nthree newlines\n\n\n",
	"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tempty body\n\n",
	"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tno body\n",
	"From:\tSMTP%\"ann@example.com\" \"Ann\"  25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\theader only\n\n" +
		"From: Ann <ann@example.com>\nTo: smith@vms.example\nSubject: header only\nMessage-ID: <hdr-only@example.com>\n\n",
	"From:\tSMTP%\"ann@example.com\"  25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\tsmtp two\n\n" +
		"From: ann@example.com\nSubject: smtp two\n\nbody\n\n",
	"From:\tVAXA::JONES  2-JUL-1992 21:17:08.08\nTo:\tSMITH\nCC:\t\nSubj:\tquoting\n\nFrom here\n>From there\n.\n..\nend\n",
}

// TestPythonMboxServed: a NEWMAIL written by Python's mailbox.mbox is
// served with every body as Python stores it; after UPDATE (QUIT moves
// the retrieved messages to MAIL and the deleted ones to WASTEBASKET)
// Python reads MAIL and WASTEBASKET back with every message as before.
func TestPythonMboxServed(t *testing.T) {
	requireTool(t, "python3")
	s := startServer(t)
	newmail := filepath.Join(s.Spool, "JONES", "NEWMAIL")
	pyWriteMbox(t, newmail, pyMessages...)
	stored := pyReadMbox(t, newmail)
	if len(stored) != len(pyMessages) {
		t.Fatalf("Python stored %d messages, want %d", len(stored), len(pyMessages))
	}
	// vmspop's own reading of the folder: Python's, up to the quoting.
	vms, err := spool.New(s.Spool).ReadFolder(context.Background(), "JONES", spool.NewMail)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stored {
		if !bytes.Equal(vms[i], mboxrdUnquote(stored[i])) {
			t.Errorf("message %d: vmspop reads %q, Python %q", i+1, vms[i], stored[i])
		}
	}

	p := dialPOP(t, s.Addr)
	p.login("jones", "demo")
	got := retrAll(p, len(pyMessages))
	for i, msg := range got {
		want := sentForm(bodyOf(string(mboxrdUnquote(stored[i])), "\n"))
		if body := bodyOf(msg, "\r\n"); body != want {
			t.Errorf("message %d: RETR body %q, want %q (Python stored %q)", i+1, body, want, stored[i])
		}
	}
	// The header-only SMTP message keeps its RFC 822 header block and its
	// final empty line inside the body.
	if !strings.HasSuffix(got[6], "Message-ID: <hdr-only@example.com>\r\n\r\n") {
		t.Errorf("header-only SMTP message: %q", got[6])
	}
	deleted := []int{2, 5, 7}
	for _, n := range deleted {
		if r := p.cmd("DELE %d", n); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("DELE %d: %s", n, r)
		}
	}
	if r := p.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %s", r)
	}
	var wantMail, wantWaste [][]byte
	for i := range stored {
		if i+1 == 2 || i+1 == 5 || i+1 == 7 {
			wantWaste = append(wantWaste, stored[i])
		} else {
			wantMail = append(wantMail, stored[i])
		}
	}
	for folder, want := range map[string][][]byte{spool.Mail: wantMail, spool.Wastebasket: wantWaste} {
		back := pyReadMbox(t, filepath.Join(s.Spool, "JONES", folder))
		if len(back) != len(want) {
			t.Fatalf("%s: Python reads %d messages, want %d", folder, len(back), len(want))
		}
		for i := range want {
			if !bytes.Equal(back[i], want[i]) {
				t.Errorf("%s message %d: Python reads %q, stored %q", folder, i+1, back[i], want[i])
			}
		}
	}
	if b, err := os.ReadFile(newmail); err != nil || len(b) != 0 {
		t.Errorf("NEWMAIL after UPDATE: %q, %v", b, err)
	}
}

// TestPythonMboxIgnoreMail11: with TCPIP$POP_IGNORE_MAIL11_HEADERS the
// header-only SMTP message Python wrote is sent as its own RFC 822 header
// block and an empty body.
func TestPythonMboxIgnoreMail11(t *testing.T) {
	requireTool(t, "python3")
	s := startServer(t, "TCPIP$POP_IGNORE_MAIL11_HEADERS=1", "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	newmail := filepath.Join(s.Spool, "JONES", "NEWMAIL")
	pyWriteMbox(t, newmail, pyMessages[6], pyMessages[7])
	p := dialPOP(t, s.Addr)
	p.login("jones", "demo")
	got := retrAll(p, 2)
	for i, want := range []string{
		"From: Ann <ann@example.com>\r\nTo: smith@vms.example\r\nSubject: header only\r\nMessage-ID: <hdr-only@example.com>\r\n\r\n",
		"From: ann@example.com\r\nSubject: smtp two\r\n\r\nbody\r\n\r\n",
	} {
		if got[i] != want {
			t.Errorf("message %d = %q, want %q", i+1, got[i], want)
		}
	}
	p.cmd("QUIT")
}

// TestPythonReadsDelivered: folders `vmspop deliver` and `vmspop import`
// write read back in Python as in vmspop, and hold what was delivered.
func TestPythonReadsDelivered(t *testing.T) {
	requireTool(t, "python3")
	s := startServer(t, "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	var raws []string
	for i, end := range []string{"", "\n", "\n\n", "\n\n\n"} {
		raws = append(raws, fmt.Sprintf("From: Ann <ann@example.com>\nTo: jones@vms.example\nSubject: ends %d\nMessage-ID: <end%d@example.com>\n\nbody line\nFrom the start\n>From quoted%s", i, i, end))
	}
	raws = append(raws, "From: Ann <ann@example.com>\nTo: jones@vms.example\nSubject: empty\nMessage-ID: <empty@example.com>\n\n")
	for _, raw := range raws {
		deliverVia(t, vmspopBinary(t), s, []byte(raw), "JONES")
	}
	newmail := filepath.Join(s.Spool, "JONES", "NEWMAIL")
	back := pyReadMbox(t, newmail)
	vms, err := spool.New(s.Spool).ReadFolder(context.Background(), "JONES", spool.NewMail)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(raws) || len(vms) != len(raws) {
		t.Fatalf("Python reads %d messages, vmspop %d, delivered %d", len(back), len(vms), len(raws))
	}
	for i, raw := range raws {
		want := raw
		if !strings.HasSuffix(want, "\n") {
			want += "\n" // the one change a round trip makes
		}
		if !bytes.Equal(mboxrdUnquote(back[i]), vms[i]) {
			t.Errorf("delivered %d: Python reads %q, vmspop %q", i+1, back[i], vms[i])
		}
		if _, stored, _ := strings.Cut(string(vms[i]), "\n\n"); stored != want {
			t.Errorf("delivered %d: stored %q, want %q", i+1, stored, want)
		}
	}

	// import: EXTRACT files into MAIL.
	cmd := exec.Command(vmspopBinary(t), "import", "jones", "--folder", "MAIL", extractPath("decnet.txt"), extractPath("smtp.txt"), extractPath("8bit.txt"))
	cmd.Env = append(os.Environ(), "TCPIP$POP_SPOOL="+s.Spool, "TCPIP$POP_UAF="+s.UAF, "GORACE=atexit_sleep_ms=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vmspop import: %v\n%s", err, out)
	}
	back = pyReadMbox(t, filepath.Join(s.Spool, "JONES", spool.Mail))
	vms, err = spool.New(s.Spool).ReadFolder(context.Background(), "JONES", spool.Mail)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 8 || len(vms) != 8 {
		t.Fatalf("imported: Python reads %d messages, vmspop %d, want 8", len(back), len(vms))
	}
	for i := range back {
		if !bytes.Equal(mboxrdUnquote(back[i]), vms[i]) {
			t.Errorf("imported %d: Python reads %q, vmspop %q", i+1, back[i], vms[i])
		}
	}
}

// TestIgnoreMail11Warning: with TCPIP$POP_IGNORE_MAIL11_HEADERS an SMTP
// message whose body has no RFC 822 header block is sent with the rebuilt
// header, and the log warns once for it (when it is indexed, not at every
// login); SMTP messages with a header block, header-only ones included,
// give no warning.
func TestIgnoreMail11Warning(t *testing.T) {
	t.Parallel()
	s := lgPrepare(t)
	lgAppend(t, s.Spool, "SMITH", spool.NewMail,
		pyMessages[6], // header only: its own header block
		"From:\tSMTP%\"ann@example.com\"  25-NOV-2026 10:15:32.45\nTo:\tSMITH\nCC:\t\nSubj:\tno header\n\nJust text: no header block.\n")
	s.start(t, lgRace, lgNodes(s), "TCPIP$POP_IGNORE_MAIL11_HEADERS=1", "TCPIP$POP_LEAVE_IN_NEWMAIL=1")
	n := len(fixtureMessages)
	for range 2 { // the second login reads the index: no new warning
		p := dialPOP(t, s.Addr)
		p.login("smith", "demo")
		h, b := lgRetr(p, n+2)
		if v, ok := lgField(h, "X-VMS-From"); !ok || !strings.Contains(v, "ann@example.com") || b != "Just text: no header block.\r\n" {
			t.Errorf("message without a header block = %q + %q; want the rebuilt header and its body", h, b)
		}
		if h, b := lgRetr(p, n+1); !strings.HasPrefix(h, "From: Ann <ann@example.com>\r\n") || b != "" {
			t.Errorf("header-only message = %q + %q; want its own header block", h, b)
		}
		p.cmd("QUIT")
	}
	log := lgStopLog(t, s)
	warned := map[string]bool{}
	for _, l := range lgLogLines(log, "IGNORE_MAIL11_HEADERS: SMTP message without an RFC 822 header block", "level=warning") {
		m := regexp.MustCompile(`message=(\d+)`).FindStringSubmatch(l)
		if m == nil || warned[m[1]] {
			t.Errorf("warning without a message number, or twice: %s", l)
			continue
		}
		warned[m[1]] = true
	}
	// The fixture's SMTP messages 4 (cluster forwarding) and 5 have plain
	// bodies too; message 2 has its header block.
	want := map[string]bool{"4": true, "5": true, fmt.Sprint(n + 2): true}
	if fmt.Sprint(warned) != fmt.Sprint(want) {
		t.Errorf("warned for messages %v, want %v:\n%s", warned, want, log)
	}
}
