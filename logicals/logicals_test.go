package logicals

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mapLookup turns a map into a lookup function for Load.
func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadGoodValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		want        func(c *Config)
	}{
		{"SECURITY", "SECURE", func(c *Config) { c.Security = Secure }},
		{"SECURITY", " friendly ", func(c *Config) { c.Security = Friendly }},
		{"TRACE", "", func(c *Config) { c.Trace = true }},
		{"TRACE", "TRUE", func(c *Config) { c.Trace = true }},
		{"TRACE", "anything", func(c *Config) { c.Trace = true }},
		{"TRACE", "0", func(c *Config) { c.Trace = false }},
		{"TRACE", "false", func(c *Config) { c.Trace = false }},
		{"TRACE", "No", func(c *Config) { c.Trace = false }},
		{"TRACE", "n", func(c *Config) { c.Trace = false }},
		{"TRACE", "OFF", func(c *Config) { c.Trace = false }},
		{"PERSONAL_NAME", "1", func(c *Config) { c.PersonalName = true }},
		{"LEAVE_IN_NEWMAIL", "YES", func(c *Config) { c.LeaveInNewmail = true }},
		{"IGNORE_MAIL11_HEADERS", "", func(c *Config) { c.IgnoreMail11Headers = true }},
		{"SEND_ID_HEADERS", "TRUE", func(c *Config) { c.SendIDHeaders = true }},
		{"DISUSERPASS", "TRUE", func(c *Config) { c.DisUserPass = true }},
		{"PURGE_RECLAIM", "ON", func(c *Config) { c.PurgeReclaim = true }},
		{"USE_MAIL_FOLDER", "TRUE", func(c *Config) { c.UseMailFolder = true }},
		{"FAST_SCAN", "TRUE", func(c *Config) { c.FastScan = true }},
		{"LOG_LEVEL", "ERROR", func(c *Config) { c.LogLevel = LogError }},
		{"LOG_LEVEL", "informational", func(c *Config) { c.LogLevel = LogInformational }},
		{"LOG_LEVEL", "Info", func(c *Config) { c.LogLevel = LogInformational }},
		{"LOG_LEVEL", "THREAD", func(c *Config) { c.LogLevel = LogThread }},
		{"LOG_LEVEL", "debug", func(c *Config) { c.LogLevel = LogDebug }},
		{"DECNET_REWRITE", "GENERIC", func(c *Config) { c.DECnetRewrite = Generic }},
		{"DECNET_REWRITE", "none", func(c *Config) { c.DECnetRewrite = None }},
		{"DECNET_REWRITE", "Transform", func(c *Config) { c.DECnetRewrite = Transform }},
		{"QUOTED_DECNET_REWRITE", "NONE", func(c *Config) { c.QuotedDECnetRewrite = None }},
		{"MESSAGE_MAXIMUM", "0", func(c *Config) { c.MessageMaximum = 0 }},
		{"MESSAGE_MAXIMUM", "65535", func(c *Config) { c.MessageMaximum = 65535 }},
		{"SNDBUF", "512", func(c *Config) { c.SndBuf = 512 }},
		{"SNDBUF", "1048576", func(c *Config) { c.SndBuf = 1048576 }},
		{"MAXIMUM_THREADS", "1", func(c *Config) { c.MaximumThreads = 1 }},
		{"MAXIMUM_THREADS", "100000", func(c *Config) { c.MaximumThreads = 100000 }},
		{"LOGIN_DELAY", "0", func(c *Config) { c.LoginDelay = 0 }},
		{"LOGIN_DELAY", "86400", func(c *Config) { c.LoginDelay = 86400 }},
		{"BUSY_POLL", "0", func(c *Config) { c.BusyPoll = 0 }},
		{"BUSY_POLL", "1000", func(c *Config) { c.BusyPoll = 1000 }},
		{"LINK_IDLE_TIMEOUT", `"0 00:20:00.00"`, func(c *Config) { c.LinkIdleTimeout = 20 * time.Minute }},
		{"LINK_IDLE_TIMEOUT", "1 ", func(c *Config) { c.LinkIdleTimeout = 24 * time.Hour }},
		{"EXPIRE", "never", func(c *Config) { c.Expire = "NEVER" }},
		{"EXPIRE", "0", func(c *Config) { c.Expire = "0" }},
		{"EXPIRE", "0031", func(c *Config) { c.Expire = "31" }},
		{"EXPIRE", "9999", func(c *Config) { c.Expire = "9999" }},
		{"POSTMASTER", "JONES, SMITH", func(c *Config) { c.Postmaster = []string{"JONES", "SMITH"} }},
		{"POSTMASTER", "jones smith,,$sys_mgr-2", func(c *Config) { c.Postmaster = []string{"JONES", "SMITH", "$SYS_MGR-2"} }},
		{"LOCAL_NAMES", "VAXA, vaxb.example.com  VAXC", func(c *Config) { c.LocalNames = []string{"VAXA", "vaxb.example.com", "VAXC"} }},
		{"AUTH_METHODS", "user apop", func(c *Config) { c.AuthMethods = []string{"USER", "APOP"} }},
		{"AUTH_METHODS", "CRAM-MD5,USER", func(c *Config) { c.AuthMethods = []string{"USER", "CRAM-MD5"} }},
		{"AUTH_METHODS", "ALL", func(c *Config) { c.AuthMethods = []string{"USER", "APOP", "PLAIN", "CRAM-MD5", "LOGIN", "EXTERNAL"} }},
		{"AUTH_METHODS", "login,external", func(c *Config) { c.AuthMethods = []string{"LOGIN", "EXTERNAL"} }},
		{"GREETING", " Welcome to the VAX ", func(c *Config) { c.Greeting = "Welcome to the VAX" }},
		{"SMTP_RELAY", "127.0.0.1:2525", func(c *Config) { c.SMTPRelay = "127.0.0.1:2525" }},
		{"CLIENT_CA", "/etc/vmspop/clients.pem", func(c *Config) { c.ClientCA = "/etc/vmspop/clients.pem" }},
		{"UNIFIED_DOMAINS", "Client1.com=cl1, client2.com = CL2", func(c *Config) { c.UnifiedDomains = map[string]string{"client1.com": "CL1", "client2.com": "CL2"} }},
		{"VIEW_FIELD", "X-Original-To", func(c *Config) { c.ViewField = "X-Original-To" }},
		{"AUTH_TLS_ONLY", "PLAIN, user", func(c *Config) { c.AuthTLSOnly = []string{"USER", "PLAIN"} }},
		{"AUTH_TLS_ONLY", "-", func(c *Config) { c.AuthTLSOnly = []string{} }},
		{"LOG_FORMAT", "json", func(c *Config) { c.LogFormat = "JSON" }},
		{"LOG_FORMAT", "TEXT", func(c *Config) { c.LogFormat = "TEXT" }},
		{"LISTEN", "0.0.0.0:1110", func(c *Config) { c.Listen = "0.0.0.0:1110" }},
		{"LISTEN", "[::1]:110", func(c *Config) { c.Listen = "[::1]:110" }},
		{"LISTEN", ":0", func(c *Config) { c.Listen = ":0" }},
		{"SPOOL", "/srv/mail spool", func(c *Config) { c.Spool = "/srv/mail spool" }},
		{"UAF", "/etc/uaf", func(c *Config) { c.UAF = "/etc/uaf" }},
		{"AUTH_PENALTY", "0", func(c *Config) { c.AuthPenalty = 0 }},
		{"AUTH_PENALTY", "60", func(c *Config) { c.AuthPenalty = 60 }},
		{"AUTH_CACHE_TTL", "0", func(c *Config) { c.AuthCacheTTL = 0 }},
		{"AUTH_CACHE_TTL", "3600", func(c *Config) { c.AuthCacheTTL = 3600 }},
		{"MAXIMUM_PER_ADDRESS", "0", func(c *Config) { c.MaximumPerAddress = 0 }},
		{"MAXIMUM_PER_ADDRESS", "5", func(c *Config) { c.MaximumPerAddress = 5 }},
		{"LOGIN_TIMEOUT", "20", func(c *Config) { c.LoginTimeout = 20 }},
		{"TLS_HANDSHAKE_TIMEOUT", "5", func(c *Config) { c.TLSHandshakeTimeout = 5 }},
		{"METRICS_LISTEN", "127.0.0.1:9110", func(c *Config) { c.MetricsListen = "127.0.0.1:9110" }},
		{"ADMIN_SOCKET", "/run/vmspop/admin", func(c *Config) { c.AdminSocket = "/run/vmspop/admin" }},
		{"HOSTNAME", "pop.example.com", func(c *Config) { c.Hostname = "pop.example.com" }},
		{"HOSTNAME", "VAXA", func(c *Config) { c.Hostname = "VAXA" }},
		{"SUBSTITUTE_DOMAIN", "example.com.", func(c *Config) { c.SubstituteDomain = "example.com." }},
		{"DECNET_NODES", "/etc/vmspop/nodes", func(c *Config) { c.DECnetNodes = "/etc/vmspop/nodes" }},
		{"LOG", "/var/log/vmspop.log", func(c *Config) { c.Log = "/var/log/vmspop.log" }},
		{"USER", "vmail", func(c *Config) { c.User = "vmail" }},
		{"USER", " 5000 ", func(c *Config) { c.User = "5000" }},
		{"GROUP", "mail", func(c *Config) { c.Group = "mail" }},
	}
	for _, tc := range tests {
		for _, p := range []string{prefix, altPrefix} {
			full := p + tc.name
			got, _, err := Load(mapLookup(map[string]string{full: tc.value}), "")
			if err != nil {
				t.Errorf("Load(%s=%q) error: %v", full, tc.value, err)
				continue
			}
			want := Default()
			tc.want(want)
			want.Sources = map[string]Source{prefix + tc.name: FromEnvironment}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load(%s=%q) =\n%+v\nwant\n%+v", full, tc.value, got, want)
			}
		}
	}
}

func TestLoadBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value, want string }{
		{"SECURITY", "PARANOID", `logicals: TCPIP$POP_SECURITY "PARANOID": must be FRIENDLY or SECURE`},
		{"SECURITY", "", `logicals: TCPIP$POP_SECURITY "": must be FRIENDLY or SECURE`},
		{"LOG_LEVEL", "WARN", `logicals: TCPIP$POP_LOG_LEVEL "WARN": must be ERROR, INFORMATIONAL, THREAD or DEBUG`},
		{"DECNET_REWRITE", "YES", `logicals: TCPIP$POP_DECNET_REWRITE "YES": must be GENERIC, NONE or TRANSFORM`},
		{"QUOTED_DECNET_REWRITE", "", `logicals: TCPIP$POP_QUOTED_DECNET_REWRITE "": must be GENERIC, NONE or TRANSFORM`},
		{"MESSAGE_MAXIMUM", "70000", `logicals: TCPIP$POP_MESSAGE_MAXIMUM "70000": must be a number from 0 to 65535`},
		{"MESSAGE_MAXIMUM", "-1", `logicals: TCPIP$POP_MESSAGE_MAXIMUM "-1": must be a number from 0 to 65535`},
		{"MESSAGE_MAXIMUM", "ten", `logicals: TCPIP$POP_MESSAGE_MAXIMUM "ten": must be a number from 0 to 65535`},
		{"MESSAGE_MAXIMUM", "99999999999999999999", `logicals: TCPIP$POP_MESSAGE_MAXIMUM "99999999999999999999": must be a number from 0 to 65535`},
		{"SNDBUF", "511", `logicals: TCPIP$POP_SNDBUF "511": must be a number 512 or greater`},
		{"SNDBUF", "0", `logicals: TCPIP$POP_SNDBUF "0": must be a number 512 or greater`},
		{"USER", "v mail", `logicals: TCPIP$POP_USER "v mail": must be an account name or a numeric id`},
		{"GROUP", "../x", `logicals: TCPIP$POP_GROUP "../x": must be an account name or a numeric id`},
		{"MAXIMUM_THREADS", "0", `logicals: TCPIP$POP_MAXIMUM_THREADS "0": must be a number from 1 to 100000`},
		{"MAXIMUM_THREADS", "100001", `logicals: TCPIP$POP_MAXIMUM_THREADS "100001": must be a number from 1 to 100000`},
		{"LOGIN_DELAY", "86401", `logicals: TCPIP$POP_LOGIN_DELAY "86401": must be a number of seconds from 0 to 86400`},
		{"BUSY_POLL", "1001", `logicals: TCPIP$POP_BUSY_POLL "1001": must be a number of microseconds from 0 to 1000`},
		{"BUSY_POLL", "-1", `logicals: TCPIP$POP_BUSY_POLL "-1": must be a number of microseconds from 0 to 1000`},
		{"LINK_IDLE_TIMEOUT", "0 24:00:00", `logicals: TCPIP$POP_LINK_IDLE_TIMEOUT "0 24:00:00": ` + errDeltaTime.Error()},
		{"LINK_IDLE_TIMEOUT", "ten minutes", `logicals: TCPIP$POP_LINK_IDLE_TIMEOUT "ten minutes": ` + errDeltaTime.Error()},
		{"EXPIRE", "10000", `logicals: TCPIP$POP_EXPIRE "10000": must be NEVER or a number of days from 0 to 9999`},
		{"EXPIRE", "USER", `logicals: TCPIP$POP_EXPIRE "USER": must be NEVER or a number of days from 0 to 9999`},
		{"POSTMASTER", "", `logicals: TCPIP$POP_POSTMASTER "": must be one or more user names of 1 to 31 letters, digits, _, $ or -, separated by commas or spaces`},
		{"POSTMASTER", "JONES, SMITH@HOST", `logicals: TCPIP$POP_POSTMASTER "JONES, SMITH@HOST": "SMITH@HOST" is not a user name: must be one or more user names of 1 to 31 letters, digits, _, $ or -, separated by commas or spaces`},
		{"POSTMASTER", strings.Repeat("A", 32), `logicals: TCPIP$POP_POSTMASTER "` + strings.Repeat("A", 32) + `": "` + strings.Repeat("A", 32) + `" is not a user name: must be one or more user names of 1 to 31 letters, digits, _, $ or -, separated by commas or spaces`},
		{"LOCAL_NAMES", " , ", `logicals: TCPIP$POP_LOCAL_NAMES " , ": must be one or more names separated by commas or spaces`},
		{"AUTH_METHODS", "USER,NTLM", `logicals: TCPIP$POP_AUTH_METHODS "USER,NTLM": unknown method "NTLM": must be ALL, - (none), or a list of USER, APOP, PLAIN, CRAM-MD5, LOGIN or EXTERNAL`},
		{"GREETING", "a\tb", `logicals: TCPIP$POP_GREETING "a\tb": must be printable ASCII text`},
		{"UNIFIED_DOMAINS", "client1.com", `logicals: TCPIP$POP_UNIFIED_DOMAINS "client1.com": must be a list of domain=ACCOUNT (e.g. "client1.com=CL1, client2.com=CL2")`},
		{"VIEW_FIELD", "X Real", `logicals: TCPIP$POP_VIEW_FIELD "X Real": must be a header field name (e.g. X-Real-To)`},
		{"SMTP_RELAY", ":25", `logicals: TCPIP$POP_SMTP_RELAY ":25": must be host:port of an SMTP relay (e.g. "smtp.example.com:587", "127.0.0.1:25")`},
		{"AUTH_METHODS", "", `logicals: TCPIP$POP_AUTH_METHODS "": must be ALL, - (none), or a list of USER, APOP, PLAIN, CRAM-MD5, LOGIN or EXTERNAL`},
		{"AUTH_METHODS", "-", `logicals: TCPIP$POP_AUTH_METHODS "": no login method left`},
		{"AUTH_TLS_ONLY", "-,USER", `logicals: TCPIP$POP_AUTH_TLS_ONLY "-,USER": unknown method "-": must be ALL, - (none), or a list of USER, APOP, PLAIN, CRAM-MD5, LOGIN or EXTERNAL`},
		{"LOG_FORMAT", "XML", `logicals: TCPIP$POP_LOG_FORMAT "XML": must be TEXT or JSON`},
		{"AUTH_PENALTY", "3601", `logicals: TCPIP$POP_AUTH_PENALTY "3601": must be a number of seconds from 0 to 3600`},
		{"AUTH_CACHE_TTL", "-1", `logicals: TCPIP$POP_AUTH_CACHE_TTL "-1": must be a number of seconds from 0 (no cache) to 86400`},
		{"AUTH_CACHE_TTL", "86401", `logicals: TCPIP$POP_AUTH_CACHE_TTL "86401": must be a number of seconds from 0 (no cache) to 86400`},
		{"MAXIMUM_PER_ADDRESS", "-1", `logicals: TCPIP$POP_MAXIMUM_PER_ADDRESS "-1": must be a number from 0 (no limit) to 100000`},
		{"LOGIN_TIMEOUT", "0", `logicals: TCPIP$POP_LOGIN_TIMEOUT "0": must be a number of seconds from 1 to 86400`},
		{"TLS_HANDSHAKE_TIMEOUT", "0", `logicals: TCPIP$POP_TLS_HANDSHAKE_TIMEOUT "0": must be a number of seconds from 1 to 3600`},
		{"METRICS_LISTEN", "9110", `logicals: TCPIP$POP_METRICS_LISTEN "9110": ` + errAddr.Error()},
		{"LISTEN", "110", `logicals: TCPIP$POP_LISTEN "110": ` + errAddr.Error()},
		{"LISTEN", ":pop3", `logicals: TCPIP$POP_LISTEN ":pop3": ` + errAddr.Error()},
		{"LISTEN", ":65536", `logicals: TCPIP$POP_LISTEN ":65536": ` + errAddr.Error()},
		{"TLS_LISTEN", "", `logicals: TCPIP$POP_TLS_LISTEN "": ` + errAddr.Error()},
		{"TLS_LISTEN", ":995", `logicals: TCPIP$POP_TLS_LISTEN ":995": needs TCPIP$POP_CERT and TCPIP$POP_KEY`},
		{"SPOOL", "", `logicals: TCPIP$POP_SPOOL "": must not be empty`},
		{"UAF", " ", `logicals: TCPIP$POP_UAF " ": must not be empty`},
		{"HOSTNAME", "", `logicals: TCPIP$POP_HOSTNAME "": must be a host name (letters, digits and hyphens, in dot-separated labels)`},
		{"HOSTNAME", "pop_1.example.com", `logicals: TCPIP$POP_HOSTNAME "pop_1.example.com": must be a host name (letters, digits and hyphens, in dot-separated labels)`},
		{"SUBSTITUTE_DOMAIN", "-bad.example", `logicals: TCPIP$POP_SUBSTITUTE_DOMAIN "-bad.example": must be a host name (letters, digits and hyphens, in dot-separated labels)`},
		{"SUBSTITUTE_DOMAIN", "a..b", `logicals: TCPIP$POP_SUBSTITUTE_DOMAIN "a..b": must be a host name (letters, digits and hyphens, in dot-separated labels)`},
		{"CERT", "/etc/cert.pem", `logicals: TCPIP$POP_CERT "/etc/cert.pem" and TCPIP$POP_KEY "": define both or neither`},
		{"KEY", "/etc/key.pem", `logicals: TCPIP$POP_CERT "" and TCPIP$POP_KEY "/etc/key.pem": define both or neither`},
	}
	for _, tc := range tests {
		full := prefix + tc.name
		got, _, err := Load(mapLookup(map[string]string{full: tc.value}), "")
		if err == nil {
			t.Errorf("Load(%s=%q) = %+v, nil; want error %q", full, tc.value, got, tc.want)
			continue
		}
		if got != nil {
			t.Errorf("Load(%s=%q) returned a Config with error %v", full, tc.value, err)
		}
		if err.Error() != tc.want {
			t.Errorf("Load(%s=%q) error\n got %q\nwant %q", full, tc.value, err.Error(), tc.want)
		}
	}
}

