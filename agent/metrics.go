package agent

import (
	"net/http"
	"time"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/sysmetrics"
	"github.com/mezzo-project/mezzo/resources"
)

// The agent's /metrics/snapshot, with the names of Mesos' agent
// (src/slave/metrics.cpp, the fetcher's, the garbage collector's, the
// resource provider manager's and libprocess' system metrics). As in
// Mesos, gauges are computed when the snapshot is taken and counters
// count events since the agent started.
//
// Gauges, from the state (state goroutine): slave/tasks_{staging,
// starting,running,killing} (tasks by their latest state; queued tasks
// are staging), slave/executors_{registering,running,terminating}
// (launching executors are registering, as Mesos has no separate state),
// slave/frameworks_active, slave/registered, slave/uptime_secs,
// slave/recovery_time_secs (once recovery ended), and for cpus, gpus,
// mem and disk slave/<r>_{total,used,percent} and
// slave/<r>_revocable_{total,used,percent}. Used is what the live
// executors and their queued and live tasks hold (allocatedTo), as in
// /state; percent is used/total, 0 when the total is 0. From the sandbox
// garbage collector (gc.go): gc/path_removals_pending (paths scheduled,
// plus those taken out of the tree and not yet deleted) and
// slave/executor_directory_max_allowed_age_secs (the age beyond which a
// scheduled directory is removed, from the last disk check; --gc_delay ×
// (1 − --gc_disk_headroom) before the first).
//
// From the fetcher (package fetcher):
// containerizer/fetcher/cache_size_total_bytes (--fetcher_cache_size; 0
// without a cache) and containerizer/fetcher/cache_size_used_bytes (the
// cache's entries plus the space reserved by downloads under way).
//
// Gauges read from the host (outside the state goroutine):
// system/load_{1,5,15}min (/proc/loadavg), system/cpus_total (online
// CPUs, /sys/devices/system/cpu/online, as sysconf(_SC_NPROCESSORS_ONLN)),
// system/mem_total_bytes and system/mem_free_bytes (MemTotal and MemFree
// of /proc/meminfo: Mesos reads sysinfo(2)'s totalram and freeram, the
// same numbers — free, not available, memory). A value that cannot be
// read is left out, as libprocess leaves out a gauge that failed.
//
// Beyond Mesos' keys, with cgroups/mem: containerizer/mezzo/oom_events,
// how many processes the kernel's OOM killer ended in containers (each
// container's statistics are in /monitor/statistics and GET_CONTAINERS).
//
// Counters (the counters struct, incremented where their event happens).
//
// Always 0, because their event cannot happen in Mezzo, and kept so that
// dashboards built for Mesos keep working: slave/executors_preempted (no
// QoS controller), slave/*_revocable_total (no oversubscription, so no
// revocable resources), containerizer/mesos/provisioner/
// remove_container_errors and .../bind/remove_rootfs_errors (no
// provisioner: container images are refused),
// resource_provider_manager/subscribed and .../events/{subscribe,
// disconnect} (no resource providers).
//
// Left out, because Mezzo cannot measure it:
// containerizer/mesos/container_destroy_errors (destroying an executor
// SIGKILLs its session and does not learn whether something survived).

