package rpop

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults of Options and Poller.
const (
	DefaultTimeout = 2 * time.Minute
	DefaultMaxSize = 100 << 20
)

func (o *Options) withDefaults() *Options {
	c := *o
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxSize <= 0 {
		c.MaxSize = DefaultMaxSize
	}
	return &c
}

// Poller polls every enabled record of a records file on its schedule.
type Poller struct {
	File    *File
	Sink    Sink
	Options Options
	Logger  logrus.FieldLogger

	Processes           int           // polls at once; 0 = 1
	DelayFailedHosts    time.Duration // no poll of any record on a host that failed to connect, for this long
	DelayFailedAccounts time.Duration // no poll of a record that failed, for this long
	MinUserPeriod       time.Duration // Minimum Poll Period for user-set records
	MaxUserAccounts     int           // Maximum Accounts per User (user-set records); 0 = no limit
	// Observe, when not nil, is told the result of every poll (for
	// metrics).
	Observe func(rec *Record, res Result)
	// Tick is how often the records file is re-read and due records
	// started; 0 = 1 second.
	Tick time.Duration
}

// Run polls until ctx is done, then waits for running polls to stop.
func (p *Poller) Run(ctx context.Context) error {
	procs := max(p.Processes, 1)
	tick := p.Tick
	if tick <= 0 {
		tick = time.Second
	}
	sem := make(chan struct{}, procs)
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	next := map[string]time.Time{}     // record id -> next poll
	hostDown := map[string]time.Time{} // host -> delayed until
	running := map[string]bool{}
	var prev []Record
	t := time.NewTicker(tick)
	defer t.Stop()
	lastErr := ""
	for {
		recs, err := p.File.Load()
		if err != nil && err.Error() != lastErr {
			// Once per new error, not once per tick; the records read
			// last stay in force meanwhile.
			p.Logger.WithError(err).Error("rpop: reading the records")
		}
		if err != nil {
			lastErr = err.Error()
			recs = prev
		} else {
			lastErr, prev = "", recs
		}
		now := time.Now()
		perUser := map[string]int{}
		for i := range recs {
			rec := recs[i]
			if rec.Disabled {
				continue
			}
			if rec.UserSet {
				perUser[rec.User]++
				if p.MaxUserAccounts > 0 && perUser[rec.User] > p.MaxUserAccounts {
					continue
				}
			}
			mu.Lock()
			n, known := next[rec.ID]
			if !known {
				// First sight: poll soon, spread over a few ticks.
				n = now.Add(time.Duration(rand.Int64N(int64(3 * tick))))
				next[rec.ID] = n
			}
			due := !running[rec.ID] && !now.Before(n) && !now.Before(hostDown[rec.HostPort()])
			if due {
				running[rec.ID] = true
			}
			mu.Unlock()
			if !due {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				res := Poll(ctx, &rec, p.File.StateDir(), p.Sink, p.opts(), p.Logger)
				if p.Observe != nil {
					p.Observe(&rec, res)
				}
				period := rec.EffectivePeriod(p.MinUserPeriod)
				// Jitter: +-10 % of the period, so records set up together
				// drift apart.
				j := time.Duration(rand.Int64N(int64(period)/5+1)) - period/10
				at := time.Now().Add(period + j)
				mu.Lock()
				defer mu.Unlock()
				running[rec.ID] = false
				switch {
				case res.Busy:
					at = time.Now().Add(tick)
				case res.HostFailed:
					hostDown[rec.HostPort()] = time.Now().Add(p.DelayFailedHosts)
					at = time.Now().Add(max(p.DelayFailedHosts, p.DelayFailedAccounts))
				case res.Err != nil && ctx.Err() == nil:
					at = time.Now().Add(p.DelayFailedAccounts)
				}
				next[rec.ID] = at
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Poller) opts() *Options { return p.Options.withDefaults() }
