package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/internal/prom/promtest"
)

// isolationFlags turn on every isolator of the mezzo containerizer, with
// short intervals so that limits are seen quickly.
var isolationFlags = []string{
	"--isolation=cgroups/cpu,cgroups/mem,cgroups/pids,cgroups/devices,cgroups/blkio,namespaces/pid,namespaces/ipc," +
		"filesystem/linux,volume/host_path,volume/sandbox_path,posix/rlimits,linux/capabilities,disk/du",
	"--cgroups_enable_cfs", "--cgroups_max_pids=64",
	"--enforce_container_disk_quota", "--container_disk_watch_interval=100ms",
}

// needRoot skips a test that needs root (cgroups, namespaces, users)
// outside CI, naming what is missing; CI runs as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups, namespaces and switching users")
	}
}

// isolationCase is a task run by `mezzo execute --task` and what must
// come of it.
type isolationCase struct {
	name string
	// task is the TaskInfo's JSON fields beyond name, task_id and
	// resources (which res gives, default cpus:0.1;mem:64).
	task, res string
	// state, reason and message (substrings) of the last update.
	state, reason, message string
	// killAfter is --kill_after.
	killAfter string
	// check runs after the task ended, with its sandbox.
	check func(t *testing.T, sandbox string)
}

func taskJSON(id, res, rest string) string {
	var rs []string
	for _, kv := range strings.Split(res, ";") {
		name, v, _ := strings.Cut(kv, ":")
		rs = append(rs, fmt.Sprintf(`{"name":%q,"type":"SCALAR","scalar":{"value":%s}}`, name, v))
	}
	s := fmt.Sprintf(`{"name":%q,"task_id":{"value":%q},"agent_id":{"value":""},"resources":[%s]`, id, id, strings.Join(rs, ","))
	if rest != "" {
		s += "," + rest
	}
	return s + "}"
}