// counters are the agent's counting metrics, kept on the state (only the
// state goroutine touches them) and incremented where their event
// happens. Incrementing allocates nothing.
type counters struct {
	// Terminal task states, counted when a task of an executor reaches
	// one (statusUpdate), as Mesos counts them: TASK_ERROR, TASK_DROPPED
	// and TASK_GONE_BY_OPERATOR are not counted, nor updates for tasks
	// no executor holds.
	tasksFinished, tasksFailed, tasksKilled, tasksLost, tasksGone uint64
	// executorsTerminated counts executors that ended (executorTerminated)
	// and completed runs found in the checkpoint (recover).
	executorsTerminated uint64
	// Status updates, from executors or the agent (statusUpdate): valid
	// when the framework is not terminating (duplicates included),
	// invalid otherwise.
	validStatusUpdates, invalidStatusUpdates uint64
	// Framework messages in both directions: relayed to a subscribed
	// executor (frameworkMessage) or from an executor to the master
	// (executorCall) are valid; dropped ones invalid.
	validFrameworkMessages, invalidFrameworkMessages uint64
	// containerLaunchErrors counts executors that could not be started
	// (launchFailed) and RUN_TASKs refused before their executor was
	// created (runTask), which Mesos' containerizer would fail.
	containerLaunchErrors uint64
	// recoveryErrors counts what recovery skipped: unreadable checkpoint
	// entries and executors that could not be recovered (recover).
	recoveryErrors uint64
	// Fetches, one per executor launch (whether it has URIs or not, as
	// Mesos' containerizer calls its fetcher for every container).
	fetchesSucceeded, fetchesFailed uint64
	// Garbage-collected paths deleted (gcRemoved), and attempts that
	// failed to take a path out of the tree or to delete it (gcTake,
	// gcRemoved; each retry that fails counts again).
	gcRemovalsSucceeded, gcRemovalsFailed uint64
	// recoveryTime is how long the agent took from New to the end of
	// recovery (finishRecovery); recovered says recovery ended.
	recoveryTime time.Duration
	recovered    bool
}

// countTerminal counts a task's first terminal state.
func (c *counters) countTerminal(s mesos.TaskState) {
	switch s {
	case mesos.TaskState_TASK_FINISHED:
		c.tasksFinished++
	case mesos.TaskState_TASK_FAILED:
		c.tasksFailed++
	case mesos.TaskState_TASK_KILLED:
		c.tasksKilled++
	case mesos.TaskState_TASK_LOST:
		c.tasksLost++
	case mesos.TaskState_TASK_GONE:
		c.tasksGone++
	}
}

// countFetch counts one executor launch's fetch.
func (c *counters) countFetch(ok bool) {
	if ok {
		c.fetchesSucceeded++
	} else {
		c.fetchesFailed++
	}
}

// serveMetrics is GET /metrics/snapshot: a flat JSON object of metric
// names and values. Mesos' "timeout" parameter bounds how long it waits
// for slow gauges; every value here is at hand, so it is ignored.
func (a *Agent) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	var doc legacy.Metrics
	if err := a.do(func() { doc = a.metricsSnapshot() }); err != nil {
		return httpapi.ServiceUnavailable("Agent is shutting down")
	}
	systemMetrics(doc)
	return legacy.Write(w, r, doc)
}

