package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mezzo-project/mezzo/api/legacy"
	agentpb "github.com/mezzo-project/mezzo/api/v1/agent"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/limits"
	"github.com/mezzo-project/mezzo/internal/version"
)

// The agent's operator API: POST /api/v1 (also /slave(1)/api/v1), Mesos'
// v1 agent API (package mesos.v1.agent). One call per request, one
// agent::Response per answer, in JSON or protobuf as Accept asks.
//
// Answered calls, each from the same source as the agent's documents:
//
//	GET_HEALTH         healthy: true
//	GET_FLAGS          the flags of /flags
//	GET_VERSION        Mesos' version, as /state's build info
//	GET_METRICS        the values of /metrics/snapshot
//	GET_LOGGING_LEVEL  the logging verbosity (0 unless raised)
//	SET_LOGGING_LEVEL  raise the verbosity for a while (1 or more: debug)
//	GET_STATE          GET_TASKS, GET_EXECUTORS and GET_FRAMEWORKS at once
//	GET_AGENT          the AgentInfo the agent registers with
//	GET_FRAMEWORKS     frameworks and completed frameworks, as /state
//	GET_EXECUTORS      executors and completed executors, as /state
//	GET_TASKS          queued, launched, terminated and completed tasks
//	GET_CONTAINERS     each live executor's container, with the usage
//	                   /monitor/statistics measures
//	LIST_FILES         a directory of /files/browse, as FileInfo messages
//	READ_FILE          a chunk of a file, as /files/read reads it
//	GET_OPERATIONS, GET_RESOURCE_PROVIDERS  empty: the agent has neither
//
// GET_TASKS sorts an executor's tasks as Mesos' agent does: queued tasks
// wait for their executor to subscribe, launched ones were delivered and
// have not ended, terminated ones ended but their terminal update is not
// acknowledged yet, completed ones are acknowledged. /state shows the
// last two together as completed_tasks. pending_tasks is always empty:
// Mesos holds a task there while it authorizes it and prepares its
// executor, and Mezzo's agent queues a task on its executor at once.
//
// Status codes are Mesos': 503 until recovery has ended (executors of a
// previous run may still re-subscribe) and while the agent shuts down,
// 405 for a method other than POST, 400 without Content-Type, 415 for a
// Content-Type other than JSON or protobuf or with Message-Content-Type,
// 406 when Accept allows neither or Message-Accept is set, 400 for a
// body that does not decode or a call that fails validation, 404 for a
// file path that is not served, 400 for one that leaves its sandbox, and
// 501 for every other call type: the nested and standalone container
// calls, the resource provider calls and PRUNE_IMAGES.
// Like Mesos' agent without authorization, every caller may make every
// call.
//
// Where Mezzo answers differently from Mesos:
//
//   - Verbosity: Mesos' glog verbosity levels 1, 2, 3, ... select more
//     and more of its VLOG messages; Mezzo logs through slog, and any
//     level of 1 or more logs at debug level.
//   - GET_METRICS ignores get_metrics.timeout, as /metrics/snapshot does:
//     Mesos bounds how long it waits for slow gauges, and every value
//     here is at hand.
//   - GET_CONTAINERS lists executors' containers only. Mesos runs the
//     tasks of a task group as nested containers (listed with
//     show_nested), and containers launched through LAUNCH_CONTAINER are
//     standalone (listed with show_standalone); Mezzo's default executor
//     runs task-group tasks as its own processes, and LAUNCH_CONTAINER is
//     not implemented, so both flags are accepted and add nothing.
//   - The calls answered 501 are not validated first (Mesos answers 400
//     when, say, LAUNCH_CONTAINER lacks launch_container), and a
//     streaming request (application/recordio, used only by
//     ATTACH_CONTAINER_INPUT, ATTACH_CONTAINER_OUTPUT and
//     LAUNCH_NESTED_CONTAINER_SESSION) is refused with 415 or 406 before
//     its call is read.

