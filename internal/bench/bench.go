// Package bench is Mezzo's scale harness, behind `mezzo bench`: it runs a
// real master process (`mezzo master`) and puts it under the load of
// emulated agents (package emuagent: the real master↔agent protocol over
// loopback TCP, many agents per process, optionally several processes and
// several source addresses) and emulated frameworks (the v1 scheduler API
// through sdk/scheduler), and measures what the Mesos paper measured:
// the launch overhead seen by a probe framework, the master's CPU and
// memory, messages per second, placement rates, recovery and the latency
// of reads under load.
//
// Each scenario is one function taking its Options and returning a
// Result: one summary line for people and a JSON document for tools.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Result is a scenario's outcome: its name, the parameters it ran with,
// and its figures (durations in seconds, sizes in bytes, rates per
// second), written as JSON.
type Result struct {
	Scenario string         `json:"scenario"`
	Started  time.Time      `json:"started"`
	Params   map[string]any `json:"params"`
	Figures  map[string]any `json:"figures"`
	// Notes says what a reader needs to compare figures: the mode the
	// agents ran in (processes, source addresses), the machine's load.
	Notes []string `json:"notes,omitempty"`
	// Summary is the one-line summary.
	Summary string `json:"summary"`
}

func newResult(name string, params map[string]any) *Result {
	return &Result{Scenario: name, Started: time.Now().UTC(), Params: params, Figures: map[string]any{}}
}

// WriteJSON writes r to path, indented.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encoding the result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: writing the result: %w", err)
	}
	return nil
}

// summarize builds the summary line from the named figures, in order.
func (r *Result) summarize(keys ...string) {
	parts := []string{r.Scenario}
	for _, k := range keys {
		v, ok := r.Figures[k]
		if !ok {
			v, ok = r.Params[k]
		}
		if !ok {
			continue
		}
		parts = append(parts, k+"="+formatFigure(v))
	}
	r.Summary = strings.Join(parts, " ")
}

func formatFigure(v any) string {
	switch x := v.(type) {
	case float64:
		switch {
		case x == float64(int64(x)) && (x >= 100 || x <= -100):
			return fmt.Sprintf("%d", int64(x))
		case x >= 100:
			return fmt.Sprintf("%.0f", x)
		case x >= 1:
			return fmt.Sprintf("%.2f", x)
		default:
			return fmt.Sprintf("%.4f", x)
		}
	default:
		return fmt.Sprint(v)
	}
}

// Dist summarizes samples of durations, in seconds.
type Dist struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// distOf summarizes ds (nearest-rank percentiles).
func distOf(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Dist{
		N:    len(s),
		Mean: (sum / time.Duration(len(s))).Seconds(),
		P50:  quantile(s, 0.50).Seconds(),
		P99:  quantile(s, 0.99).Seconds(),
		Max:  s[len(s)-1].Seconds(),
	}
}

// quantile is the nearest-rank q-quantile of sorted s.
func quantile(s []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(s)) + 0.5)
	if i < 1 {
		i = 1
	}
	if i > len(s) {
		i = len(s)
	}
	return s[i-1]
}
