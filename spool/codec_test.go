package spool

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	mbox "github.com/emersion/go-mbox"
)

// sentBody is the slow, obvious form of what RETR sends after the header:
// the body of a decoded message with CRLF line ends, ending with CRLF.
func sentBody(m []byte) []byte {
	var body []byte
	switch i := bytes.Index(m, []byte("\n\n")); {
	case len(m) > 0 && m[0] == '\n':
		body = m[1:]
	case i >= 0:
		body = m[i+2:]
	}
	out := bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n"))
	if len(body) > 0 && body[len(body)-1] != '\n' {
		out = append(out, '\r', '\n')
	}
	return out
}

// dotStuff is the obvious form of RFC 1939 dot-stuffing of CRLF text.
func dotStuff(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) > 0 && line[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, line...)
	}
	return out
}

func writeFolder(t testing.TB, msgs ...[]byte) []byte {
	var buf bytes.Buffer
	w := mbox.NewWriter(&buf)
	for _, m := range msgs {
		if err := WriteMessage(w, "sender@example.org", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), bytes.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkFolder compares the reference decoder (go-mbox + unwrap) with the
// fast one (Scan, Decode, bodyReader) on one folder file, and
// scanAndVisit with Scan.
func checkFolder(t *testing.T, data []byte) [][]byte {
	t.Helper()
	ref, refErr := ReadMessages(bytes.NewReader(data))
	msgs, err := Scan(context.Background(), data)
	if (refErr != nil) != (err != nil) {
		t.Fatalf("go-mbox error %v, Scan error %v on %q", refErr, err, data)
	}
	if err != nil {
		if _, err := scanAndVisit(context.Background(), data, 0, nil, (&visits{}).visit, nil, false); err == nil {
			t.Fatalf("Scan error %v, scanAndVisit none on %q", refErr, data)
		}
		return nil
	}
	// Without the scanning goroutine: its scheduling would make the
	// fuzzers' coverage vary from run to run (TestRoundTrip and the
	// ScanAndVisit tests run it).
	checkScanAndVisit(t, data, msgs, false)
	if len(ref) != len(msgs) {
		t.Fatalf("go-mbox found %d messages, Scan %d in %q", len(ref), len(msgs), data)
	}
	for i, m := range msgs {
		text := data[m.Text:m.End]
		got := Decode(text)
		if !bytes.Equal(got, ref[i]) {
			t.Fatalf("message %d of %q: Decode = %q, go-mbox = %q", i, data, got, ref[i])
		}
		if m.Size != int64(len(ref[i])) {
			t.Fatalf("message %d of %q: Size = %d, want %d", i, data, m.Size, len(ref[i]))
		}
		want := sentBody(ref[i])
		if m.BodySize != int64(len(want)) {
			t.Fatalf("message %d of %q: BodySize = %d, want %d (%q)", i, data, m.BodySize, len(want), want)
		}
		ra := bytes.NewReader(data)
		from, to := m.Text+int64(m.BodyStart), m.Text+int64(m.ContentEnd)
		for _, block := range []int{8, 13, 77, 200, 64 << 10} {
			var viaCopy bytes.Buffer
			if _, err := io.Copy(&viaCopy, newBodyReader(ra, from, to, m.ExtraNewlines, make([]byte, block), nil)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(viaCopy.Bytes(), want) {
				t.Fatalf("message %d of %q, block %d: body stream = %q, want %q", i, data, block, viaCopy.Bytes(), want)
			}
			viaRead, _ := io.ReadAll(readerOnly{newBodyReader(ra, from, to, m.ExtraNewlines, make([]byte, block), nil)})
			if !bytes.Equal(viaRead, want) {
				t.Fatalf("message %d of %q, block %d: body Read = %q, want %q", i, data, block, viaRead, want)
			}
			var stuffed bytes.Buffer
			n, err := newBodyReader(ra, from, to, m.ExtraNewlines, make([]byte, block), nil).WriteStuffedTo(&stuffed)
			if err != nil || n != int64(len(want)) || !bytes.Equal(stuffed.Bytes(), dotStuff(want)) {
				t.Fatalf("message %d of %q, block %d: stuffed = %q (%d, %v), want %q", i, data, block, stuffed.Bytes(), n, err, dotStuff(want))
			}
			// Read in place from the mapped file, and decoded in place into
			// buffered writers of several sizes.
			for _, mapped := range []bool{false, true} {
				for _, size := range []int{64, 2*block + 40, 5000, 200000} {
					r := newBodyReader(ra, from, to, m.ExtraNewlines, make([]byte, block), nil)
					if mapped {
						r.mapped = data
					}
					var got bytes.Buffer
					bw := bufio.NewWriterSize(&got, size)
					n, err := r.WriteStuffedTo(bw)
					if err == nil {
						err = bw.Flush()
					}
					if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), dotStuff(want)) {
						t.Fatalf("message %d of %q, block %d, mapped %v, writer %d: stuffed = %q (%d, %v), want %q", i, data, block, mapped, size, got.Bytes(), n, err, dotStuff(want))
					}
				}
				if mapped {
					r := newBodyReader(ra, from, to, m.ExtraNewlines, make([]byte, block), nil)
					r.mapped = data
					viaRead, err := io.ReadAll(readerOnly{r})
					if err != nil || !bytes.Equal(viaRead, want) {
						t.Fatalf("message %d of %q, block %d: mapped body Read = %q (%v), want %q", i, data, block, viaRead, err, want)
					}
				}
			}
		}
	}
	return ref
}

type readerOnly struct{ io.Reader }

// roundTripped is msg as the spool gives it back after writing it: line
// ends normalised, and a final newline added if it has none.
func roundTripped(msg []byte) []byte {
	out := Normalize(msg)
	if len(out) == 0 || out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out
}

var codecSeeds = [][]byte{
	[]byte(""), []byte("\n"), []byte("\n\n"), []byte("abc"), []byte("abc\n"), []byte("abc\n\n"), []byte("abc\n\n\n"),
	[]byte("From x\n>From y\n>>From z\n.\n..\n"), []byte("From:\tNODE::USER \"P\"  2-JUL-1992 21:17:08.08\nSubj:\thi\n\nbody\n"),
	[]byte("a\r\nb\r\n"), []byte("a\rb\r"), []byte("\x00\xff\n"), []byte(">>>>From \n"), []byte("From"), []byte(">From"),
	// quoting and From_ look-alikes away from line starts (Scan looks for 'F' and '>', not for line ends)
	[]byte("a>From x\n>>b\n>\n>>From \r\nFFrom y\nx From z\n>F\n"), []byte("\r\n>From \r\r\n\r"),
	// longer than a 64-byte chunk: the decoder's newline-mask path
	[]byte("Subj:\thi\n\n.dot\n>From q\n>>From qq\nplain line of text that is long enough\r\n\r\n.\n..\n" +
		"From x\n>not\n" + string(bytes.Repeat([]byte("0123456789abcdef"), 9)) + "\n.\n\n\n"),
}

func TestRoundTrip(t *testing.T) {
	for _, a := range codecSeeds {
		for _, b := range codecSeeds {
			data := writeFolder(t, a, b)
			got := checkFolder(t, data)
			if len(got) != 2 || !bytes.Equal(got[0], roundTripped(a)) || !bytes.Equal(got[1], roundTripped(b)) {
				t.Fatalf("round trip of %q, %q gave %q (disk %q)", a, b, got, data)
			}
			msgs, _ := Scan(context.Background(), data)
			checkScanAndVisit(t, data, msgs, true)
		}
	}
}

// TestGoMboxAloneIsLossy documents why the wrapping exists.
func TestGoMboxAloneIsLossy(t *testing.T) {
	var buf bytes.Buffer
	w := mbox.NewWriter(&buf)
	mw, _ := w.CreateMessage("a@b", time.Time{})
	io.WriteString(mw, ">From x\n")
	w.Close()
	m, _ := mbox.NewReader(&buf).NextMessage()
	got, _ := io.ReadAll(m)
	if bytes.HasPrefix(got, []byte(">From")) {
		t.Fatalf("go-mbox kept >From: %q; the wrapping may no longer be needed", got)
	}
}

func FuzzMboxRoundTrip(f *testing.F) {
	for _, s := range codecSeeds {
		f.Add(s, []byte("second\n"))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		data := writeFolder(t, a, b)
		got := checkFolder(t, data)
		if len(got) != 2 || !bytes.Equal(got[0], roundTripped(a)) || !bytes.Equal(got[1], roundTripped(b)) {
			t.Fatalf("round trip of %q, %q gave %q (disk %q)", a, b, got, data)
		}
	})
}

