package metrics

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/penalty"
)

// Sources are what the status page and the health check read.
type Sources struct {
	// Sessions lists the live sessions (gateway.Server.Sessions).
	Sessions func() []gateway.SessionInfo
	// Penalised lists the n most penalised addresses (penalty.Table.Top);
	// nil means none.
	Penalised func(n int) []penalty.Entry
	// Healthy returns nil while the server can serve: its listeners
	// accept and the spool is writable.
	Healthy func() error
	// Errors holds the recent errors of the log; nil means none.
	Errors *ErrorLog
	// Version is shown in the page title.
	Version string
	// Refresh is the page's refresh interval; zero means 5 s.
	Refresh time.Duration
}

// Handler serves /metrics (Prometheus text format), /healthz (200 "ok"
// or 503 with the reason) and the status page at / and /status.
func (m *Metrics) Handler(src Sources) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if src.Healthy != nil {
			if err := src.Healthy(); err != nil {
				http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	status := func(w http.ResponseWriter, r *http.Request) { m.serveStatus(w, src) }
	mux.HandleFunc("GET /status", status)
	mux.HandleFunc("GET /{$}", status)
	return mux
}

// ErrorLog is a logrus hook that keeps the last errors for the status
// page. Add it with Logger.AddHook.
type ErrorLog struct {
	mu   sync.Mutex
	last []ErrorEntry
	max  int
}

// ErrorEntry is one logged error.
type ErrorEntry struct {
	Time    time.Time
	Message string
}

// NewErrorLog returns a hook that keeps the last n errors.
func NewErrorLog(n int) *ErrorLog { return &ErrorLog{max: n} }

// Levels implements logrus.Hook: errors and worse.
func (e *ErrorLog) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel}
}

// Fire implements logrus.Hook.
func (e *ErrorLog) Fire(en *logrus.Entry) error {
	msg := en.Message
	if err, ok := en.Data[logrus.ErrorKey].(error); ok {
		msg += ": " + err.Error()
	}
	for _, k := range []string{"user", "session"} {
		if v, ok := en.Data[k]; ok {
			msg += fmt.Sprintf(" %s=%v", k, v)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = append(e.last, ErrorEntry{Time: en.Time, Message: msg})
	if len(e.last) > e.max {
		e.last = e.last[len(e.last)-e.max:]
	}
	return nil
}

// Recent returns the kept errors, newest first.
func (e *ErrorLog) Recent() []ErrorEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ErrorEntry, len(e.last))
	for i, x := range e.last {
		out[len(out)-1-i] = x
	}
	return out
}

// statusData is what the page template shows.
type statusData struct {
	Version          string
	Now              time.Time
	Refresh          int
	Healthy          string
	Sessions         []sessionRow
	Chart            chart
	Logins, Failures int
	Penalised        []penalty.Entry
	Errors           []ErrorEntry
}

type sessionRow struct {
	gateway.SessionInfo
	Age, Bytes string
}

// chart is a small SVG bar chart of logins and failures per minute.
type chart struct {
	W, H, Max int
	SVGH      int // H and a strip for the time axis
	Bars      []bar
}

type bar struct {
	X, Y, W, H int
	Fail       bool
	Title      string
}

