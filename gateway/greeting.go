package gateway

import (
	"fmt"
	"strconv"
)

// maxReplyLine is the longest response line before its CRLF: RFC 2449 §4
// limits a response to 512 octets, CRLF included.
const maxReplyLine = 512 - 2

// maxStampHost bounds the host name part of an APOP timestamp (a DNS name
// is at most 253 octets; a Server.Hostname or os.Hostname could be longer).
const maxStampHost = 253

// greeting returns the greeting line and its APOP timestamp (RFC 1939 §7,
// a msg-id: <pid.seq.clock@host>). The line stays within maxReplyLine
// whatever the host name, version and address: the host name leaves the
// brackets first (it is in the timestamp too), then the version is cut.
// A text (TCPIP$POP_GREETING, Extensions.Greeting) replaces everything
// between "+OK " and the timestamp; control characters become spaces and
// it is cut to fit.
func greeting(text, version, host, ip string, pid int, seq uint64, unix int64) (line, timestamp string) {
	stampHost := host
	if len(stampHost) > maxStampHost {
		stampHost = stampHost[:maxStampHost]
	}
	timestamp = "<" + strconv.Itoa(pid) + "." + strconv.FormatUint(seq, 10) + "." + strconv.FormatInt(unix, 10) + "@" + stampHost + ">"
	if text = sanitizeLine(text, maxReplyLine-len("+OK  ")-len(timestamp)); text != "" {
		return "+OK " + text + " " + timestamp, timestamp
	}
	if len(ip) > 64 {
		ip = ip[:64]
	}
	line = fmt.Sprintf("+OK POP server ready %s [%s, %s] %s", version, host, ip, timestamp)
	if len(line) <= maxReplyLine {
		return line, timestamp
	}
	line = fmt.Sprintf("+OK POP server ready %s [%s] %s", version, ip, timestamp)
	if over := len(line) - maxReplyLine; over > 0 {
		version = version[:max(len(version)-over, 0)]
		line = fmt.Sprintf("+OK POP server ready %s [%s] %s", version, ip, timestamp)
	}
	return line, timestamp
}
