package gateway

// The log contract: the field names and messages of the entries a session
// logs, which log readers (package tracelog, an operator's searches) rely
// on. Every entry of a session carries FieldSession and FieldRemote, and
// FieldUser once known.
const (
	FieldSession    = "session"     // the session id: 12 lower-case hex digits
	FieldRemote     = "remote"      // the client's address, host:port
	FieldUser       = "user"        // the user name (canonical after login)
	FieldEnd        = "end"         // MsgSessionEnd: why the session ended (the End constants)
	FieldDurationMS = "duration_ms" // MsgSessionEnd: session length in milliseconds
	FieldListed     = "listed"      // MsgSessionEnd: messages listed
	FieldRetrieved  = "retrieved"   // MsgSessionEnd: messages retrieved
	FieldDeleted    = "deleted"     // MsgSessionEnd: messages deleted at UPDATE
	FieldMoved      = "moved"       // MsgSessionEnd: messages moved to MAIL at UPDATE
	FieldOctets     = "octets"      // MsgSessionEnd: message octets sent

	MsgSessionEnd  = "session end"  // the last entry of a session, with the counters
	MsgLoginFailed = "login failed" // a failed authorization, with "method" and "reason"
)

// The values of FieldEnd.
const (
	EndQuit          = "QUIT"
	EndIdle          = "idle timeout"
	EndGone          = "client gone"
	EndTwoFailures   = "two failed logins"
	EndShutdown      = "server shutdown"
	EndTooManyErrors = "too many errors"
	EndBlocked       = "blocked client"
	EndError         = "error"
	EndTooManySess   = "too many sessions"
)
