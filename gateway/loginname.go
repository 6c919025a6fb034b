package gateway

import (
	"errors"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Login names (docs/extensions.md), as CommuniGate Pro reads them:
//
//	USER                    USER's default folder
//	FOLDER#USER             USER's folder FOLDER
//	~OWNER/FOLDER#USER      OWNER's folder FOLDER, if OWNER granted USER access
//	~public/FOLDER#USER     the public folder FOLDER
//	NAME@DOMAIN             any of the above, DOMAIN being a local domain;
//	                        or a unified-account view (Extensions.Views)
//
// In every case the credentials checked are USER's.

// errUnknownLoginName is what the name-resolving Authenticator returns
// for a login name that names no account: a malformed one, or one with a
// foreign domain. It is answered as an unknown user.
var errUnknownLoginName = errors.New("gateway: login name names no account")

// loginSel is what a login name selects, kept by the session.
type loginSel struct {
	account  string // whose credentials are checked, as given
	owner    string // "" = the account itself; PublicOwner; or another account
	folder   string // "" = the server's default folder
	view     string // unified-account view name, "" = all messages
	address  string // a unified-account login's NAME@DOMAIN, lower case
	display  string // the folder as logs and replies show it, "" for the default
	noDelete bool   // DELE is refused (set at login from the rights)
}

// validName reports whether s is a valid VMS user or folder name:
// [A-Za-z0-9_$-]{1,31}, as the spool checks them.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 31 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '$' || c == '-') {
			return false
		}
	}
	return true
}

// parseLoginName resolves a login name. Without Extensions every name is
// a plain account name.
func (s *Server) parseLoginName(name string) (loginSel, error) {
	x := s.Extensions
	if x == nil || !strings.ContainsAny(name, "#~@") {
		return loginSel{account: name}, nil
	}
	var sel loginSel
	if at := strings.LastIndexByte(name, '@'); at >= 0 {
		local, domain := name[:at], name[at+1:]
		if x.Views != nil && !strings.ContainsAny(local, "#~/") {
			if acct, view, ok := x.Views.MapView(local, domain); ok && validName(acct) {
				return loginSel{account: acct, view: view, address: strings.ToLower(name)}, nil
			}
		}
		if !domainIn(x.Domains, domain) {
			return sel, errUnknownLoginName
		}
		name = local
	}
	if strings.HasPrefix(name, "~") {
		owner, rest, ok := strings.Cut(name[1:], "/")
		if !ok || !strings.Contains(rest, "#") {
			return sel, errUnknownLoginName
		}
		if strings.EqualFold(owner, "public") {
			sel.owner = PublicOwner
		} else if validName(owner) {
			sel.owner = strings.ToUpper(owner)
		} else {
			return sel, errUnknownLoginName
		}
		name = rest
	}
	if folder, acct, ok := strings.Cut(name, "#"); ok {
		if !validName(folder) {
			return sel, errUnknownLoginName
		}
		sel.folder = strings.ToUpper(folder)
		name = acct
	}
	if !validName(name) {
		return sel, errUnknownLoginName
	}
	sel.account = name
	return sel, nil
}

