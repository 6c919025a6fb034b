package gateway

import (
	"errors"
)

// ErrInUse is returned, bare or wrapped, by Backend.OpenMaildrop when the
// maildrop is locked by another session. It is answered
// "-ERR [IN-USE] ..." (RFC 2449 §8.1.1).
var ErrInUse = errors.New("gateway: maildrop in use")

// Security selects how authorization failures are answered
// (TCPIP$POP_SECURITY).
type Security int

// The security modes.
const (
	// Friendly tells the client what is wrong with each failed
	// authorization (the default).
	Friendly Security = iota
	// Secure gives one answer for every failure, after a delay, and does
	// not reveal whether a user exists.
	Secure
)

// String returns the TCPIP$POP_SECURITY value of s.
func (s Security) String() string {
	if s == Secure {
		return "SECURE"
	}
	return "FRIENDLY"
}

// response maps any error a command handler returns to the reply sent
// for it. It is the only place where errors become wire responses:
//   - an *Error (or an error wrapping one) is sent as it is;
//   - ErrInUse is "-ERR [IN-USE] ...";
//   - any other error is "-ERR [SYS/TEMP] internal error", with the error
//     itself in the log only (no paths or settings on the wire).
//
// The caller has already ruled out errors of the connection itself (a
// failed write, or a failure in the middle of a multi-line response):
// those end the connection, since no reply can follow.
func response(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrInUse):
		return &Error{Code: CodeInUse, Text: "maildrop is locked by another session", Err: err}
	default:
		return &Error{Code: CodeSysTemp, Text: "internal error", Err: err}
	}
}
