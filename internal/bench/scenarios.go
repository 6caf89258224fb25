package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// Env is what every scenario shares: where its master runs and how its
// agents are emulated.
type Env struct {
	// Dir holds the master's work directory and log (a temporary
	// directory when empty; removed at the end unless Keep).
	Dir  string
	Keep bool
	// Binary is the mezzo binary for the master and agent processes.
	Binary string
	// MasterFlags are extra `mezzo master` flags.
	MasterFlags []string
	// ZK, a zk:// URL, runs Masters masters (default 3) that elect their
	// leader in that ZooKeeper; agents and frameworks follow the leader.
	ZK      string
	Masters int
	// AgentProcs, SourceAddrs, AgentResources and AgentAttributes shape
	// the fleet (FleetOptions).
	AgentProcs      int
	SourceAddrs     []string
	AgentResources  string
	AgentAttributes string
	// AgentsHTTP2 multiplexes the agents over HTTP/2 connections
	// (FleetOptions.HTTP2).
	AgentsHTTP2 bool
	// TaskResources is what each emulated framework's task takes.
	TaskResources string
	// Log, when set, receives progress lines.
	Log func(format string, args ...any)
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		e.Log(format, args...)
	}
}

// cluster is the masters of a scenario.
type cluster struct {
	masters []*Master
	// url is what agents and frameworks are given: the master's address,
	// or the zk:// URL.
	url string
}

// leader waits for the master that leads (the only one without ZK).
func (c *cluster) leader(ctx context.Context) (*Master, error) {
	if len(c.masters) == 1 {
		return c.masters[0], nil
	}
	return c.leaderOtherThan(ctx, nil)
}

// leaderOtherThan waits for a leader that is not not.
func (c *cluster) leaderOtherThan(ctx context.Context, not *Master) (*Master, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		for _, m := range c.masters {
			if m != not && m.Elected(ctx) {
				return m, nil
			}
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, fmt.Errorf("bench: no leading master: %w", err)
		}
	}
}

func (c *cluster) kill() {
	for _, m := range c.masters {
		m.Kill()
	}
}

