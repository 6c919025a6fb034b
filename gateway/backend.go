package gateway

import (
	"context"
	"io"
	"time"
)

// MessageInfo describes one message of a maildrop; it is fixed for the
// length of a session.
type MessageInfo struct {
	// Size is the exact number of octets RETR sends: CRLF line ends,
	// before dot-stuffing.
	Size int64
	// UID is the unique-id listing of the message (RFC 1939 §7: 1 to 70
	// characters in the range 0x21 to 0x7E).
	UID string
}

// Maildrop is one user's mailbox, locked for the length of a session.
type Maildrop interface {
	// Messages returns the messages of the maildrop, in order.
	Messages() []MessageInfo
	// Open returns message i (0-based) exactly as RETR sends it before
	// dot-stuffing: CRLF line ends, header block first, ending with CRLF.
	// The message is streamed, never buffered whole.
	Open(ctx context.Context, i int) (io.ReadCloser, error)
	// Commit is called once, only in the UPDATE state (after QUIT), with
	// what the session did (0-based indexes, sorted).
	Commit(ctx context.Context, u Update) (CommitResult, error)
	// Close releases the lock. It is always called, after Commit or
	// instead of it.
	Close() error
}

// Update is what a session did to its maildrop, handed to Commit.
type Update struct {
	// Deleted holds the 0-based indexes of messages marked with DELE.
	Deleted []int
	// Retrieved holds the 0-based indexes of messages sent with RETR.
	Retrieved []int
}

// CommitResult counts what Commit did.
type CommitResult struct {
	Deleted int // messages removed
	Moved   int // messages moved to the MAIL folder
	Left    int // messages left in NEWMAIL
}

// Backend opens maildrops. An error that matches ErrInUse is answered
// "-ERR [IN-USE] ..."; any other error is answered "-ERR [SYS/TEMP] ..."
// and its details go to the log only.
type Backend interface {
	// OpenMaildrop locks and opens the maildrop of the canonical user.
	OpenMaildrop(ctx context.Context, user string) (Maildrop, error)
}

// Authenticator checks credentials. Each Check method returns the
// canonical user name or an error; Server.Classify maps the error to its
// cause (the uaf package's sentinel errors).
type Authenticator interface {
	// CheckPassword checks a plain-text password (USER/PASS, AUTH PLAIN).
	CheckPassword(user, password string, now time.Time) (string, error)
	// CheckAPOP checks an APOP digest: MD5 of timestamp and secret, in
	// lower-case hex (RFC 1939 §7).
	CheckAPOP(user, timestamp, digest string, now time.Time) (string, error)
	// CheckCRAMMD5 checks a CRAM-MD5 digest: HMAC-MD5 of challenge keyed
	// with the secret, in lower-case hex (RFC 2195).
	CheckCRAMMD5(user, challenge, digest string, now time.Time) (string, error)
	// UserExists reports whether user names an account.
	UserExists(user string) bool
	// HasSecret reports whether user has an APOP/CRAM-MD5 secret.
	HasSecret(user string) bool
}

// PreStuffer is an optional interface of the reader that Maildrop.Open
// returns. A storage that decodes a message line by line can dot-stuff it
// (RFC 1939 §3: a line that starts with '.' gets another '.' in front) as
// it decodes, which saves the gateway a second pass over every line of a
// RETR. The gateway uses it for RETR only (TOP counts lines itself).
//
// WriteStuffedTo writes the whole message to w, dot-stuffed, ending with
// CRLF, and returns the number of octets of the message before stuffing
// (MessageInfo.Size when all went well). The gateway writes the final
// ".\r\n" itself.
type PreStuffer interface {
	WriteStuffedTo(w io.Writer) (int64, error)
}

// Sizer is an optional Maildrop interface: the sum of the sizes of all
// its messages, which the maildrop may know without the gateway adding up
// every MessageInfo at each login (a long list costs more to read than
// the rest of a warm login).
type Sizer interface {
	TotalSize() int64
}

// Lister is an optional Maildrop interface: the messages read one at a
// time, for a maildrop that keeps them in a compact form of its own. The
// gateway then never calls Messages, so that a login to a folder of a
// million messages builds no list of a million MessageInfo.
type Lister interface {
	// Count returns the number of messages.
	Count() int
	// Size returns MessageInfo.Size of message i (0-based).
	Size(i int) int64
	// UID returns MessageInfo.UID of message i (0-based).
	UID(i int) string
}
