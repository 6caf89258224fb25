package master

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/resources"
)

// The operator API's views of the cluster (GET_STATE, GET_AGENTS,
// GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS) and its TEARDOWN call.
//
// The answers say what Mesos 1.11's say, in its formats: the objects the
// master keeps (offers, tasks, executors, agent_info) carry their resources
// in the post-refinement format with allocation info, the sums the master
// computes (total, allocated and offered resources) are in the endpoint
// format, times are TimeInfo nanoseconds and left out when unknown. Every
// message is a copy: the answer is encoded after the core has moved on.

// stateResponse answers one of the five state queries from the core.
func (c *core) stateResponse(t masterpb.Call_Type) (*masterpb.Response, error) {
	switch t {
	case masterpb.Call_GET_STATE:
		return &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum(), GetState: c.getState()}, nil
	case masterpb.Call_GET_AGENTS:
		return &masterpb.Response{Type: masterpb.Response_GET_AGENTS.Enum(), GetAgents: c.getAgents()}, nil
	case masterpb.Call_GET_FRAMEWORKS:
		return &masterpb.Response{Type: masterpb.Response_GET_FRAMEWORKS.Enum(), GetFrameworks: c.getFrameworks()}, nil
	case masterpb.Call_GET_EXECUTORS:
		return &masterpb.Response{Type: masterpb.Response_GET_EXECUTORS.Enum(), GetExecutors: c.getExecutors()}, nil
	case masterpb.Call_GET_TASKS:
		return &masterpb.Response{Type: masterpb.Response_GET_TASKS.Enum(), GetTasks: c.getTasks()}, nil
	}
	return nil, fmt.Errorf("%s is not a state query", t)
}

// getState is GET_STATE: the four other views, taken at the same moment.
func (c *core) getState() *masterpb.Response_GetState {
	return &masterpb.Response_GetState{
		GetTasks:      c.getTasks(),
		GetExecutors:  c.getExecutors(),
		GetFrameworks: c.getFrameworks(),
		GetAgents:     c.getAgents(),
	}
}

// getAgents is GET_AGENTS: the registered agents, then those known from
// the registry that have not re-registered since this master started.
func (c *core) getAgents() *masterpb.Response_GetAgents {
	out := &masterpb.Response_GetAgents{}
	for _, a := range c.sortedAgents() {
		out.Agents = append(out.Agents, c.agentProto(a))
	}
	for _, id := range sortedKeys(c.recovered) {
		info := proto.Clone(c.recovered[id].info).(*mesos.AgentInfo)
		info.Id = agentID(id)
		info.Resources = storedResources(info.GetResources(), "")
		info.Checkpoint = proto.Bool(true)
		out.RecoveredAgents = append(out.RecoveredAgents, info)
	}
	return out
}

// agentProto describes a registered agent. An agent is active while it is
// connected and not deactivated by an operator (DEACTIVATE_AGENT,
// DRAIN_AGENT), as Mesos' Slave::active.
func (c *core) agentProto(a *agent) *masterpb.Response_GetAgents_Agent {
	info := proto.Clone(a.info).(*mesos.AgentInfo)
	info.Id = agentID(a.id)
	info.Port = proto.Int32(int32(a.port))
	info.Resources = storedResources(info.GetResources(), "")
	// Mesos' agents always checkpoint, and its answers say so.
	info.Checkpoint = proto.Bool(true)
	deactivated := c.maint.deactivated[a.id]
	allocated, offered := agentAllocations(a)
	out := &masterpb.Response_GetAgents_Agent{
		AgentInfo:          info,
		Active:             proto.Bool(a.connected() && !deactivated),
		Deactivated:        proto.Bool(deactivated),
		Version:            proto.String(a.version),
		Pid:                proto.String(a.pid()),
		RegisteredTime:     timeInfo(a.registered),
		ReregisteredTime:   timeInfo(a.reregistered),
		TotalResources:     resources.ToProto(a.total, resources.FormatEndpoint),
		AllocatedResources: resources.ToProto(allocated, resources.FormatEndpoint),
		OfferedResources:   resources.ToProto(offered, resources.FormatEndpoint),
	}
	for _, cp := range a.caps {
		out.Capabilities = append(out.Capabilities, proto.Clone(cp).(*mesos.AgentInfo_Capability))
	}
	// estimated_drain_start_time is left out: the core does not note when
	// a drain started.
	if d := c.drainInfo(a.id); d != nil {
		out.DrainInfo = proto.Clone(d).(*mesos.DrainInfo)
	}
	return out
}

