package master

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/resources"
)

// reserveAndCreate has framework f (role db) accept its offer on agent a
// with RESERVE of cpus:1;disk:100 for db and CREATE of volume v1 on that
// disk. It returns the volume.
func reserveAndCreate(t *testing.T, h *harness, f *recFramework) resources.Resources {
	t.Helper()
	offers := f.offers()
	if len(offers) != 1 {
		t.Fatalf("got %d offers, want 1", len(offers))
	}
	plain, err := resources.Parse("cpus:1;disk:100", "*")
	if err != nil {
		t.Fatal(err)
	}
	reserved, err := plain.PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "db"})
	if err != nil {
		t.Fatal(err)
	}
	var vol resources.Resources
	for r := range reserved.ByName("disk").All() {
		r.Disk = &resources.DiskInfo{Persistence: &resources.Persistence{ID: "v1"}, Volume: &resources.Volume{ContainerPath: "data", Mode: resources.VolumeRW}}
		vol, _ = resources.New(r)
	}
	withRole := func(rs resources.Resources) []*mesos.Resource {
		pb := resources.ToProto(rs, resources.FormatPostRefinement)
		for _, r := range pb {
			r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("db")}
		}
		return pb
	}
	call := acceptCall([]string{offers[0].GetId().GetValue()},
		&mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Reserve: &mesos.Offer_Operation_Reserve{Resources: withRole(reserved)}},
		&mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(), Create: &mesos.Offer_Operation_Create{Volumes: withRole(vol)}},
	)
	call.Accept.Filters = &mesos.Filters{RefuseSeconds: proto.Float64(0)}
	h.mustCall(f, call)
	return vol
}

// lastCheckpoint returns the total of the last CHECKPOINT_RESOURCES a got
// (and how many it got).
func lastCheckpoint(t *testing.T, a *recAgent) ([]*mesos.Resource, int) {
	t.Helper()
	evs := a.take(agentproto.AgentEvent_CHECKPOINT_RESOURCES)
	if len(evs) == 0 {
		return nil, 0
	}
	return evs[len(evs)-1].GetCheckpointResources().GetResources(), len(evs)
}

// offeredVolume reports whether f was offered volume v1 in role db.
func offeredVolume(f *recFramework) bool {
	for _, o := range f.offers() {
		for _, r := range o.GetResources() {
			if r.GetDisk().GetPersistence().GetId() == "v1" && r.GetAllocationInfo().GetRole() == "db" {
				return true
			}
		}
	}
	return false
}

