// Package prom serves a Mezzo daemon's figures to Prometheus and its
// profiling endpoints.
//
// # Names
//
// Every figure of a daemon's /metrics/snapshot is exported as a gauge whose
// name is "mesos_" followed by the snapshot key with each character that
// Prometheus' classic names do not allow ([^a-zA-Z0-9_]) replaced by "_":
//
//	master/tasks_finished                  mesos_master_tasks_finished
//	allocator/mesos/allocation_run_ms/p99  mesos_allocator_mesos_allocation_run_ms_p99
//	slave/mem_used                         mesos_slave_mem_used
//
// The prefix keeps Mesos' vocabulary, so a dashboard built on the snapshot's
// keys maps one to one; each gauge's help text is the original key. The
// values are read at scrape time through the same function that answers
// /metrics/snapshot: there is no second copy of any figure. Counters of the
// snapshot are exported as gauges too, because the snapshot does not say
// which of its figures count. Two keys that sanitize to one name (possible
// only with framework or role names holding characters other than letters,
// digits and "_") are exported once, under the key that sorts first.
//
// Figures Mesos does not have are named "mezzo_<daemon>_..." with base
// units (seconds): the latency histograms of API calls, allocation runs and
// registry writes, which the daemons own and observe.
//
// # Profiling
//
// Pprof serves net/http/pprof under /debug/pprof/ when enabled and answers
// 404 otherwise. Profiler answers Mesos' /profiler/start and /profiler/stop,
// which Mezzo does not implement, with 501 and a pointer to /debug/pprof/.
package prom

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prefix starts the Prometheus name of every snapshot figure.
const Prefix = "mesos_"

// Name is the Prometheus name of the snapshot key key: Prefix followed by
// key with every character outside [a-zA-Z0-9_] replaced by "_".
func Name(key string) string {
	var b strings.Builder
	b.Grow(len(Prefix) + len(key))
	b.WriteString(Prefix)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ReadFunc reads a daemon's whole metrics snapshot, by key, as its
// /metrics/snapshot answers it. It is called once per scrape, from the
// scrape's goroutine, and must not keep or change the map it returns after
// returning.
type ReadFunc func(ctx context.Context) (map[string]float64, error)

// ScrapeTimeout bounds how long a scrape waits for a daemon's snapshot.
const ScrapeTimeout = 10 * time.Second

// snapshotCollector exports a ReadFunc's figures as gauges. It is unchecked
// (Describe sends nothing): the set of keys changes as frameworks and roles
// come and go.
type snapshotCollector struct {
	read ReadFunc
	log  *slog.Logger
	// fed are collected after each read, which may feed them.
	fed []prometheus.Collector
}

// Describe sends nothing: the collector is unchecked.
func (c *snapshotCollector) Describe(chan<- *prometheus.Desc) {}

// Collect reads the snapshot and sends one gauge per key, in key order.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	figures, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc(Prefix+"snapshot", "The metrics snapshot.", nil, nil), err)
		return
	}
	keys := make([]string, 0, len(figures))
	for k := range figures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		name := Name(k)
		if _, dup := seen[name]; dup {
			c.log.Debug("metric not exported: its Prometheus name is another's", "key", k, "name", name)
			continue
		}
		seen[name] = struct{}{}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, k, nil, nil), prometheus.GaugeValue, figures[k])
	}
	for _, f := range c.fed {
		f.Collect(ch)
	}
}

// Registry returns a registry holding the snapshot's figures as read by
// read, the collectors fed (collected right after each read, so that read
// may feed them: a registry collects its collectors concurrently), the Go
// runtime's and the process' collectors, and extra (the daemon's other
// histograms).
func Registry(read ReadFunc, log *slog.Logger, fed []prometheus.Collector, extra ...prometheus.Collector) *prometheus.Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&snapshotCollector{read: read, log: log, fed: fed},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(extra...)
	return reg
}

// Handler serves reg in Prometheus' exposition formats (text by default,
// as the scraper negotiates). A scrape whose snapshot cannot be read
// answers 500 with the reason.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.HTTPErrorOnError,
	})
}

// LatencyBuckets are the bounds, in seconds, of every Mezzo latency
// histogram: 100µs to about 100s, doubling.
var LatencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 21)

// NewAPIHistogram returns the histogram of API call latencies of daemon
// ("master" or "agent"), by api (the v1 API: "scheduler", "operator",
// "agent", "executor") and code (the HTTP status answered).
func NewAPIHistogram(daemon string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mezzo_" + daemon + "_api_call_duration_seconds",
		Help:    "Time from receiving a v1 API call to its answer's status line (for event streams, the time to open the stream).",
		Buckets: LatencyBuckets,
	}, []string{"api", "code"})
}

// Timed serves h and observes, in vec under api and the status code, the
// time until h wrote its status line (or returned, if it wrote nothing),
// as soon as it is written: an event stream is counted when it opens, and
// its long life is not counted.
func Timed(vec *prometheus.HistogramVec, api string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &timingWriter{ResponseWriter: w, start: time.Now(), vec: vec, api: api}
		h.ServeHTTP(tw, r)
		tw.answered(http.StatusOK)
	})
}

// timingWriter observes when its status line is written.
type timingWriter struct {
	http.ResponseWriter
	start    time.Time
	vec      *prometheus.HistogramVec
	api      string
	observed bool
}

// answered observes the time to the status line code, once; a handler
// that wrote nothing answered 200.
func (w *timingWriter) answered(code int) {
	if !w.observed {
		w.observed = true
		w.vec.WithLabelValues(w.api, strconv.Itoa(code)).Observe(time.Since(w.start).Seconds())
	}
}

// WriteHeader observes a final status and passes it on.
func (w *timingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.answered(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write passes b on; a first Write writes the status line 200.
func (w *timingWriter) Write(b []byte) (int, error) {
	w.answered(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// Flush passes a flush on (a stream's records); a first Flush writes the
// status line 200.
func (w *timingWriter) Flush() {
	w.answered(http.StatusOK)
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *timingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
