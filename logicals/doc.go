// # Logical names
//
// Every name below is read as TCPIP$POP_<NAME> (the VMS spelling, also the
// only one a startup file may use) or TCPIP_POP_<NAME> (for shells that
// cannot export a "$"). Values of enumerated names are not case sensitive.
// Origin "Table 15-2" is a name of the OpenVMS TCP/IP Services POP server
// (Table 15-2 of its management guide); "vmspop" is a name of our own.
//
//	Name                   Default                Values                                            Origin
//	SECURITY               FRIENDLY               FRIENDLY | SECURE                                 Table 15-2
//	TRACE                  undefined (false)      boolean (see below)                               Table 15-2
//	LOG_LEVEL              INFORMATIONAL          ERROR | INFORMATIONAL (or INFO) | THREAD | DEBUG  Table 15-2
//	POSTMASTER             none                   user names, comma/space separated,                Table 15-2
//	                                              each [A-Za-z0-9_$-]{1,31}, stored upper case
//	MESSAGE_MAXIMUM        0 (no limit)           0 to 65535 messages per connection                Table 15-2
//	LINK_IDLE_TIMEOUT      "0 00:10:00.00"        OpenVMS delta time "dddd hh:mm:ss.cc";            Table 15-2
//	                                              0 = no timeout (warned); under 10 min warned
//	PERSONAL_NAME          undefined (false)      boolean                                           Table 15-2
//	LEAVE_IN_NEWMAIL       undefined (false)      boolean                                           Table 15-2
//	IGNORE_MAIL11_HEADERS  undefined (false)      boolean                                           Table 15-2
//	SEND_ID_HEADERS        undefined (false)      boolean                                           Table 15-2
//	DECNET_REWRITE         TRANSFORM              GENERIC | NONE | TRANSFORM                        Table 15-2
//	QUOTED_DECNET_REWRITE  TRANSFORM              GENERIC | NONE | TRANSFORM                        Table 15-2
//	SNDBUF                 undefined (system)     bytes, 512 or greater                             Table 15-2
//	DISUSERPASS            undefined (false)      boolean: refuse USER and PASS                     Table 15-2
//	PURGE_RECLAIM          undefined (false)      boolean                                           Table 15-2
//	USE_MAIL_FOLDER        undefined (false)      boolean: serve MAIL instead of NEWMAIL            vmspop
//	FAST_SCAN              undefined (false)      boolean                                           vmspop
//	MAXIMUM_THREADS        1000                   1 to 100000 concurrent sessions                   vmspop
//	LISTEN                 ":110"                 host:port, numeric port                           vmspop
//	TLS_LISTEN             none                   host:port for implicit TLS (needs CERT, KEY)      vmspop
//	CERT                   none                   PEM certificate file (with KEY, or neither)       vmspop
//	KEY                    none                   PEM private key file (with CERT, or neither)      vmspop
//	TLS_TICKET_KEYS        none (keys in memory)  session ticket key file shared by instances       vmspop
//	AUTH_METHODS           USER,APOP,PLAIN        USER APOP PLAIN CRAM-MD5 LOGIN EXTERNAL; ALL; "-" vmspop
//	AUTH_TLS_ONLY          "-" (none)             as AUTH_METHODS: methods offered only under TLS   vmspop
//	EXPIRE                 none (not advertised)  NEVER or 0 to 9999 days (RFC 2449 CAPA EXPIRE)    vmspop
//	LOGIN_DELAY            0                      0 to 86400 seconds (RFC 2449 CAPA LOGIN-DELAY)    vmspop
//	BUSY_POLL              50                     0 to 1000 microseconds (0 = off), see below       vmspop
//	LMTP_LISTEN            none (no LMTP)         Unix socket paths and/or host:port, commas        vmspop
//	LMTP_MAXIMUM_SIZE      67108864               1024 to 2^40 octets (LMTP SIZE limit)             vmspop
//	PROXY_TRUSTED          none                   networks that must send a PROXY v1/v2 header      vmspop
//	GREETING               (built in)             greeting text (docs/extensions.md)                vmspop
//	SMTP_RELAY             "" (XTND XMIT off)     host:port of the relay XTND XMIT submits to       vmspop
//	CLIENT_CA              "" (no EXTERNAL)       PEM CAs of TLS client certs for SASL EXTERNAL     vmspop
//	UNIFIED_DOMAINS        none                   domain=ACCOUNT list: unified-account views        vmspop
//	VIEW_FIELD             X-Real-To              header field a unified-account view matches       vmspop
//	RPOP_PROCESSES         0 (no poller in serve) 0 to 1000 remote POP polls at once (docs/rpop.md) vmspop
//	RPOP_FILE              <UAF dir>/rpop         the RPOP records file (secrets: mode 0600)        vmspop
//	RPOP_DELAY_FAILED_HOSTS  0 00:10:00           delta time: unreachable host not polled for       vmspop
//	RPOP_DELAY_FAILED_ACCOUNTS  0 00:30:00        delta time: failed record not polled for          vmspop
//	RPOP_MINIMUM_PERIOD    0 00:10:00             delta time: shortest period of user-set records   vmspop
//	RPOP_MAXIMUM_ACCOUNTS  5                      user-set records polled per user (0 = no limit)   vmspop
//	RPOP_USE_APOP          TRUE                   0/FALSE/NO/OFF: never APOP, whatever the record   vmspop
//	RPOP_ALLOW_SELF_POLL   undefined              defined: poll remotes that are our own listeners  vmspop
//	RPOP_SOURCE_ADDRESS    none (the OS picks)    local IP address polls connect from               vmspop
//	RPOP_TIMEOUT           0 00:02:00             delta time: remote silent this long fails a poll  vmspop
//	RPOP_MESSAGE_SIZE_LIMIT  104857600            octets; larger messages stay on the remote        vmspop
//	SPOOL                  /var/spool/vmspop      directory of <USER>/NEWMAIL, MAIL, WASTEBASKET    vmspop
//	UAF                    /etc/vmspop/uaf        accounts file                                     vmspop
//	HOSTNAME               none (os.Hostname)     a host name                                       vmspop
//	SUBSTITUTE_DOMAIN      none                   a host name (SMTP substitute domain)              vmspop
//	LOCAL_NAMES            none                   names, comma/space separated                      vmspop
//	DECNET_NODES           none                   file of "NODE host.name" lines                    vmspop
//	LOG                    none (stderr)          log file                                          vmspop
//	LOG_FORMAT             TEXT                   TEXT | JSON                                       vmspop
//	STARTUP                none                   DCL startup file read before the environment      vmspop
//	USER                   none (spool's owner)   account (or uid) serve and the tools run as       vmspop
//	GROUP                  none (USER's group)    group (or gid) of that account                    vmspop
//	AUTH_PENALTY           15                     0 to 3600 s: longest wait after failed logins     vmspop
//	AUTH_CACHE_TTL         300                    0 (off) to 86400 s a verified password is cached  vmspop
//	MAXIMUM_PER_ADDRESS    100                    0 (no limit) to 100000 sessions per address       vmspop
//	LOGIN_TIMEOUT          60                     1 to 86400 s from connect to login                vmspop
//	TLS_HANDSHAKE_TIMEOUT  30                     1 to 3600 s for a TLS handshake                   vmspop
//	METRICS_LISTEN         none                   host:port of /metrics, /healthz, status page      vmspop
//	ADMIN_SOCKET           none                   Unix socket path for vmspop who and kick          vmspop
//
// AUTH_TLS_ONLY undefined with CERT defined means USER, PLAIN, LOGIN: plaintext
// passwords only under TLS (docs/defence.md); "-" allows them in clear.
//
// A boolean ("if defined") name is true when it is defined with any value,
// even an empty one, except 0, FALSE, NO, N and OFF in any case, which make
// it false. VMS only asked whether the name was defined; the false words
// are a vmspop convenience, so that TCPIP_POP_TRACE=0 does what it says.
//
// LINK_IDLE_TIMEOUT: VMS sets no idle timeout when the name is undefined;
// vmspop instead uses RFC 1939's ten minutes (DefaultLinkIdleTimeout).
// Defining it as "0 00:00:00.00" gives no timeout, with a warning.
//
// BUSY_POLL: after a RETR, TOP or DELE a session watches its socket this
// many microseconds for the client's next command before it sleeps, which
// saves a wake-up per message for clients on the same host or a fast LAN.
// It uses a CPU only while few sessions are fetching and none has a command
// in hand (gateway/busypoll.go).
//
// USER, GROUP: the spool owner account. Started as root, serve opens its
// listeners and then runs as this account for good; deliver, import and
// folders run as it too. Undefined, it is the owner of the SPOOL directory
// (docs/service.md).
//
// A bad value is never replaced by its default: Load fails and names every
// bad value, its logical name, and what is allowed.
package logicals
