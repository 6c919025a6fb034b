// Package rpop collects mail from remote POP3 accounts (RFC 1939; STLS per
// RFC 2595, implicit TLS per RFC 8314; APOP per RFC 1939 §7; UIDL per
// RFC 1939 §7) into local users' NEWMAIL, as the CommuniGate Pro RPOP
// module does: per-user records, and Unified Domain-Wide records whose
// messages are distributed to their recipients.
//
// The package imports no storage package. It hands each fetched message to
// a Sink, which appends it crash-safely to each user's NEWMAIL, and asks the
// Sink which keys it already holds when it recovers from a crash (see
// docs/rpop.md for the exactly-once argument).
//
// Records live in a JSON file (mode 0600, written atomically); each
// record's poll state (UIDLs seen with Leave, delivery intents, the last
// status) lives in an append-only log in a directory next to it.
package rpop
