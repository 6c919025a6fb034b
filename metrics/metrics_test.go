package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/penalty"
)

// TestHandler: the status page escapes what it shows and lists the
// sessions, penalised addresses and errors it is given; /healthz follows
// Healthy; /metrics parses and counts the observed events.
func TestHandler(t *testing.T) {
	m := New("V9", func() int { return 3 })
	m.SessionStart()
	m.Login("USER", gateway.LoginOK)
	m.Login("USER", gateway.LoginFailed)
	m.Sent("RETR", 1234)
	m.Committed(2)
	m.Delivered(75)
	m.Polled("ok", 5, 4096, 300*time.Millisecond)
	m.Polled("busy", 0, 0, 0)
	var unhealthy error
	errs := NewErrorLog(2)
	h := m.Handler(Sources{
		Sessions: func() []gateway.SessionInfo {
			return []gateway.SessionInfo{{ID: "s1", User: "<SMITH>", Remote: "192.0.2.1:1", State: "TRANSACTION", Start: time.Now(), Octets: 1234}}
		},
		Penalised: func(n int) []penalty.Entry { return []penalty.Entry{{Key: "198.51.100.7", Failures: 4}} },
		Healthy:   func() error { return unhealthy },
		Errors:    errs,
	})
	body := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b)
	}
	code, page := body("/")
	for _, want := range []string{`<td class="user">&lt;SMITH&gt;</td>`, "198.51.100.7", "1.2 kB", `<rect class="l"`, `<rect class="f"`} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("status page (%d) lacks %q", code, want)
		}
	}
	if code, _ := body("/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
	unhealthy = errors.New("spool not writable")
	if code, b := body("/healthz"); code != 503 || !strings.Contains(b, "spool not writable") {
		t.Errorf("/healthz = %d %q, want 503 with the reason", code, b)
	}
	if code, _ := body("/nothing"); code != 404 {
		t.Errorf("/nothing = %d, want 404", code)
	}
	_, text := body("/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"vmspop_sessions_open": 1, "vmspop_sent_octets_total": 1234, "vmspop_retr_total": 1,
		"vmspop_dele_total": 2, "vmspop_penalised_addresses": 3, "vmspop_deliveries_total": 1,
		"vmspop_rpop_messages_total": 5, "vmspop_rpop_octets_total": 4096,
	} {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Errorf("%s missing", name)
			continue
		}
		mm := f.Metric[0]
		v := mm.GetCounter().GetValue() + mm.GetGauge().GetValue()
		if v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	polls := map[string]float64{}
	for _, mm := range fams["vmspop_rpop_polls_total"].GetMetric() {
		polls[mm.GetLabel()[0].GetValue()] = mm.GetCounter().GetValue()
	}
	if polls["ok"] != 1 || polls["busy"] != 1 || len(polls) != 2 {
		t.Errorf("vmspop_rpop_polls_total = %v, want ok 1, busy 1", polls)
	}
	if h := fams["vmspop_rpop_poll_duration_seconds"].GetMetric(); len(h) != 1 || h[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("vmspop_rpop_poll_duration_seconds: %v, want one poll (busy ones are not timed)", h)
	}
}

func TestHistory(t *testing.T) {
	var h history
	now := time.Unix(6000, 0)
	h.add(now.Add(-90*time.Minute), gateway.LoginFailed) // too old: not shown
	h.add(now.Add(-5*time.Minute), gateway.LoginFailed)
	h.add(now, gateway.LoginOK)
	h.add(now, gateway.LoginRefused) // not a login or a failure
	ms := h.last(now)
	if len(ms) != 60 || ms[59].logins != 1 || ms[54].failures != 1 {
		t.Fatalf("last = %+v", ms)
	}
	c, logins, failures := drawChart(ms)
	if logins != 1 || failures != 1 || len(c.Bars) != 2 {
		t.Errorf("chart: %d logins, %d failures, %d bars", logins, failures, len(c.Bars))
	}
}
