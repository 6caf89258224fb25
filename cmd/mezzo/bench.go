package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mezzo-project/mezzo/internal/bench"
	"github.com/mezzo-project/mezzo/internal/emuagent"
	"github.com/mezzo-project/mezzo/internal/flags"
)

func init() {
	register(command{
		name:    "bench",
		summary: "run a scale scenario: a real master under emulated agents and frameworks",
		run:     runBench,
	})
}

// benchScenarios are `mezzo bench`'s scenarios, in the order the usage
// lists them.
var benchScenarios = []struct{ name, summary string }{
	{"paper", "the Mesos paper's experiment: agents, frameworks keeping ~30s tasks running, a probe measuring launch overhead"},
	{"burst", "placement burst: many tasks submitted at once through several frameworks"},
	{"idle", "idle agents: master CPU and memory, and the time to notice a silent agent"},
	{"failover", "agents with running tasks re-registering with a restarted master"},
	{"state", "/master/state, GET_STATE and /metrics under load while a scheduler's calls are timed"},
	{"allocator", "full allocation cycles of the allocator, in process"},
	{"agents", "run emulated agents only (the scenarios start these as their agent processes)"},
}

func benchUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: mezzo bench <scenario> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Scenarios:")
	for _, s := range benchScenarios {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Each prints one summary line and writes its result as JSON (--out). 'mezzo bench <scenario> --help' lists its flags.")
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		benchUsage(w)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name, args := args[0], args[1:]
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if _, err := bench.RaiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "mezzo bench: %v (large scenarios may run out of files)\n", err)
	}
	if name == "agents" {
		return runBenchAgents(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("mezzo bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		e                            bench.Env
		out, sources, cpuprofile     string
		masterFlags                  listFlag
		agents, frameworks, tasks    int
		procs, pollers, cycles       int
		roles, perAgent, completed   int
		load                         float64
		taskDuration, warmup, window time.Duration
		probeEvery, timeout          time.Duration
	)
	fs.StringVar(&out, "out", "bench-"+name+".json", "Where to write the JSON result.")
	fs.StringVar(&e.Dir, "dir", "", "Directory for the master's work directory and log (default: a temporary one, removed at the end).")
	fs.Var(&masterFlags, "master_flag", "A flag for the master, e.g. --master_flag=--agent_ping_timeout=1secs (repeatable).")
	fs.StringVar(&e.ZK, "zk", "", "zk://host:port,.../path: run --masters masters electing their leader in this ZooKeeper (the failover scenario then kills the leader).")
	fs.IntVar(&e.Masters, "masters", 3, "Masters to run with --zk.")
	fs.IntVar(&procs, "agent_procs", 1, "Processes the emulated agents are spread over.")
	fs.StringVar(&sources, "source_addrs", "", "Comma-separated local addresses the agents connect from (default: one 127.0.x.y per 12,000 agents).")
	fs.StringVar(&e.AgentResources, "agent_resources", "cpus:8;mem:16384;disk:100000;ports:[31000-32000]", "Each emulated agent's resources.")
	fs.BoolVar(&e.AgentsHTTP2, "agents_http2", false, "Multiplex the emulated agents over HTTP/2 connections to the master (up to 1,000 agents each) instead of one connection per agent: for more agents than the open files a process may have.")
	fs.StringVar(&e.AgentAttributes, "agent_attributes", "rack:r{i%10}", "Each emulated agent's attributes; {i} is its index, {i%N} that modulo N.")
	fs.StringVar(&e.TaskResources, "task_resources", "cpus:0.1;mem:32", "What each emulated framework's task takes.")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "Write a CPU profile of this process (the harness, its frameworks and in-process agents) to this file.")
	flags.DurationVar(fs, &timeout, "timeout", 10*time.Minute, "Give up when the scenario's load has not been reached in this long.")
	switch name {
	case "paper":
		fs.IntVar(&agents, "agents", 1000, "Emulated agents.")
		fs.IntVar(&frameworks, "frameworks", 200, "Emulated frameworks.")
		flags.DurationVar(fs, &taskDuration, "task_duration", 30*time.Second, "Mean task duration (drawn uniformly from half to one and a half times it).")
		fs.Float64Var(&load, "load", 0.5, "Share of the cluster's cpus the frameworks keep busy.")
		flags.DurationVar(fs, &warmup, "warmup", 30*time.Second, "Load before measuring.")
		flags.DurationVar(fs, &window, "window", time.Minute, "Measurement window.")
		flags.DurationVar(fs, &probeEvery, "probe_every", 2*time.Second, "Time between probes.")
	case "burst":
		fs.IntVar(&agents, "agents", 5000, "Emulated agents.")
		fs.IntVar(&frameworks, "frameworks", 10, "Frameworks the tasks are submitted through.")
		fs.IntVar(&tasks, "tasks", 100000, "Tasks submitted at once.")
	case "idle":
		fs.IntVar(&agents, "agents", 10000, "Emulated agents.")
		flags.DurationVar(fs, &window, "window", 30*time.Second, "Measurement window.")
	case "failover":
		fs.IntVar(&agents, "agents", 10000, "Emulated agents.")
		fs.IntVar(&perAgent, "tasks_per_agent", 5, "Running tasks on each agent.")
		fs.IntVar(&frameworks, "frameworks", 10, "Frameworks running them.")
	case "state":
		fs.IntVar(&agents, "agents", 20000, "Emulated agents.")
		fs.IntVar(&frameworks, "frameworks", 200, "Frameworks (each keeps up to the master's --max_completed_tasks_per_framework, 1000, completed tasks).")
		fs.IntVar(&tasks, "running", 200000, "Running tasks.")
		fs.IntVar(&completed, "completed", 200000, "Completed tasks.")
		fs.IntVar(&pollers, "pollers", 10, "Clients polling the state and metrics.")
		flags.DurationVar(fs, &window, "window", 30*time.Second, "Polling window.")
	case "allocator":
		fs.IntVar(&agents, "agents", 100000, "Agents.")
		fs.IntVar(&frameworks, "frameworks", 1000, "Frameworks.")
		fs.IntVar(&roles, "roles", 0, "Roles the frameworks are spread over (0: all in *).")
		fs.IntVar(&cycles, "cycles", 10, "Timed allocation cycles.")
		e.AgentResources = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"
	default:
		fmt.Fprintf(stderr, "mezzo bench: unknown scenario %q\n\n", name)
		benchUsage(stderr)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mezzo bench %s: unexpected arguments %q\n", name, fs.Args())
		return 2
	}
	if agents < 1 || (frameworks < 1 && name != "idle") {
		fmt.Fprintf(stderr, "mezzo bench %s: --agents and --frameworks must be at least 1\n", name)
		return 2
	}
	e.MasterFlags = masterFlags
	e.AgentProcs = procs
	if sources != "" {
		e.SourceAddrs = strings.Split(sources, ",")
	}
	e.Log = func(format string, args ...any) {
		fmt.Fprintf(stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	if cpuprofile != "" {
		stop, err := startCPUProfile(cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "mezzo bench %s: --cpuprofile: %v\n", name, err)
			return 1
		}
		defer stop()
	}
	var (
		r   *bench.Result
		err error
	)
	switch name {
	case "paper":
		r, err = bench.Paper(ctx, e, bench.PaperOptions{Agents: agents, Frameworks: frameworks, TaskDuration: taskDuration,
			Load: load, Warmup: warmup, Window: window, ProbeEvery: probeEvery})
	case "burst":
		r, err = bench.Burst(ctx, e, bench.BurstOptions{Agents: agents, Frameworks: frameworks, Tasks: tasks, Timeout: timeout})
	case "idle":
		r, err = bench.Idle(ctx, e, bench.IdleOptions{Agents: agents, Window: window, DetectTimeout: timeout})
	case "failover":
		r, err = bench.Failover(ctx, e, bench.FailoverOptions{Agents: agents, TasksPerAgent: perAgent, Frameworks: frameworks, Timeout: timeout})
	case "state":
		r, err = bench.State(ctx, e, bench.StateOptions{Agents: agents, Frameworks: frameworks, Running: tasks, Completed: completed,
			Pollers: pollers, Window: window, Timeout: timeout})
	case "allocator":
		r, err = bench.Allocator(ctx, e, bench.AllocatorOptions{Agents: agents, Frameworks: frameworks, Roles: roles, Cycles: cycles})
	}
	if err != nil {
		fmt.Fprintf(stderr, "mezzo bench %s: %v\n", name, err)
		return 1
	}
	if err := r.WriteJSON(out); err != nil {
		fmt.Fprintf(stderr, "mezzo bench %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintln(stdout, r.Summary)
	return 0
}

// startCPUProfile profiles this process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// runBenchAgents is `mezzo bench agents`: a process of emulated agents
// that a scenario starts (see bench.RunAgents for its protocol on
// standard input and output).
func runBenchAgents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mezzo bench agents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg     emuagent.Config
		sources string
	)
	fs.StringVar(&cfg.Master, "master", "", "The master's host:port, or a zk:// URL. Required.")
	fs.IntVar(&cfg.Count, "count", 1, "Agents to emulate.")
	fs.IntVar(&cfg.FirstIndex, "first", 0, "Index of the first agent (host names and endpoints follow it).")
	fs.StringVar(&cfg.Resources, "resources", "cpus:8;mem:16384;disk:100000;ports:[31000-32000]", "Each agent's resources.")
	fs.StringVar(&cfg.Attributes, "attributes", "", "Each agent's attributes; {i} is its index, {i%N} that modulo N.")
	flags.DurationVar(fs, &cfg.TaskDuration, "task_duration", 0, "How long a task runs (a \"sleep N\" task runs N seconds).")
	fs.Float64Var(&cfg.TaskDurationSpread, "task_duration_spread", 0, "Draw each task's duration from task_duration×[1-s, 1+s].")
	fs.StringVar(&sources, "source_addrs", "", "Comma-separated local addresses to connect from.")
	flags.DurationVar(fs, &cfg.RegistrationBackoffFactor, "registration_backoff_factor", time.Second, "The agents' --registration_backoff_factor.")
	fs.BoolVar(&cfg.HTTP2, "http2", false, "Multiplex the agents over HTTP/2 connections instead of one connection per agent.")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if cfg.Master == "" {
		fmt.Fprintln(stderr, "mezzo bench agents: --master is required")
		return 2
	}
	if sources != "" {
		cfg.SourceAddrs = strings.Split(sources, ",")
	}
	if err := bench.RunAgents(ctx, cfg, os.Stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "mezzo bench agents: %v\n", err)
		return 1
	}
	return 0
}