func TestLoadDisUserPassLeavesNoMethod(t *testing.T) {
	t.Parallel()
	_, _, err := Load(mapLookup(map[string]string{
		"TCPIP$POP_DISUSERPASS":  "",
		"TCPIP$POP_AUTH_METHODS": "USER",
	}), "")
	want := `logicals: TCPIP$POP_AUTH_METHODS "USER": no login method left (TCPIP$POP_DISUSERPASS removes USER)`
	if err == nil || err.Error() != want {
		t.Fatalf("Load error = %v; want %q", err, want)
	}
}

func TestLoadCollectsAllErrors(t *testing.T) {
	t.Parallel()
	_, _, err := Load(mapLookup(map[string]string{
		"TCPIP$POP_SECURITY":        "PARANOID",
		"TCPIP_POP_MESSAGE_MAXIMUM": "70000",
		"TCPIP$POP_LOG_LEVEL":       "LOUD",
		"TCPIP$POP_TRACE":           "TRUE", // good values do not hide bad ones
	}), "")
	if err == nil {
		t.Fatal("Load: no error for three bad values")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`logicals: TCPIP$POP_SECURITY "PARANOID": must be FRIENDLY or SECURE`,
		`logicals: TCPIP$POP_LOG_LEVEL "LOUD": must be ERROR, INFORMATIONAL, THREAD or DEBUG`,
		`logicals: TCPIP_POP_MESSAGE_MAXIMUM "70000": must be a number from 0 to 65535`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("Load error lines =\n%q\nwant\n%q", lines, want)
	}
}

