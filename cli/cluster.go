package cli

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// cluster is one GET_STATE answer, indexed.
type cluster struct {
	state      *masterpb.Response_GetState
	agents     map[string]*masterpb.Response_GetAgents_Agent
	frameworks map[string]*mesos.FrameworkInfo
	// tasks holds every task GET_STATE lists, live ones first.
	tasks []*mesos.Task
	// live counts the tasks that are not completed.
	live int
}

// loadCluster asks the master for its state.
func (o *options) loadCluster() (*client, *cluster, error) {
	c, err := o.connect()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := o.request()
	defer cancel()
	resp, err := c.call(ctx, &masterpb.Call{Type: masterpb.Call_GET_STATE.Enum()})
	if err != nil {
		return nil, nil, err
	}
	return c, indexState(resp.GetGetState()), nil
}

func indexState(st *masterpb.Response_GetState) *cluster {
	cl := &cluster{
		state:      st,
		agents:     map[string]*masterpb.Response_GetAgents_Agent{},
		frameworks: map[string]*mesos.FrameworkInfo{},
	}
	for _, a := range st.GetGetAgents().GetAgents() {
		cl.agents[a.GetAgentInfo().GetId().GetValue()] = a
	}
	fws := st.GetGetFrameworks()
	for _, f := range append(append([]*masterpb.Response_GetFrameworks_Framework(nil), fws.GetFrameworks()...), fws.GetCompletedFrameworks()...) {
		cl.frameworks[f.GetFrameworkInfo().GetId().GetValue()] = f.GetFrameworkInfo()
	}
	ts := st.GetGetTasks()
	cl.tasks = append(cl.tasks, ts.GetPendingTasks()...)
	cl.tasks = append(cl.tasks, ts.GetTasks()...)
	cl.tasks = append(cl.tasks, ts.GetUnreachableTasks()...)
	cl.live = len(cl.tasks)
	cl.tasks = append(cl.tasks, ts.GetCompletedTasks()...)
	return cl
}

// agentAddress is where an agent serves its endpoints: host:port from its
// pid (slave(1)@ip:port), else its hostname and port.
func agentAddress(a *masterpb.Response_GetAgents_Agent) string {
	if _, hp, ok := strings.Cut(a.GetPid(), "@"); ok && hp != "" {
		return hp
	}
	info := a.GetAgentInfo()
	return net.JoinHostPort(info.GetHostname(), strconv.Itoa(int(info.GetPort())))
}

// agentName is how tables show the agent with id id: its address, or the
// id when the master does not know it (any more).
func (cl *cluster) agentName(id string) string {
	if a := cl.agents[id]; a != nil {
		return agentAddress(a)
	}
	return id
}

func (cl *cluster) frameworkName(id string) string {
	if f := cl.frameworks[id]; f != nil && f.GetName() != "" {
		return f.GetName()
	}
	return id
}

