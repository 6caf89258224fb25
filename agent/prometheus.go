package agent

import (
	"context"
	"net/http"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/internal/prom"
	"github.com/prometheus/client_golang/prometheus"
)

// The agent's /metrics serves, in Prometheus' exposition format, every
// figure of /metrics/snapshot (package prom names them: slave/mem_used is
// mesos_slave_mem_used), read at scrape time as /metrics/snapshot reads
// them (metricsSnapshot on the state goroutine, then the host's system/*
// gauges), and mezzo_agent_api_call_duration_seconds{api,code}: the v1
// executor and operator APIs, from receiving a call to its answer's
// status line (for SUBSCRIBE, to the stream's opening).

// promMetrics is an agent's Prometheus registry and API histogram.
type promMetrics struct {
	a        *Agent
	registry *prometheus.Registry
	api      *prometheus.HistogramVec
}

// newPromMetrics builds the agent's Prometheus registry.
func (a *Agent) newPromMetrics() *promMetrics {
	p := &promMetrics{a: a, api: prom.NewAPIHistogram("agent")}
	p.registry = prom.Registry(p.read, a.log, nil, p.api, newContainerCollector(a))
	return p
}

// handler serves /metrics.
func (p *promMetrics) handler() http.Handler { return prom.Handler(p.registry, p.a.log) }

// timed observes the latency of api's calls to h.
func (p *promMetrics) timed(api string, h http.Handler) http.Handler {
	return prom.Timed(p.api, api, h)
}

// read is the whole metrics snapshot, as serveMetrics builds it.
func (p *promMetrics) read(context.Context) (map[string]float64, error) {
	doc, err := p.a.metricsDocument()
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(doc))
	for k, v := range doc {
		out[k] = float64(v)
	}
	return out, nil
}

// routeObservability registers /metrics, /debug/pprof/ (--enable_pprof)
// and Mesos' /profiler/start and /profiler/stop (501).
func (a *Agent) routeObservability(p *promMetrics) {
	// The figures of /metrics/snapshot: the same get_endpoints rule.
	a.mux.Handle("/metrics", a.guardEndpoint("/metrics/snapshot", p.handler()))
	pprof := prom.Pprof(a.cfg.EnablePprof)
	a.mux.Handle("/debug/pprof", pprof)
	a.mux.Handle(prom.PprofPrefix, pprof)
	a.mux.Handle("/profiler/start", prom.Profiler(a.cfg.EnablePprof))
	a.mux.Handle("/profiler/stop", prom.Profiler(a.cfg.EnablePprof))
}

// metricsDocument is the agent's metrics snapshot, as /metrics/snapshot
// answers it: the state's metrics (state goroutine) and the host's.
func (a *Agent) metricsDocument() (legacy.Metrics, error) {
	var doc legacy.Metrics
	if err := a.do(func() { doc = a.metricsSnapshot() }); err != nil {
		return nil, httpapi.ServiceUnavailable("Agent is shutting down")
	}
	systemMetrics(doc)
	return doc, nil
}