func TestLoadSpellings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env     map[string]string
		want    Security
		wantErr string
	}{
		{map[string]string{"TCPIP$POP_SECURITY": "SECURE"}, Secure, ""},
		{map[string]string{"TCPIP_POP_SECURITY": "SECURE"}, Secure, ""},
		{map[string]string{"TCPIP$POP_SECURITY": "SECURE", "TCPIP_POP_SECURITY": "SECURE"}, Secure, ""},
		{map[string]string{"TCPIP$POP_SECURITY": "SECURE", "TCPIP_POP_SECURITY": "FRIENDLY"}, 0,
			`logicals: TCPIP$POP_SECURITY "SECURE" and TCPIP_POP_SECURITY "FRIENDLY" are both set and differ: unset one`},
		{map[string]string{"tcpip$pop_security": "SECURE"}, Friendly, ""}, // environment names are case sensitive
	}
	for _, tc := range tests {
		c, _, err := Load(mapLookup(tc.env), "")
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Load(%v) error = %v; want %q", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Load(%v) error: %v", tc.env, err)
			continue
		}
		if c.Security != tc.want {
			t.Errorf("Load(%v).Security = %v; want %v", tc.env, c.Security, tc.want)
		}
	}
}

func TestLoadNothingIsDefault(t *testing.T) {
	t.Parallel()
	for _, lookup := range []func(string) (string, bool){nil, mapLookup(nil)} {
		c, w, err := Load(lookup, "")
		if err != nil || len(w) != 0 {
			t.Fatalf("Load(empty) = %v, %v; want no error and no warnings", w, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Load(empty) =\n%+v\nwant Default()\n%+v", c, Default())
		}
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestLinkIdleTimeoutWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value    string
		want     time.Duration
		wantWarn string
	}{
		{"0 00:10:00.00", 10 * time.Minute, ""},
		{`"0 00:00:00.00"`, 0, `TCPIP$POP_LINK_IDLE_TIMEOUT "\"0 00:00:00.00\"": zero means no idle timeout; RFC 1939 §3 wants an autologout timer of at least 10 minutes`},
		{"0 00:05", 5 * time.Minute, `TCPIP$POP_LINK_IDLE_TIMEOUT "0 00:05": 0 00:05:00.00 is shorter than the 10 minutes RFC 1939 §3 asks for`},
	}
	for _, tc := range tests {
		c, w, err := Load(mapLookup(map[string]string{"TCPIP$POP_LINK_IDLE_TIMEOUT": tc.value}), "")
		if err != nil {
			t.Errorf("Load(%q) error: %v", tc.value, err)
			continue
		}
		if c.LinkIdleTimeout != tc.want {
			t.Errorf("Load(%q).LinkIdleTimeout = %v; want %v", tc.value, c.LinkIdleTimeout, tc.want)
		}
		var got []string
		for _, x := range w {
			got = append(got, x.String())
		}
		var want []string
		if tc.wantWarn != "" {
			want = []string{tc.wantWarn}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Load(%q) warnings = %q; want %q", tc.value, got, want)
		}
	}
}

// writeStartup writes a startup file into a temporary directory.
func writeStartup(t *testing.T, text string) string {
	t.Helper()
	name := t.TempDir() + "/TCPIP$POP_SYSTARTUP.COM"
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestLoadPrecedenceAndSources(t *testing.T) {
	t.Parallel()
	file := writeStartup(t, `$ DEFINE/SYSTEM TCPIP$POP_SECURITY SECURE
$ DEFINE/SYSTEM TCPIP$POP_LOG_LEVEL DEBUG
$ DEFINE/SYSTEM TCPIP$POP_TRACE TRUE
$ DEFINE/SYSTEM TCPIP$POP_COLOUR BLUE
`)
	env := map[string]string{
		"TCPIP$POP_LOG_LEVEL": "ERROR", // beats the file
		"TCPIP_POP_TRACE":     "0",     // beats the file, and means false
		"TCPIP$POP_STARTUP":   file,
	}
	c, w, err := Load(mapLookup(env), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Security != Secure || c.LogLevel != LogError || c.Trace || c.Startup != file {
		t.Errorf("Load = Security %v, LogLevel %v, Trace %v, Startup %q; want Secure, LogError, false, %q",
			c.Security, c.LogLevel, c.Trace, c.Startup, file)
	}
	wantSources := map[string]Source{
		"TCPIP$POP_SECURITY":  FromFile,
		"TCPIP$POP_LOG_LEVEL": FromEnvironment,
		"TCPIP$POP_TRACE":     FromEnvironment,
		"TCPIP$POP_STARTUP":   FromEnvironment,
	}
	if !reflect.DeepEqual(c.Sources, wantSources) {
		t.Errorf("Sources = %v; want %v", c.Sources, wantSources)
	}
	wantWarn := []Warning{{File: file, Line: 4, Text: "TCPIP$POP_COLOUR: unknown logical name ignored"}}
	if !reflect.DeepEqual(w, wantWarn) {
		t.Errorf("warnings = %v; want %v", w, wantWarn)
	}

	// The argument beats TCPIP$POP_STARTUP.
	other := writeStartup(t, "$ DEFINE/SYSTEM TCPIP$POP_SECURITY FRIENDLY\n")
	c, _, err = Load(mapLookup(env), other)
	if err != nil {
		t.Fatalf("Load(%q): %v", other, err)
	}
	if c.Security != Friendly || c.Startup != other || c.Sources["TCPIP$POP_STARTUP"] != FromCommandLine ||
		c.Sources["TCPIP$POP_SECURITY"] != FromFile {
		t.Errorf("Load(arg) = Security %v, Startup %q, Sources %v; want Friendly from the argument's file", c.Security, c.Startup, c.Sources)
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	file := writeStartup(t, `$ DEFINE/SYSTEM TCPIP$POP_SECURITY PARANOID
$ DEFINE/SYSTEM TCPIP$POP_STARTUP "/other.com"
$ DEFINE/SYSTEM TCPIP$POP_SECURTY SECURE
$ DEFINE/SYSTEM TCPIP$POP_TRACE "unterminated
`)
	_, w, err := Load(nil, file)
	wantErr := `logicals: ` + file + `:4: unterminated quoted string
logicals: TCPIP$POP_SECURITY "PARANOID": must be FRIENDLY or SECURE (defined at ` + file + `:1)`
	if err == nil || err.Error() != wantErr {
		t.Errorf("Load error =\n%v\nwant\n%s", err, wantErr)
	}
	wantWarn := []Warning{
		{File: file, Line: 2, Text: "TCPIP$POP_STARTUP: ignored in the startup file itself"},
		{File: file, Line: 3, Text: "TCPIP$POP_SECURTY: unknown logical name ignored (did you mean TCPIP$POP_SECURITY?)"},
	}
	if !reflect.DeepEqual(w, wantWarn) {
		t.Errorf("warnings = %v; want %v", w, wantWarn)
	}

	missing := t.TempDir() + "/NOSUCH.COM"
	if _, _, err := Load(nil, missing); err == nil || !strings.Contains(err.Error(), "logicals: startup file: open "+missing) {
		t.Errorf("Load(missing file) error = %v; want it to name the file", err)
	}
	if _, _, err := Load(mapLookup(map[string]string{"TCPIP_POP_STARTUP": missing}), ""); err == nil {
		t.Errorf("Load(TCPIP_POP_STARTUP=missing) = nil error")
	}
}

func TestLoadEnviron(t *testing.T) {
	t.Parallel()
	c, w, err := LoadEnviron([]string{
		"PATH=/bin",
		"TCPIP$POP_SECURITY=SECURE",
		"TCPIP$POP_SECURITY=FRIENDLY", // the first one wins, as in os.Getenv
		"TCPIP_POP_LEAVE_IN_NEWMAL=1",
		"TCPIP$POP_FROBNICATE=1",
		"TCPIP$POP_=x",
		"NOEQUALS",
	}, "")
	if err != nil {
		t.Fatalf("LoadEnviron: %v", err)
	}
	if c.Security != Secure {
		t.Errorf("LoadEnviron Security = %v; want Secure", c.Security)
	}
	want := []Warning{
		{Text: "TCPIP$POP_: unknown logical name ignored"},
		{Text: "TCPIP$POP_FROBNICATE: unknown logical name ignored"},
		{Text: "TCPIP_POP_LEAVE_IN_NEWMAL: unknown logical name ignored (did you mean TCPIP_POP_LEAVE_IN_NEWMAIL?)"},
	}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("LoadEnviron warnings =\n%v\nwant\n%v", w, want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mod  func(c *Config)
		want string // "" = valid
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Cert, c.Key, c.TLSListen = "c.pem", "k.pem", ":995" }, ""},
		{func(c *Config) { c.MessageMaximum = 65536 }, `logicals: TCPIP$POP_MESSAGE_MAXIMUM "65536": must be a number from 0 to 65535`},
		{func(c *Config) { c.SndBuf = 100 }, `logicals: TCPIP$POP_SNDBUF "100": must be a number 512 or greater`},
		{func(c *Config) { c.Security = 7 }, `logicals: TCPIP$POP_SECURITY "7": must be FRIENDLY or SECURE`},
		{func(c *Config) { c.LinkIdleTimeout = -time.Second }, `logicals: TCPIP$POP_LINK_IDLE_TIMEOUT -1s: must not be negative`},
		{func(c *Config) { c.LinkIdleTimeout = 10000 * 24 * time.Hour },
			`logicals: TCPIP$POP_LINK_IDLE_TIMEOUT "10000 00:00:00.00": ` + errDeltaTime.Error()},
		{func(c *Config) { c.Listen = "" }, `logicals: TCPIP$POP_LISTEN: must not be empty`},
		{func(c *Config) { c.AuthMethods = nil }, `logicals: TCPIP$POP_AUTH_METHODS "": no login method left`},
		{func(c *Config) { c.Expire = "sometimes" }, `logicals: TCPIP$POP_EXPIRE "sometimes": must be NEVER or a number of days from 0 to 9999`},
	}
	for i, tc := range tests {
		c := Default()
		tc.mod(c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%d: Validate() = %v; want nil", i, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%d: Validate() = %v; want %q", i, err, tc.want)
		}
	}
	var nilConfig *Config
	if err := nilConfig.Validate(); err == nil {
		t.Error("(*Config)(nil).Validate() = nil")
	}
}

func TestWarningString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		w    Warning
		want string
	}{
		{Warning{Text: "x"}, "x"},
		{Warning{File: "f.com", Text: "x"}, "f.com: x"},
		{Warning{File: "f.com", Line: 3, Text: "x"}, "f.com:3: x"},
	}
	for _, tc := range tests {
		if got := tc.w.String(); got != tc.want {
			t.Errorf("%#v.String() = %q; want %q", tc.w, got, tc.want)
		}
	}
}