// findTask resolves a task id or prefix. Live tasks win over completed
// ones of the same id (a framework may reuse an id after the first ended).
func (cl *cluster) findTask(arg string) (*mesos.Task, error) {
	ids := make([]string, 0, len(cl.tasks))
	seen := map[string]bool{}
	for _, t := range cl.tasks {
		id := t.GetTaskId().GetValue()
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	id, err := match("task", arg, ids)
	if err != nil {
		return nil, err
	}
	var found []*mesos.Task
	for _, t := range cl.tasks {
		if t.GetTaskId().GetValue() == id {
			found = append(found, t)
		}
	}
	// A task id is unique within its framework only.
	fws := map[string]bool{}
	for _, t := range found {
		fws[t.GetFrameworkId().GetValue()] = true
	}
	if len(fws) > 1 {
		var names []string
		for f := range fws {
			names = append(names, f)
		}
		sort.Strings(names)
		return nil, ambiguousf("task id %q is used by %d frameworks (%s); this command cannot tell them apart", id, len(fws), strings.Join(names, ", "))
	}
	return found[0], nil
}

// findFramework resolves a framework id prefix, or a framework's exact name.
func (cl *cluster) findFramework(arg string) (string, error) {
	var ids, named []string
	for id, f := range cl.frameworks {
		ids = append(ids, id)
		if f.GetName() == arg {
			named = append(named, id)
		}
	}
	id, err := match("framework", arg, ids)
	if err == nil || len(named) == 0 {
		return id, err
	}
	if len(named) > 1 {
		sort.Strings(named)
		return "", ambiguousf("%d frameworks are named %q: %s", len(named), arg, strings.Join(named, ", "))
	}
	return named[0], nil
}

// findAgent resolves an agent id prefix, or an agent's exact address
// (host:port) or hostname.
func (cl *cluster) findAgent(arg string) (string, error) {
	var ids, named []string
	for id, a := range cl.agents {
		ids = append(ids, id)
		if agentAddress(a) == arg || a.GetAgentInfo().GetHostname() == arg {
			named = append(named, id)
		}
	}
	id, err := match("agent", arg, ids)
	if err == nil || len(named) == 0 {
		return id, err
	}
	if len(named) > 1 {
		sort.Strings(named)
		return "", ambiguousf("%d agents are at %q: %s", len(named), arg, strings.Join(named, ", "))
	}
	return named[0], nil
}

func agentsCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "agents",
		Short: "list the agents: address, state, resources used and total, tasks",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			agents := cl.state.GetGetAgents().GetAgents()
			sort.SliceStable(agents, func(i, j int) bool {
				return agents[i].GetAgentInfo().GetId().GetValue() < agents[j].GetAgentInfo().GetId().GetValue()
			})
			if o.json {
				return writeJSONList(o.stdout, agents)
			}
			tasks := map[string]int{}
			for _, t := range cl.tasks[:cl.live] {
				tasks[t.GetAgentId().GetValue()]++
			}
			ids := make([]string, 0, len(agents))
			for _, a := range agents {
				ids = append(ids, a.GetAgentInfo().GetId().GetValue())
			}
			ab := newAbbreviator(ids)
			t := newTable(o.stdout, "ID", "ADDRESS", "STATE", "CPUS", "MEM", "DISK", "TASKS")
			for _, a := range agents {
				id := a.GetAgentInfo().GetId().GetValue()
				total, used := scalars(a.GetTotalResources()), scalars(a.GetAllocatedResources())
				state := "active"
				switch {
				case a.GetDrainInfo() != nil:
					state = strings.ToLower(a.GetDrainInfo().GetState().String())
				case a.GetDeactivated():
					state = "deactivated"
				case !a.GetActive():
					state = "inactive"
				}
				t.row(ab.of(id), agentAddress(a), state,
					num(used["cpus"])+"/"+num(total["cpus"]), mb(used["mem"])+"/"+mb(total["mem"]),
					mb(used["disk"])+"/"+mb(total["disk"]), strconv.Itoa(tasks[id]))
			}
			return t.flush()
		},
	}
}

func frameworksCmd(o *options) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "frameworks",
		Short: "list the frameworks: name, role, user, state, tasks and resources",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			fws := cl.state.GetGetFrameworks()
			list := append([]*masterpb.Response_GetFrameworks_Framework(nil), fws.GetFrameworks()...)
			if all {
				list = append(list, fws.GetCompletedFrameworks()...)
			}
			if o.json {
				return writeJSONList(o.stdout, list)
			}
			completed := map[string]bool{}
			for _, f := range fws.GetCompletedFrameworks() {
				completed[f.GetFrameworkInfo().GetId().GetValue()] = true
			}
			tasks := map[string]int{}
			for _, t := range cl.tasks[:cl.live] {
				tasks[t.GetFrameworkId().GetValue()]++
			}
			var ids []string
			for id := range cl.frameworks {
				ids = append(ids, id)
			}
			ab := newAbbreviator(ids)
			t := newTable(o.stdout, "ID", "NAME", "ROLES", "USER", "STATE", "TASKS", "CPUS", "MEM")
			for _, f := range list {
				info := f.GetFrameworkInfo()
				id := info.GetId().GetValue()
				roles := info.GetRoles()
				if len(roles) == 0 && info.GetRole() != "" {
					roles = []string{info.GetRole()}
				}
				state := "active"
				switch {
				case completed[id]:
					state = "completed"
				case f.GetRecovered():
					state = "recovered"
				case !f.GetConnected():
					state = "disconnected"
				case !f.GetActive():
					state = "inactive"
				}
				used := scalars(f.GetAllocatedResources())
				t.row(ab.of(id), info.GetName(), strings.Join(roles, ","), info.GetUser(), state,
					strconv.Itoa(tasks[id]), num(used["cpus"]), mb(used["mem"]))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&all, "all", false, "include completed (torn down) frameworks")
	return c
}

