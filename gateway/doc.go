// Package gateway is the POP3 server of vmspop: the listener, the
// per-connection state machine, authorization and trace logging.
//
// It implements RFC 1939 (POP3: USER, PASS, APOP, STAT, LIST, RETR, DELE,
// NOOP, RSET, QUIT, TOP, UIDL), RFC 2449 (CAPA, RESP-CODES, PIPELINING,
// EXPIRE, LOGIN-DELAY, IMPLEMENTATION), RFC 3206 (the SYS and AUTH response
// codes), RFC 2595 (STLS), RFC 5034 (AUTH, SASL) with the PLAIN (RFC 4616)
// and CRAM-MD5 (RFC 2195) mechanisms, and implicit TLS (RFC 8314).
//
// Behaviour follows the OpenVMS TCP/IP Services POP server (TCPIP$POP):
// the greeting text, the FRIENDLY and SECURE authorization answers, two
// authorization attempts per connection, TCPIP$POP_DISUSERPASS,
// TCPIP$POP_MESSAGE_MAXIMUM and the blocked-connection back-off of 2, 4, 8,
// 16 and 32 seconds.
//
// The package owns no storage and imports no other package of vmspop: a
// Backend opens a user's Maildrop (a locked mailbox; package maildrop
// serves the spool) and an Authenticator checks credentials. Errors reach
// the wire through one function (response in errors.go): *Error as it is,
// ErrInUse as [IN-USE], anything else as [SYS/TEMP].
package gateway