// TestIsolation runs tasks under every isolator, through the built-in
// executors inside the agent and as processes, and checks that each
// limit holds and is reported as Mesos reports it.
func TestIsolation(t *testing.T) {
	needRoot(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("host data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	marker := strconv.Itoa(4000 + os.Getpid()%1000)
	cases := []isolationCase{
		{name: "oom", task: `"command":{"value":"dd if=/dev/zero of=/dev/null bs=300M count=1"}`,
			state: "TASK_FAILED", reason: "REASON_CONTAINER_LIMITATION_MEMORY", message: "Memory limit exceeded"},
		{name: "mem-limit", task: `"limits":{"mem":{"value":1024}},"command":{"value":"dd if=/dev/zero of=/dev/null bs=300M count=1"}`,
			state: "TASK_FINISHED"},
		{name: "pidns", task: fmt.Sprintf(`"command":{"value":"test $(ls /proc | grep -c '^[0-9]') -lt 8 && ! kill -0 %d"}`, os.Getpid()),
			state: "TASK_FINISHED"},
		{name: "forkbomb", task: `"command":{"value":"for i in $(seq 100); do sleep 2 & done; wait"}`,
			check: func(t *testing.T, sandbox string) {
				b, _ := os.ReadFile(filepath.Join(sandbox, "stderr"))
				if !strings.Contains(strings.ToLower(string(b)), "fork") {
					t.Errorf("no fork failure past the pids limit; stderr:\n%s", b)
				}
			}},
		{name: "user", task: `"command":{"value":"test $(id -u) = 65534 && touch $MESOS_SANDBOX/mine","user":"nobody"}`,
			state: "TASK_FINISHED"},
		{name: "unknown-user", task: `"command":{"value":"true","user":"no-such-user-e2e"}`,
			state: "TASK_FAILED", reason: "REASON_CONTAINER_LAUNCH_FAILED", message: `user "no-such-user-e2e" does not exist`},
		{name: "rlimits", task: `"container":{"type":"MESOS","rlimit_info":{"rlimits":[{"type":"RLMT_NOFILE","soft":123,"hard":456}]}},` +
			`"command":{"value":"test $(ulimit -n) = 123 && test $(ulimit -Hn) = 456"}`, state: "TASK_FINISHED"},
		{name: "capabilities", task: `"container":{"type":"MESOS","linux_info":{"effective_capabilities":{"capabilities":["NET_BIND_SERVICE"]}}},` +
			`"command":{"value":"grep -q 'CapEff:[[:space:]]*0000000000000400$' /proc/self/status"}`, state: "TASK_FINISHED"},
		{name: "volume-ro", task: fmt.Sprintf(`"container":{"type":"MESOS","volumes":[{"container_path":"data","host_path":%q,"mode":"RO"}]},`+
			`"command":{"value":"grep -q 'host data' data/f && ! touch data/g"}`, host), state: "TASK_FINISHED"},
		{name: "volume-rw", task: fmt.Sprintf(`"container":{"type":"MESOS","volumes":[{"container_path":"data","host_path":%q,"mode":"RW"}]},`+
			`"command":{"value":"echo written > data/rw"}`, host), state: "TASK_FINISHED",
			check: func(t *testing.T, _ string) {
				if b, err := os.ReadFile(filepath.Join(host, "rw")); err != nil || string(b) != "written\n" {
					t.Errorf("RW volume: %q, %v", b, err)
				}
				os.Remove(filepath.Join(host, "rw"))
			}},
		// A private temporary directory (the test's work directory is
		// under /tmp, which a volume there would hide: refused below).
		{name: "private-tmp", task: `"container":{"type":"MESOS","volumes":[{"container_path":"/var/tmp","mode":"RW",` +
			`"source":{"type":"SANDBOX_PATH","sandbox_path":{"type":"SELF","path":"tmp"}}}]},` +
			fmt.Sprintf(`"command":{"value":"echo x > /var/tmp/mezzo-private-%s && test -f $MESOS_SANDBOX/tmp/mezzo-private-%s"}`, marker, marker),
			state: "TASK_FINISHED",
			check: func(t *testing.T, _ string) {
				if _, err := os.Stat("/var/tmp/mezzo-private-" + marker); err == nil {
					os.Remove("/var/tmp/mezzo-private-" + marker)
					t.Error("the task's /var/tmp was the host's")
				}
			}},
		{name: "hidden-sandbox", task: `"container":{"type":"MESOS","volumes":[{"container_path":"/tmp","mode":"RW",` +
			`"source":{"type":"SANDBOX_PATH","sandbox_path":{"type":"SELF","path":"tmp"}}}]},"command":{"value":"true"}`,
			state: "TASK_FAILED", message: `container_path "/tmp" would hide the sandbox`},
		{name: "disk", res: "cpus:0.1;mem:64;disk:1", task: `"command":{"value":"dd if=/dev/zero of=big bs=1M count=5 && sleep 20"}`,
			state: "TASK_FAILED", reason: "REASON_CONTAINER_LIMITATION_DISK", message: "exceeds"},
		{name: "max-completion", task: `"max_completion_time":{"nanoseconds":1000000000},"command":{"value":"sleep 20"}`,
			state: "TASK_FAILED", reason: "REASON_MAX_COMPLETION_TIME_REACHED"},
		{name: "killed", killAfter: "2secs", task: fmt.Sprintf(`"command":{"value":"sleep %s.1 & (setsid sleep %s.2 &) ; wait"}`, marker, marker),
			state: "TASK_KILLED",
			check: func(t *testing.T, _ string) {
				waitFor(t, 10*time.Second, "the killed task's processes gone", func() error {
					if pids := processesWith("sleep " + marker); len(pids) > 0 {
						return fmt.Errorf("left behind: %v", pids)
					}
					return nil
				})
			}},
	}
	for _, mode := range builtinModes {
		t.Run(mode, func(t *testing.T) {
			c := startClusterWith(t, 1, "cpus:2;mem:2048;disk:1024;ports:[31000-31100]",
				append([]string{"--builtin_executors=" + mode}, isolationFlags...)...)
			// Tasks running as another user must reach their sandboxes
			// (t.TempDir makes private directories).
			for d := c.work; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					id := tc.name + "-" + mode
					res := tc.res
					if res == "" {
						res = "cpus:0.1;mem:64"
					}
					args := []string{"execute", "--master=" + c.master, "--task=" + taskJSON(id, res, tc.task)}
					if tc.killAfter != "" {
						args = append(args, "--kill_after="+tc.killAfter)
					}
					out, _ := run(t, time.Minute, bin.mezzo, args...)
					if tc.state != "" && !strings.Contains(out, "Received status update "+tc.state+" for task '"+id+"'") {
						t.Fatalf("want %s:\n%s", tc.state, out)
					}
					for _, want := range []string{tc.reason, tc.message} {
						if want != "" && !strings.Contains(out, want) {
							t.Errorf("want %q in:\n%s", want, out)
						}
					}
					if tc.name == "oom" {
						// The agent counts the OOM kill.
						var m map[string]float64
						if err := getJSON("http://"+agentAddr(c.agents[0])+"/metrics/snapshot", &m); err != nil || m["containerizer/mezzo/oom_events"] < 1 {
							t.Errorf("containerizer/mezzo/oom_events = %v (%v)", m["containerizer/mezzo/oom_events"], err)
						}
					}
					if tc.check != nil {
						var dirs []string
						for _, d := range sandboxFiles(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", "*", "executors", id, "runs", "*")) {
							if filepath.Base(d) != "latest" {
								dirs = append(dirs, d)
							}
						}
						if len(dirs) != 1 {
							t.Fatalf("sandboxes of %s: %v", id, dirs)
						}
						tc.check(t, dirs[0])
					}
				})
			}
		})
	}
}