// agentAllocations sums what a's live tasks and executors hold and what is
// offered from it, each allocated to its role.
func agentAllocations(a *agent) (allocated, offered resources.Resources) {
	for _, byTask := range a.tasks {
		for _, t := range byTask {
			if !t.released {
				allocated = allocated.Add(t.res.Allocate(t.role))
			}
		}
	}
	for _, byExec := range a.executors {
		for _, e := range byExec {
			allocated = allocated.Add(e.res.Allocate(e.role))
		}
	}
	for _, o := range a.offers {
		offered = offered.Add(o.res.Allocate(o.role))
	}
	return allocated, offered
}

// getFrameworks is GET_FRAMEWORKS: the registered frameworks (connected,
// disconnected within their failover timeout, or recovered from agents),
// then the completed ones, oldest first.
func (c *core) getFrameworks() *masterpb.Response_GetFrameworks {
	out := &masterpb.Response_GetFrameworks{}
	for _, f := range c.sortedFrameworks() {
		out.Frameworks = append(out.Frameworks, c.frameworkProto(f))
	}
	for _, f := range c.completed {
		out.CompletedFrameworks = append(out.CompletedFrameworks, c.frameworkProto(f))
	}
	return out
}

// frameworkProto describes a framework. Like Mesos, it gives a framework
// that never re-subscribed its registration time as re-registration time,
// and a framework recovered from agents neither.
func (c *core) frameworkProto(f *framework) *masterpb.Response_GetFrameworks_Framework {
	out := &masterpb.Response_GetFrameworks_Framework{
		FrameworkInfo:    proto.Clone(f.info).(*mesos.FrameworkInfo),
		Active:           proto.Bool(f.stream != nil),
		Connected:        proto.Bool(f.stream != nil),
		Recovered:        proto.Bool(f.recovered),
		UnregisteredTime: timeInfo(f.unregistered),
		OfferConstraints: &schedpb.OfferConstraints{},
	}
	if f.offerConstraints != nil {
		out.OfferConstraints = proto.Clone(f.offerConstraints).(*schedpb.OfferConstraints)
	}
	if !f.recovered {
		out.RegisteredTime = timeInfo(f.registered)
		reregistered := f.reregistered
		if reregistered.IsZero() {
			reregistered = f.registered
		}
		out.ReregisteredTime = timeInfo(reregistered)
	}
	var allocated, offered resources.Resources
	for _, t := range f.tasks {
		if !t.released {
			allocated = allocated.Add(t.res.Allocate(t.role))
		}
	}
	for _, byExec := range f.executors {
		for _, e := range byExec {
			allocated = allocated.Add(e.res.Allocate(e.role))
		}
	}
	for _, o := range sortOffers(f.offers) {
		offered = offered.Add(o.res.Allocate(o.role))
		out.Offers = append(out.Offers, storedOffer(o))
	}
	for _, io := range c.inverseOffersOf(f.id) {
		out.InverseOffers = append(out.InverseOffers, proto.Clone(io.pb).(*mesos.InverseOffer))
	}
	out.AllocatedResources = resources.ToProto(allocated, resources.FormatEndpoint)
	out.OfferedResources = resources.ToProto(offered, resources.FormatEndpoint)
	return out
}

// storedOffer is an offer as the master keeps it, whoever it was made to:
// allocated to its role, resources in the post-refinement format.
func storedOffer(o *offer) *mesos.Offer {
	pb := proto.Clone(o.pb).(*mesos.Offer)
	pb.Resources = resources.ToProto(o.res.Allocate(o.role), resources.FormatPostRefinement)
	pb.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(o.role)}
	return pb
}

// inverseOffersOf returns the framework's outstanding inverse offers by id.
func (c *core) inverseOffersOf(frameworkID string) []*inverseOffer {
	var out []*inverseOffer
	for _, io := range c.maint.inverse {
		if io.frameworkID == frameworkID {
			out = append(out, io)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pb.GetId().GetValue() < out[j].pb.GetId().GetValue() })
	return out
}

