package master

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/resources"
)

// This file holds the master's read-only JSON documents other than
// /master/state: /master/slaves, /master/frameworks, /master/tasks and
// /master/state-summary, plus the /master/teardown action, with Mesos'
// query parameters.

// defaultTaskLimit is how many tasks /master/tasks lists unless asked
// otherwise (Mesos' TASK_LIMIT).
const defaultTaskLimit = 100

// idFilter selects documents by the id named in a query parameter; an absent
// parameter selects everything.
type idFilter struct {
	id  string
	set bool
}

func queryID(q url.Values, name string) idFilter {
	_, set := q[name]
	return idFilter{id: q.Get(name), set: set}
}

func (f idFilter) accept(id string) bool { return !f.set || f.id == id }

// slaves builds /master/slaves: the registered agents (with their resources
// also in full, so operators can name exact reservations and volumes) and the
// agents recovered from the registry that have not re-registered.
func (c *core) slaves(sel idFilter) *legacy.Slaves {
	doc := &legacy.Slaves{Slaves: legacy.List[legacy.SlaveWithFullResources]{}, RecoveredSlaves: legacy.List[legacy.SlaveInfo]{}}
	for _, a := range c.sortedAgents() {
		if !sel.accept(a.id) {
			continue
		}
		used, offered := agentUsage(a, true)
		reserved := legacy.RoleFullResources{}
		for role, r := range a.total.Reservations() {
			reserved[role] = legacy.Full(r, resources.FormatEndpoint)
		}
		doc.Slaves = append(doc.Slaves, legacy.SlaveWithFullResources{
			Slave:                   c.slaveDoc(a, used.Unallocate(), offered.Unallocate()),
			ReservedResourcesFull:   reserved,
			UnreservedResourcesFull: legacy.Full(a.total.Unreserved(), resources.FormatEndpoint),
			UsedResourcesFull:       legacy.Full(used, resources.FormatEndpoint),
			OfferedResourcesFull:    legacy.Full(offered, resources.FormatEndpoint),
		})
	}
	for _, id := range sortedKeys(c.recovered) {
		if sel.accept(id) {
			doc.RecoveredSlaves = append(doc.RecoveredSlaves, recoveredSlaveJSON(id, c.recovered[id].info))
		}
	}
	return doc
}

// recoveredSlaveJSON writes an agent known only from the registry.
func recoveredSlaveJSON(id string, info *mesos.AgentInfo) legacy.SlaveInfo {
	return legacy.SlaveInfo{
		ID: id, Hostname: info.GetHostname(), Port: info.GetPort(), Attributes: legacy.AttributesOf(info.GetAttributes()),
	}
}

// frameworksDoc builds /master/frameworks: the registered and the recently
// completed frameworks, in full.
func (c *core) frameworksDoc(sel idFilter) *legacy.Frameworks {
	doc := &legacy.Frameworks{
		Frameworks:             legacy.List[legacy.Framework]{},
		CompletedFrameworks:    legacy.List[legacy.Framework]{},
		UnregisteredFrameworks: legacy.List[string]{},
	}
	for _, f := range c.sortedFrameworks() {
		if sel.accept(f.id) {
			doc.Frameworks = append(doc.Frameworks, c.frameworkJSON(f))
		}
	}
	for i := len(c.completed) - 1; i >= 0; i-- {
		if f := c.completed[i]; sel.accept(f.id) {
			doc.CompletedFrameworks = append(doc.CompletedFrameworks, c.frameworkJSON(f))
		}
	}
	return doc
}

// taskQuery is what /master/tasks was asked for.
type taskQuery struct {
	limit, offset int
	ascending     bool
	framework     idFilter
	task          idFilter
	// visible, when set, selects the tasks the caller may view (authz.go),
	// before paging.
	visible func(frameworkTask) bool
}

// parseTaskQuery reads /master/tasks' parameters: limit (default 100),
// offset (default 0), order ("asc"; anything else is descending, as in
// Mesos), framework_id and task_id. Unlike Mesos, which falls back to the
// defaults, a limit or offset that is not a non-negative integer is an
// error naming it.
func parseTaskQuery(q url.Values) (taskQuery, error) {
	tq := taskQuery{
		limit:     defaultTaskLimit,
		ascending: q.Get("order") == "asc",
		framework: queryID(q, "framework_id"),
		task:      queryID(q, "task_id"),
	}
	for name, dst := range map[string]*int{"limit": &tq.limit, "offset": &tq.offset} {
		if _, ok := q[name]; !ok {
			continue
		}
		n, err := strconv.Atoi(q.Get(name))
		if err != nil || n < 0 {
			return tq, httpapi.BadRequest("Invalid '%s' query parameter %q: expecting a non-negative integer", name, q.Get(name))
		}
		*dst = n
	}
	return tq, nil
}