func FuzzDecodeDifferential(f *testing.F) {
	f.Add([]byte("From a\nx\n\nFrom b\n\n\n"))
	f.Add([]byte("\n\nFrom a\n>From x\n>>From y\r\n\r\n\r\nFrom b"))
	f.Add([]byte("junk\nFrom a\n"))
	f.Add(append([]byte("From a\nFrom "+string(bytes.Repeat([]byte("x"), 5000))+"\r\nz\n"), "From b\n"...))
	for _, s := range codecSeeds {
		f.Add(writeFolder(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFolder(t, data)
	})
}

// TestStandardLayout pins the folder rule to the bytes: one blank line
// after each message's final newline, and the reading of folders that
// other tools wrote.
func TestStandardLayout(t *testing.T) {
	date := "Wed Nov 25 10:00:00 2026"
	for _, c := range []struct{ msg, disk string }{
		{"", "\n\n"},
		{"a", "a\n\n"},
		{"a\n", "a\n\n"},
		{"a\n\n", "a\n\n\n"},
		{"a\n\n\n", "a\n\n\n\n"},
		{"\n", "\n\n"},
		{"\n\n", "\n\n\n"},
		{"H: x\n\n", "H: x\n\n\n"},
		{"From x\n>From y\n", ">From x\n>>From y\n\n"},
	} {
		data := writeFolder(t, []byte(c.msg))
		want := "From sender@example.org " + date + "\n" + c.disk
		if string(data) != want {
			t.Errorf("%q written as %q, want %q", c.msg, data, want)
		}
	}
	// Read by the rule: the text up to the next From_ line minus one
	// newline, whoever wrote it.
	for _, c := range []struct {
		disk string
		want []string
	}{
		{"From a\nx\nFrom b\ny\n", []string{"x", "y"}},
		{"From a\nx\n\nFrom b\ny\n\n", []string{"x\n", "y\n"}},
		{"From a\nx\n\n\nFrom b\ny\n\n\n\n", []string{"x\n\n", "y\n\n\n"}},
		{"From a\nFrom b\n\nFrom c\n\n\n", []string{"", "", "\n"}},
		{"From a\nx", []string{"x"}},
		{"From a\r\nx\r\n\r\nFrom b\r\n", []string{"x\n", ""}},
	} {
		got := checkFolder(t, []byte(c.disk))
		if len(got) != len(c.want) {
			t.Fatalf("%q read as %q, want %q", c.disk, got, c.want)
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Errorf("%q message %d read as %q, want %q", c.disk, i, got[i], c.want[i])
			}
		}
	}
}

