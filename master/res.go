package master

import (
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// parseResources reads resources from a framework, task or agent message,
// dropping allocation info (the master keeps the role beside them).
func parseResources(pb []*mesos.Resource) (resources.Resources, error) {
	r, err := resources.FromProto(pb)
	if err != nil {
		return resources.Resources{}, err
	}
	return r.Unallocate(), nil
}

// resourcesForFramework writes resources for a framework: allocated to
// role when it is MULTI_ROLE (Mesos strips allocation info for the
// others), in the pre-refinement format ("role": "*") unless it has
// RESERVATION_REFINEMENT.
func resourcesForFramework(r resources.Resources, role string, multiRole, refinement bool) []*mesos.Resource {
	if multiRole {
		r = r.Allocate(role)
	}
	format := resources.FormatPreRefinement
	if refinement {
		format = resources.FormatPostRefinement
	}
	return resources.ToProto(r, format)
}

// quantities returns r's scalar amounts by name.
func quantities(r resources.Resources) map[string]float64 {
	q := map[string]float64{}
	for name, v := range r.ScalarQuantities().All() {
		q[name] = v.Float()
	}
	return q
}

// stripAllocation returns copies of resources without allocation info.
func stripAllocation(pb []*mesos.Resource) []*mesos.Resource {
	out := make([]*mesos.Resource, len(pb))
	for i, r := range pb {
		c := proto.Clone(r).(*mesos.Resource)
		c.AllocationInfo = nil
		out[i] = c
	}
	return out
}