// tasks builds /master/tasks: the current, unreachable and completed tasks
// of registered and completed frameworks, ordered by the time of each task's
// first status update (tasks without one sort as the oldest), then paged.
func (c *core) tasks(q taskQuery) *legacy.Tasks {
	frameworks := []*framework{}
	for _, f := range c.sortedFrameworks() {
		if q.framework.accept(f.id) {
			frameworks = append(frameworks, f)
		}
	}
	for i := len(c.completed) - 1; i >= 0; i-- {
		if f := c.completed[i]; q.framework.accept(f.id) {
			frameworks = append(frameworks, f)
		}
	}
	var all []frameworkTask
	for _, f := range frameworks {
		current, unreachable, completed := frameworkTasks(f)
		for _, group := range [][]frameworkTask{current, unreachable, completed} {
			for _, t := range group {
				if q.task.accept(t.pb.GetTaskId().GetValue()) && (q.visible == nil || q.visible(t)) {
					all = append(all, t)
				}
			}
		}
	}
	slices.SortStableFunc(all, func(a, b frameworkTask) int {
		x, y := firstStatusTime(a.pb), firstStatusTime(b.pb)
		if !q.ascending {
			x, y = y, x
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	doc := &legacy.Tasks{Tasks: legacy.List[legacy.Task]{}}
	for i := q.offset; i < len(all) && i-q.offset < q.limit; i++ {
		doc.Tasks = append(doc.Tasks, c.taskDoc(all[i]))
	}
	return doc
}

// firstStatusTime is the timestamp of t's first status update, or -1 when
// it has none (so it sorts before every task that has one).
func firstStatusTime(t *mesos.Task) float64 {
	if len(t.GetStatuses()) == 0 {
		return -1
	}
	return t.GetStatuses()[0].GetTimestamp()
}

// stateSummary builds /master/state-summary: agents and registered
// frameworks with their task counts by state (over current, unreachable and
// completed tasks) and which frameworks have tasks on which agents.
func (c *core) stateSummary() *legacy.StateSummary {
	doc := &legacy.StateSummary{
		Hostname:   c.info.GetHostname(),
		Cluster:    c.cfg.Cluster,
		Slaves:     legacy.List[legacy.StateSummarySlave]{},
		Frameworks: legacy.List[legacy.StateSummaryFramework]{},
	}
	byAgent := map[string]*legacy.TaskStateCounts{}
	agentFrameworks := map[string]map[string]bool{}
	type frameworkCounts struct {
		counts legacy.TaskStateCounts
		agents map[string]bool
	}
	byFramework := map[string]*frameworkCounts{}
	frameworks := c.sortedFrameworks()
	for _, f := range frameworks {
		fc := &frameworkCounts{agents: map[string]bool{}}
		byFramework[f.id] = fc
		current, unreachable, completed := frameworkTasks(f)
		for _, group := range [][]frameworkTask{current, unreachable, completed} {
			for _, t := range group {
				agentID := t.pb.GetAgentId().GetValue()
				countTask(&fc.counts, t.pb.GetState())
				if byAgent[agentID] == nil {
					byAgent[agentID] = &legacy.TaskStateCounts{}
					agentFrameworks[agentID] = map[string]bool{}
				}
				countTask(byAgent[agentID], t.pb.GetState())
				fc.agents[agentID] = true
				agentFrameworks[agentID][f.id] = true
			}
		}
	}
	for _, a := range c.sortedAgents() {
		s := legacy.StateSummarySlave{Slave: c.slaveJSON(a), FrameworkIDs: sortedIDs(agentFrameworks[a.id])}
		if n := byAgent[a.id]; n != nil {
			s.TaskStateCounts = *n
		}
		doc.Slaves = append(doc.Slaves, s)
	}
	for _, f := range frameworks {
		used, offered := frameworkUsage(f)
		fc := byFramework[f.id]
		doc.Frameworks = append(doc.Frameworks, legacy.StateSummaryFramework{
			FrameworkSummary: frameworkSummary(f, used, offered),
			TaskStateCounts:  fc.counts,
			SlaveIDs:         sortedIDs(fc.agents),
		})
	}
	return doc
}

// countTask adds a task in state s to n. Mesos' summaries count ten states
// only; the others (TASK_DROPPED, TASK_GONE, ...) are not written.
func countTask(n *legacy.TaskStateCounts, s mesos.TaskState) {
	switch s {
	case mesos.TaskState_TASK_STAGING:
		n.Staging++
	case mesos.TaskState_TASK_STARTING:
		n.Starting++
	case mesos.TaskState_TASK_RUNNING:
		n.Running++
	case mesos.TaskState_TASK_KILLING:
		n.Killing++
	case mesos.TaskState_TASK_FINISHED:
		n.Finished++
	case mesos.TaskState_TASK_KILLED:
		n.Killed++
	case mesos.TaskState_TASK_FAILED:
		n.Failed++
	case mesos.TaskState_TASK_LOST:
		n.Lost++
	case mesos.TaskState_TASK_ERROR:
		n.Error++
	case mesos.TaskState_TASK_UNREACHABLE:
		n.Unreachable++
	}
}

// sortedIDs lists a set's members in order, [] for an empty set.
func sortedIDs(set map[string]bool) legacy.List[string] {
	out := legacy.List[string]{}
	for _, id := range sortedKeys(set) {
		out = append(out, id)
	}
	return out
}

func (m *Master) slavesJSON(w http.ResponseWriter, r *http.Request) error {
	sel := queryID(r.URL.Query(), "slave_id")
	vw := m.viewerFor(r)
	if !sel.set {
		return m.document(w, r, "slaves"+vw.key(), func(v *core) any { return viewSlaves(v.slaves(sel), vw) })
	}
	return m.filtered(w, r, func(v *core) any { return viewSlaves(v.slaves(sel), vw) })
}

func (m *Master) frameworksJSON(w http.ResponseWriter, r *http.Request) error {
	sel := queryID(r.URL.Query(), "framework_id")
	vw := m.viewerFor(r)
	if !sel.set {
		return m.document(w, r, "frameworks"+vw.key(), func(v *core) any { return v.viewFrameworks(v.frameworksDoc(sel), vw) })
	}
	return m.filtered(w, r, func(v *core) any { return v.viewFrameworks(v.frameworksDoc(sel), vw) })
}

func (m *Master) tasksJSON(w http.ResponseWriter, r *http.Request) error {
	q, err := parseTaskQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.visible = taskVisible(m.viewerFor(r))
	return m.filtered(w, r, func(v *core) any { return v.tasks(q) })
}

func (m *Master) stateSummaryJSON(w http.ResponseWriter, r *http.Request) error {
	vw := m.viewerFor(r)
	return m.document(w, r, "state-summary"+vw.key(), func(v *core) any { return v.viewSummary(v.stateSummary(), vw) })
}

// teardown is POST /master/teardown with a form body "frameworkId=ID": it
// removes the framework as if its scheduler had sent TEARDOWN (its tasks
// are killed and its executors shut down). 405 for other methods, 400 for a
// body that is not a form, a missing frameworkId or an unknown framework.
func (m *Master) teardown(w http.ResponseWriter, r *http.Request) error {
	if err := httpapi.RequirePOST(r); err != nil {
		return err
	}
	body, err := httpapi.ReadBody(w, r, 0)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return httpapi.BadRequest("Unable to decode query string: %v", err)
	}
	if _, ok := form["frameworkId"]; !ok {
		return httpapi.BadRequest("Missing 'frameworkId' query parameter in the request body")
	}
	sub := requestSubject(r)
	return m.onCoreOK(w, func(c *core) error { return c.operatorTeardown(sub, form.Get("frameworkId")) })
}

// killTask is POST /master/kill (a Mezzo extension: Mesos 1.11 has no
// operator call that kills one task): the form's frameworkId and taskId
// name a live task, which its agent kills as if its framework's scheduler
// had sent KILL, with the task's kill policy. The framework hears the
// task's end (TASK_KILLED) as usual. 404 for an unknown framework or
// task, 409 for a task that has ended, 503 while its agent is
// disconnected.
func (m *Master) killTask(w http.ResponseWriter, r *http.Request) error {
	if err := httpapi.RequirePOST(r); err != nil {
		return err
	}
	body, err := httpapi.ReadBody(w, r, 0)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return httpapi.BadRequest("Unable to decode query string: %v", err)
	}
	for _, key := range []string{"frameworkId", "taskId"} {
		if form.Get(key) == "" {
			return httpapi.BadRequest("Missing '%s' query parameter in the request body", key)
		}
	}
	sub := requestSubject(r)
	return m.onCoreOK(w, func(c *core) error { return c.operatorKill(sub, form.Get("frameworkId"), form.Get("taskId")) })
}

// operatorKill kills one live task on the operator's request. Mesos has
// no ACL for it; it is decided as tearing the framework down is
// (teardown_frameworks, by the framework's principal): 403 when refused.
func (c *core) operatorKill(s acl.Subject, fwID, taskID string) error {
	f := c.frameworks[fwID]
	if f == nil {
		return notFoundf("No framework found with ID %q", fwID)
	}
	if !c.authz.Allowed(acl.TeardownFrameworks, s, acl.Value(f.info.GetPrincipal())) {
		return forbiddenf("Principal %s is not authorized to kill the tasks of framework %s (teardown_frameworks)", s, fwID)
	}
	t := f.tasks[taskID]
	if t == nil {
		return notFoundf("No task %q found in framework %q", taskID, fwID)
	}
	if mesos.IsTerminalState(t.pb.GetState()) {
		return conflictf("Task %q has already ended (%s)", taskID, t.pb.GetState())
	}
	a := c.agents[t.pb.GetAgentId().GetValue()]
	if a == nil || !a.connected() {
		return unavailablef("The agent of task %q is disconnected; retry later", taskID)
	}
	c.log.Info("killing task on the operator's request", "framework_id", fwID, "task_id", taskID)
	c.sendKill(a, fwID, t, t.pb.GetKillPolicy())
	return nil
}
