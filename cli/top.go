package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mezzo-project/mezzo/api/legacy"
)

// usageSample is one executor's cumulative usage at one time.
type usageSample struct {
	cpuSecs float64
	rss     uint64
	at      float64
}

// usageKey names an executor on an agent.
type usageKey struct{ agent, framework, executor string }

// busy is one row of the busiest tasks.
type busy struct {
	key  usageKey
	cpus float64 // CPUs in use over the last interval
	rss  uint64
}

func topCmd(o *options) *cobra.Command {
	var (
		once     bool
		interval time.Duration
		limit    int
	)
	c := &cobra.Command{
		Use:   "top",
		Short: "show live cluster utilisation and the busiest tasks",
		Long: strings.TrimSpace(`
Show the cluster's utilisation (the master's /metrics/snapshot) and its busiest tasks by CPU (each
agent's /monitor/statistics, the CPU time used between two samples), redrawn every --interval.
Agents, frameworks and tasks are followed through the master's operator event stream.
When the output is not a terminal, or with --once, print one frame (taken over one interval) and
exit. Ctrl-C stops it.`),
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 100*time.Millisecond {
				return usagef("--interval must be at least 100ms, got %s", interval)
			}
			if limit <= 0 {
				return usagef("--limit must be positive, got %d", limit)
			}
			c, err := o.connect()
			if err != nil {
				return err
			}
			tty := false
			height := 0
			if f, ok := o.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				tty = true
				if _, h, err := term.GetSize(int(f.Fd())); err == nil {
					height = h
				}
			}
			if !tty {
				once = true
			}
			// Agents, frameworks and tasks follow the event stream;
			// utilisation and usage are read every frame.
			ctx, cancel := context.WithCancel(o.ctx)
			defer cancel()
			live, err := followCluster(ctx, c)
			if err != nil {
				if o.ctx.Err() != nil {
					return ErrInterrupted
				}
				return err
			}
			prev := map[usageKey]usageSample{}
			for frame := 0; ; frame++ {
				select {
				case <-live.ended():
					if o.ctx.Err() != nil {
						return ErrInterrupted
					}
					return live.failure()
				default:
				}
				cl := live.snapshot()
				metrics := legacy.Metrics{}
				ctx, cancel := o.request()
				err := c.getJSON(ctx, "", "/metrics/snapshot", nil, &metrics)
				cur := o.sampleUsage(ctx, c, cl)
				cancel()
				if err != nil {
					return err
				}
				if frame > 0 || !once {
					limitRows := limit
					if height > 12 && limitRows > height-12 {
						limitRows = height - 12
					}
					var buf strings.Builder
					if tty && !once {
						buf.WriteString("\x1b[H\x1b[2J")
					}
					writeTopFrame(&buf, c, cl, metrics, busiest(prev, cur), limitRows, frame > 0)
					if _, err := io.WriteString(o.stdout, buf.String()); err != nil {
						return fmt.Errorf("writing: %w", err)
					}
					if once && frame > 0 {
						return nil
					}
				}
				prev = cur
				select {
				case <-o.ctx.Done():
					return ErrInterrupted
				case <-time.After(interval):
				}
			}
		},
	}
	c.Flags().BoolVar(&once, "once", false, "print one frame and exit")
	c.Flags().DurationVar(&interval, "interval", time.Second, "time between frames")
	c.Flags().IntVar(&limit, "limit", 10, "how many of the busiest tasks to show")
	return c
}