// getExecutors is GET_EXECUTORS: the executors the master knows of, by
// framework (registered, then completed), agent and executor id.
func (c *core) getExecutors() *masterpb.Response_GetExecutors {
	out := &masterpb.Response_GetExecutors{}
	for _, f := range c.operatorFrameworks() {
		for _, onAgent := range sortedKeys(f.executors) {
			for _, id := range sortedKeys(f.executors[onAgent]) {
				e := f.executors[onAgent][id]
				info := proto.Clone(e.info).(*mesos.ExecutorInfo)
				info.Resources = storedResources(info.GetResources(), e.role)
				out.Executors = append(out.Executors, &masterpb.Response_GetExecutors_Executor{
					ExecutorInfo: info,
					AgentId:      agentID(onAgent),
				})
			}
		}
	}
	return out
}

// getTasks is GET_TASKS: the live, unreachable and completed tasks of the
// registered and the completed frameworks, in both encodings (Mesos 1.11
// leaves the completed frameworks' tasks out of its protobuf answer only,
// by a slip in its authorization check). pending_tasks stays empty (an
// ACCEPT launches its tasks at once) and orphan_tasks too (it is in Mesos
// 1.11 as well).
func (c *core) getTasks() *masterpb.Response_GetTasks {
	out := &masterpb.Response_GetTasks{}
	for _, f := range c.operatorFrameworks() {
		for _, t := range sortedTasks(f.tasks) {
			out.Tasks = append(out.Tasks, storedTask(t.pb))
		}
		for _, id := range sortedKeys(f.unreachableTasks) {
			out.UnreachableTasks = append(out.UnreachableTasks, storedTask(f.unreachableTasks[id]))
		}
		for _, t := range f.completedTasks {
			out.CompletedTasks = append(out.CompletedTasks, storedTask(t))
		}
	}
	return out
}

// operatorFrameworks lists the registered frameworks by id, then the
// completed ones, oldest first.
func (c *core) operatorFrameworks() []*framework {
	return append(c.sortedFrameworks(), c.completed...)
}

// storedTask is a copy of a task whose resources are in the format Mesos'
// master keeps them (post-refinement, with allocation info); the master's
// books hold them in the endpoint format.
func storedTask(pb *mesos.Task) *mesos.Task {
	t := proto.Clone(pb).(*mesos.Task)
	t.Resources = storedResources(t.GetResources(), "")
	return t
}

// storedResources writes resources in the post-refinement format,
// allocated to role unless role is empty (then they keep the allocation
// they have). Resources that do not parse, which validation keeps out of
// the master, are written as they are.
func storedResources(pb []*mesos.Resource, role string) []*mesos.Resource {
	r, err := resources.FromProto(pb)
	if err != nil {
		return pb
	}
	if role != "" {
		r = r.Allocate(role)
	}
	return resources.ToProto(r, resources.FormatPostRefinement)
}

// timeInfo is t in nanoseconds since the epoch; nil for the zero time.
func timeInfo(t time.Time) *mesos.TimeInfo {
	if t.IsZero() {
		return nil
	}
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(t.UnixNano())}
}

// teardownFramework is the operator's TEARDOWN: the registered framework
// id is removed as when its scheduler tears itself down (offers back to
// the allocator, tasks killed, executors shut down, stream closed) and
// joins the completed frameworks. A framework this master does not have
// registered (unknown, or already completed) is a 400, as in Mesos.
func (c *core) teardownFramework(id string) error {
	f := c.frameworks[id]
	if f == nil {
		return invalidf("No framework found with specified ID")
	}
	c.log.Info("tearing down framework on the operator's request", "framework_id", id)
	c.removeFramework(f)
	return nil
}

// respondState writes a state answer (encodeState).
func respondState(w http.ResponseWriter, format codec.Format, resp *masterpb.Response) error {
	b, err := encodeState(format, resp)
	if err != nil {
		return err
	}
	return writeEncoded(w, format, b)
}

// encodeState encodes a state answer. Protobuf is the message as it is;
// JSON is Mesos' writing of it, in which the lists of the answers are
// present even when empty (see appendStateJSON).
func encodeState(format codec.Format, resp *masterpb.Response) ([]byte, error) {
	if format != codec.JSON {
		return codec.MarshalV1(format, resp)
	}
	b, err := appendStateJSON(nil, resp.ProtoReflect())
	if err != nil {
		return nil, fmt.Errorf("encode %s as JSON: %w", resp.GetType(), err)
	}
	return b, nil
}