// TestDocListsEveryName keeps doc.go's table in step with the code.
func TestDocListsEveryName(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range table {
		found := false
		for _, line := range strings.Split(string(doc), "\n") {
			f := strings.Fields(strings.TrimPrefix(line, "//"))
			if len(f) > 1 && f[0] == e.name && strings.HasSuffix(strings.TrimSpace(line), e.origin) {
				found = true
			}
		}
		if !found {
			t.Errorf("doc.go has no row for %s ending in its origin %q", e.name, e.origin)
		}
	}
}

// TestAuthTLSOnlyDefault: with a certificate and AUTH_TLS_ONLY undefined,
// USER and PLAIN are TLS-only; "-" keeps them allowed in clear.
func TestAuthTLSOnlyDefault(t *testing.T) {
	base := map[string]string{"TCPIP$POP_CERT": "/c.pem", "TCPIP$POP_KEY": "/k.pem"}
	c, _, err := Load(mapLookup(base), "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AuthTLSOnly, []string{"USER", "PLAIN", "LOGIN"}) {
		t.Errorf("with CERT: AuthTLSOnly = %q, want USER, PLAIN, LOGIN", c.AuthTLSOnly)
	}
	base["TCPIP$POP_AUTH_TLS_ONLY"] = "-"
	if c, _, err = Load(mapLookup(base), ""); err != nil || len(c.AuthTLSOnly) != 0 {
		t.Errorf("with CERT and \"-\": AuthTLSOnly = %q, %v; want none", c.AuthTLSOnly, err)
	}
	if c, _, err = Load(mapLookup(map[string]string{}), ""); err != nil || len(c.AuthTLSOnly) != 0 {
		t.Errorf("without CERT: AuthTLSOnly = %q, %v; want none", c.AuthTLSOnly, err)
	}
}
