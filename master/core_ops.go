package master

import (
	"fmt"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/resources"
)

// Reservation and volume operations. Each turns resources "from" into
// resources "to" on one agent:
//
//	RESERVE    from = resources with their top reservation popped
//	           to   = resources (a new dynamic reservation, or a
//	                  refinement of an existing one)
//	UNRESERVE  from = resources (dynamically reserved)
//	           to   = resources with the top reservation popped
//	CREATE     from = volumes without persistence and volume info
//	           to   = volumes (reserved disk with a persistence id)
//	DESTROY    from = volumes, to = the plain reserved disk
//	GROW_VOLUME    from = a volume and more of the disk it lies on,
//	               to = the volume, that much larger
//	SHRINK_VOLUME  from = a volume, to = the volume, smaller, and the
//	               disk it gave up
//
// Resizing a volume changes only the accounting: a volume is a directory
// of the agent's work directory, without a quota of its own.
//
// In an ACCEPT, from must lie in the offers and the framework must hold it
// in the offer's role (allocator.UpdateAllocation); from the operator API,
// from must be free on the agent (allocator.UpdateAvailable). Either way
// the agent's total changes, so what is offered next carries the new
// reservations and volumes: a persistent volume goes back to its role
// with the same persistence id when the task using it ends.

// conversion validates an offer operation of framework f and returns what
// it converts.
func (c *core) conversion(f *framework, a *agent, role string, op *mesos.Offer_Operation) (from, to resources.Resources, err error) {
	from, to, err = c.convert(f, a, role, op)
	if err == nil && (from.IsEmpty() || to.IsEmpty()) {
		err = fmt.Errorf("%v operation without resources", op.GetType())
	}
	return from, to, err
}

func (c *core) convert(f *framework, a *agent, role string, op *mesos.Offer_Operation) (from, to resources.Resources, err error) {
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		to, err = parseResources(op.GetReserve().GetResources())
		if err != nil {
			return from, to, err
		}
		for r := range to.All() {
			if !r.IsDynamic() {
				return from, to, fmt.Errorf("RESERVE of %v: not a dynamic reservation", r)
			}
			if r.Role() != role {
				return from, to, fmt.Errorf("RESERVE of %v: reservation role %q differs from the offer's role %q", r, r.Role(), role)
			}
			top := r.Reservations[len(r.Reservations)-1]
			if p := f.info.GetPrincipal(); top.Principal != "" && top.Principal != p {
				return from, to, fmt.Errorf("RESERVE of %v: principal %q does not match the framework's principal %q", r, top.Principal, p)
			}
			if r.IsPersistentVolume() {
				return from, to, fmt.Errorf("RESERVE of %v: cannot reserve a persistent volume", r)
			}
		}
		from, err = to.PopReservation()
		return from, to, err
	case mesos.Offer_Operation_UNRESERVE:
		from, err = parseResources(op.GetUnreserve().GetResources())
		if err != nil {
			return from, to, err
		}
		return unreserve(from)
	case mesos.Offer_Operation_CREATE:
		to, err = parseResources(op.GetCreate().GetVolumes())
		if err != nil {
			return from, to, err
		}
		return createVolumes(a, to)
	case mesos.Offer_Operation_DESTROY:
		from, err = parseResources(op.GetDestroy().GetVolumes())
		if err != nil {
			return from, to, err
		}
		return c.destroyVolumes(a, from)
	case mesos.Offer_Operation_GROW_VOLUME:
		g := op.GetGrowVolume()
		return growVolume(a, g.GetVolume(), g.GetAddition())
	case mesos.Offer_Operation_SHRINK_VOLUME:
		sh := op.GetShrinkVolume()
		return shrinkVolume(a, sh.GetVolume(), sh.GetSubtract())
	}
	return from, to, fmt.Errorf("unsupported operation %v", op.GetType())
}

