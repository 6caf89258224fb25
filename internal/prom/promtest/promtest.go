// Package promtest reads a daemon's /metrics with Prometheus' own parser
// (github.com/prometheus/common/expfmt) and compares it with the daemon's
// /metrics/snapshot, for the master's and the agent's tests.
package promtest

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mezzo-project/mezzo/internal/prom"
)

// Scrape GETs url as Prometheus' scraper does (text format) and parses the
// answer; it fails tb unless the answer is 200 in the text format and
// parses.
func Scrape(tb testing.TB, url string) map[string]*dto.MetricFamily {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		tb.Fatalf("scrape %s: %s: %s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		tb.Fatalf("scrape %s: Content-Type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// Snapshot GETs url, a /metrics/snapshot, and decodes it.
func Snapshot(tb testing.TB, url string) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	var out map[string]float64
	if err := json.Unmarshal(body, &out); err != nil {
		tb.Fatalf("%s: %v: %s", url, err, body)
	}
	return out
}

// CheckSnapshot fails tb unless every key of before is in fams as a gauge
// under prom.Name(key). A key with the same value in before and after (two
// snapshots taken before and after the scrape) must have that value; the
// others (uptime, timers, host gauges) changed meanwhile and are checked
// for presence only. It returns how many values it compared.
func CheckSnapshot(tb testing.TB, before, after map[string]float64, fams map[string]*dto.MetricFamily) int {
	tb.Helper()
	compared := 0
	for k, v := range before {
		name := prom.Name(k)
		fam := fams[name]
		if fam == nil {
			tb.Errorf("/metrics lacks %s (%s)", name, k)
			continue
		}
		if fam.GetType() != dto.MetricType_GAUGE || len(fam.GetMetric()) != 1 {
			tb.Errorf("%s: type %v with %d series, want one gauge", name, fam.GetType(), len(fam.GetMetric()))
			continue
		}
		if fam.GetHelp() != k {
			tb.Errorf("%s: help %q, want the snapshot key %q", name, fam.GetHelp(), k)
		}
		w, ok := after[k]
		if !ok || w != v && !(math.IsNaN(w) && math.IsNaN(v)) {
			continue
		}
		compared++
		if got := fam.GetMetric()[0].GetGauge().GetValue(); got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			tb.Errorf("%s = %v, /metrics/snapshot has %s = %v", name, got, k, v)
		}
	}
	return compared
}

// HistogramCount is how many observations the histogram name holds in the
// series whose labels include labels (all series: none given).
func HistogramCount(fams map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	fam := fams[name]
	if fam == nil || fam.GetType() != dto.MetricType_HISTOGRAM {
		return 0
	}
	var n uint64
	for _, m := range fam.GetMetric() {
		match := 0
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
				match++
			}
		}
		if match == len(labels) {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}
