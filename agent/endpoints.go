package agent

import (
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/version"
	"github.com/mezzo-project/mezzo/resources"
)

// routeDocuments registers the agent's read-only JSON documents, under
// their plain paths and under Mesos' /slave(1)/ prefix: /state, /flags,
// /monitor/statistics (monitor.go) and /containers. /metrics/snapshot
// (metrics.go) and /logging/toggle belong to libprocess in Mesos, so they
// have only their plain paths.
func (a *Agent) routeDocuments() {
	for path, h := range map[string]func(http.ResponseWriter, *http.Request) error{
		"/state":              a.serveState,
		"/flags":              a.serveFlags,
		"/monitor/statistics": a.serveStatistics,
		"/containers":         a.serveContainers,
	} {
		var handler http.Handler = httpapi.Wrap(a.log, h)
		if path == "/monitor/statistics" || path == "/containers" {
			handler = a.guardEndpoint(path, handler)
		}
		a.mux.Handle(path, handler)
		a.mux.Handle("/slave(1)"+path, handler)
	}
	a.mux.Handle("/metrics/snapshot", a.guardEndpoint("/metrics/snapshot", httpapi.Wrap(a.log, a.serveMetrics)))
	a.mux.Handle("/logging/toggle", a.guardEndpoint("/logging/toggle", a.cfg.Verbosity.ToggleHandler()))
}

func (a *Agent) serveState(w http.ResponseWriter, r *http.Request) error {
	var doc *legacy.AgentState
	v := a.viewerFor(r)
	if err := a.do(func() { doc = a.stateDocument(); a.viewState(doc, v) }); err != nil {
		return httpapi.ServiceUnavailable("Agent is shutting down")
	}
	return legacy.Write(w, r, doc)
}

func (a *Agent) serveFlags(w http.ResponseWriter, r *http.Request) error {
	if err := a.authorize(r, acl.ViewFlags, acl.AnyObject, "view the flags"); err != nil {
		return err
	}
	return legacy.Write(w, r, legacy.FlagsDocument{Flags: a.flagValues()})
}

// flagValues is every flag's effective value, as Mesos' /flags writes
// them (durations in Mesos' syntax).
func (a *Agent) flagValues() legacy.Flags {
	cfg := a.cfg
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	cfg.AddFlags(fs)
	out := legacy.Flags{}
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = f.Value.String() })
	// The --ssl_* flags show the effective settings, from the flags or
	// the LIBPROCESS_SSL_* variables.
	for name := range out {
		if strings.HasPrefix(name, "ssl_") {
			delete(out, name)
		}
	}
	maps.Copy(out, a.cfg.TLS.FlagValues())
	return out
}

// stateDocument builds /state (state goroutine).
func (a *Agent) stateDocument() *legacy.AgentState {
	info := a.st.info
	total := a.totalResources()
	var allocated resources.Resources
	doc := &legacy.AgentState{
		BuildInfo:                  legacy.BuildInfo{Version: version.MesosVersion},
		StartTime:                  legacy.Float(float64(a.started.UnixNano()) / 1e9),
		ID:                         a.st.agentID(),
		PID:                        "slave(1)@" + a.st.endpoint,
		Hostname:                   info.GetHostname(),
		Capabilities:               legacy.List[string]{},
		Resources:                  legacy.Summary(total),
		ReservedResources:          legacy.RoleResources{},
		UnreservedResources:        legacy.Summary(total.Unreserved()),
		ReservedResourcesFull:      legacy.RoleFullResources{},
		UnreservedResourcesFull:    legacy.Full(total.Unreserved(), resources.FormatPostRefinement),
		ReservedResourcesAllocated: legacy.RoleResources{},
		ResourceProviders:          legacy.List[legacy.ProtoJSON]{},
		Attributes:                 legacy.AttributesOf(info.GetAttributes()),
		Flags:                      a.flagValues(),
		Frameworks:                 legacy.List[legacy.AgentFramework]{},
		CompletedFrameworks:        legacy.List[legacy.AgentFramework]{},
	}
	for _, c := range agentCapabilities {
		doc.Capabilities = append(doc.Capabilities, c.String())
	}
	if a.st.masterInfo != nil {
		// Mesos names the master it is registered with by its address's
		// host name; the master's own hostname, else the --master host.
		doc.MasterHostname = a.st.masterInfo.GetHostname()
		if doc.MasterHostname == "" {
			doc.MasterHostname, _, _ = net.SplitHostPort(a.masterAddress())
		}
	}
	for role, r := range total.Reservations() {
		doc.ReservedResources[role] = legacy.Summary(r)
		doc.ReservedResourcesFull[role] = legacy.Full(r, resources.FormatPostRefinement)
	}
	for _, id := range slices.Sorted(maps.Keys(a.st.frameworks)) {
		fw := a.st.frameworks[id]
		doc.Frameworks = append(doc.Frameworks, a.frameworkDocument(fw, &allocated))
	}
	for i := len(a.st.completedFrameworks) - 1; i >= 0; i-- {
		doc.CompletedFrameworks = append(doc.CompletedFrameworks, a.frameworkDocument(a.st.completedFrameworks[i], nil))
	}
	for role, r := range allocated.Reservations() {
		doc.ReservedResourcesAllocated[role] = legacy.Summary(r)
	}
	doc.UnreservedResourcesAllocated = legacy.Summary(allocated.Unreserved())
	return doc
}

