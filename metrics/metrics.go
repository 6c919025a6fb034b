// Package metrics observes a vmspop server: Prometheus metrics (with
// github.com/prometheus/client_golang, in a registry of its own, never
// the global one), a health check, and a status page an operator can
// leave open in a browser. cmd/vmspop serves them on
// TCPIP$POP_METRICS_LISTEN (docs/defence.md).
//
// The gateway reports through gateway.Observer, the spool through
// spool.Events, UPDATE through a wrapped gateway.Backend; deliveries
// (LMTP, vmspop deliver) through Delivered.
package metrics

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vmspop/vmspop/gateway"
	"github.com/vmspop/vmspop/spool"
)

// Metrics holds the server's metrics. Create it with New.
type Metrics struct {
	// Registry holds every metric of this package (and the Go and process
	// collectors); it is what /metrics serves.
	Registry *prometheus.Registry

	sessionsOpen   prometheus.Gauge
	sessionsEnded  *prometheus.CounterVec
	logins         *prometheus.CounterVec
	tlsHandshakes  *prometheus.CounterVec
	octets         prometheus.Counter
	retrieved      prometheus.Counter
	deleted        prometheus.Counter
	lockWait       *prometheus.HistogramVec
	indexBuilds    prometheus.Counter
	indexHits      prometheus.Counter
	updateDuration prometheus.Histogram
	deliveries     *prometheus.CounterVec
	rpopPolls      *prometheus.CounterVec
	rpopMessages   prometheus.Counter
	rpopOctets     prometheus.Counter
	rpopDuration   prometheus.Histogram

	hist history
}

// New returns the metrics of a server of the given version. penalised,
// when not nil, is read at each scrape for the number of penalised
// addresses.
func New(version string, penalised func() int) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.Registry.MustRegister(c) }
	m.sessionsOpen = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vmspop_sessions_open", Help: "POP3 sessions open now."})
	m.sessionsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmspop_sessions_ended_total", Help: "POP3 sessions ended, by end reason."}, []string{"reason"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmspop_logins_total", Help: "Login attempts, by method and outcome (ok, failed, refused)."}, []string{"method", "outcome"})
	m.tlsHandshakes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmspop_tls_handshakes_total", Help: "TLS handshakes (implicit TLS and STLS), by outcome (resumed from a session ticket, full, failed)."}, []string{"outcome"})
	m.octets = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmspop_sent_octets_total", Help: "Message octets sent by RETR and TOP."})
	m.retrieved = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmspop_retr_total", Help: "Messages sent by RETR."})
	m.deleted = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmspop_dele_total", Help: "Messages deleted at UPDATE."})
	m.lockWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vmspop_lock_wait_seconds", Help: "Time spent waiting for spool locks, by kind (folder, session).",
		Buckets: []float64{.0001, .001, .01, .1, .5, 1, 2, 5, 10, 30}}, []string{"kind"})
	m.indexBuilds = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmspop_index_builds_total", Help: "Folder opens that scanned the folder and built its index."})
	m.indexHits = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmspop_index_hits_total", Help: "Folder opens served from the folder index."})
	m.updateDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vmspop_update_duration_seconds", Help: "Time of the UPDATE state (moving and deleting mail after QUIT).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmspop_deliveries_total", Help: "Local deliveries, by exit status."}, []string{"status"})
	m.rpopPolls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmspop_rpop_polls_total", Help: "Polls of remote POP3 accounts (RPOP), by outcome (ok, failed, busy)."}, []string{"outcome"})
	m.rpopMessages = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmspop_rpop_messages_total", Help: "Messages RPOP polls fetched and stored."})
	m.rpopOctets = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmspop_rpop_octets_total", Help: "Octets of the messages RPOP polls fetched and stored."})
	m.rpopDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vmspop_rpop_poll_duration_seconds", Help: "Time of one RPOP poll of a remote account.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vmspop_build_info", Help: "The running build: 1, labelled with its versions."}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	for _, c := range []prometheus.Collector{m.sessionsOpen, m.sessionsEnded, m.logins, m.tlsHandshakes, m.octets, m.retrieved, m.deleted,
		m.lockWait, m.indexBuilds, m.indexHits, m.updateDuration, m.deliveries,
		m.rpopPolls, m.rpopMessages, m.rpopOctets, m.rpopDuration, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	if penalised != nil {
		f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vmspop_penalised_addresses", Help: "Client addresses now penalised for failed logins."},
			func() float64 { return float64(penalised()) }))
	}
	return m
}

