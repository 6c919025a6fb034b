package gateway

import (
	"errors"
	"fmt"
	"testing"
)

// TestResponse: every error a handler can return has a reply; an error
// the gateway does not know is [SYS/TEMP] with its detail kept for the
// log, never a silent close.
func TestResponse(t *testing.T) {
	own := &Error{Code: CodeAuth, Text: "no"}
	tests := []struct {
		err  error
		line string
	}{
		{own, "-ERR [AUTH] no"},
		{fmt.Errorf("wrapped: %w", own), "-ERR [AUTH] no"},
		{ErrInUse, "-ERR [IN-USE] maildrop is locked by another session"},
		{fmt.Errorf("maildrop: %w: spool: locked", ErrInUse), "-ERR [IN-USE] maildrop is locked by another session"},
		{errors.New("spool: /var/spool/x: permission denied"), "-ERR [SYS/TEMP] internal error"},
	}
	for _, tt := range tests {
		e := response(tt.err)
		if e.line() != tt.line {
			t.Errorf("response(%v) = %q; want %q", tt.err, e.line(), tt.line)
		}
		if e != own && !errors.Is(e.Err, tt.err) {
			t.Errorf("response(%v) lost the error for the log: Err = %v", tt.err, e.Err)
		}
	}
}
