package gateway

import (
	"context"
	"io"
	"strings"
)

// DomainViews is a ViewMapper for unified accounts (CommuniGate Pro's
// "Unified Domain-Wide Account"): each key is a domain (lower case), each
// value the account that receives all of its mail. NAME@DOMAIN then opens
// that account's mailbox showing only NAME's messages; the account's own
// name as NAME shows everything.
type DomainViews map[string]string

// MapView implements ViewMapper.
func (v DomainViews) MapView(local, domain string) (string, string, bool) {
	acct, ok := v[strings.ToLower(domain)]
	if !ok || local == "" {
		return "", "", false
	}
	if strings.EqualFold(local, acct) {
		return acct, "", true
	}
	return acct, local, true
}

// NewView returns md showing only the messages keep (0-based indexes of
// md, ascending), numbered from 1 in that order, with their own sizes and
// UIDs; Commit maps the session's work back to md's messages.
func NewView(md Maildrop, keep []int) Maildrop {
	all := listOf(md)
	infos := make([]MessageInfo, len(keep))
	for i, k := range keep {
		infos[i] = all.info(k)
	}
	return &viewDrop{md: md, keep: keep, infos: infos}
}

type viewDrop struct {
	md    Maildrop
	keep  []int
	infos []MessageInfo
}

func (v *viewDrop) Messages() []MessageInfo { return v.infos }

func (v *viewDrop) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	return v.md.Open(ctx, v.keep[i])
}

func (v *viewDrop) Commit(ctx context.Context, u Update) (CommitResult, error) {
	mapIdx := func(in []int) []int {
		out := make([]int, len(in))
		for j, i := range in {
			out[j] = v.keep[i]
		}
		return out
	}
	res, err := v.md.Commit(ctx, Update{Deleted: mapIdx(u.Deleted), Retrieved: mapIdx(u.Retrieved)})
	res.Left = len(v.keep) - res.Deleted - res.Moved // of the view
	return res, err
}

func (v *viewDrop) Close() error { return v.md.Close() }

// ListsName reports whether a header field value (such as X-Real-To:
// "abcdef, xyz@client1.com") lists name: as a whole item, or as the local
// part of an address, case-insensitively.
func ListsName(value, name string) bool {
	for _, item := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ';' }) {
		item = strings.Trim(item, "<>\"")
		if at := strings.LastIndexByte(item, '@'); at > 0 {
			item = item[:at]
		}
		if strings.EqualFold(item, name) {
			return true
		}
	}
	return false
}
