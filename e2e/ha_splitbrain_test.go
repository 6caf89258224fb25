package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mastership is what one master process did as leader, read from its
// debug log: when it was elected, when it said it lost leadership (zero
// if it never did: it was killed or still leads), and when it sent
// offers and accepted task launches.
type mastership struct {
	name           string
	elected, lost  time.Time
	offers, launch []time.Time
}

// actions returns the times of every offer and launch, in order.
func (m mastership) actions() []time.Time {
	all := append(append([]time.Time(nil), m.offers...), m.launch...)
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	return all
}

// readMastership parses a master's text log (time=<RFC 3339> first).
func readMastership(t *testing.T, p *proc) mastership {
	t.Helper()
	m := mastership{name: p.name}
	for _, line := range strings.Split(p.out.String(), "\n") {
		if !strings.HasPrefix(line, "time=") {
			continue
		}
		ts, rest, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("%s: bad time in %q: %v", p.name, line, err)
		}
		switch {
		case strings.Contains(rest, `msg="elected leading master"`) && m.elected.IsZero():
			m.elected = tm
		case strings.Contains(rest, "lost leadership") && m.lost.IsZero():
			m.lost = tm
		case strings.Contains(rest, `msg="sent offers"`):
			m.offers = append(m.offers, tm)
		case strings.Contains(rest, `msg="launching task"`):
			m.launch = append(m.launch, tm)
		}
	}
	return m
}

// checkNoSplitBrain reads every master process' log and fails if two
// masters ever sent offers or accepted launches over overlapping spans of
// time, or if a master acted outside its term (before its election or
// after it said it lost leadership). It returns the terms, in order of
// their first action, of the masters that acted.
func (c *haCluster) checkNoSplitBrain(t *testing.T) []mastership {
	t.Helper()
	var acted []mastership
	for _, p := range c.history {
		m := readMastership(t, p)
		a := m.actions()
		if len(a) == 0 {
			continue
		}
		if m.elected.IsZero() || a[0].Before(m.elected) {
			t.Errorf("%s sent offers or launched tasks at %s without being elected (elected %s)", m.name, a[0].Format(time.RFC3339Nano), m.elected)
		}
		if !m.lost.IsZero() && a[len(a)-1].After(m.lost) {
			t.Errorf("split brain: %s acted at %s after losing leadership at %s", m.name, a[len(a)-1].Format(time.RFC3339Nano), m.lost.Format(time.RFC3339Nano))
		}
		acted = append(acted, m)
	}
	sort.Slice(acted, func(i, j int) bool { return acted[i].actions()[0].Before(acted[j].actions()[0]) })
	for i := 1; i < len(acted); i++ {
		prev, next := acted[i-1], acted[i]
		pa, na := prev.actions(), next.actions()
		if !pa[len(pa)-1].Before(na[0]) {
			t.Errorf("split brain: %s acted until %s, %s from %s", prev.name, pa[len(pa)-1].Format(time.RFC3339Nano),
				next.name, na[0].Format(time.RFC3339Nano))
		}
		if !prev.lost.IsZero() && !next.elected.After(prev.lost) {
			t.Errorf("split brain: %s was elected at %s, before %s lost leadership at %s", next.name, next.elected, prev.name, prev.lost)
		}
	}
	for _, m := range acted {
		t.Logf("%s: elected %s, %d offers and %d launches from %s to %s", m.name, m.elected.Format("15:04:05.000"),
			len(m.offers), len(m.launch), m.actions()[0].Format("15:04:05.000"), m.actions()[len(m.actions())-1].Format("15:04:05.000"))
	}
	return acted
}

// keepLaunching runs short tasks one after another through the
// cluster's ZooKeeper URL until stop is called, which returns how many
// finished. Runs that fail while no master leads are expected and only
// counted.
func (c *haCluster) keepLaunching(t *testing.T) (stop func() (finished, failed int)) {
	t.Helper()
	var done atomic.Bool
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !done.Load(); i++ {
			// Not run(): this goroutine may not end the test.
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			out, err := exec.CommandContext(ctx, bin.mezzo, "execute", "--master="+c.url, fmt.Sprintf("--name=churn-%d", i),
				"--command=true", "--resources=cpus:0.1;mem:16").CombinedOutput()
			cancel()
			if err == nil && strings.Contains(string(out), "TASK_FINISHED") {
				ok.Add(1)
			} else {
				bad.Add(1)
			}
		}
	}()
	return func() (int, int) {
		done.Store(true)
		wg.Wait()
		return int(ok.Load()), int(bad.Load())
	}
}

// requireTerms checks that at least two masters acted (the check above is
// not vacuous) and that the first is the one the test deposed.
func requireTerms(t *testing.T, terms []mastership, first string) {
	t.Helper()
	if len(terms) < 2 {
		t.Fatalf("%d master(s) sent offers or launched tasks; the test needs the old and the new leader to", len(terms))
	}
	if terms[0].name != first {
		t.Errorf("the first master to act was %s, want %s", terms[0].name, first)
	}
}
