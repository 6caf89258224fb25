package master

import (
	"context"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/mezzo-project/mezzo/internal/prom"
	"github.com/prometheus/client_golang/prometheus"
)

// The master's /metrics serves, in Prometheus' exposition format, every
// figure of /metrics/snapshot (package prom names them: master/uptime_secs
// is mesos_master_uptime_secs), read at scrape time from the same snapshot
// and live readings as /metrics/snapshot, and three latency histograms
// Mesos does not have:
//
//   - mezzo_master_api_call_duration_seconds{api,code}: the v1 scheduler,
//     operator and agent APIs, from receiving a call to its answer's
//     status line (for SUBSCRIBE, to the stream's opening).
//   - mezzo_master_allocation_run_seconds: the allocator's runs.
//   - mezzo_master_registry_apply_seconds: the registry's writes.
//
// The last two are fed from the core's own timers
// (allocator/mesos/allocation_run_ms and registrar/state_store_ms): at
// each scrape, the samples recorded since the previous scrape are added to
// the histograms. A timer keeps the latest 1,000 samples of its window (an
// hour, a day), so when more runs happen between two scrapes the oldest
// are not counted; mezzo_master_timer_overruns_total{timer} counts the
// scrapes where that may have happened.

// promMetrics is a master's Prometheus registry and histograms.
type promMetrics struct {
	m        *Master
	registry *prometheus.Registry
	api      *prometheus.HistogramVec
	overruns *prometheus.CounterVec

	mu         sync.Mutex // serializes feeding the timers' samples
	allocation timerFeed
	registryW  timerFeed
}

// newPromMetrics builds the master's Prometheus registry.
func (m *Master) newPromMetrics() *promMetrics {
	p := &promMetrics{
		m:   m,
		api: prom.NewAPIHistogram("master"),
		overruns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mezzo_master_timer_overruns_total",
			Help: "Scrapes after which a core timer may have dropped samples the latency histograms did not count (more than 1,000 between scrapes).",
		}, []string{"timer"}),
	}
	p.allocation.hist = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mezzo_master_allocation_run_seconds",
		Help:    "Time the allocator took to run (allocator/mesos/allocation_run_ms).",
		Buckets: prom.LatencyBuckets,
	})
	p.registryW.hist = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mezzo_master_registry_apply_seconds",
		Help:    "Time a write to the registry took to become durable (registrar/state_store_ms).",
		Buckets: prom.LatencyBuckets,
	})
	p.allocation.overruns = p.overruns.WithLabelValues("allocation_run")
	p.registryW.overruns = p.overruns.WithLabelValues("registry_apply")
	p.registry = prom.Registry(p.read, m.log, []prometheus.Collector{p.allocation.hist, p.registryW.hist, p.overruns}, p.api)
	return p
}

// handler serves /metrics.
func (p *promMetrics) handler() http.Handler { return prom.Handler(p.registry, p.m.log) }

// timed observes the latency of api's calls to h.
func (p *promMetrics) timed(api string, h http.Handler) http.Handler {
	return prom.Timed(p.api, api, h)
}

// read is the whole metrics snapshot, as /metrics/snapshot has it (the
// snapshot's figures and the live ones); on the way it feeds the timers'
// new samples to the histograms.
func (p *promMetrics) read(ctx context.Context) (map[string]float64, error) {
	var out map[string]float64
	_, err := p.m.encodeRead(ctx, 0, func(s *snapshot) ([]byte, error) {
		out = maps.Clone(s.coreMetrics())
		maps.Copy(out, p.m.liveMetrics(s))
		p.mu.Lock()
		p.allocation.feed(&s.view.metrics.allocationRun)
		p.registryW.feed(&s.view.metrics.stateStore)
		p.mu.Unlock()
		return nil, nil
	})
	return out, err
}

// timerFeed adds a timer's samples to a histogram once each. Samples are
// in time order; the feed remembers the time of the latest it added and
// how many it added with that time (a fake clock gives many the same).
type timerFeed struct {
	hist     prometheus.Histogram
	overruns prometheus.Counter
	last     time.Time
	atLast   int
}

// feed adds the samples of t recorded after those fed before. Snapshots
// older than the latest fed add nothing.
func (f *timerFeed) feed(t *timer) {
	if t.n == 0 {
		return
	}
	if !f.last.IsZero() && t.n == len(t.ring) && t.ring[t.head].at.After(f.last) {
		f.overruns.Inc()
	}
	seen := 0
	for i := range t.n {
		s := t.ring[(t.head+i)%len(t.ring)]
		if s.at.Before(f.last) {
			continue
		}
		if s.at.Equal(f.last) {
			seen++
			if seen <= f.atLast {
				continue
			}
			f.atLast = seen
		} else {
			f.last, f.atLast, seen = s.at, 1, 1
		}
		f.hist.Observe(s.ms / 1000)
	}
}