// resizableVolume parses the volume of a GROW_VOLUME or SHRINK_VOLUME: a
// persistent volume of a's that is not shared.
func resizableVolume(a *agent, what string, pb *mesos.Resource) (resources.Resource, error) {
	rs, err := parseResources([]*mesos.Resource{pb})
	if err != nil {
		return resources.Resource{}, fmt.Errorf("%s: invalid volume: %w", what, err)
	}
	if rs.Len() != 1 {
		return resources.Resource{}, fmt.Errorf("%s: expecting one volume", what)
	}
	vol := rs.At(0)
	switch {
	case !vol.IsPersistentVolume():
		return vol, fmt.Errorf("%s of %v: not a persistent volume", what, vol)
	case vol.Shared:
		return vol, fmt.Errorf("%s of %v: resizing a shared persistent volume is not supported", what, vol)
	case vol.ProviderID != "":
		return vol, fmt.Errorf("%s of %v: volumes of resource providers cannot be resized", what, vol)
	case !a.total.Contains(rs):
		return vol, fmt.Errorf("%s of %v: no such volume on agent %s", what, vol, a.id)
	}
	return vol, nil
}

// growVolume is GROW_VOLUME: the addition must be the same disk as the
// volume (role, reservations, source), without its persistence.
func growVolume(a *agent, volPB, addPB *mesos.Resource) (from, to resources.Resources, err error) {
	vol, err := resizableVolume(a, "GROW_VOLUME", volPB)
	if err != nil {
		return from, to, err
	}
	adds, err := parseResources([]*mesos.Resource{addPB})
	if err != nil {
		return from, to, fmt.Errorf("GROW_VOLUME: invalid addition: %w", err)
	}
	plain, err := resources.New(stripVolume(vol))
	if err != nil {
		return from, to, err
	}
	if adds.Len() != 1 || plain.Add(adds).Len() != 1 {
		return from, to, fmt.Errorf("GROW_VOLUME of %v: the addition %v is not more of the disk the volume lies on", vol, adds)
	}
	grown := vol
	grown.Scalar = vol.Scalar.Add(adds.At(0).Scalar)
	from, err = resources.New(vol)
	if err == nil {
		from = from.Add(adds)
		to, err = resources.New(grown)
	}
	return from, to, err
}

// shrinkVolume is SHRINK_VOLUME: subtract must be positive and less than
// the volume's size; a volume filling a MOUNT disk cannot shrink.
func shrinkVolume(a *agent, volPB *mesos.Resource, subtract *mesos.Value_Scalar) (from, to resources.Resources, err error) {
	vol, err := resizableVolume(a, "SHRINK_VOLUME", volPB)
	if err != nil {
		return from, to, err
	}
	sub, err := resources.ScalarFromFloat(subtract.GetValue())
	if err != nil || subtract.GetValue() <= 0 {
		return from, to, fmt.Errorf("SHRINK_VOLUME of %v: the value to subtract must be greater than zero", vol)
	}
	if sub.Float() >= vol.Scalar.Float() {
		return from, to, fmt.Errorf("SHRINK_VOLUME of %v: the value to subtract must be smaller than the volume's size", vol)
	}
	if vol.Disk.Source != nil && vol.Disk.Source.Type == resources.DiskSourceMount {
		return from, to, fmt.Errorf("SHRINK_VOLUME of %v: a volume on a MOUNT disk cannot shrink", vol)
	}
	shrunk, freed := vol, stripVolume(vol)
	shrunk.Scalar = vol.Scalar.Sub(sub)
	freed.Scalar = sub
	if from, err = resources.New(vol); err != nil {
		return from, to, err
	}
	to, err = resources.New(shrunk, freed)
	return from, to, err
}

