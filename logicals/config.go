// Package logicals turns the TCPIP$POP_* logical names of the OpenVMS
// TCP/IP Services POP server (Table 15-2 of the management guide) into one
// typed, validated configuration.
//
// A name is read from, in increasing order of precedence: the defaults, an
// optional DCL startup file (TCPIP$POP_SYSTARTUP.COM style), and the process
// environment, where it may be spelt TCPIP$POP_<NAME> or TCPIP_POP_<NAME>.
package logicals

import (
	"net/netip"
	"time"

	"github.com/vmspop/vmspop/rewrite"
)

// Mode is rewrite.Mode: how an address form in a MAIL-11 From: field is
// rebuilt (TCPIP$POP_DECNET_REWRITE, TCPIP$POP_QUOTED_DECNET_REWRITE).
// The logicals table maps the names GENERIC, NONE and TRANSFORM to it.
type Mode = rewrite.Mode

// The values of a rewrite logical.
const (
	Transform = rewrite.Transform // translate to an SMTP address (the default)
	Generic   = rewrite.Generic   // quote the whole address at the local domain
	None      = rewrite.None      // send unchanged
)

// Security is the value of TCPIP$POP_SECURITY.
type Security int

// The values of TCPIP$POP_SECURITY.
const (
	Friendly Security = iota // each failure says what is wrong (the default)
	Secure                   // one answer for every failure
)

// LogLevel is the value of TCPIP$POP_LOG_LEVEL.
type LogLevel int

// The values of TCPIP$POP_LOG_LEVEL, least verbose first.
const (
	LogError         LogLevel = iota // errors only
	LogInformational                 // connections, logins, session summaries (the default)
	LogThread                        // every command and response
	LogDebug                         // full diagnostics
)

// Source says where a setting came from.
type Source int

// The sources of a setting.
const (
	FromDefault Source = iota
	FromFile
	FromEnvironment
	FromCommandLine // the startup file named by Load's argument
)

// DefaultMaximumThreads is the default of TCPIP$POP_MAXIMUM_THREADS: the
// number of POP sessions served at once. A session costs a goroutine and a few
// KiB, so the limit guards file descriptors rather than memory.
const DefaultMaximumThreads = 1000

// DefaultLinkIdleTimeout is used when TCPIP$POP_LINK_IDLE_TIMEOUT is not
// defined: RFC 1939 §3 asks for an autologout timer of at least ten minutes.
const DefaultLinkIdleTimeout = 10 * time.Minute

// DefaultBusyPoll is the default of TCPIP$POP_BUSY_POLL, in microseconds:
// long enough for a client on the same host to send its next RETR (nine
// in ten arrive within 45 µs on loopback), short enough to cost little
// when it does not.
const DefaultBusyPoll = 50

// Defaults of the defence logicals (docs/defence.md).
const (
	DefaultAuthPenalty         = 15  // seconds
	DefaultAuthCacheTTL        = 300 // seconds
	DefaultMaximumPerAddress   = 100 // sessions
	DefaultLoginTimeout        = 60  // seconds
	DefaultTLSHandshakeTimeout = 30  // seconds
)

