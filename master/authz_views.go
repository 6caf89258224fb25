package master

import (
	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
)

// The documents and answers as one viewer may see them (authz.go): each
// function takes what the unfiltered builder made from the core (or a
// snapshot of it) and leaves out, in new lists, what the viewer may not
// view. With a nil viewer they return their input.

// frameworksByID maps the ids of the registered and completed frameworks
// to them.
func (c *core) frameworksByID() map[string]*framework {
	out := make(map[string]*framework, len(c.frameworks)+len(c.completed))
	for _, f := range c.completed {
		out[f.id] = f
	}
	for id, f := range c.frameworks {
		out[id] = f
	}
	return out
}

// frameworkOf is the registered or completed framework id, or nil.
func (c *core) frameworkOf(id string) *framework {
	if f := c.frameworks[id]; f != nil {
		return f
	}
	for _, f := range c.completed {
		if f.id == id {
			return f
		}
	}
	return nil
}

// viewFrameworkDocs keeps the frameworks v may view, each with the tasks
// and executors v may view.
func (c *core) viewFrameworkDocs(docs legacy.List[legacy.Framework], byID map[string]*framework, v *viewer) legacy.List[legacy.Framework] {
	out := legacy.List[legacy.Framework]{}
	for _, d := range docs {
		f := byID[d.ID]
		if f == nil || !v.framework(f.info) {
			continue
		}
		d.Tasks = viewTaskDocs(d.Tasks, f.info, v)
		d.UnreachableTasks = viewTaskDocs(d.UnreachableTasks, f.info, v)
		d.CompletedTasks = viewTaskDocs(d.CompletedTasks, f.info, v)
		execs := legacy.List[legacy.Executor]{}
		for _, e := range d.Executors {
			// An executor the master no longer books is decided by its
			// framework's user.
			info := &mesos.ExecutorInfo{}
			if x := f.executors[e.SlaveID][e.ExecutorID]; x != nil {
				info = x.info
			}
			if v.executor(info, f.info) {
				execs = append(execs, e)
			}
		}
		d.Executors = execs
		out = append(out, d)
	}
	return out
}

func viewTaskDocs(ts legacy.List[legacy.Task], info *mesos.FrameworkInfo, v *viewer) legacy.List[legacy.Task] {
	out := make(legacy.List[legacy.Task], 0, len(ts))
	for _, t := range ts {
		user := t.User
		if user == "" {
			user = info.GetUser()
		}
		if v.tasks(user) {
			out = append(out, t)
		}
	}
	return out
}

// viewReserved keeps the reservations of the roles v may view
// (view_roles), as Mesos writes an agent's reserved_resources.
func viewReserved[R any](m map[string]R, v *viewer) map[string]R {
	out := make(map[string]R, len(m))
	for role, r := range m {
		if v.role(role) {
			out[role] = r
		}
	}
	return out
}

// viewSlaves is /master/slaves as v may see it: each agent's
// reservations of the roles v may view.
func viewSlaves(doc *legacy.Slaves, v *viewer) *legacy.Slaves {
	if v == nil {
		return doc
	}
	for i := range doc.Slaves {
		s := &doc.Slaves[i]
		s.ReservedResources = viewReserved(s.ReservedResources, v)
		s.ReservedResourcesFull = viewReserved(s.ReservedResourcesFull, v)
	}
	return doc
}

// viewState is /master/state as v may see it; the flags only with
// view_flags, the agents' reservations of the roles it may view.
func (c *core) viewState(doc *legacy.MasterState, v *viewer) *legacy.MasterState {
	if v == nil {
		return doc
	}
	for i := range doc.Slaves {
		doc.Slaves[i].ReservedResources = viewReserved(doc.Slaves[i].ReservedResources, v)
	}
	byID := c.frameworksByID()
	doc.Frameworks = c.viewFrameworkDocs(doc.Frameworks, byID, v)
	doc.CompletedFrameworks = c.viewFrameworkDocs(doc.CompletedFrameworks, byID, v)
	if !v.viewFlags() {
		doc.Flags = nil
	}
	return doc
}

// viewFrameworks is /master/frameworks as v may see it.
func (c *core) viewFrameworks(doc *legacy.Frameworks, v *viewer) *legacy.Frameworks {
	if v == nil {
		return doc
	}
	byID := c.frameworksByID()
	doc.Frameworks = c.viewFrameworkDocs(doc.Frameworks, byID, v)
	doc.CompletedFrameworks = c.viewFrameworkDocs(doc.CompletedFrameworks, byID, v)
	return doc
}

