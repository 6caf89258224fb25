package master

import (
	"time"

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
		BuildInfo:    buildInfo(),
		StartTime:    secs(c.start),
		ElectedTime:  secs(c.start),
		ID:           info.GetId(),
		PID:          info.GetPid(),
		Hostname:     info.GetHostname(),
		Capabilities: legacy.List[string]{"AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"},
		Leader:       info.GetPid(),
		LeaderInfo: &legacy.MasterInfo{
			ID: info.GetId(), PID: info.GetPid(), Port: int32(info.GetPort()), Hostname: info.GetHostname(),
		},
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

func (c *core) slaveJSON(a *agent) legacy.Slave {
	var used, offered resources.Resources
	for _, byTask := range a.tasks {
		for _, t := range byTask {
			if !t.released {
				used = used.Add(t.res)
			}
		}
	}
	for _, byExec := range a.executors {
		for _, e := range byExec {
			used = used.Add(e.res)
		}
	}
	for _, o := range a.offers {
		offered = offered.Add(o.res)
	}
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
		Active:              a.connected(),
		Version:             a.version,
		Capabilities:        caps,
	}
}

func (c *core) frameworkJSON(f *framework) legacy.Framework {
	var used, offered resources.Resources
	tasks := legacy.List[legacy.Task]{}
	for _, t := range sortedTasks(f.tasks) {
		if !t.released {
			used = used.Add(t.res)
		}
		tasks = append(tasks, legacy.TaskOf(t.pb, legacy.Summary(t.res), t.role))
	}
	executors := legacy.List[legacy.Executor]{}
	for _, agentID := range sortedKeys(f.executors) {
		for _, execID := range sortedKeys(f.executors[agentID]) {
			e := f.executors[agentID][execID]
			used = used.Add(e.res)
			executors = append(executors, executorJSON(e, f.id, agentID))
		}
	}
	offers := legacy.List[legacy.Offer]{}
	for _, o := range sortOffers(f.offers) {
		offered = offered.Add(o.res)
		offers = append(offers, legacy.Offer{
			ID:             o.pb.GetId().GetValue(),
			FrameworkID:    f.id,
			AllocationInfo: legacy.AllocationInfo{Role: o.role},
			SlaveID:        o.agentID,
			Resources:      legacy.Summary(o.res),
		})
	}
	unreachable := legacy.List[legacy.Task]{}
	for _, id := range sortedKeys(f.unreachableTasks) {
		t := f.unreachableTasks[id]
		r, _ := parseResources(t.GetResources())
		unreachable = append(unreachable, legacy.TaskOf(t, legacy.Summary(r), allocationRole(t.GetResources(), f)))
	}
	completed := legacy.List[legacy.Task]{}
	for i := len(f.completedTasks) - 1; i >= 0; i-- {
		t := f.completedTasks[i]
		r, _ := parseResources(t.GetResources())
		completed = append(completed, legacy.TaskOf(t, legacy.Summary(r), allocationRole(t.GetResources(), f)))
	}
	caps := legacy.List[string]{}
	for _, cp := range f.info.GetCapabilities() {
		caps = append(caps, cp.GetType().String())
	}
	out := legacy.Framework{
		FrameworkSummary: legacy.FrameworkSummary{
			ID:               f.id,
			Name:             f.info.GetName(),
			UsedResources:    legacy.Summary(used),
			OfferedResources: legacy.Summary(offered),
			Capabilities:     caps,
			Hostname:         f.info.GetHostname(),
			WebUIURL:         f.info.GetWebuiUrl(),
			Active:           f.stream != nil,
			Connected:        f.stream != nil,
			Recovered:        f.recovered,
		},
		User:             f.info.GetUser(),
		FailoverTimeout:  legacy.Float(f.info.GetFailoverTimeout()),
		Checkpoint:       f.info.GetCheckpoint(),
		RegisteredTime:   secs(f.registered),
		UnregisteredTime: secs(f.unregistered),
		Principal:        f.info.GetPrincipal(),
		Resources:        legacy.Summary(used.Add(offered)),
		ReregisteredTime: secs(f.reregistered),
		Tasks:            tasks,
		UnreachableTasks: unreachable,
		CompletedTasks:   completed,
		Offers:           offers,
		Executors:        executors,
		OfferConstraints: legacy.ProtoJSON("{}"),
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