func tasksCmd(o *options) *cobra.Command {
	var (
		all                     bool
		framework, agent, state string
	)
	c := &cobra.Command{
		Use:   "tasks",
		Short: "list the tasks (live ones; --all adds completed ones)",
		Long: strings.TrimSpace(`
List the cluster's tasks: the live ones (staging, starting, running, killing, unreachable), and
with --all the completed ones too. --framework takes a framework's id, a unique prefix of it, or
its name; --agent an agent's id, a unique prefix of it, or its address (host:port) or hostname;
--state a task state (running, TASK_RUNNING, ...).`),
		Args: exactArgs(0, "no arguments (filter with --framework, --agent, --state)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var want *mesos.TaskState
			if state != "" {
				s, err := parseState(state)
				if err != nil {
					return err
				}
				want = &s
				if mesos.IsTerminalState(s) {
					all = true
				}
			}
			_, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			fwID, agentID := "", ""
			if framework != "" {
				if fwID, err = cl.findFramework(framework); err != nil {
					return err
				}
			}
			if agent != "" {
				if agentID, err = cl.findAgent(agent); err != nil {
					return err
				}
			}
			list := cl.tasks[:cl.live]
			if all {
				list = cl.tasks
			}
			var out []*mesos.Task
			for _, t := range list {
				if fwID != "" && t.GetFrameworkId().GetValue() != fwID ||
					agentID != "" && t.GetAgentId().GetValue() != agentID ||
					want != nil && t.GetState() != *want {
					continue
				}
				out = append(out, t)
			}
			return o.printTasks(cl, out)
		},
	}
	f := c.Flags()
	f.BoolVar(&all, "all", false, "include completed tasks")
	f.StringVar(&framework, "framework", "", "only the tasks of this framework (id, id prefix or name)")
	f.StringVar(&agent, "agent", "", "only the tasks on this agent (id, id prefix, address or hostname)")
	f.StringVar(&state, "state", "", "only the tasks in this state (running, finished, failed, ...)")
	_ = c.RegisterFlagCompletionFunc("state", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, n := range mesos.TaskState_name {
			names = append(names, strings.ToLower(strings.TrimPrefix(n, "TASK_")))
		}
		sort.Strings(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	_ = c.RegisterFlagCompletionFunc("framework", o.completeFrameworks)
	_ = c.RegisterFlagCompletionFunc("agent", o.completeAgents)
	return c
}

// printTasks writes tasks as a table (first status first) or JSON.
func (o *options) printTasks(cl *cluster, tasks []*mesos.Task) error {
	if o.json {
		return writeJSONList(o.stdout, tasks)
	}
	ids := make([]string, 0, len(cl.tasks))
	for _, t := range cl.tasks {
		ids = append(ids, t.GetTaskId().GetValue())
	}
	ab := newAbbreviator(ids)
	now := time.Now()
	t := newTable(o.stdout, "ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "CPUS", "MEM", "AGE")
	for _, task := range tasks {
		res := scalars(task.GetResources())
		var started float64
		if sts := task.GetStatuses(); len(sts) > 0 {
			started = sts[0].GetTimestamp()
		}
		t.row(ab.of(task.GetTaskId().GetValue()), task.GetName(), stateName(task.GetState()),
			cl.frameworkName(task.GetFrameworkId().GetValue()), cl.agentName(task.GetAgentId().GetValue()),
			num(res["cpus"]), mb(res["mem"]), ago(now, started))
	}
	return t.flush()
}

// sandboxPath is a task's sandbox as the master's files proxy names it,
// and the executor run directory it is in.
func sandboxPath(t *mesos.Task) string {
	ex := t.GetExecutorId().GetValue()
	if ex == "" {
		// A command task's executor has the task's id.
		ex = t.GetTaskId().GetValue()
	}
	return fmt.Sprintf("/agents/%s/frameworks/%s/executors/%s/runs/latest",
		t.GetAgentId().GetValue(), t.GetFrameworkId().GetValue(), ex)
}

func taskCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:               "task ID",
		Short:             "show a task: state, status history with reasons and messages, resources, agent, sandbox",
		Args:              exactArgs(1, "one task id (or a unique prefix of it)"),
		ValidArgsFunction: o.completeTasks,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			t, err := cl.findTask(args[0])
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(o.stdout, t)
			}
			sandbox := sandboxPath(t)
			if t.GetExecutorId().GetValue() != "" {
				// A task of a task group has its own sandbox inside its
				// executor's.
				sb, _ := o.sandboxOf(c, cl, t)
				if sb != nil {
					sandbox = sb.path
				}
			}
			w := newTable(o.stdout, "ID:", t.GetTaskId().GetValue())
			w.row("Name:", t.GetName())
			w.row("State:", stateName(t.GetState()))
			w.row("Framework:", cl.frameworkName(t.GetFrameworkId().GetValue())+" ("+t.GetFrameworkId().GetValue()+")")
			w.row("Agent:", cl.agentName(t.GetAgentId().GetValue())+" ("+t.GetAgentId().GetValue()+")")
			w.row("Executor:", t.GetExecutorId().GetValue())
			res := scalars(t.GetResources())
			var rs []string
			for _, n := range []string{"cpus", "mem", "disk", "gpus"} {
				if v, ok := res[n]; ok {
					if n == "mem" || n == "disk" {
						rs = append(rs, n+":"+mb(v))
					} else {
						rs = append(rs, n+":"+num(v))
					}
				}
			}
			for _, r := range t.GetResources() {
				if r.GetName() == "ports" {
					for _, p := range r.GetRanges().GetRange() {
						rs = append(rs, fmt.Sprintf("ports:[%d-%d]", p.GetBegin(), p.GetEnd()))
					}
				}
			}
			w.row("Resources:", strings.Join(rs, " "))
			w.row("User:", t.GetUser())
			w.row("Sandbox:", sandbox)
			if err := w.flush(); err != nil {
				return err
			}
			fmt.Fprintln(o.stdout)
			h := newTable(o.stdout, "TIME", "STATE", "SOURCE", "REASON", "MESSAGE")
			for _, s := range t.GetStatuses() {
				reason := ""
				if s.Reason != nil {
					reason = strings.TrimPrefix(s.GetReason().String(), "REASON_")
				}
				source := ""
				if s.Source != nil {
					source = strings.ToLower(strings.TrimPrefix(s.GetSource().String(), "SOURCE_"))
				}
				state := stateName(s.GetState())
				if s.Healthy != nil {
					if s.GetHealthy() {
						state += " (healthy)"
					} else {
						state += " (unhealthy)"
					}
				}
				h.row(stamp(s.GetTimestamp()), state, source, reason, strings.ReplaceAll(s.GetMessage(), "\n", " "))
			}
			return h.flush()
		},
	}
}

func stateCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "state",
		Short: "summarize the cluster: master, agents, frameworks, tasks by state, resources",
		Long:  "Summarize the cluster; with --json, print the master's whole GET_STATE answer.",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(o.stdout, cl.state)
			}
			ctx, cancel := o.request()
			defer cancel()
			m, err := c.call(ctx, &masterpb.Call{Type: masterpb.Call_GET_MASTER.Enum()})
			if err != nil {
				return err
			}
			return printSummary(o, c, cl, m.GetGetMaster())
		},
	}
}

func printSummary(o *options, c *client, cl *cluster, m *masterpb.Response_GetMaster) error {
	info := m.GetMasterInfo()
	w := newTable(o.stdout, "Master:", fmt.Sprintf("%s (id %s, version %s)", c.addr, info.GetId(), info.GetVersion()))
	if st := m.GetStartTime(); st > 0 {
		w.row("Started:", stamp(st))
	}
	if et := m.GetElectedTime(); et > 0 {
		w.row("Elected:", stamp(et))
	}
	active := 0
	var total, used map[string]float64 = map[string]float64{}, map[string]float64{}
	for _, a := range cl.state.GetGetAgents().GetAgents() {
		if a.GetActive() {
			active++
		}
		for k, v := range scalars(a.GetTotalResources()) {
			total[k] += v
		}
		for k, v := range scalars(a.GetAllocatedResources()) {
			used[k] += v
		}
	}
	w.row("Agents:", fmt.Sprintf("%d (%d active)", len(cl.agents), active))
	fws := cl.state.GetGetFrameworks()
	w.row("Frameworks:", fmt.Sprintf("%d (%d completed)", len(fws.GetFrameworks()), len(fws.GetCompletedFrameworks())))
	byState := map[string]int{}
	for _, t := range cl.tasks {
		byState[stateName(t.GetState())]++
	}
	var states []string
	for s, n := range byState {
		states = append(states, fmt.Sprintf("%s %d", strings.ToLower(s), n))
	}
	sort.Strings(states)
	w.row("Tasks:", fmt.Sprintf("%d live, %d completed (%s)", cl.live, len(cl.tasks)-cl.live, strings.Join(states, ", ")))
	w.row("CPUs:", fmt.Sprintf("%s of %s used", num(used["cpus"]), num(total["cpus"])))
	w.row("Memory:", fmt.Sprintf("%s of %s used", mb(used["mem"]), mb(total["mem"])))
	w.row("Disk:", fmt.Sprintf("%s of %s used", mb(used["disk"]), mb(total["disk"])))
	return w.flush()
}

// completion helpers: ids from the master, quietly nothing when it cannot
// be reached.

func (o *options) completeIDs(list func(*cluster) []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if o.timeout > 3*time.Second {
			o.timeout = 3 * time.Second
		}
		if o.ctx == nil {
			o.ctx = context.Background()
		}
		_, cl, err := o.loadCluster()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, id := range list(cl) {
			if strings.HasPrefix(id, prefix) {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func (o *options) completeTasks(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return o.completeIDs(func(cl *cluster) []string {
		var ids []string
		for _, t := range cl.tasks {
			ids = append(ids, t.GetTaskId().GetValue())
		}
		return ids
	})(cmd, args, prefix)
}

func (o *options) completeFrameworks(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return o.completeIDs(func(cl *cluster) []string {
		var ids []string
		for id := range cl.frameworks {
			ids = append(ids, id)
		}
		return ids
	})(cmd, args, prefix)
}

func (o *options) completeAgents(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	return o.completeIDs(func(cl *cluster) []string {
		var ids []string
		for id := range cl.agents {
			ids = append(ids, id)
		}
		return ids
	})(cmd, args, prefix)
}
