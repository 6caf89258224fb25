package agent

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// The agent's /monitor/statistics (also /slave(1)/monitor/statistics;
// Mesos removed the old /monitor/statistics.json in 1.7): one entry per
// live executor, with what its containerizer's Usage reports — under the
// default posix/cpu and posix/mem isolators, measured from /proc:
//
//	timestamp              when the statistics were taken
//	cpus_user_time_secs    utime of every live process of the executor
//	cpus_system_time_secs  stime of the same processes
//	mem_rss_bytes          their resident memory
//	cpus_soft_limit        the cpus the executor and its tasks hold
//	mem_soft_limit_bytes   the mem they hold
//	mem_limit_bytes        the same (Mesos' hard limit defaults to it)
//
// Like Mesos 1.11 without --cgroups_enable_cfs, there is no cpus_limit:
// nothing caps the CPU an executor uses. The cgroups isolators report
// from the container's cgroups instead: CPU times, periods and
// throttling, cpus_limit when a quota is set, the memory breakdown and
// the limits they set, processes and threads, blkio; disk/du and disk/xfs
// the disk used and its limit. Network and perf statistics are left
// out: Mezzo has no network or perf isolation to read them from. What an
// executor's processes are is the containerizer's business (package
// containerizer): a process executor's session, or the task sessions of
// a built-in executor running inside the agent. The containers are
// measured off the state goroutine, from one reading of /proc
// (containerizer.ShareProcessTable); the list of executors is copied
// first.

// monitored is a live executor whose usage is to be measured, copied off
// the state.
type monitored struct {
	entry legacy.MonitorEntry // ids and names
	// container is the executor's container id.
	container *mesos.ContainerID
}

// serveStatistics is GET /monitor/statistics.
func (a *Agent) serveStatistics(w http.ResponseWriter, r *http.Request) error {
	var list []monitored
	if err := a.do(func() { list = a.monitoredExecutors() }); err != nil {
		return httpapi.ServiceUnavailable("Agent is shutting down")
	}
	doc := legacy.MonitorStatistics{}
	ctx := containerizer.ShareProcessTable(r.Context())
	for _, m := range list {
		s, err := a.containers.Usage(ctx, m.container)
		if err != nil {
			// Gone, or not measurable: Mesos leaves out an executor
			// its containerizer fails to measure.
			a.log.Debug("cannot measure an executor", "framework", m.entry.FrameworkID, "executor", m.entry.ExecutorID, "err", err)
			continue
		}
		e := m.entry
		e.Statistics = legacyStatistics(s)
		doc = append(doc, e)
	}
	return legacy.Write(w, r, doc)
}

// monitoredExecutors lists the executors whose container runs, with their
// ids, first bringing what the containerizer knows of the resources each
// holds up to date (state goroutine).
func (a *Agent) monitoredExecutors() []monitored {
	var out []monitored
	for _, fwID := range slices.Sorted(maps.Keys(a.st.frameworks)) {
		fw := a.st.frameworks[fwID]
		for _, exID := range slices.Sorted(maps.Keys(fw.executors)) {
			ex := fw.executors[exID]
			if ex.launched == nil || ex.state == exTerminated {
				continue
			}
			a.updateContainer(ex)
			out = append(out, monitored{container: ex.container(), entry: legacy.MonitorEntry{
				ExecutorID:   exID,
				ExecutorName: ex.info.GetName(),
				FrameworkID:  fwID,
				Source:       ex.info.GetSource(),
			}})
		}
	}
	return out
}

// measure returns the usage of each container in list (nil for one that
// cannot be measured), from one reading of /proc.
func (a *Agent) measure(ctx context.Context, list []*mesos.ContainerID) []*mesos.ResourceStatistics {
	ctx = containerizer.ShareProcessTable(ctx)
	out := make([]*mesos.ResourceStatistics, len(list))
	for i, id := range list {
		if id == nil {
			continue
		}
		s, err := a.containers.Usage(ctx, id)
		if err != nil {
			a.log.Debug("cannot measure a container", "container", id.GetValue(), "err", err)
			continue
		}
		out[i] = s
	}
	return out
}

// legacyStatistics writes ResourceStatistics as /monitor/statistics
// does: what was measured, keys sorted.
func legacyStatistics(s *mesos.ResourceStatistics) legacy.ResourceStatistics {
	out, err := legacy.StatisticsOf(s)
	if err != nil {
		slog.Warn("cannot write a container's statistics", "err", err)
	}
	return out
}