// agentCapabilities are the capabilities the agent registers with.
var agentCapabilities = []mesos.AgentInfo_Capability_Type{
	mesos.AgentInfo_Capability_MULTI_ROLE,
	mesos.AgentInfo_Capability_HIERARCHICAL_ROLE,
	mesos.AgentInfo_Capability_RESERVATION_REFINEMENT,
	mesos.AgentInfo_Capability_RESIZE_VOLUME,
}

// totalResources is the agent's total: what the master last
// checkpointed here (with reservations and volumes), else what it
// registered with.
func (a *Agent) totalResources() resources.Resources {
	pb := a.st.info.GetResources()
	if a.st.checkpointed != nil {
		pb = a.st.checkpointed
	}
	r, err := resources.FromProto(pb)
	if err != nil {
		a.log.Warn("agent resources cannot be read", "err", err)
	}
	return r.Unallocate()
}

// frameworkDocument writes a framework; allocated, when not nil,
// accumulates the resources of its live executors and tasks.
func (a *Agent) frameworkDocument(fw *framework, allocated *resources.Resources) legacy.AgentFramework {
	info := fw.info
	out := legacy.AgentFramework{
		ID:                 fw.id,
		Name:               info.GetName(),
		User:               info.GetUser(),
		FailoverTimeout:    legacy.Float(info.GetFailoverTimeout()),
		Checkpoint:         info.GetCheckpoint(),
		Hostname:           info.GetHostname(),
		Principal:          info.GetPrincipal(),
		Executors:          legacy.List[legacy.AgentExecutor]{},
		CompletedExecutors: legacy.List[legacy.AgentExecutor]{},
	}
	if multiRole(info) {
		out.Roles = append([]string{}, info.GetRoles()...)
	} else {
		out.Role = info.GetRole()
		if out.Role == "" {
			out.Role = "*"
		}
	}
	for _, id := range slices.Sorted(maps.Keys(fw.executors)) {
		out.Executors = append(out.Executors, a.executorDocument(fw, fw.executors[id], allocated))
	}
	for i := len(fw.completedExecutors) - 1; i >= 0; i-- {
		out.CompletedExecutors = append(out.CompletedExecutors, a.executorDocument(fw, fw.completedExecutors[i], nil))
	}
	return out
}

// executorDocument writes an executor with its launched, queued and
// completed tasks; allocated, when not nil, accumulates what it uses.
func (a *Agent) executorDocument(fw *framework, ex *executor, allocated *resources.Resources) legacy.AgentExecutor {
	out := legacy.AgentExecutor{
		ID:             ex.id,
		Name:           ex.info.GetName(),
		Source:         ex.info.GetSource(),
		Container:      ex.containerID,
		Directory:      ex.sandbox,
		Tasks:          legacy.List[legacy.Task]{},
		QueuedTasks:    legacy.List[legacy.QueuedTask]{},
		CompletedTasks: legacy.List[legacy.Task]{},
	}
	if ex.info.Labels != nil {
		out.Labels = legacy.LabelsOf(ex.info.GetLabels())
	}
	if ex.info.Type != nil {
		out.Type = ex.info.GetType().String()
	}
	live := ex.state != exTerminated
	for _, id := range slices.Sorted(maps.Keys(ex.tasks)) {
		t := ex.tasks[id]
		res := parseOrNone(t.info.GetResources())
		switch {
		case t.queued:
			out.QueuedTasks = append(out.QueuedTasks, a.queuedTaskDocument(fw, t, res))
		case mesos.IsTerminalState(t.state) || !live:
			out.CompletedTasks = append(out.CompletedTasks, a.taskDocument(fw, ex, t, res))
		default:
			out.Tasks = append(out.Tasks, a.taskDocument(fw, ex, t, res))
		}
	}
	for i := len(ex.completedTasks) - 1; i >= 0; i-- {
		t := ex.completedTasks[i]
		out.CompletedTasks = append(out.CompletedTasks, a.taskDocument(fw, ex, t, parseOrNone(t.info.GetResources())))
	}
	used := allocatedTo(ex)
	out.Resources = legacy.Summary(used)
	if len(ex.info.GetResources()) > 0 {
		out.Role = allocationRole(ex.info.GetResources(), fw)
	}
	if allocated != nil && live {
		*allocated = allocated.Add(used)
	}
	return out
}

