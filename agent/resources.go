package agent

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// agentInfo builds the AgentInfo the agent registers with: hostname,
// port, --resources (with detected defaults) and --attributes.
func agentInfo(cfg Config) (*mesos.AgentInfo, error) {
	rs, err := resources.AgentResources(cfg.Resources, cfg.WorkDir, cfg.DefaultRole)
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	attrs, err := resources.ParseAttributes(cfg.Attributes)
	if err != nil {
		return nil, fmt.Errorf("--attributes: %w", err)
	}
	info := &mesos.AgentInfo{
		Hostname: proto.String(cfg.Hostname),
		Port:     proto.Int32(int32(cfg.Port)),
	}
	for r := range rs.All() {
		info.Resources = append(info.Resources, resourceProto(r))
	}
	for _, at := range attrs {
		info.Attributes = append(info.Attributes, attributeProto(at))
	}
	return info, nil
}

// resourceProto converts an agent resource (unreserved or statically
// reserved) into the wire form, reservations in the post-refinement
// format. TODO: use the resources package's converter once it has one.
func resourceProto(r resources.Resource) *mesos.Resource {
	p := &mesos.Resource{Name: proto.String(r.Name), Type: mesos.Value_Type(r.Type).Enum()}
	switch r.Type {
	case resources.ValueScalar:
		p.Scalar = &mesos.Value_Scalar{Value: proto.Float64(r.Scalar.Float())}
	case resources.ValueRanges:
		p.Ranges = rangesProto(r.Ranges)
	case resources.ValueSet:
		p.Set = &mesos.Value_Set{Item: r.Set}
	}
	for _, res := range r.Reservations {
		rp := &mesos.Resource_ReservationInfo{
			Type: mesos.Resource_ReservationInfo_Type(res.Type).Enum(),
			Role: proto.String(res.Role),
		}
		if res.Principal != "" {
			rp.Principal = proto.String(res.Principal)
		}
		p.Reservations = append(p.Reservations, rp)
	}
	return p
}

func rangesProto(rs resources.Ranges) *mesos.Value_Ranges {
	out := &mesos.Value_Ranges{}
	for _, x := range rs {
		out.Range = append(out.Range, &mesos.Value_Range{Begin: proto.Uint64(x.Begin), End: proto.Uint64(x.End)})
	}
	return out
}

func attributeProto(a resources.Attribute) *mesos.Attribute {
	p := &mesos.Attribute{Name: proto.String(a.Name), Type: mesos.Value_Type(a.Type).Enum()}
	switch a.Type {
	case resources.ValueScalar:
		p.Scalar = &mesos.Value_Scalar{Value: proto.Float64(a.Scalar.Float())}
	case resources.ValueRanges:
		p.Ranges = rangesProto(a.Ranges)
	case resources.ValueSet:
		p.Set = &mesos.Value_Set{Item: a.Set}
	case resources.ValueText:
		p.Text = &mesos.Value_Text{Value: proto.String(a.Text)}
	}
	return p
}