// serveOperator is POST /api/v1: it checks the request in the order
// Mesos' agent does, decodes and validates the call, and writes the
// answer of operatorCall.
func (a *Agent) serveOperator(w http.ResponseWriter, r *http.Request) error {
	select {
	case <-a.recovered:
	default:
		return httpapi.ServiceUnavailable("Agent has not finished recovery")
	}
	if err := httpapi.RequirePOST(r); err != nil {
		return err
	}
	if _, err := httpapi.RequestFormat(r); err != nil {
		return err
	}
	if _, ok := r.Header["Message-Content-Type"]; ok {
		return httpapi.Errorf(http.StatusUnsupportedMediaType,
			"Expecting 'Message-Content-Type' to be not set for non-streaming requests")
	}
	format, err := httpapi.ResponseFormat(r)
	if err != nil {
		return err
	}
	if _, ok := r.Header["Message-Accept"]; ok {
		return httpapi.Errorf(http.StatusNotAcceptable,
			"Expecting 'Message-Accept' to be not set for non-streaming responses")
	}
	call := &agentpb.Call{}
	if _, err := httpapi.DecodeCall(w, r, call, 0); err != nil {
		return err
	}
	if err := limits.Check("call", call); err != nil {
		return httpapi.BadRequest("Failed to validate agent::Call: %s", err.Error())
	}
	if err := validateOperatorCall(call); err != nil {
		return httpapi.BadRequest("Failed to validate agent::Call: %s", err.Error())
	}
	if err := a.authorizeOperatorCall(r, call); err != nil {
		return err
	}
	resp, err := a.operatorCall(call)
	if err != nil {
		return err
	}
	viewStateResponse(resp, a.viewerFor(r))
	if err := a.viewContainers(r, resp); err != nil {
		return err
	}
	if resp == nil {
		// A call that changes something (SET_LOGGING_LEVEL): 200, no body.
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return respondOperator(w, format, resp)
}

// validateOperatorCall applies Mesos' validation of the calls the agent
// answers: a type, and the message each of them needs. The calls the
// agent does not implement are answered 501 without looking further.
func validateOperatorCall(c *agentpb.Call) error {
	if c.Type == nil {
		return errors.New("Expecting 'type' to be present")
	}
	var missing bool
	switch c.GetType() {
	case agentpb.Call_GET_METRICS:
		missing = c.GetMetrics == nil
	case agentpb.Call_SET_LOGGING_LEVEL:
		missing = c.SetLoggingLevel == nil
	case agentpb.Call_LIST_FILES:
		missing = c.ListFiles == nil
	case agentpb.Call_READ_FILE:
		missing = c.ReadFile == nil
	}
	if missing {
		return fmt.Errorf("Expecting '%s' to be present", strings.ToLower(c.GetType().String()))
	}
	return nil
}

// operatorCall answers a validated call. Errors are httpapi errors with
// Mesos' status codes.
func (a *Agent) operatorCall(call *agentpb.Call) (*agentpb.Response, error) {
	resp := &agentpb.Response{}
	var err error
	switch call.GetType() {
	case agentpb.Call_GET_HEALTH:
		resp.Type = agentpb.Response_GET_HEALTH.Enum()
		resp.GetHealth = &agentpb.Response_GetHealth{Healthy: proto.Bool(true)}
	case agentpb.Call_GET_FLAGS:
		resp.Type = agentpb.Response_GET_FLAGS.Enum()
		resp.GetFlags = a.getFlags()
	case agentpb.Call_GET_VERSION:
		resp.Type = agentpb.Response_GET_VERSION.Enum()
		resp.GetVersion = &agentpb.Response_GetVersion{VersionInfo: &mesos.VersionInfo{
			Version:   proto.String(version.MesosVersion),
			BuildDate: proto.String(""),
			BuildTime: proto.Float64(0),
			BuildUser: proto.String(""),
		}}
	case agentpb.Call_GET_METRICS:
		resp.Type = agentpb.Response_GET_METRICS.Enum()
		resp.GetMetrics, err = a.getMetrics()
	case agentpb.Call_GET_LOGGING_LEVEL:
		resp.Type = agentpb.Response_GET_LOGGING_LEVEL.Enum()
		resp.GetLoggingLevel = &agentpb.Response_GetLoggingLevel{Level: proto.Uint32(a.cfg.Verbosity.Get())}
	case agentpb.Call_SET_LOGGING_LEVEL:
		sl := call.GetSetLoggingLevel()
		if err := a.cfg.Verbosity.Set(sl.GetLevel(), time.Duration(sl.GetDuration().GetNanoseconds())); err != nil {
			return nil, httpapi.ServiceUnavailable("%v", err)
		}
		return nil, nil
	case agentpb.Call_LIST_FILES:
		resp.Type = agentpb.Response_LIST_FILES.Enum()
		resp.ListFiles, err = a.listFiles(call.GetListFiles().GetPath())
	case agentpb.Call_READ_FILE:
		resp.Type = agentpb.Response_READ_FILE.Enum()
		resp.ReadFile, err = a.readFile(call.GetReadFile())
	case agentpb.Call_GET_STATE, agentpb.Call_GET_AGENT, agentpb.Call_GET_FRAMEWORKS,
		agentpb.Call_GET_EXECUTORS, agentpb.Call_GET_TASKS:
		resp, err = a.stateResponse(call.GetType())
	case agentpb.Call_GET_CONTAINERS:
		resp.Type = agentpb.Response_GET_CONTAINERS.Enum()
		resp.GetContainers, err = a.getContainers()
	case agentpb.Call_GET_OPERATIONS:
		resp.Type = agentpb.Response_GET_OPERATIONS.Enum()
		resp.GetOperations = &agentpb.Response_GetOperations{}
	case agentpb.Call_GET_RESOURCE_PROVIDERS:
		resp.Type = agentpb.Response_GET_RESOURCE_PROVIDERS.Enum()
		resp.GetResourceProviders = &agentpb.Response_GetResourceProviders{}
	case agentpb.Call_UNKNOWN:
		return nil, httpapi.NotImplemented("")
	default:
		return nil, httpapi.NotImplemented("Call %s is not implemented by this agent yet", call.GetType())
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// onState runs f on the state goroutine: 503 once the agent shuts down.
func (a *Agent) onState(f func()) error {
	if err := a.do(f); err != nil {
		return httpapi.ServiceUnavailable("Agent is shutting down")
	}
	return nil
}

// getFlags is GET_FLAGS: every flag of /flags, sorted by name.
func (a *Agent) getFlags() *agentpb.Response_GetFlags {
	vals := a.flagValues()
	out := &agentpb.Response_GetFlags{}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		out.Flags = append(out.Flags, &mesos.Flag{Name: proto.String(name), Value: proto.String(vals[name])})
	}
	return out
}

// getMetrics is GET_METRICS: the metrics of /metrics/snapshot, sorted by
// name.
func (a *Agent) getMetrics() (*agentpb.Response_GetMetrics, error) {
	var snap legacy.Metrics
	if err := a.onState(func() { snap = a.metricsSnapshot() }); err != nil {
		return nil, err
	}
	systemMetrics(snap)
	out := &agentpb.Response_GetMetrics{}
	for _, name := range slices.Sorted(maps.Keys(snap)) {
		out.Metrics = append(out.Metrics, &mesos.Metric{Name: proto.String(name), Value: proto.Float64(float64(snap[name]))})
	}
	return out, nil
}

// stateResponse answers GET_STATE, GET_AGENT, GET_FRAMEWORKS,
// GET_EXECUTORS or GET_TASKS from the state goroutine, with a copy of
// what it describes: the answer is encoded after the state moved on.
func (a *Agent) stateResponse(t agentpb.Call_Type) (*agentpb.Response, error) {
	var resp *agentpb.Response
	err := a.onState(func() {
		r := &agentpb.Response{}
		switch t {
		case agentpb.Call_GET_STATE:
			r.Type = agentpb.Response_GET_STATE.Enum()
			r.GetState = &agentpb.Response_GetState{
				GetTasks:      a.getTasks(),
				GetExecutors:  a.getExecutors(),
				GetFrameworks: a.getFrameworks(),
			}
		case agentpb.Call_GET_AGENT:
			// No drain_config: nothing asks the agent to drain (the
			// master's DRAIN_AGENT has no agent-side message yet).
			r.Type = agentpb.Response_GET_AGENT.Enum()
			r.GetAgent = &agentpb.Response_GetAgent{AgentInfo: a.st.info}
		case agentpb.Call_GET_FRAMEWORKS:
			r.Type = agentpb.Response_GET_FRAMEWORKS.Enum()
			r.GetFrameworks = a.getFrameworks()
		case agentpb.Call_GET_EXECUTORS:
			r.Type = agentpb.Response_GET_EXECUTORS.Enum()
			r.GetExecutors = a.getExecutors()
		case agentpb.Call_GET_TASKS:
			r.Type = agentpb.Response_GET_TASKS.Enum()
			r.GetTasks = a.getTasks()
		}
		resp = proto.Clone(r).(*agentpb.Response)
	})
	return resp, err
}

// knownFrameworks are the frameworks in /state's order: the agent's by
// id, then the completed ones, newest first (state goroutine).
func (a *Agent) knownFrameworks() (active, completed []*framework) {
	for _, id := range slices.Sorted(maps.Keys(a.st.frameworks)) {
		active = append(active, a.st.frameworks[id])
	}
	for i := len(a.st.completedFrameworks) - 1; i >= 0; i-- {
		completed = append(completed, a.st.completedFrameworks[i])
	}
	return active, completed
}

// knownExecutors are a framework's executors in /state's order: the live
// and terminated ones it still holds by id, then the completed ones,
// newest first (state goroutine).
func knownExecutors(fw *framework) (held, completed []*executor) {
	for _, id := range slices.Sorted(maps.Keys(fw.executors)) {
		held = append(held, fw.executors[id])
	}
	for i := len(fw.completedExecutors) - 1; i >= 0; i-- {
		completed = append(completed, fw.completedExecutors[i])
	}
	return held, completed
}

// getFrameworks is GET_FRAMEWORKS (state goroutine).
func (a *Agent) getFrameworks() *agentpb.Response_GetFrameworks {
	out := &agentpb.Response_GetFrameworks{}
	active, completed := a.knownFrameworks()
	for _, fw := range active {
		out.Frameworks = append(out.Frameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: frameworkInfoOf(fw)})
	}
	for _, fw := range completed {
		out.CompletedFrameworks = append(out.CompletedFrameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: frameworkInfoOf(fw)})
	}
	return out
}