// allocatedTo is what an executor holds (state goroutine): its own
// resources and those of its queued tasks and, while it lives, of its
// tasks that have not ended. A command executor's info carries its
// task's resources, so they count once.
func allocatedTo(ex *executor) resources.Resources {
	used := parseOrNone(ex.info.GetResources())
	if ex.kind == kindCommand {
		return used
	}
	live := ex.state != exTerminated
	for _, id := range slices.Sorted(maps.Keys(ex.tasks)) {
		if t := ex.tasks[id]; t.queued || (live && !mesos.IsTerminalState(t.state)) {
			used = used.Add(parseOrNone(t.info.GetResources()))
		}
	}
	return used
}

// taskDocument writes a launched or completed task.
func (a *Agent) taskDocument(fw *framework, ex *executor, t *task, res resources.Resources) legacy.Task {
	info := t.info
	pb := &mesos.Task{
		Name:        info.Name,
		TaskId:      info.GetTaskId(),
		FrameworkId: &mesos.FrameworkID{Value: &fw.id},
		AgentId:     a.st.info.GetId(),
		State:       t.state.Enum(),
		Statuses:    t.statuses,
		Labels:      info.GetLabels(),
		Discovery:   info.GetDiscovery(),
		Container:   info.GetContainer(),
		HealthCheck: info.GetHealthCheck(),
		Limits:      info.GetLimits(),
	}
	if ex.kind != kindCommand {
		pb.ExecutorId = ex.info.GetExecutorId()
	}
	return legacy.TaskOf(pb, legacy.Summary(res), allocationRole(info.GetResources(), fw))
}

// queuedTaskDocument writes a task still waiting for its executor.
func (a *Agent) queuedTaskDocument(fw *framework, t *task, res resources.Resources) legacy.QueuedTask {
	info := t.info
	out := legacy.QueuedTask{
		ID:         info.GetTaskId().GetValue(),
		Name:       info.GetName(),
		SlaveID:    a.st.agentID(),
		Resources:  legacy.Summary(res),
		Role:       allocationRole(info.GetResources(), fw),
		ExecutorID: info.GetExecutor().GetExecutorId().GetValue(),
	}
	if cmd := info.GetCommand(); cmd != nil {
		lc := legacy.CommandOf(cmd)
		out.Command = &lc
	}
	return out
}

// allocationRole is the role resources are allocated to: their
// allocation info (MULTI_ROLE frameworks), else the framework's role.
func allocationRole(rs []*mesos.Resource, fw *framework) string {
	for _, r := range rs {
		if ai := r.GetAllocationInfo(); ai != nil && ai.Role != nil {
			return ai.GetRole()
		}
	}
	if role := fw.info.GetRole(); role != "" && !multiRole(fw.info) {
		return role
	}
	return "*"
}

func multiRole(info *mesos.FrameworkInfo) bool {
	for _, c := range info.GetCapabilities() {
		if c.GetType() == mesos.FrameworkInfo_Capability_MULTI_ROLE {
			return true
		}
	}
	return false
}

// parseOrNone reads resources for a document, without allocation info;
// resources the agent accepted always parse, so an error leaves them out.
func parseOrNone(pb []*mesos.Resource) resources.Resources {
	r, err := resources.FromProto(pb)
	if err != nil {
		return resources.Resources{}
	}
	return r.Unallocate()
}

// serveContainers is /containers: the live executors' containers with
// their status and usage, the same as the operator API's GET_CONTAINERS,
// as Mesos' JSON array of {framework_id, executor_id, executor_name,
// container_id, container_status, statistics}.
func (a *Agent) serveContainers(w http.ResponseWriter, r *http.Request) error {
	resp, err := a.getContainers()
	if err != nil {
		return err
	}
	doc := legacy.List[legacy.Container]{}
	for _, c := range resp.GetContainers() {
		out := legacy.Container{
			FrameworkID:  c.GetFrameworkId().GetValue(),
			ExecutorID:   c.GetExecutorId().GetValue(),
			ExecutorName: c.GetExecutorName(),
			ContainerID:  c.GetContainerId().GetValue(),
		}
		if c.ContainerStatus != nil {
			if out.ContainerStatus, err = codec.MarshalJSON(c.GetContainerStatus()); err != nil {
				return fmt.Errorf("encode container status: %w", err)
			}
		}
		if c.ResourceStatistics != nil {
			if out.Statistics, err = codec.MarshalJSON(c.GetResourceStatistics()); err != nil {
				return fmt.Errorf("encode container statistics: %w", err)
			}
		}
		doc = append(doc, out)
	}
	return legacy.Write(w, r, doc)
}