// taskVisible is /master/tasks' filter for v, applied before paging.
func taskVisible(v *viewer) func(frameworkTask) bool {
	if v == nil {
		return nil
	}
	return func(ft frameworkTask) bool { return v.framework(ft.f.info) && v.task(ft.pb, ft.f.info) }
}

// viewSummary is /master/state-summary as v may see it: the frameworks it
// may view, and only those among each agent's framework ids.
func (c *core) viewSummary(doc *legacy.StateSummary, v *viewer) *legacy.StateSummary {
	if v == nil {
		return doc
	}
	byID := c.frameworksByID()
	visible := func(id string) bool { f := byID[id]; return f != nil && v.framework(f.info) }
	fws := legacy.List[legacy.StateSummaryFramework]{}
	for _, f := range doc.Frameworks {
		if visible(f.ID) {
			fws = append(fws, f)
		}
	}
	doc.Frameworks = fws
	slaves := make(legacy.List[legacy.StateSummarySlave], 0, len(doc.Slaves))
	for _, s := range doc.Slaves {
		ids := legacy.List[string]{}
		for _, id := range s.FrameworkIDs {
			if visible(id) {
				ids = append(ids, id)
			}
		}
		s.FrameworkIDs = ids
		s.ReservedResources = viewReserved(s.ReservedResources, v)
		slaves = append(slaves, s)
	}
	doc.Slaves = slaves
	return doc
}

// viewRoles is /master/roles as v may see it (view_roles).
func viewRoles(doc *legacy.Roles, v *viewer) *legacy.Roles {
	if v == nil {
		return doc
	}
	out := legacy.List[legacy.Role]{}
	for _, r := range doc.Roles {
		if v.role(r.Name) {
			out = append(out, r)
		}
	}
	doc.Roles = out
	return doc
}

// viewRolesProto is GET_ROLES' list as v may see it.
func viewRolesProto(roles []*mesos.Role, v *viewer) []*mesos.Role {
	if v == nil {
		return roles
	}
	var out []*mesos.Role
	for _, r := range roles {
		if v.role(r.GetName()) {
			out = append(out, r)
		}
	}
	return out
}

// viewWeights is GET_WEIGHTS' and GET /weights' list as v may see it
// (view_roles, as Mesos).
func viewWeights(infos []*mesos.WeightInfo, v *viewer) []*mesos.WeightInfo {
	if v == nil {
		return infos
	}
	var out []*mesos.WeightInfo
	for _, w := range infos {
		if v.role(w.GetRole()) {
			out = append(out, w)
		}
	}
	return out
}

// viewQuota is GET_QUOTA's and GET /quota's status as v may see it
// (get_quotas).
func viewQuota(st *quotapb.QuotaStatus, v *viewer) *quotapb.QuotaStatus {
	if v == nil {
		return st
	}
	out := &quotapb.QuotaStatus{}
	for _, qc := range st.GetConfigs() {
		if v.quota(qc.GetRole()) {
			out.Configs = append(out.Configs, qc)
		}
	}
	for _, qi := range st.GetInfos() {
		if v.quota(qi.GetRole()) {
			out.Infos = append(out.Infos, qi)
		}
	}
	return out
}

// viewSchedule is the maintenance schedule as v may see it: all of it
// with get_maintenance_schedules, else none (Mesos filters per machine,
// and its local authorizer decides for every machine alike).
func viewSchedule(s *maintenance.Schedule, v *viewer) *maintenance.Schedule {
	if v == nil || v.schedule {
		return s
	}
	return &maintenance.Schedule{}
}

// viewMaintenanceStatus is the maintenance status as v may see it
// (get_maintenance_statuses), all or nothing as viewSchedule.
func viewMaintenanceStatus(st *maintenance.ClusterStatus, v *viewer) *maintenance.ClusterStatus {
	if v == nil || v.statuses {
		return st
	}
	return &maintenance.ClusterStatus{}
}