// writeEncoded answers 200 with b, a message encoded in format.
func writeEncoded(w http.ResponseWriter, format codec.Format, b []byte) error {
	w.Header().Set("Content-Type", format.MediaType())
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// stateEnvelopes are the messages that hold the answers' lists;
// appendStateJSON writes them field by field.
var stateEnvelopes = messageNames(
	&masterpb.Response{}, &masterpb.Response_GetState{}, &masterpb.Response_GetAgents{},
	&masterpb.Response_GetFrameworks{}, &masterpb.Response_GetExecutors{}, &masterpb.Response_GetTasks{},
)

func messageNames(ms ...proto.Message) map[protoreflect.FullName]bool {
	out := map[protoreflect.FullName]bool{}
	for _, m := range ms {
		out[m.ProtoReflect().Descriptor().FullName()] = true
	}
	return out
}

// stateLists are the lists Mesos writes in JSON even when they are empty
// ("tasks": []). The deprecated lists (pending_tasks, orphan_tasks,
// orphan_executors, recovered_frameworks) it does not write at all; they
// are always empty here, so they are left out like any unset field.
var stateLists = listFields(map[proto.Message][]protoreflect.Name{
	&masterpb.Response_GetAgents{}:     {"agents", "recovered_agents"},
	&masterpb.Response_GetFrameworks{}: {"frameworks", "completed_frameworks"},
	&masterpb.Response_GetExecutors{}:  {"executors"},
	&masterpb.Response_GetTasks{}:      {"tasks", "unreachable_tasks", "completed_tasks"},
})

func listFields(byMessage map[proto.Message][]protoreflect.Name) map[protoreflect.FullName]bool {
	out := map[protoreflect.FullName]bool{}
	for m, names := range byMessage {
		fields := m.ProtoReflect().Descriptor().Fields()
		for _, n := range names {
			fd := fields.ByName(n)
			if fd == nil || !fd.IsList() {
				panic(fmt.Sprintf("%s has no list %s", m.ProtoReflect().Descriptor().FullName(), n))
			}
			out[fd.FullName()] = true
		}
	}
	return out
}

// appendStateJSON appends m, a state answer or one of its envelopes, in
// Mesos' JSON: fields in declaration order, the stateLists always (as []
// when empty), everything below the envelopes as codec writes it.
func appendStateJSON(b []byte, m protoreflect.Message) ([]byte, error) {
	b = append(b, '{')
	fields := m.Descriptor().Fields()
	first := true
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) && !stateLists[fd.FullName()] {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendQuote(b, string(fd.Name()))
		b = append(b, ':')
		var err error
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := m.Get(fd).List()
			b = append(b, '[')
			for j := 0; j < l.Len(); j++ {
				if j > 0 {
					b = append(b, ',')
				}
				if b, err = codec.AppendV1JSON(b, l.Get(j).Message().Interface()); err != nil {
					return nil, fmt.Errorf("%s: %w", fd.Name(), err)
				}
			}
			b = append(b, ']')
		case fd.Kind() == protoreflect.MessageKind && stateEnvelopes[fd.Message().FullName()]:
			if b, err = appendStateJSON(b, m.Get(fd).Message()); err != nil {
				return nil, fmt.Errorf("%s: %w", fd.Name(), err)
			}
		case fd.Kind() == protoreflect.MessageKind:
			if b, err = codec.AppendV1JSON(b, m.Get(fd).Message().Interface()); err != nil {
				return nil, fmt.Errorf("%s: %w", fd.Name(), err)
			}
		case fd.Kind() == protoreflect.EnumKind && !fd.IsList():
			v := fd.Enum().Values().ByNumber(m.Get(fd).Enum())
			if v == nil {
				return nil, fmt.Errorf("%s: unknown value %d", fd.Name(), m.Get(fd).Enum())
			}
			b = strconv.AppendQuote(b, string(v.Name()))
		default:
			return nil, fmt.Errorf("%s: a %v field in a state answer", fd.Name(), fd.Kind())
		}
	}
	return append(b, '}'), nil
}