func (m *Metrics) serveStatus(w http.ResponseWriter, src Sources) {
	now := time.Now()
	d := statusData{Version: src.Version, Now: now.UTC(), Refresh: 5, Healthy: "OK"}
	if src.Refresh > 0 {
		d.Refresh = int((src.Refresh + time.Second - 1) / time.Second)
	}
	if src.Healthy != nil {
		if err := src.Healthy(); err != nil {
			d.Healthy = "UNHEALTHY: " + err.Error()
		}
	}
	if src.Sessions != nil {
		for _, s := range src.Sessions() {
			d.Sessions = append(d.Sessions, sessionRow{SessionInfo: s, Age: now.Sub(s.Start).Round(time.Second).String(), Bytes: humanBytes(s.Octets)})
		}
	}
	if src.Penalised != nil {
		d.Penalised = src.Penalised(10)
	}
	if src.Errors != nil {
		d.Errors = src.Errors.Recent()
	}
	d.Chart, d.Logins, d.Failures = drawChart(m.hist.last(now))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusPage.Execute(w, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// drawChart lays out 60 minutes of logins (green) and failures (red),
// side by side, scaled to the busiest minute.
func drawChart(ms []minute) (chart, int, int) {
	c := chart{W: 600, H: 120, SVGH: 134, Max: 1}
	logins, failures := 0, 0
	for _, m := range ms {
		c.Max = max(c.Max, m.logins, m.failures)
		logins += m.logins
		failures += m.failures
	}
	slot := c.W / len(ms)
	for i, m := range ms {
		ago := len(ms) - 1 - i
		for k, n := range []int{m.logins, m.failures} {
			if n == 0 {
				continue
			}
			h := max(1, n*(c.H-10)/c.Max)
			what := "logins"
			if k == 1 {
				what = "failures"
			}
			c.Bars = append(c.Bars, bar{X: i*slot + k*slot/2, Y: c.H - h, W: slot/2 - 1, H: h, Fail: k == 1,
				Title: fmt.Sprintf("%d %s, %d min ago", n, what, ago)})
		}
	}
	return c, logins, failures
}

// humanBytes formats n octets as 12.3 MB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"lower": strings.ToLower,
	"hhmm":  func(t time.Time) string { return t.UTC().Format("15:04:05") },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>vmspop status</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff}td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}
th{background:#eee}.num{text-align:right}.ok{color:#176b1b}.bad{color:#b00020;font-weight:bold}
.muted{color:#777}svg{background:#fff;border:1px solid #ddd}.l{fill:#2e7d32}.f{fill:#c62828}
</style></head><body>
<h1>vmspop status <span class="muted">{{.Version}}</span></h1>
<p>{{hhmm .Now}} UTC · health: <span id="health" class="{{if eq .Healthy "OK"}}ok{{else}}bad{{end}}">{{.Healthy}}</span> · refreshes every {{.Refresh}} s · <a href="/metrics">metrics</a></p>
<h2>Live sessions ({{len .Sessions}})</h2>
{{if .Sessions}}<table id="sessions"><tr><th>User</th><th>Address</th><th>State</th><th>TLS</th><th>Age</th><th class="num">Sent</th><th>Session</th></tr>
{{range .Sessions}}<tr><td class="user">{{if .User}}{{.User}}{{else}}<span class="muted">(not logged in)</span>{{end}}</td><td>{{.Remote}}</td><td>{{lower .State}}</td><td>{{if .TLS}}yes{{else}}no{{end}}</td><td>{{.Age}}</td><td class="num">{{.Bytes}}</td><td class="muted">{{.ID}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none</p>{{end}}
<h2>Logins per minute, last hour</h2>
<p><span style="color:#2e7d32">■</span> {{.Logins}} logins · <span style="color:#c62828">■</span> {{.Failures}} failures · busiest minute {{.Chart.Max}}</p>
<svg id="chart" width="{{.Chart.W}}" height="{{.Chart.SVGH}}" viewBox="0 0 {{.Chart.W}} {{.Chart.SVGH}}" role="img" aria-label="logins and failures per minute">
{{range .Chart.Bars}}<rect class="{{if .Fail}}f{{else}}l{{end}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}<line x1="0" y1="{{.Chart.H}}" x2="{{.Chart.W}}" y2="{{.Chart.H}}" stroke="#bbb"/><text x="2" y="12" font-size="10" fill="#777">{{.Chart.Max}}/min</text><text x="2" y="{{.Chart.SVGH}}" dy="-3" font-size="10" fill="#777">60 min ago</text><text x="{{.Chart.W}}" y="{{.Chart.SVGH}}" dy="-3" dx="-3" text-anchor="end" font-size="10" fill="#777">now</text>
</svg>
<h2>Most penalised addresses</h2>
{{if .Penalised}}<table id="penalised"><tr><th>Address</th><th class="num">Failures</th><th>Next wait</th><th>Last failure</th></tr>
{{range .Penalised}}<tr><td>{{.Key}}</td><td class="num">{{.Failures}}</td><td>{{.Wait}}</td><td>{{hhmm .Last}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none</p>{{end}}
<h2>Recent errors</h2>
{{if .Errors}}<table id="errors"><tr><th>Time (UTC)</th><th>Error</th></tr>
{{range .Errors}}<tr><td>{{hhmm .Time}}</td><td>{{.Message}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none</p>{{end}}
</body></html>
`))
