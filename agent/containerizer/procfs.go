package containerizer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// What the POSIX isolators measure comes from /proc, as Mesos' posix/cpu
// and posix/mem isolators read it: the CPU times and resident memory of
// every process of a container. A container's processes are a session:
// a process executor leads a session of its own, so they are the
// processes whose session id is its pid (as the launcher kills them); a
// built-in executor running inside the agent has no process, and each of
// its tasks leads a session of its own as a child of the agent, found by
// the framework and executor its environment names (see Builtin).

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat:
// 100 on Linux whatever the kernel's own tick rate.
const clockTicks = 100

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

	// inline is computed once, on first use (inlineSessions).
	inlineOnce sync.Once
	inline     map[[2]string][]int
}

// sessionUsage is what the processes of some sessions use.
type sessionUsage struct {
	// utime and stime are CPU times in clock ticks; rss in pages.
	utime, stime, rss uint64
}

// usage sums the CPU times and resident pages of the processes in the
// given sessions.
func (t *processTable) usage(sessions []int) sessionUsage {
	var u sessionUsage
	for _, sid := range sessions {
		for _, p := range t.bySession[sid] {
			u.utime += p.utime
			u.stime += p.stime
			u.rss += p.rss
		}
	}
	return u
}

// tableKey is the context key of a shared process table.
type tableKey struct{}

// sharedTable is a process table read at most once for every measurement
// made under one context.
type sharedTable struct {
	once sync.Once
	t    *processTable
	err  error
}

// ShareProcessTable returns a context under which the usage of every
// container (Usage) is measured from one reading of /proc, taken on the
// first measurement: a caller measuring many containers at once (the
// agent's /monitor/statistics and GET_CONTAINERS) reads /proc once
// instead of once per container.
func ShareProcessTable(ctx context.Context) context.Context {
	if _, ok := ctx.Value(tableKey{}).(*sharedTable); ok {
		return ctx
	}
	return context.WithValue(ctx, tableKey{}, &sharedTable{})
}

// processes returns ctx's shared process table, or a fresh one.
func processes(ctx context.Context) (*processTable, error) {
	if s, ok := ctx.Value(tableKey{}).(*sharedTable); ok {
		s.once.Do(func() { s.t, s.err = readProcesses() })
		return s.t, s.err
	}
	return readProcesses()
}

// readProcesses reads the stat of every process in /proc. A process that
// ends while it is read is skipped.
func readProcesses() (*processTable, error) {
	t := &processTable{byPid: map[int]procStat{}, bySession: map[int][]procStat{}}
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
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
			return nil, err
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
// framework and executor their environment names (MESOS_FRAMEWORK_ID and
// MESOS_EXECUTOR_ID, which every task inherits). Computed once per
// table.
func (t *processTable) inlineSessions() map[[2]string][]int {
	t.inlineOnce.Do(func() {
		self := os.Getpid()
		t.inline = map[[2]string][]int{}
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
				t.inline[key] = append(t.inline[key], pid)
			}
		}
	})
	return t.inline
}
