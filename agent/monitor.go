package agent

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/resources"
)

// The agent's /monitor/statistics (also /slave(1)/monitor/statistics;
// Mesos removed the old /monitor/statistics.json in 1.7): one entry per
// live executor, with what Mesos' "mesos" containerizer reports under
// its default posix/cpu and posix/mem isolators, measured from /proc:
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
// nothing caps the CPU an executor uses. Everything else of
// ResourceStatistics (cgroups' throttling, memory breakdown and pressure,
// disk, network, perf, process and thread counts) is left out: Mezzo has
// no cgroups, disk or network isolation to read it from.
//
// An executor's processes are its session. A process executor leads a
// session of its own, so they are the processes whose session id is its
// pid, as Mesos' launcher kills them. A built-in executor running inside
// the agent has no process; each of its tasks leads a session of its
// own, as a child of the agent. Its task pids live in the executor
// package's bookkeeping, which the agent cannot reach, so they are found
// in /proc: the session leaders whose parent is the agent and whose
// environment names the executor (MESOS_FRAMEWORK_ID and
// MESOS_EXECUTOR_ID, which every task inherits). The executor's own
// goroutines are part of the agent and not counted. /proc is read off the
// state goroutine: the list of executors is copied first.

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat:
// 100 on Linux whatever the kernel's own tick rate.
const clockTicks = 100

// monitored is a live executor whose usage is to be measured, copied off
// the state.
type monitored struct {
	entry      legacy.MonitorEntry // ids, names and limits
	fwID, exID string
	// pid is the executor's pid and session id; 0 for a built-in
	// executor running inside the agent.
	pid int
}

// serveStatistics is GET /monitor/statistics.
func (a *Agent) serveStatistics(w http.ResponseWriter, r *http.Request) error {
	var list []monitored
	if err := a.do(func() { list = a.monitoredExecutors() }); err != nil {
		return httpapi.ServiceUnavailable("Agent is shutting down")
	}
	doc := legacy.MonitorStatistics{}
	if len(list) == 0 {
		return legacy.Write(w, r, doc)
	}
	procs, err := readProcesses()
	if err != nil {
		return fmt.Errorf("measure executors: %w", err)
	}
	now := legacy.Float(float64(time.Now().UnixNano()) / 1e9)
	inline := map[[2]string][]int{} // (framework, executor) -> task sessions
	for _, m := range list {
		if m.pid == 0 {
			inline = procs.inlineSessions()
			break
		}
	}
	page := uint64(os.Getpagesize())
	for _, m := range list {
		sessions := inline[[2]string{m.fwID, m.exID}]
		if m.pid > 0 {
			if _, ok := procs.byPid[m.pid]; !ok {
				continue // gone: Mesos leaves out an executor it cannot measure
			}
			sessions = []int{m.pid}
		}
		utime, stime, rss := procs.usage(sessions)
		e := m.entry
		e.Statistics.Timestamp = now
		e.Statistics.CPUsUserTimeSecs = floatPtr(float64(utime) / clockTicks)
		e.Statistics.CPUsSystemTimeSecs = floatPtr(float64(stime) / clockTicks)
		rss *= page
		e.Statistics.MemRSSBytes = &rss
		doc = append(doc, e)
	}
	return legacy.Write(w, r, doc)
}

// monitoredExecutors lists the executors whose process (or, inside the
// agent, goroutine) runs, with their ids and limits (state goroutine).
func (a *Agent) monitoredExecutors() []monitored {
	var out []monitored
	for _, fwID := range slices.Sorted(maps.Keys(a.st.frameworks)) {
		fw := a.st.frameworks[fwID]
		for _, exID := range slices.Sorted(maps.Keys(fw.executors)) {
			ex := fw.executors[exID]
			if ex.proc == nil || ex.state == exTerminated {
				continue
			}
			m := monitored{fwID: fwID, exID: exID, pid: ex.proc.Pid()}
			m.entry = legacy.MonitorEntry{
				ExecutorID:   exID,
				ExecutorName: ex.info.GetName(),
				FrameworkID:  fwID,
				Source:       ex.info.GetSource(),
			}
			held := allocatedTo(ex)
			if cpus := held.ByName("cpus"); !cpus.IsEmpty() {
				m.entry.Statistics.CPUsSoftLimit = floatPtr(cpus.ScalarOf("cpus").Float())
			}
			if mem := held.ByName("mem"); !mem.IsEmpty() {
				b := megabytes(mem)
				m.entry.Statistics.MemSoftLimitBytes = &b
				limit := b
				m.entry.Statistics.MemLimitBytes = &limit
			}
			out = append(out, m)
		}
	}
	return out
}

