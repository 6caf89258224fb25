package master

import (
	"time"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/internal/version"
	"github.com/mezzo-project/mezzo/resources"
)

// buildInfo describes this binary as Mesos' /version and /state do.
func buildInfo() legacy.BuildInfo {
	return legacy.BuildInfo{Version: version.MesosVersion, BuildDate: "", BuildTime: 0, BuildUser: ""}
}

func secs(t time.Time) legacy.Float {
	if t.IsZero() {
		return 0
	}
	return legacy.Float(seconds(t))
}

// state builds the /master/state document (mesos-wire.md §10).
func (c *core) state() *legacy.MasterState {
	info := c.info
	doc := &legacy.MasterState{
		BuildInfo:              buildInfo(),
		StartTime:              secs(c.start),
		ElectedTime:            secs(c.start),
		ID:                     info.GetId(),
		PID:                    info.GetPid(),
		Hostname:               info.GetHostname(),
		Capabilities:           legacy.List[string]{"AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"},
		Cluster:                c.cfg.Cluster,
		Flags:                  legacy.Flags(c.cfg.flagValues()),
		Slaves:                 legacy.List[legacy.Slave]{},
		RecoveredSlaves:        legacy.List[legacy.SlaveInfo]{},
		Frameworks:             legacy.List[legacy.Framework]{},
		CompletedFrameworks:    legacy.List[legacy.Framework]{},
		OrphanTasks:            legacy.List[legacy.Task]{},
		UnregisteredFrameworks: legacy.List[string]{},
		UnreachableSlaves:      legacy.Float(len(c.unreachable)),
	}
	doc.Leader, doc.LeaderInfo = leaderFields(info) // this master, unless Config.Leadership says otherwise (stateJSON)
	for _, a := range c.sortedAgents() {
		if a.connected() && !c.maint.deactivated[a.id] {
			doc.ActivatedSlaves++
		}
		if c.maint.deactivated[a.id] {
			doc.DeactivatedSlaves++
		}
		doc.Slaves = append(doc.Slaves, c.slaveJSON(a))
	}
	for _, id := range sortedKeys(c.recovered) {
		info := c.recovered[id].info
		doc.RecoveredSlaves = append(doc.RecoveredSlaves, legacy.SlaveInfo{
			ID: id, Hostname: info.GetHostname(), Port: info.GetPort(), Attributes: legacy.AttributesOf(info.GetAttributes()),
		})
	}
	for _, f := range c.sortedFrameworks() {
		doc.Frameworks = append(doc.Frameworks, c.frameworkJSON(f))
	}
	for i := len(c.completed) - 1; i >= 0; i-- {
		doc.CompletedFrameworks = append(doc.CompletedFrameworks, c.frameworkJSON(c.completed[i]))
	}
	return doc
}

// agentUsage sums what a's tasks and executors use and what is offered
// from it; withRoles marks each resource with the role it is allocated to
// (the "*_full" documents show it; summaries do not need it).
func agentUsage(a *agent, withRoles bool) (used, offered resources.Resources) {
	mark := func(r resources.Resources, role string) resources.Resources {
		if withRoles {
			return r.Allocate(role)
		}
		return r
	}
	for _, byTask := range a.tasks {
		for _, t := range byTask {
			if !t.released {
				used = used.Add(mark(t.res, t.role))
			}
		}
	}
	for _, byExec := range a.executors {
		for _, e := range byExec {
			used = used.Add(mark(e.res, e.role))
		}
	}
	for _, o := range a.offers {
		offered = offered.Add(mark(o.res, o.role))
	}
	return used, offered
}

func (c *core) slaveJSON(a *agent) legacy.Slave {
	used, offered := agentUsage(a, false)
	return c.slaveDoc(a, used, offered)
}