// viewStateResponse is a GET_STATE, GET_FRAMEWORKS, GET_EXECUTORS or
// GET_TASKS answer as v may see it.
func (c *core) viewStateResponse(resp *masterpb.Response, v *viewer) *masterpb.Response {
	if v == nil {
		return resp
	}
	infos := c.frameworkInfos()
	if st := resp.GetGetState(); st != nil {
		st.GetFrameworks = viewGetFrameworks(st.GetFrameworks, v)
		st.GetTasks = viewGetTasks(st.GetTasks, infos, v)
		st.GetExecutors = viewGetExecutors(st.GetExecutors, infos, v)
	}
	if resp.GetFrameworks != nil {
		resp.GetFrameworks = viewGetFrameworks(resp.GetFrameworks, v)
	}
	if resp.GetTasks != nil {
		resp.GetTasks = viewGetTasks(resp.GetTasks, infos, v)
	}
	if resp.GetExecutors != nil {
		resp.GetExecutors = viewGetExecutors(resp.GetExecutors, infos, v)
	}
	return resp
}

func viewGetFrameworks(in *masterpb.Response_GetFrameworks, v *viewer) *masterpb.Response_GetFrameworks {
	out := &masterpb.Response_GetFrameworks{}
	for _, f := range in.GetFrameworks() {
		if v.framework(f.GetFrameworkInfo()) {
			out.Frameworks = append(out.Frameworks, f)
		}
	}
	for _, f := range in.GetCompletedFrameworks() {
		if v.framework(f.GetFrameworkInfo()) {
			out.CompletedFrameworks = append(out.CompletedFrameworks, f)
		}
	}
	return out
}

// taskVisibleTo decides one task for v: its framework and the task must
// both be visible (a task of a framework the master no longer knows is
// decided by its own user alone).
func taskVisibleTo(t *mesos.Task, infos map[string]*mesos.FrameworkInfo, v *viewer) bool {
	info := infos[t.GetFrameworkId().GetValue()]
	if info == nil {
		info = &mesos.FrameworkInfo{}
	} else if !v.framework(info) {
		return false
	}
	return v.task(t, info)
}

func viewGetTasks(in *masterpb.Response_GetTasks, infos map[string]*mesos.FrameworkInfo, v *viewer) *masterpb.Response_GetTasks {
	keep := func(ts []*mesos.Task) []*mesos.Task {
		var out []*mesos.Task
		for _, t := range ts {
			if taskVisibleTo(t, infos, v) {
				out = append(out, t)
			}
		}
		return out
	}
	return &masterpb.Response_GetTasks{
		PendingTasks:     keep(in.GetPendingTasks()),
		Tasks:            keep(in.GetTasks()),
		UnreachableTasks: keep(in.GetUnreachableTasks()),
		CompletedTasks:   keep(in.GetCompletedTasks()),
		OrphanTasks:      keep(in.GetOrphanTasks()),
	}
}

func viewGetExecutors(in *masterpb.Response_GetExecutors, infos map[string]*mesos.FrameworkInfo, v *viewer) *masterpb.Response_GetExecutors {
	out := &masterpb.Response_GetExecutors{}
	for _, e := range in.GetExecutors() {
		info := infos[e.GetExecutorInfo().GetFrameworkId().GetValue()]
		if info == nil || !v.framework(info) || !v.executor(e.GetExecutorInfo(), info) {
			continue
		}
		out.Executors = append(out.Executors, e)
	}
	return out
}

// operatorEventVisible decides whether an operator event may go to a
// subscriber with viewer v: framework events by view_frameworks, task
// events by view_tasks (and the task's framework), agent events and
// heartbeats to everyone.
func (c *core) operatorEventVisible(ev *masterpb.Event, v *viewer) bool {
	if v == nil {
		return true
	}
	switch ev.GetType() {
	case masterpb.Event_FRAMEWORK_ADDED:
		return v.framework(ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo())
	case masterpb.Event_FRAMEWORK_UPDATED:
		return v.framework(ev.GetFrameworkUpdated().GetFramework().GetFrameworkInfo())
	case masterpb.Event_FRAMEWORK_REMOVED:
		return v.framework(ev.GetFrameworkRemoved().GetFrameworkInfo())
	case masterpb.Event_TASK_ADDED:
		t := ev.GetTaskAdded().GetTask()
		f := c.frameworkOf(t.GetFrameworkId().GetValue())
		return f != nil && v.framework(f.info) && v.task(t, f.info)
	case masterpb.Event_TASK_UPDATED:
		u := ev.GetTaskUpdated()
		f := c.frameworkOf(u.GetFrameworkId().GetValue())
		if f == nil || !v.framework(f.info) {
			return false
		}
		task := &mesos.Task{}
		if t := f.tasks[u.GetStatus().GetTaskId().GetValue()]; t != nil {
			task = t.pb
		}
		return v.task(task, f.info)
	}
	return true
}