// Config is the effective configuration of the server. The zero value is
// not useful; use Default or Load.
type Config struct {
	// Names that VMS configured elsewhere (TCPIP$POP_ prefix, our own).
	Listen           string   // LISTEN: address of the plain POP3 listener, default ":110"
	Spool            string   // SPOOL: directory holding <USER>/NEWMAIL, MAIL, WASTEBASKET
	UAF              string   // UAF: the accounts file
	Hostname         string   // HOSTNAME: local host name; "" means os.Hostname()
	SubstituteDomain string   // SUBSTITUTE_DOMAIN: SMTP substitute domain, may be ""
	LocalNames       []string // LOCAL_NAMES: other node/host names that count as this host
	DECnetNodes      string   // DECNET_NODES: file of "NODE host.name" lines, may be ""
	Log              string   // LOG: log file; "" means standard error
	LogFormat        string   // LOG_FORMAT: "TEXT" (default) or "JSON"
	Startup          string   // STARTUP: DCL startup file read before the environment
	User             string   // USER: the spool owner account serve and the tools run as; "" = the spool's owner
	Group            string   // GROUP: its group; "" = the account's primary group

	// TLS and SASL (RFC 2595, 8314, 5034).
	TLSListen   string   // TLS_LISTEN: implicit-TLS listener address, "" = none
	Cert        string   // CERT: PEM certificate file, "" = no TLS
	Key         string   // KEY: PEM private key file
	TicketKeys  string   // TLS_TICKET_KEYS: session ticket key file shared by instances, "" = keys in memory
	AuthMethods []string // AUTH_METHODS: allowed login methods (USER, APOP, PLAIN, CRAM-MD5); default USER, APOP, PLAIN (CRAM-MD5 is opt-in: clients pick it first and fail for users without a secret)
	AuthTLSOnly []string // AUTH_TLS_ONLY: methods allowed only under TLS; default none
	Expire      string   // EXPIRE: CAPA EXPIRE value ("NEVER", or days); "" = not advertised
	LoginDelay  int      // LOGIN_DELAY: seconds advertised (and enforced) between logins; 0 = none

	// CommuniGate Pro / Mailismus extensions (docs/extensions.md).
	Greeting       string            // GREETING: greeting text between +OK and the APOP timestamp; "" = default
	SMTPRelay      string            // SMTP_RELAY: host:port XTND XMIT submits through; "" = XTND XMIT off
	ClientCA       string            // CLIENT_CA: PEM file of CAs for TLS client certificates (SASL EXTERNAL); "" = none
	UnifiedDomains map[string]string // UNIFIED_DOMAINS: domain (lower case) -> unified account; nil = none
	ViewField      string            // VIEW_FIELD: header field of unified-account views; "" = X-Real-To

	// Table 15-2.
	Security            Security
	Trace               bool          // TRACE defined
	LogLevel            LogLevel      // LOG_LEVEL
	Postmaster          []string      // POSTMASTER: user names, upper case
	MessageMaximum      int           // MESSAGE_MAXIMUM: 0 = no limit, at most 65535
	LinkIdleTimeout     time.Duration // LINK_IDLE_TIMEOUT; DefaultLinkIdleTimeout when undefined
	PersonalName        bool          // PERSONAL_NAME defined
	LeaveInNewmail      bool          // LEAVE_IN_NEWMAIL defined
	IgnoreMail11Headers bool          // IGNORE_MAIL11_HEADERS defined
	SendIDHeaders       bool          // SEND_ID_HEADERS defined
	DECnetRewrite       Mode          // DECNET_REWRITE
	QuotedDECnetRewrite Mode          // QUOTED_DECNET_REWRITE
	SndBuf              int           // SNDBUF: SO_SNDBUF in bytes, 0 = system default, else >= 512
	DisUserPass         bool          // DISUSERPASS defined
	PurgeReclaim        bool          // PURGE_RECLAIM defined
	UseMailFolder       bool          // USE_MAIL_FOLDER defined: serve MAIL instead of NEWMAIL
	FastScan            bool          // FAST_SCAN defined
	MaximumThreads      int           // MAXIMUM_THREADS: concurrent sessions, DefaultMaximumThreads
	BusyPoll            int           // BUSY_POLL: microseconds a fetching session watches for the next command; 0 = never
	RPOP                RPOP          // RPOP_*: the remote POP poller (rpop.go)

	// Defence and observation (docs/defence.md).
	AuthPenalty         int    // AUTH_PENALTY: longest login penalty in seconds, 0 = none; DefaultAuthPenalty
	AuthCacheTTL        int    // AUTH_CACHE_TTL: seconds a verified password is remembered, 0 = never; DefaultAuthCacheTTL
	MaximumPerAddress   int    // MAXIMUM_PER_ADDRESS: sessions at once from one address (IPv6: /64), 0 = no limit
	LoginTimeout        int    // LOGIN_TIMEOUT: seconds from connect to login; DefaultLoginTimeout
	TLSHandshakeTimeout int    // TLS_HANDSHAKE_TIMEOUT: seconds; DefaultTLSHandshakeTimeout
	MetricsListen       string // METRICS_LISTEN: host:port of /metrics, /healthz and the status page, "" = off
	AdminSocket         string // ADMIN_SOCKET: Unix socket for vmspop who/kick, "" = none

	// LMTP delivery and PROXY protocol (logicals/lmtp.go).
	LMTPListen      []string       // LMTP_LISTEN: Unix socket paths and host:port addresses; none = no LMTP
	LMTPMaximumSize int64          // LMTP_MAXIMUM_SIZE: octets, default DefaultLMTPMaximumSize
	ProxyTrusted    []netip.Prefix // PROXY_TRUSTED: networks whose POP connections must start with a PROXY header

	// Sources records where each setting came from, by its full name
	// (e.g. "TCPIP$POP_SECURITY"). Names absent from the map are defaults.
	Sources map[string]Source
}

// Default returns the configuration used when no logical name is defined.
func Default() *Config {
	return &Config{
		Listen:          ":110",
		Spool:           "/var/spool/vmspop",
		UAF:             "/etc/vmspop/uaf",
		LogFormat:       "TEXT",
		TLSListen:       "",
		AuthMethods:     []string{"USER", "APOP", "PLAIN"},
		LogLevel:        LogInformational,
		LinkIdleTimeout: DefaultLinkIdleTimeout,
		MaximumThreads:  DefaultMaximumThreads,
		LMTPMaximumSize: DefaultLMTPMaximumSize,
		BusyPoll:        DefaultBusyPoll,

		AuthPenalty:         DefaultAuthPenalty,
		AuthCacheTTL:        DefaultAuthCacheTTL,
		MaximumPerAddress:   DefaultMaximumPerAddress,
		LoginTimeout:        DefaultLoginTimeout,
		TLSHandshakeTimeout: DefaultTLSHandshakeTimeout,
		RPOP:                defaultRPOP(),
		Sources:             map[string]Source{},
	}
}
