package rpop

import (
	"bufio"
	"fmt"
	"net/mail"
	"os"
	"slices"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// DefaultSpecialField is the special header field CommuniGate Pro (and a
// sendmail configured as in its Appendix A) writes the envelope recipients
// into.
const DefaultSpecialField = "X-Real-To"

// distribute recomposes the envelope of a message from a Unified
// Domain-Wide account and edits its header: Return-Path becomes the
// envelope sender and is removed; the special field's addresses become the
// recipients and the field is removed; without the field, the To:, Cc:
// and Bcc: addresses that map to local users are the recipients; when no
// one matches, the postmasters get the message.
func (f *fetcher) distribute(h *textproto.Header) (sender string, senderSet bool, users []string) {
	if rp := h.Get("Return-Path"); rp != "" || h.Has("Return-Path") {
		sender, senderSet = parseReturnPath(rp), true
		h.Del("Return-Path")
	}
	var addrs []string
	field := f.rec.Unified
	if field != NoSpecialField && h.Has(field) {
		for _, v := range h.Values(field) {
			addrs = append(addrs, parseAddrs(v)...)
		}
		h.Del(field)
	} else {
		for _, k := range []string{"To", "Cc", "Bcc"} {
			for _, v := range h.Values(k) {
				addrs = append(addrs, parseAddrs(v)...)
			}
		}
	}
	for _, a := range addrs {
		if u, ok := f.mapAddress(a); ok && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		users = f.postmasters()
	}
	return sender, senderSet, users
}

func (f *fetcher) postmasters() []string {
	if len(f.opts.Postmaster) > 0 {
		return slices.Clone(f.opts.Postmaster)
	}
	return []string{f.rec.User}
}

// mapAddress maps a recipient address to a local user: through the address
// map first, then the local part when the domain is one of ours (or the
// address has none) and names a local user.
func (f *fetcher) mapAddress(addr string) (string, bool) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if u, ok := f.amap[addr]; ok {
		return u, true
	}
	local, domain, hasAt := strings.Cut(addr, "@")
	if hasAt {
		ours := false
		for _, d := range append(slices.Clone(f.rec.Domains), f.opts.Domains...) {
			if strings.EqualFold(d, domain) {
				ours = true
			}
		}
		if !ours {
			return "", false
		}
	}
	u := strings.ToUpper(local)
	if f.opts.LocalUser == nil || !f.opts.LocalUser(u) {
		return "", false
	}
	return u, true
}

// parseReturnPath returns the address of a Return-Path value ("" for <>).
func parseReturnPath(v string) string {
	v = strings.TrimSpace(v)
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	return strings.Trim(v, "<> \t")
}

// parseAddrs returns the addresses of an address-list value; a value that
// does not parse as a list is tried as bare words ("user", "a@b c@d").
func parseAddrs(v string) []string {
	if l, err := mail.ParseAddressList(v); err == nil {
		out := make([]string, len(l))
		for i, a := range l {
			out[i] = a.Address
		}
		return out
	}
	var out []string
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		out = append(out, strings.Trim(w, "<>"))
	}
	return out
}

// readAddressMap reads "address USER" lines (# starts a comment).
func readAddressMap(path string) (map[string]string, error) {
	fl, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rpop: address map: %w", err)
	}
	defer fl.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(fl)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		switch len(fs) {
		case 0:
			continue
		case 2:
			m[strings.ToLower(fs[0])] = strings.ToUpper(fs[1])
		default:
			return nil, fmt.Errorf("rpop: %s:%d: want \"address USER\"", path, n)
		}
	}
	return m, sc.Err()
}