// processesWith lists the live processes whose command line starts
// with s.
func processesWith(s string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(strings.ReplaceAll(string(b), "\x00", " "), s) || !alive(pid) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// containerCgroups lists the memory cgroups of a task's containers: the
// cgroup named by each of its sandboxes' run (container) id.
func containerCgroups(t *testing.T, work, taskID string) []string {
	t.Helper()
	var out []string
	for _, d := range sandboxFiles(filepath.Join(work, "agent0", "slaves", "*", "frameworks", "*", "executors", taskID, "runs", "*")) {
		if filepath.Base(d) == "latest" {
			continue
		}
		cg, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/memory", "mezzo-e2e-*", filepath.Base(d)))
		out = append(out, cg...)
	}
	return out
}

// TestIsolationAcrossAgentRestart kills an agent under two isolated
// tasks: the one of a checkpointing framework keeps running in its
// cgroup and is re-adopted by the restarted agent, which later kills it
// leaving nothing; the one run inside the agent for a framework that
// does not checkpoint dies with the agent, and the restarted agent
// destroys its cgroup as an orphan.
func TestIsolationAcrossAgentRestart(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Skip("needs the cgroup v1 memory controller at /sys/fs/cgroup/memory to find the containers' cgroups")
	}
	c := startClusterWith(t, 1, "cpus:2;mem:2048;disk:1024;ports:[31000-31100]", isolationFlags...)
	marker := strconv.Itoa(5000 + os.Getpid()%1000)
	kept := start(t, "execute-kept", "execute", "--master="+c.master, "--checkpoint",
		"--task="+taskJSON("kept", "cpus:0.1;mem:64", fmt.Sprintf(`"command":{"value":"sleep %s.1 & sleep %s.2; wait"}`, marker, marker)),
		"--kill_after=20secs")
	// Its container runs out of memory only once the agent restarted.
	oomLater := start(t, "execute-oom", "execute", "--master="+c.master, "--checkpoint",
		"--task="+taskJSON("oom-later", "cpus:0.1;mem:64", `"command":{"value":"while [ ! -f go ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=300M count=1"}`))
	lost := start(t, "execute-lost", "execute", "--master="+c.master,
		"--task="+taskJSON("lost", "cpus:0.1;mem:64", fmt.Sprintf(`"command":{"value":"sleep %s.3 & sleep %s.4; wait"}`, marker, marker)))
	waitFor(t, 30*time.Second, "both tasks running", func() error {
		for _, e := range []*proc{kept, lost, oomLater} {
			if !strings.Contains(e.out.String(), "TASK_RUNNING") {
				return fmt.Errorf("%s not running yet", e.name)
			}
		}
		if n := len(processesWith("sleep " + marker)); n != 4 {
			return fmt.Errorf("%d task processes", n)
		}
		return nil
	})
	keptCg, lostCg := containerCgroups(t, c.work, "kept"), containerCgroups(t, c.work, "lost")
	if len(keptCg) != 1 || len(lostCg) != 1 {
		all, _ := filepath.Glob(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*"))
		cgs, _ := filepath.Glob("/sys/fs/cgroup/memory/mezzo-e2e-*/*-*-*")
		t.Fatalf("cgroups: kept %v, lost %v; sandboxes %v; cgroups %v", keptCg, lostCg, all, cgs)
	}
	checkStatistics(t, agentAddr(c.agents[0]), "kept")
	agent := c.agents[0]
	if err := syscall.Kill(agent.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-agent.done
	waitFor(t, 10*time.Second, "the in-agent task's processes dead with the agent", func() error {
		for _, m := range []string{".3", ".4"} {
			if pids := processesWith("sleep " + marker + m); len(pids) > 0 {
				st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pids[0]))
				return fmt.Errorf("still alive: %v:\n%s", pids, st)
			}
		}
		return nil
	})
	if n := len(processesWith("sleep " + marker + ".1")); n != 1 {
		t.Fatalf("the checkpointed task did not survive the agent (%d processes)", n)
	}
	procs, err := os.ReadFile(filepath.Join(keptCg[0], "cgroup.procs"))
	if err != nil || len(strings.Fields(string(procs))) == 0 {
		t.Fatalf("the checkpointed task's cgroup holds nothing: %q, %v", procs, err)
	}

	start(t, "agent0-restarted", agent.cmd.Args[1:]...)
	waitFor(t, 30*time.Second, "the orphan cgroup destroyed", func() error {
		if _, err := os.Stat(lostCg[0]); err == nil {
			return fmt.Errorf("%s still exists", lostCg[0])
		}
		return nil
	})
	if _, err := os.Stat(keptCg[0]); err != nil {
		t.Fatalf("the re-adopted container's cgroup is gone: %v", err)
	}
	// The re-adopted containers are measured and limited as before.
	waitFor(t, 30*time.Second, "the re-adopted executor measured", func() error {
		return statisticsOf(agentAddr(c.agents[0]), "kept", nil)
	})
	checkStatistics(t, agentAddr(c.agents[0]), "kept")
	dirs := sandboxFiles(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", "*", "executors", "oom-later", "runs", "latest"))
	if len(dirs) != 1 {
		t.Fatalf("oom-later sandboxes: %v", dirs)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the re-adopted container's OOM reported", func() error {
		out := oomLater.out.String()
		if !strings.Contains(out, "TASK_FAILED") {
			return fmt.Errorf("not failed yet")
		}
		if !strings.Contains(out, "REASON_CONTAINER_LIMITATION_MEMORY") {
			return fmt.Errorf("failed without the memory reason:\n%s", out)
		}
		return nil
	})
	waitFor(t, 60*time.Second, "the re-adopted task killed", func() error {
		if !strings.Contains(kept.out.String(), "TASK_KILLED") {
			return fmt.Errorf("not killed yet")
		}
		return nil
	})
	waitFor(t, 10*time.Second, "nothing left of the killed task", func() error {
		if pids := processesWith("sleep " + marker); len(pids) > 0 {
			return fmt.Errorf("left behind: %v", pids)
		}
		if _, err := os.Stat(keptCg[0]); err == nil {
			return fmt.Errorf("%s still exists", keptCg[0])
		}
		return nil
	})
}

