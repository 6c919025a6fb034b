package gateway

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Extensions are the features CommuniGate Pro and Mailismus users expect
// beyond RFC 1939 (docs/extensions.md): FOLDER#USER, ~OWNER/FOLDER#USER
// and user@domain login names, a configurable greeting, per-account
// login delays, alerts, XTND XMIT, and the SASL LOGIN and EXTERNAL
// mechanisms. Server.Extensions nil turns all of them off, except LOGIN.
//
// Whatever needs storage or accounts comes through add-on interfaces of
// the Backend (FolderBackend, AlertBackend) and the Authenticator
// (AccountChecker, LoginDelayer, Granter), checked by type assertion: a
// feature whose interface is missing is off.
type Extensions struct {
	// Domains are the domains accepted after '@' in a login name,
	// compared case-insensitively (the substitute domain and the local
	// names); empty means user@domain logins are refused.
	Domains []string
	// Greeting replaces the text between "+OK" and the APOP timestamp of
	// the greeting (TCPIP$POP_GREETING); "" keeps the default. It is cut
	// so that the greeting stays under 512 octets.
	Greeting string
	// Submit enables XTND XMIT; nil means the command is unknown.
	Submit Submitter
	// MaxSubmitSize bounds a message sent with XTND XMIT, in octets; zero
	// means DefaultMaxSubmitSize.
	MaxSubmitSize int64
	// Views routes user@domain logins to unified-account views; nil means
	// none.
	Views ViewMapper
	// ViewField is the header field a view looks for its name in; ""
	// means X-Real-To.
	ViewField string

	mu        sync.Mutex
	lastLogin map[string]time.Time
}

// DefaultMaxSubmitSize is the default of Extensions.MaxSubmitSize.
const DefaultMaxSubmitSize = 10 << 20

// PublicOwner is the spool "owner" of the public area (~public/FOLDER#USER).
// The '$' keeps it apart from the account names sites use.
const PublicOwner = "$PUBLIC"

// FolderRef names a folder to open for a session.
type FolderRef struct {
	// User is the authenticated account.
	User string
	// Owner is whose folder it is: User, another account, or PublicOwner.
	Owner string
	// Folder is the folder name, upper case; "" means the server's
	// default folder.
	Folder string
	// View, when not empty, shows only the messages whose ViewField lists
	// this name (unified-account views).
	View string
	// ViewField is the header field View is looked for in; "" means
	// X-Real-To.
	ViewField string
}

// FolderBackend is a Backend that opens any folder of any owner. The
// gateway has already checked the rights.
type FolderBackend interface {
	Backend
	// OpenFolder locks and opens a folder. It returns ErrNoFolder when
	// the folder does not exist.
	OpenFolder(ctx context.Context, ref FolderRef) (Maildrop, error)
}

// ErrNoFolder is returned by FolderBackend.OpenFolder for a folder that
// does not exist.
var ErrNoFolder = errors.New("gateway: no such folder")

// AlertBackend is a Backend with per-user alert queues.
type AlertBackend interface {
	Backend
	// TakeAlert removes the oldest pending alert of user and returns its
	// text; "" means none is pending.
	TakeAlert(ctx context.Context, user string) (string, error)
}

// Rights are what a user may do with another user's folders.
type Rights struct {
	Read, Delete bool
}

// Granter is an Authenticator that knows which users have access to other
// users' folders.
type Granter interface {
	// Rights returns what user may do with owner's folders.
	Rights(owner, user string) Rights
}

// LoginDelayer is an Authenticator with per-account login delays.
type LoginDelayer interface {
	// LoginDelay returns the least time between two logins of user, and
	// whether the account sets one (else Server.LoginDelay applies).
	LoginDelay(user string) (time.Duration, bool)
}

// AccountChecker is an Authenticator that can admit an account without a
// credential, for SASL EXTERNAL: the TLS client certificate is the
// credential. It still refuses disabled and expired accounts.
type AccountChecker interface {
	CheckAccount(user string, now time.Time) (string, error)
}

// Submitter sends a message given with XTND XMIT.
type Submitter interface {
	// Submit sends the message to its recipients, with the user's address
	// as the envelope sender, and returns only once the relay has
	// accepted it. An *Error is sent to the client as it is (the relay's
	// reason); any other error is logged and answered generically. If
	// reading s.Message fails, the message must not be sent.
	Submit(ctx context.Context, s *Submission) error
}

// ViewMapper routes a user@domain login to a unified account.
type ViewMapper interface {
	// MapView returns the account and the view name (the local part the
	// router leaves; "" = the whole mailbox) for local@domain, and false
	// when the address is not routed to a unified account.
	MapView(local, domain string) (account, view string, ok bool)
}

// loginDelayOK reports whether user may log in now, and if so records the
// login. A per-account delay (LoginDelayer) overrides Server.LoginDelay.
func (c *conn) loginDelayOK(user string) bool {
	x := c.srv.Extensions
	if x == nil {
		return c.srv.checkLoginDelay(user, c.srv.now())
	}
	d := c.loginDelay(user)
	if d <= 0 {
		return true
	}
	now := c.srv.now()
	x.mu.Lock()
	defer x.mu.Unlock()
	if last, ok := x.lastLogin[user]; ok && now.Sub(last) < d {
		return false
	}
	if x.lastLogin == nil {
		x.lastLogin = make(map[string]time.Time)
	}
	if len(x.lastLogin) >= 4096 {
		for u, t := range x.lastLogin {
			if now.Sub(t) >= 24*time.Hour {
				delete(x.lastLogin, u)
			}
		}
	}
	x.lastLogin[user] = now
	return true
}

// loginDelay is the login delay that applies to user ("" before login:
// the server's).
func (c *conn) loginDelay(user string) time.Duration {
	if ld, ok := c.srv.Auth.(LoginDelayer); ok && user != "" && c.srv.Extensions != nil {
		if d, set := ld.LoginDelay(user); set {
			return d
		}
	}
	return c.srv.LoginDelay
}