// domainIn reports whether domain is one of list (case-insensitive).
func domainIn(list []string, domain string) bool {
	if domain == "" {
		return false
	}
	for _, d := range list {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}

// auth returns the Authenticator the session checks credentials with:
// with Extensions, one that resolves login names first and remembers what
// the last one selected.
func (c *conn) auth() Authenticator {
	if c.srv.Extensions == nil {
		return c.srv.Auth
	}
	return nameAuth{c}
}

// nameAuth is the Authenticator of a session with Extensions.
type nameAuth struct{ c *conn }

func (a nameAuth) resolve(name string) (string, error) {
	sel, err := a.c.srv.parseLoginName(name)
	if err != nil {
		return "", err
	}
	a.c.sel = sel
	return sel.account, nil
}

func (a nameAuth) CheckPassword(user, password string, now time.Time) (string, error) {
	acct, err := a.resolve(user)
	if err != nil {
		return "", err
	}
	return a.c.srv.Auth.CheckPassword(acct, password, now)
}

func (a nameAuth) CheckAPOP(user, timestamp, digest string, now time.Time) (string, error) {
	acct, err := a.resolve(user)
	if err != nil {
		return "", err
	}
	return a.c.srv.Auth.CheckAPOP(acct, timestamp, digest, now)
}

func (a nameAuth) CheckCRAMMD5(user, challenge, digest string, now time.Time) (string, error) {
	acct, err := a.resolve(user)
	if err != nil {
		return "", err
	}
	return a.c.srv.Auth.CheckCRAMMD5(acct, challenge, digest, now)
}

func (a nameAuth) UserExists(user string) bool {
	acct, err := a.resolve(user)
	return err == nil && a.c.srv.Auth.UserExists(acct)
}

func (a nameAuth) HasSecret(user string) bool {
	acct, err := a.resolve(user)
	return err == nil && a.c.srv.Auth.HasSecret(acct)
}

// checkAccount admits user without a credential (SASL EXTERNAL).
func (a nameAuth) checkAccount(user string, now time.Time) (string, error) {
	ac, ok := a.c.srv.Auth.(AccountChecker)
	if !ok {
		return "", errUnknownLoginName
	}
	acct, err := a.resolve(user)
	if err != nil {
		return "", err
	}
	return ac.CheckAccount(acct, now)
}

// openMaildrop opens what the login name selected for the authenticated
// account canonical, after checking the rights on another owner's folder.
// Errors that are *Error go to the client as they are.
func (c *conn) openMaildrop(canonical string) (Maildrop, error) {
	sel := &c.sel
	if c.srv.Extensions == nil || sel.owner == "" && sel.folder == "" && sel.view == "" {
		return c.srv.Backend.OpenMaildrop(c.ctx, canonical)
	}
	fb, ok := c.srv.Backend.(FolderBackend)
	if !ok {
		return nil, errf("", "folder selection is not available")
	}
	owner := canonical
	rights := Rights{Read: true, Delete: true}
	switch sel.owner {
	case "", strings.ToUpper(canonical):
	case PublicOwner:
		owner, rights = PublicOwner, Rights{Read: true}
	default:
		owner = sel.owner
		if g, ok := c.srv.Auth.(Granter); ok {
			rights = g.Rights(owner, canonical)
		} else {
			rights = Rights{}
		}
	}
	sel.display = folderDisplay(owner, canonical, sel.folder)
	if !rights.Read {
		c.log.WithFields(logrus.Fields{"user": canonical, "folder": sel.display, "reason": "no read right"}).Warn(MsgLoginFailed)
		return nil, errf(CodeAuth, "%s has not granted %s access to %s", sanitize(ownerName(owner)), canonical, sanitize(sel.display))
	}
	sel.noDelete = !rights.Delete
	md, err := fb.OpenFolder(c.ctx, FolderRef{User: canonical, Owner: owner, Folder: sel.folder, View: sel.view, ViewField: c.srv.Extensions.ViewField})
	if errors.Is(err, ErrNoFolder) {
		return nil, errf("", "no folder %s", sanitize(sel.display))
	}
	if err == nil {
		c.log = c.log.WithField("folder", sel.display)
	}
	return md, err
}

// ownerName is an owner as users write it.
func ownerName(owner string) string {
	if owner == PublicOwner {
		return "public"
	}
	return owner
}

// folderDisplay is how a folder is shown: FOLDER, or ~OWNER/FOLDER.
func folderDisplay(owner, user, folder string) string {
	if folder == "" {
		folder = "(default)"
	}
	if strings.EqualFold(owner, user) {
		return folder
	}
	return "~" + ownerName(owner) + "/" + folder
}

// checkDele refuses DELE in a folder the user may only read.
func (c *conn) checkDele() error {
	if c.sel.noDelete {
		return errf("", "no right to delete messages in %s (read-only access)", sanitize(c.sel.display))
	}
	return nil
}

// takeAlert refuses a successful login while the account has a pending
// alert (CommuniGate Pro's "Notification Alerts"): "-ERR ALERT: text",
// one alert per attempt. The attempt does not count as a failure.
func (c *conn) takeAlert(method, canonical string) error {
	ab, ok := c.srv.Backend.(AlertBackend)
	if !ok || c.srv.Extensions == nil {
		return nil
	}
	text, err := ab.TakeAlert(c.ctx, canonical)
	if err != nil {
		// An alert that cannot be read must not keep the user out.
		c.log.WithError(err).WithField("user", canonical).Error("cannot read the alert queue")
		return nil
	}
	if text == "" {
		return nil
	}
	c.log.WithFields(logrus.Fields{"method": method, "user": canonical}).Info("login refused with an alert")
	return &Error{Text: "ALERT: " + sanitizeLine(text, 400)}
}

// sanitizeLine makes text safe for one reply line: control characters
// become spaces, and it is cut to max octets.
func sanitizeLine(text string, max int) string {
	b := []byte(text)
	for i, ch := range b {
		if ch < 0x20 || ch == 0x7f {
			b[i] = ' '
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	return strings.TrimSpace(string(b))
}