// frameworkInfoOf is a framework's info with its required fields present:
// a framework the agent knows only by id (a KILL_TASK for a framework with
// nothing here) has an info holding just the id, which would not encode.
func frameworkInfoOf(fw *framework) *mesos.FrameworkInfo {
	info := fw.info
	if info.User != nil && info.Name != nil {
		return info
	}
	info = proto.Clone(info).(*mesos.FrameworkInfo)
	if info.User == nil {
		info.User = proto.String("")
	}
	if info.Name == nil {
		info.Name = proto.String("")
	}
	return info
}

// getExecutors is GET_EXECUTORS: the executors every known framework
// holds, then their completed executors (state goroutine).
func (a *Agent) getExecutors() *agentpb.Response_GetExecutors {
	out := &agentpb.Response_GetExecutors{}
	active, completed := a.knownFrameworks()
	for _, fw := range append(active, completed...) {
		held, done := knownExecutors(fw)
		for _, ex := range held {
			out.Executors = append(out.Executors, &agentpb.Response_GetExecutors_Executor{ExecutorInfo: ex.info})
		}
		for _, ex := range done {
			out.CompletedExecutors = append(out.CompletedExecutors, &agentpb.Response_GetExecutors_Executor{ExecutorInfo: ex.info})
		}
	}
	return out
}

