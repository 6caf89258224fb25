package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/internal/zktest"
)

// TestBenchScenarios runs each `mezzo bench` scenario from the binary at
// a small size (a real master process, emulated agents over loopback,
// agents in two processes for one of them) and checks its summary line
// and the figures of its JSON result.
func TestBenchScenarios(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		scenario string
		args     []string
		figures  []string
	}{
		{"burst", []string{"--agents=20", "--frameworks=2", "--tasks=400"},
			[]string{"first_placed_s", "p99_placed_s", "all_placed_s", "all_running_s", "placements_per_s"}},
		{"idle", []string{"--agents=40", "--agent_procs=2", "--window=1secs",
			"--master_flag=--agent_ping_timeout=500ms", "--master_flag=--max_agent_ping_timeouts=2"},
			[]string{"master_cpu_cores", "master_rss_mb", "messages_per_s", "silent_agent_noticed_s"}},
		{"failover", []string{"--agents=30", "--tasks_per_agent=2", "--frameworks=2"},
			[]string{"master_up_s", "all_agents_reregistered_s", "all_tasks_known_s"}},
		{"failover", []string{"--agents=30", "--tasks_per_agent=2", "--frameworks=2", "--zk=ZK",
			"--master_flag=--zk_session_timeout=2secs"},
			[]string{"new_leader_elected_s", "all_agents_reregistered_s", "all_tasks_known_s"}},
		{"paper", []string{"--agents=20", "--frameworks=4", "--task_duration=1secs", "--warmup=1secs", "--window=2secs", "--probe_every=500ms"},
			[]string{"probe_mean_s", "probe_p99_s", "master_cpu_cores", "messages_per_s", "tasks_started_per_s"}},
		// The agents multiplexed over HTTP/2 connections, in two processes:
		// registration, pings, tasks and their updates all travel as HTTP/2
		// streams.
		{"paper", []string{"--agents=250", "--agents_http2", "--agent_procs=2", "--frameworks=4", "--task_duration=1secs", "--warmup=1secs", "--window=2secs", "--probe_every=500ms"},
			[]string{"probe_mean_s", "probe_p99_s", "master_cpu_cores", "messages_per_s", "tasks_started_per_s"}},
		{"state", []string{"--agents=20", "--frameworks=4", "--running=200", "--completed=200", "--pollers=2", "--window=1secs"},
			[]string{"master_state_p99_s", "get_state_p99_s", "metrics_p99_s", "scheduler_call_p99_s"}},
		{"allocator", []string{"--agents=500", "--frameworks=20", "--cycles=3"},
			[]string{"cycle_mean_s", "cycle_p99_s"}},
	} {
		name := tc.scenario
		if strings.Contains(strings.Join(tc.args, " "), "--zk=") {
			name += "-ha"
		}
		if slices.Contains(tc.args, "--agents_http2") {
			name += "-http2"
		}
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".json")
			for i, a := range tc.args {
				if a == "--zk=ZK" {
					tc.args[i] = "--zk=" + zk(t)
				}
			}
			cmd := exec.Command(bin.mezzo, append([]string{"bench", tc.scenario, "--out=" + out, "--timeout=2mins"}, tc.args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			line, err := cmd.Output()
			if err != nil {
				t.Fatalf("mezzo bench %s: %v\n%s", tc.scenario, err, stderr.String())
			}
			if !strings.HasPrefix(string(line), tc.scenario+" ") || strings.Count(string(line), "\n") != 1 {
				t.Errorf("summary %q: want one line starting with %q", line, tc.scenario)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Scenario string
				Figures  map[string]any
				Summary  string
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("result: %v\n%s", err, b)
			}
			if r.Scenario != tc.scenario || r.Summary != strings.TrimSpace(string(line)) {
				t.Errorf("result names %q with summary %q", r.Scenario, r.Summary)
			}
			for _, k := range tc.figures {
				v, ok := r.Figures[k].(float64)
				if !ok || v < 0 {
					t.Errorf("figure %s = %v, want a number ≥ 0", k, r.Figures[k])
				}
			}
			if tc.scenario == "paper" {
				if v, _ := r.Figures["tasks_started_per_s"].(float64); v <= 0 {
					t.Errorf("no task started during the window: the frameworks' load did not run")
				}
			}
			t.Log(strings.TrimSpace(string(line)))
		})
	}
}

// zk starts a three-server ZooKeeper ensemble for the test and returns
// its zk:// URL.
func zk(t *testing.T) string {
	t.Helper()
	return "zk://" + zktest.Start(t, 3).Connect() + "/mezzo-bench"
}

// TestBenchBadInput: bad flags and scenarios get errors naming them.
func TestBenchBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "nope"}, `unknown scenario "nope"`},
		{[]string{"bench", "burst", "--agents=0"}, "--agents and --frameworks must be at least 1"},
		{[]string{"bench", "burst", "--agents=2", "--tasks=10", "--task_resources=gpus:1"}, "only cpus, mem and disk"},
		{[]string{"bench", "idle", "--agents=2", "--agent_attributes=rack"}, "attributes"},
		{[]string{"bench", "agents"}, "--master is required"},
	} {
		out, err := exec.Command(bin.mezzo, tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: %v, %s; want an error with %q", tc.args, err, out, tc.want)
		}
	}
}