// megabytes is a mem amount in bytes, whole megabytes as Mesos counts
// them.
func megabytes(mem resources.Resources) uint64 {
	return uint64(mem.ScalarOf("mem").Float()) << 20
}

func floatPtr(f float64) *legacy.Float {
	v := legacy.Float(f)
	return &v
}

// procStat is what /proc/<pid>/stat says of one process.
type procStat struct {
	pid, ppid, sid int
	// utime and stime are CPU times in clock ticks; rss is in pages.
	utime, stime, rss uint64
}

// processTable is every process of the host, by pid and by session.
type processTable struct {
	byPid     map[int]procStat
	bySession map[int][]procStat
}

// usage sums the CPU times (clock ticks) and resident pages of the
// processes in the given sessions.
func (t processTable) usage(sessions []int) (utime, stime, rss uint64) {
	for _, sid := range sessions {
		for _, p := range t.bySession[sid] {
			utime += p.utime
			stime += p.stime
			rss += p.rss
		}
	}
	return utime, stime, rss
}

// readProcesses reads the stat of every process in /proc. A process that
// ends while it is read is skipped.
func readProcesses() (processTable, error) {
	t := processTable{byPid: map[int]procStat{}, bySession: map[int][]procStat{}}
	d, err := os.Open("/proc")
	if err != nil {
		return t, fmt.Errorf("list processes: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return t, fmt.Errorf("list processes: %w", err)
	}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		p, err := parseStat(pid, b)
		if err != nil {
			return t, err
		}
		t.byPid[pid] = p
		t.bySession[p.sid] = append(t.bySession[p.sid], p)
	}
	return t, nil
}

// parseStat reads the fields of /proc/<pid>/stat that usage needs (see
// proc(5)); the command, in parentheses, may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(pid int, b []byte) (procStat, error) {
	p := procStat{pid: pid}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return p, fmt.Errorf("/proc/%d/stat: no command: %q", pid, b)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): field n is f[n-3].
	const ppid, session, utime, stime, rss = 4 - 3, 6 - 3, 14 - 3, 15 - 3, 24 - 3
	if len(f) <= rss {
		return p, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ints := [...]struct {
		field int
		dst   *int
	}{{ppid, &p.ppid}, {session, &p.sid}}
	for _, x := range ints {
		v, err := strconv.Atoi(string(f[x.field]))
		if err != nil {
			return p, fmt.Errorf("/proc/%d/stat field %d: %w", pid, x.field+3, err)
		}
		*x.dst = v
	}
	uints := [...]struct {
		field int
		dst   *uint64
	}{{utime, &p.utime}, {stime, &p.stime}, {rss, &p.rss}}
	for _, x := range uints {
		v, err := strconv.ParseInt(string(f[x.field]), 10, 64)
		if err != nil {
			return p, fmt.Errorf("/proc/%d/stat field %d: %w", pid, x.field+3, err)
		}
		*x.dst = uint64(max(v, 0))
	}
	return p, nil
}

// inlineSessions finds the tasks of built-in executors running inside
// this process: the session leaders it is the parent of, by the
// framework and executor their environment names.
func (t processTable) inlineSessions() map[[2]string][]int {
	self := os.Getpid()
	out := map[[2]string][]int{}
	for pid, p := range t.byPid {
		if p.ppid != self || p.sid != pid {
			continue
		}
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue // ended meanwhile
		}
		var key [2]string
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("MESOS_FRAMEWORK_ID=")); ok {
				key[0] = string(v)
			} else if v, ok := bytes.CutPrefix(kv, []byte("MESOS_EXECUTOR_ID=")); ok {
				key[1] = string(v)
			}
		}
		if key[0] != "" && key[1] != "" {
			out[key] = append(out[key], pid)
		}
	}
	return out
}
