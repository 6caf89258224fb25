package master

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/resources"
)

// TestReservationWhileReregistrationIsRecorded: a known agent
// re-registers and its record is written (the master's total, with a
// reservation made since, differs from the registry's); the operator
// reserves more of it before that write is durable. The re-registration,
// once durable, must not take the master back to the total it read when
// it arrived: the second reservation stays in the master's books and the
// agent, on its new stream, is sent the total that holds it.
func TestReservationWhileReregistrationIsRecorded(t *testing.T) {
	const flags = "cpus:4;mem:1024;disk:1000"
	h := newHarness(t)
	a := h.addAgent("a", flags)
	reserve := func(s string) resources.Resources {
		t.Helper()
		r, err := resources.Parse(s, "*")
		if err != nil {
			t.Fatal(err)
		}
		reserved, err := r.PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "db"})
		if err != nil {
			t.Fatal(err)
		}
		var opErr error
		h.step(func(c *core) {
			opErr = c.operatorConvert(a.id, mesos.Offer_Operation_RESERVE, resources.ToProto(reserved, resources.FormatPostRefinement))
		})
		if opErr != nil {
			t.Fatal(opErr)
		}
		return reserved
	}
	reserve("cpus:1")
	cp, _ := lastCheckpoint(t, a)
	h.c.writes.inline = false

	// The agent comes back with its checkpoint; the registry still holds
	// the total without the reservation, so the record is written.
	h.seq++
	b := &recAgent{id: a.id, streamID: "agent-stream-again"}
	var err error
	h.step(func(c *core) {
		_, err = c.registerAgent(b, b.streamID, &agentproto.AgentCall_Register{
			AgentInfo:             &mesos.AgentInfo{Hostname: proto.String("a"), Id: agentID(a.id), Resources: mustResources(t, flags)},
			Endpoint:              proto.String("127.0.0.1:6000"),
			CheckpointedResources: cp,
		})
	})
	p := pendingAnswer(t, err)
	second := reserve("mem:256")
	want := h.c.agents[a.id].total
	if !want.Contains(second) {
		t.Fatalf("total %v without the second reservation %v", want, second)
	}
	h.commitAll()
	if p.err != nil {
		t.Fatalf("re-registration: %v", p.err)
	}
	if len(b.take(agentproto.AgentEvent_REGISTERED)) != 1 {
		t.Fatalf("re-registration not answered: %v", b.events)
	}
	if got := h.c.agents[a.id].total; !got.Equal(want) {
		t.Errorf("master's total after the re-registration %v, want %v (the second reservation kept)", got, want)
	}
	if got, n := lastCheckpoint(t, b); n == 0 || !mustParseProto(t, got).Equal(want) {
		t.Errorf("agent on its new stream got %d CHECKPOINT_RESOURCES (last %v), want the total %v", n, got, want)
	}
	// The registry learns the total at the next re-registration at the
	// latest: the master must not believe it recorded what it did not.
	if h.c.agents[a.id].recorded.Equal(want) {
		st, err := h.c.reg.Recover()
		if err != nil {
			t.Fatal(err)
		}
		if rec := mustParseProto(t, st.Agents[a.id].GetInfo().GetResources()); !rec.Equal(want) {
			t.Errorf("master believes the registry holds %v, it holds %v", want, rec)
		}
	}
}