// getTasks is GET_TASKS: the tasks of every executor of every known
// framework, sorted as the comment at the top of this file says (state
// goroutine).
func (a *Agent) getTasks() *agentpb.Response_GetTasks {
	out := &agentpb.Response_GetTasks{}
	active, completed := a.knownFrameworks()
	for _, fw := range append(active, completed...) {
		held, done := knownExecutors(fw)
		for _, ex := range append(held, done...) {
			live := ex.state != exTerminated
			for _, id := range slices.Sorted(maps.Keys(ex.tasks)) {
				t := ex.tasks[id]
				switch {
				case t.queued:
					pb := a.operatorTask(ex, t)
					pb.State = mesos.TaskState_TASK_STAGING.Enum()
					out.QueuedTasks = append(out.QueuedTasks, pb)
				case mesos.IsTerminalState(t.state) || !live:
					out.TerminatedTasks = append(out.TerminatedTasks, a.operatorTask(ex, t))
				default:
					out.LaunchedTasks = append(out.LaunchedTasks, a.operatorTask(ex, t))
				}
			}
			for i := len(ex.completedTasks) - 1; i >= 0; i-- {
				out.CompletedTasks = append(out.CompletedTasks, a.operatorTask(ex, ex.completedTasks[i]))
			}
		}
	}
	return out
}