// metricsSnapshot is every metric the state holds (state goroutine).
func (a *Agent) metricsSnapshot() legacy.Metrics {
	c := &a.st.metrics
	var staging, starting, running, killing float64
	var registering, subscribed, terminating float64
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			switch ex.state {
			case exLaunching, exRegistering:
				registering++
			case exRunning:
				subscribed++
			case exTerminating:
				terminating++
			case exTerminated:
				continue // its tasks are over
			}
			for _, t := range ex.tasks {
				if t.queued {
					staging++
					continue
				}
				switch t.state {
				case mesos.TaskState_TASK_STAGING:
					staging++
				case mesos.TaskState_TASK_STARTING:
					starting++
				case mesos.TaskState_TASK_RUNNING:
					running++
				case mesos.TaskState_TASK_KILLING:
					killing++
				}
			}
		}
	}
	cacheTotal, cacheUsed := a.fetch.CacheSize()
	m := legacy.Metrics{
		"slave/tasks_staging":              legacy.Float(staging),
		"slave/tasks_starting":             legacy.Float(starting),
		"slave/tasks_running":              legacy.Float(running),
		"slave/tasks_killing":              legacy.Float(killing),
		"slave/tasks_finished":             legacy.Float(c.tasksFinished),
		"slave/tasks_failed":               legacy.Float(c.tasksFailed),
		"slave/tasks_killed":               legacy.Float(c.tasksKilled),
		"slave/tasks_lost":                 legacy.Float(c.tasksLost),
		"slave/tasks_gone":                 legacy.Float(c.tasksGone),
		"slave/executors_registering":      legacy.Float(registering),
		"slave/executors_running":          legacy.Float(subscribed),
		"slave/executors_terminating":      legacy.Float(terminating),
		"slave/executors_terminated":       legacy.Float(c.executorsTerminated),
		"slave/executors_preempted":        0,
		"slave/frameworks_active":          legacy.Float(len(a.st.frameworks)),
		"slave/registered":                 boolMetric(a.st.connected),
		"slave/uptime_secs":                legacy.Float(time.Since(a.started).Seconds()),
		"slave/recovery_errors":            legacy.Float(c.recoveryErrors),
		"slave/valid_status_updates":       legacy.Float(c.validStatusUpdates),
		"slave/invalid_status_updates":     legacy.Float(c.invalidStatusUpdates),
		"slave/valid_framework_messages":   legacy.Float(c.validFrameworkMessages),
		"slave/invalid_framework_messages": legacy.Float(c.invalidFrameworkMessages),
		"slave/container_launch_errors":    legacy.Float(c.containerLaunchErrors),

		"containerizer/fetcher/task_fetches_succeeded": legacy.Float(c.fetchesSucceeded),
		"containerizer/fetcher/task_fetches_failed":    legacy.Float(c.fetchesFailed),
		"containerizer/fetcher/cache_size_total_bytes": legacy.Float(cacheTotal),
		"containerizer/fetcher/cache_size_used_bytes":  legacy.Float(cacheUsed),

		"containerizer/mesos/provisioner/remove_container_errors":   0,
		"containerizer/mesos/provisioner/bind/remove_rootfs_errors": 0,

		"gc/path_removals_pending":   legacy.Float(a.st.gc.core.len() + a.st.gc.removing),
		"gc/path_removals_succeeded": legacy.Float(c.gcRemovalsSucceeded),
		"gc/path_removals_failed":    legacy.Float(c.gcRemovalsFailed),

		"slave/executor_directory_max_allowed_age_secs": legacy.Float(a.st.gc.maxAge.Seconds()),

		"resource_provider_manager/subscribed":        0,
		"resource_provider_manager/events/subscribe":  0,
		"resource_provider_manager/events/disconnect": 0,
	}
	if a.oomEvents != nil {
		m["containerizer/mezzo/oom_events"] = legacy.Float(a.oomEvents())
	}
	if c.recovered {
		m["slave/recovery_time_secs"] = legacy.Float(c.recoveryTime.Seconds())
	}
	total := a.totalResources()
	used := a.allocatedResources()
	usedRevocable := used.Revocable()
	used = used.NonRevocable()
	for _, name := range []string{"cpus", "gpus", "mem", "disk"} {
		// Mezzo has no resource estimator: nothing is revocable.
		addResourceMetrics(m, "slave/"+name, total.NonRevocable(), used, name)
		addResourceMetrics(m, "slave/"+name+"_revocable", total.Revocable(), usedRevocable, name)
	}
	return m
}

// addResourceMetrics writes <prefix>_total, _used and _percent of the
// scalar resource name.
func addResourceMetrics(m legacy.Metrics, prefix string, total, used resources.Resources, name string) {
	t, u := total.ScalarOf(name).Float(), used.ScalarOf(name).Float()
	m[prefix+"_total"] = legacy.Float(t)
	m[prefix+"_used"] = legacy.Float(u)
	p := 0.0
	if t != 0 {
		p = u / t
	}
	m[prefix+"_percent"] = legacy.Float(p)
}

// allocatedResources is what the live executors and their tasks hold
// (state goroutine).
func (a *Agent) allocatedResources() resources.Resources {
	var used resources.Resources
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if ex.state != exTerminated {
				used = used.Add(allocatedTo(ex))
			}
		}
	}
	return used
}

func boolMetric(b bool) legacy.Float {
	if b {
		return 1
	}
	return 0
}

// systemMetrics adds libprocess' system/* gauges, read from the host;
// each one that cannot be read is left out.
func systemMetrics(m legacy.Metrics) {
	for name, v := range sysmetrics.Read() {
		m[name] = legacy.Float(v)
	}
}