// start starts the masters and n agents, and waits until all agents are
// connected to the leader.
func (e *Env) start(ctx context.Context, n int, taskDuration time.Duration, spread float64) (*cluster, *Master, *Fleet, func(), error) {
	dir := e.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "mezzo-bench-")
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("bench: %w", err)
		}
		dir = d
	}
	c := &cluster{}
	if e.ZK == "" {
		m, err := StartMaster(ctx, MasterOptions{Binary: e.Binary, Dir: dir, Flags: e.MasterFlags})
		if err != nil {
			return nil, nil, nil, nil, err
		}
		c.masters, c.url = []*Master{m}, m.Addr
	} else {
		k := e.Masters
		if k <= 0 {
			k = 3
		}
		flags := append([]string{"--zk=" + e.ZK, "--quorum=" + fmt.Sprint(k/2+1)}, e.MasterFlags...)
		for i := range k {
			m, err := StartMaster(ctx, MasterOptions{Binary: e.Binary, Dir: dir, Flags: flags,
				Name: fmt.Sprintf("master%d", i), Standby: true})
			if err != nil {
				c.kill()
				return nil, nil, nil, nil, err
			}
			c.masters = append(c.masters, m)
		}
		c.url = e.ZK
	}
	leader, err := c.leader(ctx)
	if err != nil {
		c.kill()
		return nil, nil, nil, nil, err
	}
	fo := FleetOptions{
		Master: c.url, Count: n, Procs: e.AgentProcs, SourceAddrs: e.SourceAddrs,
		Resources: e.AgentResources, Attributes: e.AgentAttributes,
		TaskDuration: taskDuration, TaskDurationSpread: spread, Binary: e.Binary,
		HTTP2: e.AgentsHTTP2,
	}
	e.logf("starting %s", fo.Mode())
	start := time.Now()
	fleet, err := StartFleet(ctx, fo)
	if err != nil {
		c.kill()
		return nil, nil, nil, nil, err
	}
	cleanup := func() {
		fleet.Close()
		c.kill()
		if e.Dir == "" && !e.Keep {
			os.RemoveAll(dir)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if _, err := leader.WaitMetric(wctx, "master/slaves_connected", func(v float64) bool { return v >= float64(n) }); err != nil {
		cleanup()
		return nil, nil, nil, nil, err
	}
	e.logf("%d agents registered in %.1fs", n, time.Since(start).Seconds())
	return c, leader, fleet, cleanup, nil
}

// frameworks starts n emulated frameworks named <prefix><i>.
func (e *Env) frameworks(ctx context.Context, c *cluster, n int, prefix string, keep int, cmd func(int) string) ([]*Framework, error) {
	fws := make([]*Framework, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fws[i], errs[i] = StartFramework(ctx, FrameworkOptions{
				Master: c.url, Name: fmt.Sprintf("%s%d", prefix, i), TaskResources: e.TaskResources,
				Keep: keep, Command: cmd,
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return fws, nil
}

// messages sums what the fleet and the frameworks sent and received.
func messages(fleet *Fleet, fws []*Framework) int64 {
	s, r := fleet.Messages()
	total := s + r
	for _, f := range fws {
		if f != nil {
			fs, fr := f.Messages()
			total += fs + fr
		}
	}
	return total
}

// PaperOptions is the Mesos paper's experiment: agents, frameworks that
// keep tasks of about TaskDuration running, and a probe framework that
// measures the launch overhead.
type PaperOptions struct {
	Agents, Frameworks int
	TaskDuration       time.Duration
	// Load is the share of the cluster's cpus the frameworks keep busy.
	Load float64
	// Warmup runs the load before measuring; Window is the measurement.
	Warmup, Window time.Duration
	// ProbeEvery is the time between probes.
	ProbeEvery time.Duration
}

// probeSteps are the figures Paper reports of its probes: the launch
// overhead and the steps it is made of, one after the other.
var probeSteps = map[string]func(ProbeTimes) time.Duration{
	// From the subscription to the terminal update: the launch overhead.
	"probe_overhead_s": func(pt ProbeTimes) time.Duration { return pt.Ended },
	// SUBSCRIBE answered.
	"probe_subscribe_s": func(pt ProbeTimes) time.Duration { return pt.Subscribed },
	// From SUBSCRIBED to the first offer.
	"probe_offer_wait_s": func(pt ProbeTimes) time.Duration { return pt.Offered - pt.Subscribed },
	// From the offer to the ACCEPT answered.
	"probe_accept_s": func(pt ProbeTimes) time.Duration { return pt.Launched - pt.Offered },
	// From the ACCEPT answered to the agent's TASK_RUNNING: RUN_TASK's
	// way through the master's outbox to the agent, and the agent's
	// queue of events before it.
	"probe_to_agent_s": func(pt ProbeTimes) time.Duration { return pt.AgentRunning - pt.Launched },
	// From the agent's TASK_RUNNING to the framework: the agent's call,
	// the master, the framework's event stream.
	"probe_running_update_s": func(pt ProbeTimes) time.Duration { return pt.Running - pt.AgentRunning },
	// From TASK_RUNNING at the framework to the agent's terminal update:
	// the acknowledgement's way back to the agent (an agent sends a
	// task's next update once the one before is acknowledged).
	"probe_ack_running_s": func(pt ProbeTimes) time.Duration { return pt.AgentEnded - pt.Running },
	// From the agent's terminal update to the framework.
	"probe_end_update_s": func(pt ProbeTimes) time.Duration { return pt.Ended - pt.AgentEnded },
}

// Paper runs the paper's experiment.
func Paper(ctx context.Context, e Env, o PaperOptions) (*Result, error) {
	r := newResult("paper", map[string]any{"agents": o.Agents, "frameworks": o.Frameworks,
		"task_duration_s": o.TaskDuration.Seconds(), "load": o.Load, "window_s": o.Window.Seconds(),
		"agent_resources": e.AgentResources, "task_resources": e.TaskResources})
	c, m, fleet, cleanup, err := e.start(ctx, o.Agents, o.TaskDuration, 0.5)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	r.Notes = append(r.Notes, fleet.opts.Mode())
	agentCPUs, err := scalarOf(e.AgentResources, "cpus")
	if err != nil {
		return nil, err
	}
	taskCPUs, err := scalarOf(e.TaskResources, "cpus")
	if err != nil {
		return nil, err
	}
	keep := int(o.Load * float64(o.Agents) * agentCPUs / taskCPUs / float64(o.Frameworks))
	r.Params["tasks_per_framework"] = keep
	fws, err := e.frameworks(ctx, c, o.Frameworks, "paper-", max(keep, 1), nil)
	if err != nil {
		return nil, err
	}
	defer teardown(fws)
	e.logf("%d frameworks keep %d tasks each; warming up for %s", o.Frameworks, keep, o.Warmup)
	if err := sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}
	w, err := startWindow(m.Pid())
	if err != nil {
		return nil, err
	}
	msg0 := messages(fleet, fws)
	run0 := runningCount(fws)
	var probes []ProbeTimes
	var probeErrs int
	deadline := time.Now().Add(o.Window)
	for i := 0; time.Now().Before(deadline); i++ {
		pt, err := Probe(ctx, c.url, fmt.Sprintf("probe-%d", i), e.TaskResources)
		if err != nil {
			probeErrs++
			e.logf("probe %d: %v", i, err)
		} else {
			probes = append(probes, pt)
			if pt.LaunchErrors > 0 {
				e.logf("probe %d: %d failed ACCEPT(s), the last: %s", i, pt.LaunchErrors, pt.LastError)
			}
		}
		if err := sleep(ctx, min(o.ProbeEvery, time.Until(deadline))); err != nil {
			return nil, err
		}
	}
	cpu, u, err := w.end()
	if err != nil {
		return nil, err
	}
	el := time.Since(w.start).Seconds()
	for name, step := range probeSteps {
		var ds []time.Duration
		for _, pt := range probes {
			ds = append(ds, step(pt))
		}
		r.Figures[name] = distOf(ds)
	}
	pd := r.Figures["probe_overhead_s"].(Dist)
	r.Figures["probe_mean_s"] = pd.Mean
	r.Figures["probe_p99_s"] = pd.P99
	r.Figures["probe_failures"] = probeErrs
	noteLaunchErrors(r, fws)
	r.Figures["master_cpu_cores"] = cpu
	r.Figures["master_rss_bytes"] = u.RSS
	r.Figures["master_rss_mb"] = float64(u.RSS) / (1 << 20)
	r.Figures["messages_per_s"] = float64(messages(fleet, fws)-msg0) / el
	r.Figures["tasks_started_per_s"] = float64(runningCount(fws)-run0) / el
	r.summarize("agents", "frameworks", "probe_mean_s", "probe_p99_s", "master_cpu_cores", "master_rss_mb", "messages_per_s", "tasks_started_per_s")
	return r, nil
}

// BurstOptions is the placement burst: Tasks submitted at once through
// Frameworks frameworks on Agents agents.
type BurstOptions struct {
	Agents, Frameworks, Tasks int
	Timeout                   time.Duration
}

// Burst runs the placement burst.
func Burst(ctx context.Context, e Env, o BurstOptions) (*Result, error) {
	r := newResult("burst", map[string]any{"agents": o.Agents, "frameworks": o.Frameworks, "tasks": o.Tasks,
		"agent_resources": e.AgentResources, "task_resources": e.TaskResources})
	c, m, fleet, cleanup, err := e.start(ctx, o.Agents, time.Hour, 0)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	r.Notes = append(r.Notes, fleet.opts.Mode())
	fws, err := e.frameworks(ctx, c, o.Frameworks, "burst-", 0, nil)
	if err != nil {
		return nil, err
	}
	defer teardown(fws)
	w, err := startWindow(m.Pid())
	if err != nil {
		return nil, err
	}
	msg0 := messages(fleet, fws)
	start := time.Now()
	per := o.Tasks / o.Frameworks
	for i, f := range fws {
		n := per
		if i == 0 {
			n += o.Tasks - per*o.Frameworks
		}
		f.Submit(n)
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for i, f := range fws {
		n := per
		if i == 0 {
			n += o.Tasks - per*o.Frameworks
		}
		if err := f.WaitRunning(wctx, n); err != nil {
			return nil, err
		}
	}
	cpu, u, err := w.end()
	if err != nil {
		return nil, err
	}
	var placed, running []time.Duration
	var lastPlaced, lastRunning time.Time
	for _, f := range fws {
		s := f.Stats()
		placed = append(placed, s.Placed...)
		running = append(running, s.Running...)
		if s.LastPlaced.After(lastPlaced) {
			lastPlaced = s.LastPlaced
		}
		if s.LastRunning.After(lastRunning) {
			lastRunning = s.LastRunning
		}
	}
	noteLaunchErrors(r, fws)
	pd, rd := distOf(placed), distOf(running)
	first := math.Inf(1)
	for _, d := range placed {
		first = math.Min(first, d.Seconds())
	}
	allPlaced := lastPlaced.Sub(start).Seconds()
	r.Figures["placed_s"] = pd
	r.Figures["running_s"] = rd
	r.Figures["first_placed_s"] = first
	r.Figures["p50_placed_s"] = pd.P50
	r.Figures["p99_placed_s"] = pd.P99
	r.Figures["all_placed_s"] = allPlaced
	r.Figures["p50_running_s"] = rd.P50
	r.Figures["p99_running_s"] = rd.P99
	r.Figures["all_running_s"] = lastRunning.Sub(start).Seconds()
	r.Figures["placements_per_s"] = float64(o.Tasks) / allPlaced
	r.Figures["master_cpu_cores"] = cpu
	r.Figures["master_rss_mb"] = float64(u.RSS) / (1 << 20)
	r.Figures["messages_per_s"] = float64(messages(fleet, fws)-msg0) / time.Since(start).Seconds()
	r.summarize("agents", "tasks", "first_placed_s", "p50_placed_s", "p99_placed_s", "all_placed_s", "all_running_s", "placements_per_s", "master_cpu_cores", "master_rss_mb")
	return r, nil
}

// IdleOptions is the idle-scale scenario: Agents agents and no
// frameworks for Window, then one agent goes silent.
type IdleOptions struct {
	Agents int
	Window time.Duration
	// DetectTimeout bounds the wait for the silent agent to be noticed.
	DetectTimeout time.Duration
}

// Idle runs the idle-scale scenario.
func Idle(ctx context.Context, e Env, o IdleOptions) (*Result, error) {
	r := newResult("idle", map[string]any{"agents": o.Agents, "window_s": o.Window.Seconds(),
		"master_flags": strings.Join(e.MasterFlags, " ")})
	_, m, fleet, cleanup, err := e.start(ctx, o.Agents, 0, 0)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	r.Notes = append(r.Notes, fleet.opts.Mode())
	w, err := startWindow(m.Pid())
	if err != nil {
		return nil, err
	}
	msg0 := messages(fleet, nil)
	if err := sleep(ctx, o.Window); err != nil {
		return nil, err
	}
	cpu, u, err := w.end()
	if err != nil {
		return nil, err
	}
	r.Figures["master_cpu_cores"] = cpu
	r.Figures["master_rss_mb"] = float64(u.RSS) / (1 << 20)
	r.Figures["messages_per_s"] = float64(messages(fleet, nil)-msg0) / time.Since(w.start).Seconds()
	ms, err := m.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	before := ms["master/slaves_unreachable"]
	silenced := time.Now()
	if _, err := fleet.Silence(o.Agents / 2); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, o.DetectTimeout)
	defer cancel()
	if _, err := m.WaitMetric(dctx, "master/slaves_unreachable", func(v float64) bool { return v > before }); err != nil {
		return nil, fmt.Errorf("bench: the silent agent was not found unreachable: %w", err)
	}
	r.Figures["silent_agent_noticed_s"] = time.Since(silenced).Seconds()
	r.summarize("agents", "master_cpu_cores", "master_rss_mb", "messages_per_s", "silent_agent_noticed_s")
	return r, nil
}

// FailoverOptions is the failover storm: Agents agents running
// TasksPerAgent tasks each re-register with a restarted master, or with
// a new leader when the Env runs several masters (Env.ZK).
type FailoverOptions struct {
	Agents, TasksPerAgent, Frameworks int
	Timeout                           time.Duration
}

// Failover runs the failover storm: the (leading) master is killed with
// SIGKILL; with one master it is started again on the same registry,
// with several the next leader takes over.
func Failover(ctx context.Context, e Env, o FailoverOptions) (*Result, error) {
	r := newResult("failover", map[string]any{"agents": o.Agents, "tasks": o.Agents * o.TasksPerAgent,
		"frameworks": o.Frameworks, "registration_backoff_factor_s": 1.0})
	c, m, fleet, cleanup, err := e.start(ctx, o.Agents, time.Hour, 0)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	r.Notes = append(r.Notes, fleet.opts.Mode())
	r.Params["masters"] = len(c.masters)
	fws, err := e.frameworks(ctx, c, o.Frameworks, "failover-", 0, nil)
	if err != nil {
		return nil, err
	}
	defer teardown(fws)
	total := o.Agents * o.TasksPerAgent
	per := total / o.Frameworks
	for _, f := range fws {
		f.Submit(per)
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for _, f := range fws {
		if err := f.WaitRunning(wctx, per); err != nil {
			return nil, err
		}
	}
	running := float64(per * o.Frameworks)
	killed := time.Now()
	next := m
	if len(c.masters) == 1 {
		e.logf("%d tasks running; restarting the master", int(running))
		if err := m.Restart(ctx); err != nil {
			return nil, err
		}
		r.Figures["master_up_s"] = time.Since(killed).Seconds()
	} else {
		e.logf("%d tasks running; killing the leading master", int(running))
		m.Kill()
		if next, err = c.leaderOtherThan(ctx, m); err != nil {
			return nil, err
		}
		r.Figures["new_leader_elected_s"] = time.Since(killed).Seconds()
	}
	if _, err := next.WaitMetric(wctx, "master/slaves_connected", func(v float64) bool { return v >= float64(o.Agents) }); err != nil {
		return nil, err
	}
	r.Figures["all_agents_reregistered_s"] = time.Since(killed).Seconds()
	if _, err := next.WaitMetric(wctx, "master/tasks_running", func(v float64) bool { return v >= running }); err != nil {
		return nil, err
	}
	r.Figures["all_tasks_known_s"] = time.Since(killed).Seconds()
	r.summarize("agents", "tasks", "masters", "new_leader_elected_s", "master_up_s", "all_agents_reregistered_s", "all_tasks_known_s")
	return r, nil
}

// StateOptions is reads under load: Agents agents with Running running
// and Completed completed tasks over Frameworks frameworks, while
// Pollers clients read /master/state, GET_STATE and /metrics/snapshot
// and a scheduler's calls are timed.
type StateOptions struct {
	Agents, Frameworks, Running, Completed, Pollers int
	Window, Timeout                                 time.Duration
}

// State runs reads under load.
func State(ctx context.Context, e Env, o StateOptions) (*Result, error) {
	r := newResult("state", map[string]any{"agents": o.Agents, "frameworks": o.Frameworks, "running": o.Running,
		"completed": o.Completed, "pollers": o.Pollers, "window_s": o.Window.Seconds()})
	c, m, fleet, cleanup, err := e.start(ctx, o.Agents, time.Hour, 0)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	r.Notes = append(r.Notes, fleet.opts.Mode())
	doneEach := o.Completed / o.Frameworks
	runEach := o.Running / o.Frameworks
	fws, err := e.frameworks(ctx, c, o.Frameworks, "state-", 0, func(i int) string {
		if i < doneEach {
			return "sleep 0"
		}
		return "sleep 3600"
	})
	if err != nil {
		return nil, err
	}
	defer teardown(fws)
	for _, f := range fws {
		f.Submit(doneEach + runEach)
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for _, f := range fws {
		if err := f.WaitRunning(wctx, doneEach+runEach); err != nil {
			return nil, err
		}
	}
	want := float64(doneEach * o.Frameworks)
	if _, err := m.WaitMetric(wctx, "master/tasks_finished", func(v float64) bool { return v >= want }); err != nil {
		return nil, err
	}
	e.logf("%d running and %d finished tasks; polling", runEach*o.Frameworks, doneEach*o.Frameworks)
	getState := []byte(`{"type":"GET_STATE"}`)
	reads := map[string]func(context.Context) (time.Duration, int64, error){
		"master_state": func(ctx context.Context) (time.Duration, int64, error) { return m.get(ctx, "/master/state") },
		"get_state": func(ctx context.Context) (time.Duration, int64, error) {
			return m.do(ctx, "POST", "/api/v1", codec.MediaJSON, getState)
		},
		"metrics": func(ctx context.Context) (time.Duration, int64, error) { return m.get(ctx, "/metrics/snapshot") },
	}
	kinds := []string{"master_state", "get_state", "metrics"}
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	size := map[string]int64{}
	var readErrs []error
	pctx, pcancel := context.WithTimeout(ctx, o.Window)
	defer pcancel()
	var wg sync.WaitGroup
	for p := range o.Pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; pctx.Err() == nil; i++ {
				k := kinds[i%len(kinds)]
				d, n, err := reads[k](pctx)
				if pctx.Err() != nil {
					return
				}
				mu.Lock()
				if err != nil {
					readErrs = append(readErrs, fmt.Errorf("%s: %w", k, err))
				} else {
					lat[k] = append(lat[k], d)
					size[k] = n
				}
				mu.Unlock()
			}
		}()
	}
	// A scheduler's calls meanwhile: reconciliation of one task, timed
	// to the master's 202.
	var calls []time.Duration
	sc := fws[0].Client()
	one := &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{
		Tasks: []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("state-0-0")}}}}}
	for pctx.Err() == nil {
		start := time.Now()
		if err := sc.Call(pctx, one); err == nil {
			calls = append(calls, time.Since(start))
		}
		sleep(pctx, 50*time.Millisecond)
	}
	wg.Wait()
	for _, k := range kinds {
		d := distOf(lat[k])
		r.Figures[k+"_s"] = d
		r.Figures[k+"_p50_s"] = d.P50
		r.Figures[k+"_p99_s"] = d.P99
		r.Figures[k+"_bytes"] = size[k]
	}
	cd := distOf(calls)
	r.Figures["scheduler_call_s"] = cd
	var relaunched int64
	for _, f := range fws {
		relaunched += f.Relaunched()
	}
	r.Figures["relaunched_tasks"] = relaunched
	r.Figures["scheduler_call_p99_s"] = cd.P99
	r.Figures["read_errors"] = len(readErrs)
	if len(readErrs) > 0 {
		r.Notes = append(r.Notes, "first read error: "+readErrs[0].Error())
	}
	r.summarize("agents", "running", "completed", "master_state_p50_s", "master_state_p99_s", "get_state_p99_s", "metrics_p99_s", "scheduler_call_p99_s", "read_errors")
	return r, nil
}

// noteLaunchErrors adds the frameworks' failed ACCEPT calls to r.
func noteLaunchErrors(r *Result, fws []*Framework) {
	var n int64
	for _, f := range fws {
		k, last := f.LaunchErrors()
		if k > 0 && n == 0 {
			r.Notes = append(r.Notes, "a failed ACCEPT: "+last)
		}
		n += k
	}
	r.Figures["launch_errors"] = n
}

func teardown(fws []*Framework) {
	var wg sync.WaitGroup
	for _, f := range fws {
		wg.Add(1)
		go func() { defer wg.Done(); f.Teardown() }()
	}
	wg.Wait()
}

func runningCount(fws []*Framework) int {
	n := 0
	for _, f := range fws {
		f.mu.Lock()
		n += len(f.running)
		f.mu.Unlock()
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