// operatorTask is a task as Mesos' agent describes it: the Task its
// TaskInfo makes (the one REGISTER reports, master.go), with the task's
// latest state and status updates, and its user. Mesos leaves out the
// state and uuid of the unacknowledged update, which it sets only for
// the master.
func (a *Agent) operatorTask(ex *executor, t *task) *mesos.Task {
	pb := a.taskProto(ex, t)
	pb.StatusUpdateState, pb.StatusUpdateUuid = nil, nil
	switch {
	case t.info.GetCommand().User != nil:
		pb.User = t.info.GetCommand().User
	case ex.kind != kindCommand && ex.info.GetCommand().User != nil:
		pb.User = ex.info.GetCommand().User
	}
	return pb
}

// getContainers is GET_CONTAINERS: one container per executor that has
// not terminated, with its status (its id and, from the containerizer
// once it runs, the executor's pid when it is a process) and, once it
// runs, the usage /monitor/statistics reports for it. A container that
// cannot be measured is left without statistics, as Mesos leaves out
// what its containerizer failed to collect.
func (a *Agent) getContainers() (*agentpb.Response_GetContainers, error) {
	var list []*agentpb.Response_GetContainers_Container
	var running []*mesos.ContainerID // nil for an executor not launched yet
	if err := a.onState(func() {
		for _, fwID := range slices.Sorted(maps.Keys(a.st.frameworks)) {
			fw := a.st.frameworks[fwID]
			for _, exID := range slices.Sorted(maps.Keys(fw.executors)) {
				ex := fw.executors[exID]
				if ex.state == exTerminated {
					continue
				}
				containerID := ex.container()
				list = append(list, &agentpb.Response_GetContainers_Container{
					FrameworkId:     &mesos.FrameworkID{Value: proto.String(fwID)},
					ExecutorId:      &mesos.ExecutorID{Value: proto.String(exID)},
					ExecutorName:    proto.String(ex.info.GetName()),
					ContainerId:     containerID,
					ContainerStatus: &mesos.ContainerStatus{ContainerId: proto.Clone(containerID).(*mesos.ContainerID)},
				})
				if ex.launched != nil {
					a.updateContainer(ex) // its limits are current
					running = append(running, containerID)
				} else {
					running = append(running, nil)
				}
			}
		}
	}); err != nil {
		return nil, err
	}
	ctx := context.Background()
	for i, id := range running {
		if id == nil {
			continue
		}
		if st, err := a.containers.Status(ctx, id); err == nil {
			list[i].ContainerStatus = st
		}
	}
	for i, s := range a.measure(ctx, running) {
		list[i].ResourceStatistics = s
	}
	return &agentpb.Response_GetContainers{Containers: list}, nil
}

