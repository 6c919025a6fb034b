package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmspop/vmspop/uaf"
)

// uafExtOptions are the options of "uaf add/modify" for the extensions
// (docs/extensions.md): a per-account login delay and folder grants.
type uafExtOptions struct {
	delay    *time.Duration // nil = unchanged; set by --login-delay
	clear    bool           // --login-delay none
	grants   []uaf.Grant
	revokes  []string
	delaySet bool
}

func (o *uafExtOptions) register(fs *flag.FlagSet) {
	fs.Func("login-delay", "least `DURATION` between logins of the account (e.g. 5m), or none", func(v string) error {
		o.delaySet = true
		if strings.EqualFold(v, "none") {
			o.clear = true
			return nil
		}
		d, err := uaf.ParseLoginDelay(v)
		if err != nil {
			return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "uaf: "))
		}
		o.delay = &d
		return nil
	})
	fs.Func("grant", "let `USER:read[,delete]` open this account's folders (repeatable)", func(v string) error {
		g, err := uaf.ParseGrant(v)
		if err != nil {
			return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "uaf: "))
		}
		o.grants = append(o.grants, g)
		return nil
	})
	fs.Func("revoke", "take back the grant of `USER` (repeatable)", func(v string) error {
		if !uaf.ValidName(v) {
			return fmt.Errorf("bad user name %q", v)
		}
		o.revokes = append(o.revokes, strings.ToUpper(v))
		return nil
	})
}

// set reports whether any option was given.
func (o *uafExtOptions) set() bool {
	return o.delaySet || len(o.grants) > 0 || len(o.revokes) > 0
}

// apply changes a as the options say.
func (o *uafExtOptions) apply(a *uaf.Account) {
	switch {
	case o.clear:
		a.LoginDelay, a.HasLoginDelay = 0, false
	case o.delay != nil:
		a.LoginDelay, a.HasLoginDelay = *o.delay, true
	}
	for _, u := range o.revokes {
		a.Grants = uaf.RevokeGrant(a.Grants, u)
	}
	for _, g := range o.grants {
		a.Grants = uaf.SetGrant(a.Grants, g)
	}
}

// showExt adds the extension settings to "uaf show".
func showExt(w io.Writer, a *uaf.Account) {
	if a.HasLoginDelay {
		fmt.Fprintf(w, "Login delay:\t%s\n", a.LoginDelay)
	}
	for _, g := range a.Grants {
		rights := "read"
		if g.Delete {
			rights = "read, delete"
		}
		fmt.Fprintf(w, "Grant:\t%s (%s)\n", g.User, rights)
	}
}