func unreserve(from resources.Resources) (resources.Resources, resources.Resources, error) {
	for r := range from.All() {
		if !r.IsDynamic() {
			return from, resources.Resources{}, fmt.Errorf("UNRESERVE of %v: not dynamically reserved", r)
		}
		if r.IsPersistentVolume() {
			return from, resources.Resources{}, fmt.Errorf("UNRESERVE of %v: destroy the persistent volume first", r)
		}
	}
	to, err := from.PopReservation()
	return from, to, err
}

// createVolumes checks new persistent volumes and returns the plain disk
// they are made from.
func createVolumes(a *agent, volumes resources.Resources) (resources.Resources, resources.Resources, error) {
	existing := map[string]bool{}
	for v := range a.total.PersistentVolumes().All() {
		existing[v.Role()+"\x00"+v.Disk.Persistence.ID] = true
	}
	var plain []resources.Resource
	for r := range volumes.All() {
		if !r.IsPersistentVolume() {
			return resources.Resources{}, volumes, fmt.Errorf("CREATE of %v: not a persistent volume", r)
		}
		if r.IsUnreserved() {
			return resources.Resources{}, volumes, fmt.Errorf("CREATE of %v: persistent volumes need reserved disk", r)
		}
		if existing[r.Role()+"\x00"+r.Disk.Persistence.ID] {
			return resources.Resources{}, volumes, fmt.Errorf("CREATE of %v: persistence id %q is in use on agent %s", r, r.Disk.Persistence.ID, a.id)
		}
		existing[r.Role()+"\x00"+r.Disk.Persistence.ID] = true
		plain = append(plain, stripVolume(r))
	}
	from, err := resources.New(plain...)
	return from, volumes, err
}

// destroyVolumes checks that volumes exist and are unused and returns the
// plain disk they become.
func (c *core) destroyVolumes(a *agent, volumes resources.Resources) (resources.Resources, resources.Resources, error) {
	var plain []resources.Resource
	for r := range volumes.All() {
		if !r.IsPersistentVolume() {
			return volumes, resources.Resources{}, fmt.Errorf("DESTROY of %v: not a persistent volume", r)
		}
		one, _ := resources.New(r)
		if !a.total.Contains(one) {
			return volumes, resources.Resources{}, fmt.Errorf("DESTROY of %v: no such volume on agent %s", r, a.id)
		}
		for _, byTask := range a.tasks {
			for _, t := range byTask {
				if !t.released && t.res.Contains(one) {
					return volumes, resources.Resources{}, fmt.Errorf("DESTROY of %v: in use by task %s", r, t.pb.GetTaskId().GetValue())
				}
			}
		}
		plain = append(plain, stripVolume(r))
	}
	to, err := resources.New(plain...)
	return volumes, to, err
}

// stripVolume returns a persistent volume as the disk it was made from.
func stripVolume(r resources.Resource) resources.Resource {
	d := *r.Disk
	d.Persistence, d.Volume = nil, nil
	if d.Source == nil {
		r.Disk = nil
	} else {
		r.Disk = &d
	}
	r.Shared = false
	return r
}

// operationFinished reports an applied offer operation when the framework
// asked for feedback (Operation.id set).
func (c *core) operationFinished(f *framework, op *mesos.Offer_Operation, agent string, converted resources.Resources) {
	if op.Id == nil {
		return
	}
	st := &mesos.OperationStatus{
		OperationId:        op.GetId(),
		State:              mesos.OperationState_OPERATION_FINISHED.Enum(),
		AgentId:            agentID(agent),
		ConvertedResources: resources.ToProto(converted, resources.FormatPostRefinement),
		Uuid:               &mesos.UUID{Value: []byte(newUUID()[:16])},
	}
	f.send(&schedpb.Event{
		Type:                  schedpb.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &schedpb.Event_UpdateOperationStatus{Status: st},
	})
}