// agentAddr is the address of an agent a test started.
func agentAddr(p *proc) string {
	for _, a := range p.cmd.Args {
		if port, ok := strings.CutPrefix(a, "--port="); ok {
			return "127.0.0.1:" + port
		}
	}
	return ""
}

// statisticsOf finds an executor's entry in the agent's
// /monitor/statistics and passes its statistics to check (when set).
func statisticsOf(agent, executor string, check func(map[string]float64) error) error {
	var entries []struct {
		ExecutorID string         `json:"executor_id"`
		Statistics map[string]any `json:"statistics"`
	}
	if err := getJSON("http://"+agent+"/monitor/statistics", &entries); err != nil {
		return err
	}
	for _, e := range entries {
		if e.ExecutorID == executor {
			if check == nil {
				return nil
			}
			nums := map[string]float64{}
			for k, v := range e.Statistics {
				if f, ok := v.(float64); ok {
					nums[k] = f
				}
			}
			if _, ok := e.Statistics["blkio_statistics"].(map[string]any); !ok {
				return fmt.Errorf("no blkio_statistics: %v", e.Statistics)
			}
			return check(nums)
		}
	}
	return fmt.Errorf("no statistics for %s in %d entries", executor, len(entries))
}

// checkStatistics checks that a running executor's statistics come from
// its cgroups: its memory limit, its processes, CPU times and the CFS
// quota (--cgroups_enable_cfs).
func checkStatistics(t *testing.T, agent, executor string) {
	t.Helper()
	err := statisticsOf(agent, executor, func(s map[string]float64) error {
		switch {
		case s["mem_limit_bytes"] != 64<<20:
			return fmt.Errorf("mem_limit_bytes %v, want 64MB", s["mem_limit_bytes"])
		case s["processes"] < 2:
			return fmt.Errorf("processes %v, want the executor and its tasks", s["processes"])
		case s["cpus_limit"] != 0.1:
			return fmt.Errorf("cpus_limit %v, want 0.1", s["cpus_limit"])
		case s["mem_total_bytes"] <= 0:
			return fmt.Errorf("mem_total_bytes %v", s["mem_total_bytes"])
		}
		if _, ok := s["cpus_user_time_secs"]; !ok {
			return fmt.Errorf("no cpus_user_time_secs: %v", s)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// The same figures in the agent's Prometheus metrics.
	fams := promtest.Scrape(t, "http://"+agent+"/metrics")
	gauge := func(name string) (float64, bool) {
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "executor_id" && l.GetValue() == executor {
					return m.GetGauge().GetValue(), true
				}
			}
		}
		return 0, false
	}
	if v, ok := gauge("mezzo_container_mem_limit_bytes"); !ok || v != 64<<20 {
		t.Errorf("mezzo_container_mem_limit_bytes{executor_id=%q} = %v, %v; want 64MB", executor, v, ok)
	}
	if v, ok := gauge("mezzo_container_processes"); !ok || v < 2 {
		t.Errorf("mezzo_container_processes{executor_id=%q} = %v, %v; want at least 2", executor, v, ok)
	}
	if _, ok := gauge("mezzo_container_blkio_io_service_bytes"); !ok {
		t.Errorf("no mezzo_container_blkio_io_service_bytes for %q", executor)
	}
}
