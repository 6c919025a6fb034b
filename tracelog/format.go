package tracelog

import (
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Formatter returns the formatter for TCPIP$POP_LOG_FORMAT: "TEXT" (also
// the empty string) or "JSON", in any case. Both write RFC 3339 timestamps
// with nanoseconds, which Main reads back.
func Formatter(format string) (logrus.Formatter, error) {
	switch strings.ToUpper(strings.TrimSpace(format)) {
	case "", "TEXT":
		return &logrus.TextFormatter{
			FullTimestamp:    true,
			TimestampFormat:  time.RFC3339Nano,
			DisableColors:    true,
			QuoteEmptyFields: true,
		}, nil
	case "JSON":
		return &logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano}, nil
	default:
		return nil, fmt.Errorf("vmspop: unknown log format %q (want TEXT or JSON)", format)
	}
}

// Entry is one log entry as read back.
type Entry struct {
	Time   time.Time // zero when the line had no (valid) time
	Level  logrus.Level
	Msg    string
	Fields map[string]string // every other key, values as text
}

// ParseLine parses one log line written by Formatter (text or JSON).
func ParseLine(line []byte) (Entry, bool) {
	e, ok := parseLogLine(line)
	return Entry{Time: e.time, Level: e.level, Msg: e.msg, Fields: e.fields}, ok
}