var _ gateway.TLSObserver = (*Metrics)(nil)

// SessionStart implements gateway.Observer.
func (m *Metrics) SessionStart() { m.sessionsOpen.Inc() }

// SessionEnd implements gateway.Observer.
func (m *Metrics) SessionEnd(reason string) {
	m.sessionsOpen.Dec()
	m.sessionsEnded.WithLabelValues(reason).Inc()
}

// Login implements gateway.Observer.
func (m *Metrics) Login(method, outcome string) {
	m.logins.WithLabelValues(method, outcome).Inc()
	m.hist.add(time.Now(), outcome)
}

// Sent implements gateway.Observer.
func (m *Metrics) Sent(verb string, octets int64) {
	m.octets.Add(float64(octets))
	if verb == "RETR" {
		m.retrieved.Inc()
	}
}

// Committed implements gateway.Observer.
func (m *Metrics) Committed(deleted int) { m.deleted.Add(float64(deleted)) }

// TLSHandshake implements gateway.TLSObserver.
func (m *Metrics) TLSHandshake(outcome string) { m.tlsHandshakes.WithLabelValues(outcome).Inc() }

// Delivered counts one local delivery with its exit status (0, or the
// sysexits code): cmd/vmspop calls it for LMTP deliveries and for the
// runs of vmspop deliver reported through the admin socket.
func (m *Metrics) Delivered(status int) {
	m.deliveries.WithLabelValues(itoa(status)).Inc()
}

// Polled counts one RPOP poll of a remote account: its outcome (ok,
// failed, or busy when another process was polling the record), the
// messages and octets it stored and how long it took.
func (m *Metrics) Polled(outcome string, messages int, octets int64, d time.Duration) {
	m.rpopPolls.WithLabelValues(outcome).Inc()
	m.rpopMessages.Add(float64(messages))
	m.rpopOctets.Add(float64(octets))
	if outcome != "busy" {
		m.rpopDuration.Observe(d.Seconds())
	}
}

func itoa(n int) string {
	if n >= 0 && n < 10 {
		return string(rune('0' + n))
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// SpoolEvents returns the spool hooks that feed the lock and index
// metrics; set it as spool.Spool.Events.
func (m *Metrics) SpoolEvents() *spool.Events {
	return &spool.Events{
		LockWait: func(kind string, d time.Duration) { m.lockWait.WithLabelValues(kind).Observe(d.Seconds()) },
		Index: func(hit bool) {
			if hit {
				m.indexHits.Inc()
			} else {
				m.indexBuilds.Inc()
			}
		},
	}
}

// WrapBackend returns b with the UPDATE state of its maildrops timed.
func (m *Metrics) WrapBackend(b gateway.Backend) gateway.Backend { return &backend{b, m} }

type backend struct {
	gateway.Backend
	m *Metrics
}

func (b *backend) OpenMaildrop(ctx context.Context, user string) (gateway.Maildrop, error) {
	md, err := b.Backend.OpenMaildrop(ctx, user)
	if err != nil {
		return nil, err
	}
	return &maildrop{md, b.m}, nil
}

type maildrop struct {
	gateway.Maildrop
	m *Metrics
}

func (d *maildrop) Commit(ctx context.Context, u gateway.Update) (gateway.CommitResult, error) {
	start := time.Now()
	r, err := d.Maildrop.Commit(ctx, u)
	d.m.updateDuration.Observe(time.Since(start).Seconds())
	return r, err
}

// history counts logins and failures per minute over the last hour.
type history struct {
	mu      sync.Mutex
	buckets [60]minute
}

type minute struct {
	at       int64 // Unix minute
	logins   int
	failures int
}

func (h *history) add(now time.Time, outcome string) {
	if outcome != gateway.LoginOK && outcome != gateway.LoginFailed {
		return
	}
	at := now.Unix() / 60
	h.mu.Lock()
	defer h.mu.Unlock()
	b := &h.buckets[at%60]
	if b.at != at {
		*b = minute{at: at}
	}
	if outcome == gateway.LoginOK {
		b.logins++
	} else {
		b.failures++
	}
}

// last returns the last 60 minutes, oldest first, ending with now's.
func (h *history) last(now time.Time) []minute {
	at := now.Unix() / 60
	out := make([]minute, 60)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range out {
		m := at - 59 + int64(i)
		b := h.buckets[m%60]
		if b.at != m {
			b = minute{at: m}
		}
		out[i] = b
	}
	return out
}
