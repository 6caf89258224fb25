package legacy

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// This file turns v1 messages and resources into the documents' parts, the
// same way for the master's endpoints and the agent's.

// Summary writes resources as Mesos' legacy endpoints summarize them: one
// key per name, scalars as numbers, ranges and sets as strings,
// revocable resources under "<name>_revocable".
func Summary(r resources.Resources) Resources {
	var out Resources
	scalars := map[string]float64{}
	var scalarOrder []string
	ranges := map[string][]Range{}
	var rangeOrder []string
	sets := map[string][]string{}
	var setOrder []string
	for res := range r.All() {
		name := res.Name
		if res.Revocable {
			name += "_revocable"
		}
		switch res.Type {
		case resources.ValueScalar:
			if _, ok := scalars[name]; !ok {
				scalarOrder = append(scalarOrder, name)
			}
			scalars[name] += res.Scalar.Float()
		case resources.ValueRanges:
			if _, ok := ranges[name]; !ok {
				rangeOrder = append(rangeOrder, name)
			}
			for _, rg := range res.Ranges {
				ranges[name] = append(ranges[name], Range{Begin: rg.Begin, End: rg.End})
			}
		case resources.ValueSet:
			if _, ok := sets[name]; !ok {
				setOrder = append(setOrder, name)
			}
			sets[name] = append(sets[name], res.Set...)
		}
	}
	for _, n := range scalarOrder {
		out.Set(n, ScalarValue(scalars[n]))
	}
	for _, n := range rangeOrder {
		out.Set(n, RangesValue(ranges[n]...))
	}
	for _, n := range setOrder {
		out.Set(n, SetValue(sets[n]...))
	}
	return out
}

// Full writes resources in full, each a v1 Resource in Mesos' JSON (the
// "*_full" keys).
func Full(r resources.Resources, format resources.ProtoFormat) FullResources {
	out := FullResources{}
	for _, pb := range resources.ToProto(r, format) {
		if b, err := codec.MarshalJSON(pb); err == nil {
			out = append(out, ProtoJSON(b))
		}
	}
	return out
}

// AttributesOf writes attributes by name.
func AttributesOf(attrs []*mesos.Attribute) Attributes {
	out := Attributes{}
	for _, at := range attrs {
		var v Value
		switch at.GetType() {
		case mesos.Value_SCALAR:
			v = ScalarValue(at.GetScalar().GetValue())
		case mesos.Value_RANGES:
			var rs []Range
			for _, r := range at.GetRanges().GetRange() {
				rs = append(rs, Range{Begin: r.GetBegin(), End: r.GetEnd()})
			}
			v = RangesValue(rs...)
		case mesos.Value_SET:
			v = SetValue(at.GetSet().GetItem()...)
		default:
			v = TextValue(at.GetText().GetValue())
		}
		out.Set(at.GetName(), v)
	}
	return out
}

// LabelsOf writes labels as a list of key/value pairs.
func LabelsOf(l *mesos.Labels) []Label {
	out := []Label{}
	for _, lb := range l.GetLabels() {
		out = append(out, Label{Key: lb.GetKey(), Value: lb.Value})
	}
	return out
}

// CommandOf writes an executor's command.
func CommandOf(cmd *mesos.CommandInfo) CommandInfo {
	lc := CommandInfo{Argv: List[string](cmd.GetArguments()), URIs: List[CommandURI]{}}
	if cmd.Shell != nil {
		lc.Shell = cmd.Shell
	}
	lc.Value = cmd.GetValue()
	for _, u := range cmd.GetUris() {
		lc.URIs = append(lc.URIs, CommandURI{Value: u.GetValue(), Executable: u.GetExecutable()})
	}
	if cmd.GetEnvironment() != nil {
		env := &Environment{}
		for _, v := range cmd.GetEnvironment().GetVariables() {
			env.Variables = append(env.Variables, EnvironmentVariable{Name: v.GetName(), Type: v.GetType().String(), Value: v.Value})
		}
		lc.Environment = env
	}
	return lc
}

// TaskOf writes a task as Mesos' legacy endpoints do, with its resources
// summarized (res) and the role they are allocated to.
func TaskOf(t *mesos.Task, res Resources, role string) Task {
	out := Task{
		ID:          t.GetTaskId().GetValue(),
		Name:        t.GetName(),
		FrameworkID: t.GetFrameworkId().GetValue(),
		ExecutorID:  t.GetExecutorId().GetValue(),
		SlaveID:     t.GetAgentId().GetValue(),
		State:       t.GetState().String(),
		Resources:   res,
		Role:        role,
		Statuses:    List[TaskStatus]{},
		User:        t.GetUser(),
	}
	if len(t.GetLimits()) > 0 {
		out.Limits = Quantities{}
		for k, v := range t.GetLimits() {
			out.Limits[k] = Float(v.GetValue())
		}
	}
	if t.Labels != nil {
		out.Labels = LabelsOf(t.GetLabels())
	}
	if d := t.GetDiscovery(); d != nil {
		var ld DiscoveryInfo
		if viaJSON(d, &ld) == nil {
			out.Discovery = &ld
		}
	}
	if t.GetContainer() != nil {
		if b, err := codec.MarshalJSON(t.GetContainer()); err == nil {
			out.Container = ProtoJSON(b)
		}
	}
	if t.GetHealthCheck() != nil {
		if b, err := codec.MarshalJSON(t.GetHealthCheck()); err == nil {
			out.HealthCheck = ProtoJSON(b)
		}
	}
	for _, st := range t.GetStatuses() {
		ls := TaskStatus{State: st.GetState().String(), Timestamp: Float(st.GetTimestamp()), Healthy: st.Healthy}
		if st.Labels != nil {
			ls.Labels = LabelsOf(st.GetLabels())
		}
		if cs := st.GetContainerStatus(); cs != nil {
			var lcs ContainerStatus
			if viaJSON(cs, &lcs) == nil {
				ls.ContainerStatus = &lcs
			}
		}
		out.Statuses = append(out.Statuses, ls)
	}
	return out
}

// viaJSON converts a protobuf message to a document part through Mesos'
// JSON mapping (the parts mirror it).
func viaJSON(m proto.Message, v any) error {
	b, err := codec.MarshalJSON(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// StatisticsOf writes a container's ResourceStatistics as
// /monitor/statistics does: every field the isolators measured, under
// Mesos' JSON names, sub-messages verbatim.
// Fields Mesos 1.11's messages lack (the kernel memory counters) are
// left out, as in the v1 API's JSON.
func StatisticsOf(s *mesos.ResourceStatistics) (ResourceStatistics, error) {
	var out ResourceStatistics
	b, err := codec.AppendV1JSON(nil, s)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		return ResourceStatistics{Timestamp: Float(s.GetTimestamp())}, fmt.Errorf("resource statistics: %w", err)
	}
	return out, nil
}