// writeLegacy writes msgs as vmspop wrote folders before they were
// standard mboxrd: m trailing newlines became 2m-1 (m >= 2), 1 (m = 0) or
// 0 (m = 1) before go-mbox's "\n\n", and 2m for a message of newlines
// only.
func writeLegacy(t testing.TB, msgs ...[]byte) []byte {
	var buf bytes.Buffer
	w := mbox.NewWriter(&buf)
	for _, msg := range msgs {
		n := Normalize(msg)
		text := bytes.TrimRight(n, "\n")
		m := len(n) - len(text)
		j := 2 * m
		if len(text) > 0 {
			switch m {
			case 0:
				j = 1
			case 1:
				j = 0
			default:
				j = 2*m - 1
			}
		}
		mw, err := w.CreateMessage("sender@example.org", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		e := newEncoder(mw)
		e.Write(text)
		e.Close()
		mw.Write(bytes.Repeat([]byte{'\n'}, j))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLegacyFolders: folders written by the old encoding still give every
// message, at most with extra trailing newlines.
func TestLegacyFolders(t *testing.T) {
	for _, a := range codecSeeds {
		for _, b := range codecSeeds {
			data := writeLegacy(t, a, b)
			got := checkFolder(t, data)
			if len(got) != 2 {
				t.Fatalf("legacy %q, %q: %d messages (disk %q)", a, b, len(got), data)
			}
			for i, want := range [][]byte{Normalize(a), Normalize(b)} {
				want = bytes.TrimRight(want, "\n")
				if !bytes.HasPrefix(got[i], want) || len(bytes.Trim(got[i][len(want):], "\n")) != 0 {
					t.Fatalf("legacy %q, %q: message %d = %q, want %q and newlines (disk %q)", a, b, i, got[i], want, data)
				}
			}
		}
	}
	// The usual message (one final newline) reads back exactly.
	data := writeLegacy(t, []byte("Subj:\thi\n\nbody\n"))
	if got := checkFolder(t, data); string(got[0]) != "Subj:\thi\n\nbody\n" {
		t.Fatalf("legacy usual message read as %q", got[0])
	}
}

// TestGoMboxDropsOddEmpties documents why the reference doubles empty
// lines: go-mbox alone reads "x\n\n\n" and "x\n\n\n\n" alike.
func TestGoMboxDropsOddEmpties(t *testing.T) {
	read := func(s string) string {
		m, err := mbox.NewReader(bytes.NewReader([]byte(s))).NextMessage()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(m)
		return string(b)
	}
	if a, b := read("From a\nx\n\n\n"), read("From a\nx\n\n\n\n"); a != b {
		t.Fatalf("go-mbox now tells %q from %q; the doubling may no longer be needed", a, b)
	}
}