// reregisterWith sends REGISTER for agent a with --resources res and the
// checkpointed total cp on a new stream, which it returns.
func (h *harness) reregisterWith(old *recAgent, res string, cp []*mesos.Resource) *recAgent {
	h.t.Helper()
	h.seq++
	a := &recAgent{id: old.id, streamID: "agent-stream-" + itoa(h.seq)}
	var err error
	h.step(func(c *core) {
		_, err = c.registerAgent(a, a.streamID, &agentproto.AgentCall_Register{
			AgentInfo:             &mesos.AgentInfo{Hostname: proto.String("a"), Id: agentID(a.id), Resources: mustResources(h.t, res)},
			Endpoint:              proto.String("127.0.0.1:" + itoa(5050+h.seq)),
			CheckpointedResources: cp,
		})
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if got := a.take(agentproto.AgentEvent_REGISTERED); len(got) != 1 {
		h.t.Fatalf("agent got %d REGISTERED events", len(got))
	}
	return a
}

// TestCheckpointResources: RESERVE and CREATE send the agent its new
// total; an agent re-registering with that total (to this master or to a
// restarted one) keeps its reservation and its volume, offered to the
// role with the same persistence id; an agent that reports none is sent
// the master's view again.
func TestCheckpointResources(t *testing.T) {
	const flags = "cpus:4;mem:1024;disk:1000"
	h := newHarness(t)
	a := h.addAgent("a", flags)
	f := h.subscribe(multiRoleInfo("db"))
	vol := reserveAndCreate(t, h, f)

	cp, n := lastCheckpoint(t, a)
	if n != 2 {
		t.Fatalf("agent got %d CHECKPOINT_RESOURCES, want 2 (RESERVE, CREATE)", n)
	}
	total, err := parseResources(cp)
	if err != nil {
		t.Fatal(err)
	}
	if !total.Contains(vol) || !total.Equal(h.c.agents[a.id].total) {
		t.Fatalf("checkpointed total %v, master's total %v, want the volume %v", total, h.c.agents[a.id].total, vol)
	}
	if !baseResources(total).Equal(baseResources(mustParse(t, flags))) {
		t.Fatalf("checkpointed total %v does not add up to %s", total, flags)
	}

	// The agent comes back to the same master with its checkpoint: no
	// resend, and the volume is offered again.
	f.events = nil
	a = h.reregisterWith(a, flags, cp)
	if _, n := lastCheckpoint(t, a); n != 0 {
		t.Fatalf("agent reporting the master's view got %d CHECKPOINT_RESOURCES", n)
	}
	if !offeredVolume(f) {
		t.Fatal("volume v1 not offered to role db after re-registration")
	}

	// An agent that lost its checkpoint gets the master's view again.
	a = h.reregisterWith(a, flags, nil)
	got, n := lastCheckpoint(t, a)
	if n != 1 || !mustParseProto(t, got).Equal(total) {
		t.Fatalf("agent without checkpoint got %d CHECKPOINT_RESOURCES (%v), want the master's view %v", n, got, total)
	}

	// A restarted master takes the agent's checkpointed total, and its
	// registry now records it.
	reg := h.c.reg
	h.restart(reg)
	st, err := reg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if rec := mustParseProto(t, st.Agents[a.id].GetInfo().GetResources()); !rec.Equal(total) {
		t.Fatalf("registry records %v, want %v", rec, total)
	}
	// An agent without a checkpoint gets the registry's record.
	a = h.reregisterWith(a, flags, nil)
	if got, n := lastCheckpoint(t, a); n != 1 || !mustParseProto(t, got).Equal(total) {
		t.Fatalf("agent without checkpoint after a master restart got %d CHECKPOINT_RESOURCES (%v), want %v", n, got, total)
	}
	h.restart(reg)
	a = h.reregisterWith(a, flags, cp)
	if !h.c.agents[a.id].total.Equal(total) {
		t.Fatalf("total after master restart %v, want %v", h.c.agents[a.id].total, total)
	}
	if _, n := lastCheckpoint(t, a); n != 0 {
		t.Fatalf("agent reporting its checkpoint to a restarted master got %d CHECKPOINT_RESOURCES", n)
	}
	f2 := &recFramework{streamID: "fw-stream-restarted"}
	info := multiRoleInfo("db")
	info.User, info.Name, info.Id = proto.String("tester"), proto.String("test"), frameworkID(f.id)
	h.step(func(c *core) { c.subscribe(f2, f2.streamID, &schedpb.Call_Subscribe{FrameworkInfo: info}) })
	if !offeredVolume(f2) {
		t.Fatalf("volume v1 not offered to role db after a master restart: %v", f2.events)
	}

	// DESTROY and UNRESERVE from the operator API send the new total.
	h.step(func(c *core) {
		for _, o := range sortOffers(c.agents[a.id].offers) {
			c.rescindOffer(o)
		}
		err = c.operatorConvert(a.id, mesos.Offer_Operation_DESTROY, resources.ToProto(vol, resources.FormatPostRefinement))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, n = lastCheckpoint(t, a)
	if n != 1 || mustParseProto(t, got).PersistentVolumes().Len() != 0 {
		t.Fatalf("after DESTROY: %d CHECKPOINT_RESOURCES, total %v", n, got)
	}
}

func mustParse(t *testing.T, s string) resources.Resources {
	t.Helper()
	r, err := resources.Parse(s, "*")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustParseProto(t *testing.T, pb []*mesos.Resource) resources.Resources {
	t.Helper()
	r, err := parseResources(pb)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