// slaveDoc writes agent a with what its tasks and executors use and what
// is offered from it.
func (c *core) slaveDoc(a *agent, used, offered resources.Resources) legacy.Slave {
	reserved := legacy.RoleResources{}
	for role, r := range a.total.Reservations() {
		reserved[role] = legacy.Summary(r)
	}
	caps := legacy.List[string]{}
	for _, cp := range a.caps {
		caps = append(caps, cp.GetType().String())
	}
	var drain *legacy.DrainInfo
	if d := c.maint.draining[a.id]; d != nil {
		drain = &legacy.DrainInfo{State: d.info.GetState().String(), Config: legacy.DrainConfig{MarkGone: d.info.GetConfig().GetMarkGone()}}
		if g := d.info.GetConfig().GetMaxGracePeriod(); g != nil {
			drain.Config.MaxGracePeriod = &legacy.DurationInfo{Nanoseconds: g.GetNanoseconds()}
		}
	}
	return legacy.Slave{
		DrainInfo:   drain,
		Deactivated: c.maint.deactivated[a.id],
		SlaveInfo: legacy.SlaveInfo{
			ID:         a.id,
			Hostname:   a.info.GetHostname(),
			Port:       int32(a.port),
			Attributes: legacy.AttributesOf(a.info.GetAttributes()),
		},
		PID:                 a.pid(),
		RegisteredTime:      secs(a.registered),
		ReregisteredTime:    secs(a.reregistered),
		Resources:           legacy.Summary(a.total),
		UsedResources:       legacy.Summary(used),
		OfferedResources:    legacy.Summary(offered),
		ReservedResources:   reserved,
		UnreservedResources: legacy.Summary(a.total.Unreserved()),
		Active:              a.connected() && !c.maint.deactivated[a.id],
		Version:             a.version,
		Capabilities:        caps,
	}
}

// frameworkUsage sums what f's tasks and executors use and what is
// offered to it.
func frameworkUsage(f *framework) (used, offered resources.Resources) {
	for _, t := range f.tasks {
		if !t.released {
			used = used.Add(t.res)
		}
	}
	for _, byExec := range f.executors {
		for _, e := range byExec {
			used = used.Add(e.res)
		}
	}
	for _, o := range f.offers {
		offered = offered.Add(o.res)
	}
	return used, offered
}

// frameworkSummary is what every framework document says of f (Mesos'
// Summary<Framework>).
func frameworkSummary(f *framework, used, offered resources.Resources) legacy.FrameworkSummary {
	caps := legacy.List[string]{}
	for _, cp := range f.info.GetCapabilities() {
		caps = append(caps, cp.GetType().String())
	}
	return legacy.FrameworkSummary{
		ID:               f.id,
		Name:             f.info.GetName(),
		PID:              f.pid,
		UsedResources:    legacy.Summary(used),
		OfferedResources: legacy.Summary(offered),
		Capabilities:     caps,
		Hostname:         f.info.GetHostname(),
		WebUIURL:         f.info.GetWebuiUrl(),
		Active:           f.stream != nil,
		Connected:        f.stream != nil,
		Recovered:        f.recovered,
	}
}

// frameworkTask is one of a framework's tasks as the master knows it; doc
// writes it as the JSON documents do (done only for the tasks written).
type frameworkTask struct {
	pb *mesos.Task
	f  *framework
	t  *task // nil for unreachable and completed tasks
}

func (ft frameworkTask) doc() legacy.Task {
	if ft.t != nil {
		return legacy.TaskOf(ft.pb, legacy.Summary(ft.t.res), ft.t.role)
	}
	r, _ := parseResources(ft.pb.GetResources())
	return legacy.TaskOf(ft.pb, legacy.Summary(r), ft.role())
}

// role is the role the task's document names.
func (ft frameworkTask) role() string {
	if ft.t != nil {
		return ft.t.role
	}
	return allocationRole(ft.pb.GetResources(), ft.f)
}

// taskDoc is ft's document; a snapshot makes it once for every snapshot
// that holds the same (unchanged) task message.
func (c *core) taskDoc(ft frameworkTask) legacy.Task {
	if c.frozen != nil {
		if d := c.frozen.docs[ft.pb]; d != nil {
			return d.get(ft)
		}
	}
	return ft.doc()
}