// listFiles is LIST_FILES: the entries of the directory at path (a
// virtual or real sandbox path, resolved and confined as /files/browse
// does), sorted by name and named by the path as given joined with the
// entry's name. A file, rather than a directory, lists nothing.
func (a *Agent) listFiles(requested string) (*agentpb.Response_ListFiles, error) {
	infos, err := a.files.List(requested)
	if err != nil {
		return nil, err
	}
	return &agentpb.Response_ListFiles{FileInfos: infos}, nil
}

// readFile is READ_FILE: at most files.MaxRead bytes of the file at the
// call's path from its offset, for its length (to the end without one),
// with the file's size. Reading at or past the end, or a length of 0,
// answers no data.
func (a *Agent) readFile(rf *agentpb.Call_ReadFile) (*agentpb.Response_ReadFile, error) {
	var length *uint64
	if rf.Length != nil {
		length = proto.Uint64(rf.GetLength())
	}
	size, data, err := a.files.ReadFile(rf.GetPath(), rf.GetOffset(), length)
	if err != nil {
		return nil, err
	}
	return &agentpb.Response_ReadFile{Size: proto.Uint64(size), Data: data}, nil
}

// respondOperator writes resp as a 200 in format f. Protobuf is the
// message as is; JSON is Mesos' mapping (codec), except for the answers
// Mesos' agent writes field by field — GET_STATE, GET_TASKS,
// GET_EXECUTORS, GET_FRAMEWORKS, GET_METRICS — whose lists appear as []
// when empty, as clients of Mesos may expect.
func respondOperator(w http.ResponseWriter, f codec.Format, resp *agentpb.Response) error {
	if f != codec.JSON {
		return httpapi.Respond(w, f, resp)
	}
	b, err := appendOperatorJSON(nil, resp.ProtoReflect())
	if err != nil {
		return fmt.Errorf("encode the %s response as JSON: %w", resp.GetType(), err)
	}
	w.Header().Set("Content-Type", codec.MediaJSON)
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// listsAlwaysWritten are the messages whose repeated fields Mesos' agent
// writes in JSON even when empty, and those around them.
var listsAlwaysWritten = map[protoreflect.FullName]bool{
	"mesos.v1.agent.Response":               true,
	"mesos.v1.agent.Response.GetState":      true,
	"mesos.v1.agent.Response.GetTasks":      true,
	"mesos.v1.agent.Response.GetExecutors":  true,
	"mesos.v1.agent.Response.GetFrameworks": true,
	"mesos.v1.agent.Response.GetMetrics":    true,
}

// appendOperatorJSON appends m in Mesos' JSON mapping. A message of
// listsAlwaysWritten is written here, fields in declaration order, its
// repeated fields (all of messages) even when empty; anything else by
// codec.
func appendOperatorJSON(b []byte, m protoreflect.Message) ([]byte, error) {
	if !listsAlwaysWritten[m.Descriptor().FullName()] {
		return codec.AppendJSON(b, m.Interface())
	}
	b = append(b, '{')
	fields := m.Descriptor().Fields()
	first := true
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !fd.IsList() && !m.Has(fd) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, fd.Name()...)
		b = append(b, '"', ':')
		var err error
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			list := m.Get(fd).List()
			b = append(b, '[')
			for j := range list.Len() {
				if j > 0 {
					b = append(b, ',')
				}
				if b, err = appendOperatorJSON(b, list.Get(j).Message()); err != nil {
					return b, err
				}
			}
			b = append(b, ']')
		case fd.Kind() == protoreflect.MessageKind:
			if b, err = appendOperatorJSON(b, m.Get(fd).Message()); err != nil {
				return b, err
			}
		case fd.Kind() == protoreflect.EnumKind:
			v := fd.Enum().Values().ByNumber(m.Get(fd).Enum())
			if v == nil {
				return b, fmt.Errorf("%s: unknown value %d", fd.FullName(), m.Get(fd).Enum())
			}
			b = append(b, '"')
			b = append(b, v.Name()...)
			b = append(b, '"')
		default:
			return b, fmt.Errorf("%s: a %v field is not expected here", fd.FullName(), fd.Kind())
		}
	}
	return append(b, '}'), nil
}
