// Package rewrite rebuilds the RFC 822 header of a message kept in an
// OpenVMS-style MAIL-11 spool, the way the OpenVMS TCP/IP Services POP server
// (TCPIP$POP) does before it sends the message to a POP3 client (section
// 15.1.6 of the management guide).
//
// A stored message starts with the MAIL-11 header lines that VMS MAIL's
// EXTRACT writes (From:, To:, CC:, Subj:, a TAB after each colon). The
// package parses them (mail11.Parse), rebuilds the From: address
// (Settings.RewriteFrom, section 15.1.6.1 and the logical names
// TCPIP$POP_DECNET_REWRITE, TCPIP$POP_QUOTED_DECNET_REWRITE and
// TCPIP$POP_PERSONAL_NAME) and writes the header block sent in its place
// (Settings.AppendHeader, with X-POP3-Server and X-POP3-ID as
// TCPIP$POP_SEND_ID_HEADERS asks).
//
// Standards: RFC 5322 (header syntax, addr-spec quoting, line length, folding),
// RFC 2047 (encoded words for 8-bit text), RFC 2045 (MIME-Version,
// Content-Type, Content-Transfer-Encoding for 8-bit bodies), RFC 1939 §7 (UIDL
// unique-ids: 0x21-0x7E, at most 70 octets).
//
// All functions are pure: no I/O, no logging, no global state. A rule that
// had to fall back is reported to the caller as a note, to be logged there.
package rewrite