// sampleUsage reads every agent's /monitor/statistics, 16 at a time. An
// agent that does not answer is left out of this frame.
func (o *options) sampleUsage(ctx context.Context, c *client, cl *cluster) map[usageKey]usageSample {
	out := map[usageKey]usageSample{}
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for id, a := range cl.agents {
		if !a.GetActive() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(id, addr string) {
			defer wg.Done()
			defer func() { <-sem }()
			var stats legacy.MonitorStatistics
			if err := c.getJSON(ctx, addr, "/monitor/statistics", nil, &stats); err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range stats {
				s := e.Statistics
				var cpu float64
				if s.CPUsUserTimeSecs != nil {
					cpu += float64(*s.CPUsUserTimeSecs)
				}
				if s.CPUsSystemTimeSecs != nil {
					cpu += float64(*s.CPUsSystemTimeSecs)
				}
				var rss uint64
				if s.MemRSSBytes != nil {
					rss = *s.MemRSSBytes
				}
				out[usageKey{id, e.FrameworkID, e.ExecutorID}] = usageSample{cpuSecs: cpu, rss: rss, at: float64(s.Timestamp)}
			}
		}(id, agentAddress(a))
	}
	wg.Wait()
	return out
}

// busiest ranks the executors by the CPUs they used between two samples.
func busiest(prev, cur map[usageKey]usageSample) []busy {
	var out []busy
	for k, s := range cur {
		b := busy{key: k, rss: s.rss}
		if p, ok := prev[k]; ok && s.at > p.at && s.cpuSecs >= p.cpuSecs {
			b.cpus = (s.cpuSecs - p.cpuSecs) / (s.at - p.at)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].cpus != out[j].cpus {
			return out[i].cpus > out[j].cpus
		}
		if out[i].rss != out[j].rss {
			return out[i].rss > out[j].rss
		}
		return out[i].key.executor < out[j].key.executor
	})
	return out
}

func writeTopFrame(w io.Writer, c *client, cl *cluster, m legacy.Metrics, rows []busy, limit int, rated bool) {
	pct := func(used, total string) string {
		if m[total] == 0 {
			return fmt.Sprintf("%s of %s", num(float64(m[used])), num(float64(m[total])))
		}
		return fmt.Sprintf("%s of %s (%.0f%%)", num(float64(m[used])), num(float64(m[total])), 100*float64(m[used])/float64(m[total]))
	}
	mem := func(used, total string) string {
		s := fmt.Sprintf("%s of %s", mb(float64(m[used])), mb(float64(m[total])))
		if m[total] > 0 {
			s += fmt.Sprintf(" (%.0f%%)", 100*float64(m[used])/float64(m[total]))
		}
		return s
	}
	fmt.Fprintf(w, "mezzo top - %s - master %s\n", time.Now().Format("15:04:05"), c.addr)
	fmt.Fprintf(w, "Agents: %d active   Frameworks: %d active   Tasks: %d running, %d staging\n",
		int(m["master/slaves_active"]), int(m["master/frameworks_active"]), int(m["master/tasks_running"]), int(m["master/tasks_staging"]))
	fmt.Fprintf(w, "CPUs:   %s allocated\n", pct("master/cpus_used", "master/cpus_total"))
	fmt.Fprintf(w, "Memory: %s allocated\n", mem("master/mem_used", "master/mem_total"))
	fmt.Fprintf(w, "Disk:   %s allocated\n\n", mem("master/disk_used", "master/disk_total"))
	names := map[usageKey]string{}
	for _, t := range cl.tasks[:cl.live] {
		ex := t.GetExecutorId().GetValue()
		if ex == "" {
			ex = t.GetTaskId().GetValue()
		}
		k := usageKey{t.GetAgentId().GetValue(), t.GetFrameworkId().GetValue(), ex}
		if names[k] != "" {
			names[k] += ","
		}
		names[k] += t.GetTaskId().GetValue()
	}
	t := newTable(w, "TASKS", "FRAMEWORK", "AGENT", "CPUS USED", "MEMORY")
	for i, r := range rows {
		if i == limit {
			break
		}
		tasks := names[r.key]
		if tasks == "" {
			tasks = "executor " + r.key.executor
		}
		cpu := "?"
		if rated {
			cpu = fmt.Sprintf("%.2f", r.cpus)
		}
		t.row(tasks, cl.frameworkName(r.key.framework), cl.agentName(r.key.agent), cpu, bytesize(r.rss))
	}
	_ = t.flush()
	if len(rows) == 0 {
		fmt.Fprintln(w, "(no running executors)")
	}
}