// operatorConvert applies an operator RESERVE_RESOURCES,
// UNRESERVE_RESOURCES, CREATE_VOLUMES or DESTROY_VOLUMES to free
// resources of an agent. Outstanding offers on the agent are rescinded
// when the resources are not free otherwise, as Mesos does. 400 for an
// invalid operation, 409 when the resources are not there.
func (c *core) operatorConvert(agentIDValue string, kind mesos.Offer_Operation_Type, res []*mesos.Resource) error {
	a := c.agents[agentIDValue]
	if a == nil {
		return invalidf("No agent found with specified ID")
	}
	rs, err := parseResources(res)
	if err != nil {
		return invalidf("Invalid resources: %v", err)
	}
	var from, to resources.Resources
	switch kind {
	case mesos.Offer_Operation_RESERVE:
		to = rs
		for r := range to.All() {
			if !r.IsDynamic() {
				return invalidf("Invalid RESERVE: %v is not a dynamic reservation", r)
			}
		}
		from, err = to.PopReservation()
	case mesos.Offer_Operation_UNRESERVE:
		from, to, err = unreserve(rs)
	case mesos.Offer_Operation_CREATE:
		from, to, err = createVolumes(a, rs)
	case mesos.Offer_Operation_DESTROY:
		from, to, err = c.destroyVolumes(a, rs)
	}
	if err != nil {
		return invalidf("Invalid %s operation: %v", kind, err)
	}
	return c.applyOperatorConversion(a, kind, from, to)
}

// operatorResize applies GROW_VOLUME or SHRINK_VOLUME from the operator
// API to the agent named in op.
func (c *core) operatorResize(agentIDValue string, op *mesos.Offer_Operation) error {
	a := c.agents[agentIDValue]
	if a == nil {
		return invalidf("No agent found with specified ID")
	}
	from, to, err := c.convert(nil, a, "", op)
	if err != nil {
		return invalidf("Invalid %s operation: %v", op.GetType(), err)
	}
	return c.applyOperatorConversion(a, op.GetType(), from, to)
}

// applyOperatorConversion turns from into to on agent a for the operator
// API: from must be free there (offers holding it are rescinded first;
// 409 if it is in use).
func (c *core) applyOperatorConversion(a *agent, kind mesos.Offer_Operation_Type, from, to resources.Resources) error {
	if !c.alloc.Free(a.id).Contains(from) {
		for _, o := range sortOffers(a.offers) {
			c.rescindOffer(o)
		}
	}
	if err := c.alloc.UpdateAvailable(a.id, from, to); err != nil {
		return conflictf("%v", err)
	}
	a.total = a.total.Subtract(from).Add(to)
	c.checkpointResources(a)
	c.metrics.operation(kind, mesos.OperationState_OPERATION_FINISHED)
	c.allocateSoon = true
	c.log.Info("applied operator operation", "agent_id", a.id, "type", kind.String(), "resources", to.String())
	return nil
}

// checkpointResources sends the agent its new total after a conversion,
// as Mesos' CheckpointResourcesMessage: the agent checkpoints it and
// reports it when it registers again, so its reservations and volumes
// survive its restarts. A disconnected agent gets it when it comes back
// (registerAgent sends the master's view when the agent's differs).
func (c *core) checkpointResources(a *agent) {
	a.send(&agentproto.AgentEvent{
		Type: agentproto.AgentEvent_CHECKPOINT_RESOURCES.Enum(),
		CheckpointResources: &agentproto.AgentEvent_CheckpointResources{
			Resources: resources.ToProto(a.total, resources.FormatPostRefinement),
		},
	})
}

// baseResources returns rs as the agent's flags describe them: without
// reservations and with persistent volumes turned back into plain disk.
// An agent's checkpointed total and its --resources must agree on it.
func baseResources(rs resources.Resources) resources.Resources {
	var items []resources.Resource
	for r := range rs.All() {
		if r.IsPersistentVolume() {
			r = stripVolume(r)
		}
		items = append(items, r)
	}
	out, err := resources.New(items...)
	if err != nil {
		return rs.ToUnreserved()
	}
	return out.ToUnreserved()
}