// frameworkTasks lists f's current tasks (by id), its unreachable tasks (by
// id) and its completed tasks (newest first).
func frameworkTasks(f *framework) (current, unreachable, completed []frameworkTask) {
	for _, t := range sortedTasks(f.tasks) {
		current = append(current, frameworkTask{pb: t.pb, f: f, t: t})
	}
	for _, id := range sortedKeys(f.unreachableTasks) {
		unreachable = append(unreachable, frameworkTask{pb: f.unreachableTasks[id], f: f})
	}
	for i := len(f.completedTasks) - 1; i >= 0; i-- {
		completed = append(completed, frameworkTask{pb: f.completedTasks[i], f: f})
	}
	return current, unreachable, completed
}

// taskDocs are the documents of ts, [] when there are none.
func (c *core) taskDocs(ts []frameworkTask) legacy.List[legacy.Task] {
	out := make(legacy.List[legacy.Task], 0, len(ts))
	for _, t := range ts {
		out = append(out, c.taskDoc(t))
	}
	return out
}

func (c *core) frameworkJSON(f *framework) legacy.Framework {
	used, offered := frameworkUsage(f)
	current, unreachable, completed := frameworkTasks(f)
	executors := legacy.List[legacy.Executor]{}
	for _, agentID := range sortedKeys(f.executors) {
		for _, execID := range sortedKeys(f.executors[agentID]) {
			executors = append(executors, executorJSON(f.executors[agentID][execID], f.id, agentID))
		}
	}
	offers := legacy.List[legacy.Offer]{}
	for _, o := range sortOffers(f.offers) {
		offers = append(offers, legacy.Offer{
			ID:             o.pb.GetId().GetValue(),
			FrameworkID:    f.id,
			AllocationInfo: legacy.AllocationInfo{Role: o.role},
			SlaveID:        o.agentID,
			Resources:      legacy.Summary(o.res),
		})
	}
	out := legacy.Framework{
		FrameworkSummary: frameworkSummary(f, used, offered),
		User:             f.info.GetUser(),
		FailoverTimeout:  legacy.Float(f.info.GetFailoverTimeout()),
		Checkpoint:       f.info.GetCheckpoint(),
		RegisteredTime:   secs(f.registered),
		UnregisteredTime: secs(f.unregistered),
		Principal:        f.info.GetPrincipal(),
		Resources:        legacy.Summary(used.Add(offered)),
		ReregisteredTime: secs(f.reregistered),
		Tasks:            c.taskDocs(current),
		UnreachableTasks: c.taskDocs(unreachable),
		CompletedTasks:   c.taskDocs(completed),
		Offers:           offers,
		Executors:        executors,
		OfferConstraints: legacy.ProtoJSON("{}"),
	}
	if f.offerConstraints != nil {
		if b, err := codec.MarshalJSON(f.offerConstraints); err == nil {
			out.OfferConstraints = legacy.ProtoJSON(b)
		}
	}
	if f.multiRole() {
		out.Roles = append([]string{}, f.roles...)
	} else {
		out.Role = f.info.GetRole()
	}
	if f.info.Labels != nil {
		out.Labels = legacy.LabelsOf(f.info.GetLabels())
	}
	return out
}

func executorJSON(e *executor, frameworkID, agentID string) legacy.Executor {
	out := legacy.Executor{
		ExecutorID:  e.info.GetExecutorId().GetValue(),
		Name:        e.info.GetName(),
		FrameworkID: frameworkID,
		Command:     legacy.CommandOf(e.info.GetCommand()),
		Resources:   legacy.Summary(e.res),
		SlaveID:     agentID,
	}
	if !e.res.IsEmpty() {
		out.Role = e.role
	}
	if e.info.Labels != nil {
		out.Labels = legacy.LabelsOf(e.info.GetLabels())
	}
	if e.info.Type != nil {
		out.Type = e.info.GetType().String()
	}
	return out
}
