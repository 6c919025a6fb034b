package logicals

import (
	"errors"
	"net"
	"strings"
	"time"
)

// RPOP is the configuration of the RPOP poller (the CommuniGate Pro RPOP
// module settings, as TCPIP$POP_RPOP_* names).
type RPOP struct {
	Processes           int           // RPOP_PROCESSES: polls at once; 0 = no poller in serve
	File                string        // RPOP_FILE: the records file; "" = "rpop" next to the accounts file
	DelayFailedHosts    time.Duration // RPOP_DELAY_FAILED_HOSTS
	DelayFailedAccounts time.Duration // RPOP_DELAY_FAILED_ACCOUNTS
	MinimumPeriod       time.Duration // RPOP_MINIMUM_PERIOD: for user-set records
	MaximumAccounts     int           // RPOP_MAXIMUM_ACCOUNTS: user-set records per user; 0 = no limit
	UseAPOP             bool          // RPOP_USE_APOP: module-wide; default true
	AllowSelfPoll       bool          // RPOP_ALLOW_SELF_POLL defined
	SourceAddress       string        // RPOP_SOURCE_ADDRESS: local IP to poll from; "" = the OS picks
	Timeout             time.Duration // RPOP_TIMEOUT: per command and read
	MessageSizeLimit    int           // RPOP_MESSAGE_SIZE_LIMIT: octets; larger messages stay on the remote
}

// defaultRPOP is the RPOP configuration when no name is defined.
func defaultRPOP() RPOP {
	return RPOP{
		DelayFailedHosts:    10 * time.Minute,
		DelayFailedAccounts: 30 * time.Minute,
		MinimumPeriod:       10 * time.Minute,
		MaximumAccounts:     5,
		UseAPOP:             true,
		Timeout:             2 * time.Minute,
		MessageSizeLimit:    100 << 20,
	}
}

// rpopEntries are the TCPIP$POP_RPOP_* names.
var rpopEntries = []entry{
	intEntry("RPOP_PROCESSES", "vmspop", 0, 1000, false, "must be a number from 0 to 1000",
		func(c *Config) *int { return &c.RPOP.Processes }),
	stringEntry("RPOP_FILE", false, func(c *Config) *string { return &c.RPOP.File }),
	deltaEntry("RPOP_DELAY_FAILED_HOSTS", func(c *Config) *time.Duration { return &c.RPOP.DelayFailedHosts }),
	deltaEntry("RPOP_DELAY_FAILED_ACCOUNTS", func(c *Config) *time.Duration { return &c.RPOP.DelayFailedAccounts }),
	deltaEntry("RPOP_MINIMUM_PERIOD", func(c *Config) *time.Duration { return &c.RPOP.MinimumPeriod }),
	intEntry("RPOP_MAXIMUM_ACCOUNTS", "vmspop", 0, 10000, false, "must be a number from 0 to 10000",
		func(c *Config) *int { return &c.RPOP.MaximumAccounts }),
	{name: "RPOP_USE_APOP", origin: "vmspop",
		parse: func(c *Config, v string) (string, error) { c.RPOP.UseAPOP = parseBool(v); return "", nil },
		show: func(c *Config) (string, bool) {
			if c.RPOP.UseAPOP {
				return "TRUE", true
			}
			return "FALSE", true
		}},
	boolEntry("RPOP_ALLOW_SELF_POLL", "vmspop", func(c *Config) *bool { return &c.RPOP.AllowSelfPoll }),
	{name: "RPOP_SOURCE_ADDRESS", origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			t := strings.TrimSpace(v)
			if t != "" && net.ParseIP(t) == nil {
				return "", errors.New("must be an IP address")
			}
			c.RPOP.SourceAddress = t
			return "", nil
		},
		show: func(c *Config) (string, bool) { return c.RPOP.SourceAddress, c.RPOP.SourceAddress != "" }},
	deltaEntry("RPOP_TIMEOUT", func(c *Config) *time.Duration { return &c.RPOP.Timeout }),
	intEntry("RPOP_MESSAGE_SIZE_LIMIT", "vmspop", 1024, int(^uint32(0)>>1), false, "must be a number of octets, 1024 or more",
		func(c *Config) *int { return &c.RPOP.MessageSizeLimit }),
}

func deltaEntry(name string, field func(*Config) *time.Duration) entry {
	return entry{
		name:   name,
		origin: "vmspop",
		parse: func(c *Config, v string) (string, error) {
			d, err := ParseDeltaTime(v)
			if err != nil {
				return "", err
			}
			*field(c) = d
			return "", nil
		},
		show: func(c *Config) (string, bool) { return FormatDeltaTime(*field(c)), true },
	}
}
