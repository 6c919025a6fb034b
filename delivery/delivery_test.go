package delivery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

var arrival = time.Date(2026, 11, 25, 10, 15, 32, 450_000_000, time.UTC)

func newDeliverer(t *testing.T, db *uaf.DB) *Deliverer {
	t.Helper()
	return &Deliverer{Spool: spool.New(t.TempDir()), UAF: db, Now: func() time.Time { return arrival }}
}

// TestDeliver: the message lands in each user's NEWMAIL behind its MAIL-11
// header, which parses back to the sender and subject.
func TestDeliver(t *testing.T) {
	d := newDeliverer(t, nil)
	msg := "From: John Smith <john@example.com>\nTo: smith@vms.example\nSubject: hello\n\nbody\n"
	r := strings.NewReader(msg)
	if err := d.Deliver(context.Background(), []string{"smith", "Jones"}, "", false, r, int64(len(msg))); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	for _, u := range []string{"SMITH", "JONES"} {
		got, err := d.Spool.ReadFolder(context.Background(), u, spool.NewMail)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s NEWMAIL: %d messages, %v; want 1", u, len(got), err)
		}
		head, body, _ := strings.Cut(string(got[0]), "\n\n")
		m, err := mail11.ParseIn([]byte(head), time.UTC)
		if err != nil || m.From != `SMTP%"john@example.com"` || m.Subj != "hello" || !m.Date.Equal(arrival.Truncate(10*time.Millisecond)) {
			t.Errorf("%s: MAIL-11 header %+v, %v", u, m, err)
		}
		if body != msg {
			t.Errorf("%s: body %q; want the original message %q", u, body, msg)
		}
	}
}

// TestDeliverErrors: each cause is reported with its error, and nothing
// is appended.
func TestDeliverErrors(t *testing.T) {
	db := uaf.NewDB()
	db.Put(&uaf.Account{Name: "SMITH"})
	db.Put(&uaf.Account{Name: "NOMAIL", Flags: uaf.DisMail})
	good := "From: a@b.example\n\nbody\n"
	tests := []struct {
		users []string
		msg   string
		want  error
	}{
		{[]string{"smith"}, "no header at all", ErrBadMessage},
		{[]string{"smith"}, "\nbody only\n", ErrBadMessage},
		{[]string{"../etc"}, good, ErrNoUser},
		{[]string{"ſmith"}, good, ErrNoUser},
		{[]string{"smith", "nobody"}, good, ErrNoUser},
		{[]string{"nomail"}, good, ErrNoMail},
	}
	for _, tt := range tests {
		d := newDeliverer(t, db)
		err := d.Deliver(context.Background(), tt.users, "", false, strings.NewReader(tt.msg), int64(len(tt.msg)))
		if !errors.Is(err, tt.want) {
			t.Errorf("Deliver(%q, %q) = %v; want %v", tt.users, tt.msg, err, tt.want)
		}
		if got, _ := d.Spool.ReadFolder(context.Background(), "SMITH", spool.NewMail); len(got) != 0 {
			t.Errorf("Deliver(%q, %q) appended %d messages", tt.users, tt.msg, len(got))
		}
	}
}
