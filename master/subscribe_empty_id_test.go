package master

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// TestSubscribeWithEmptyFrameworkID: Mesos 1.11 treats a SUBSCRIBE whose
// framework id is empty ("framework_id":{"value":""}, or FrameworkInfo.id
// with an empty value) as a first subscription: validation lets an empty
// id through (validateFrameworkId in src/master/validation.cpp returns
// None for it) and Master::subscribe and _subscribe take
// `frameworkInfo.id() == ""` for "no id", assign a new FrameworkID and
// count messages_register_framework. It does not refuse it. Checked over
// HTTP in JSON and in protobuf, with the id in FrameworkInfo only and in
// both places.
func TestSubscribeWithEmptyFrameworkID(t *testing.T) {
	m, srv := testMaster(t)
	empty := func() *mesos.FrameworkID { return &mesos.FrameworkID{Value: proto.String("")} }
	seen := map[string]bool{}
	for _, c := range []struct {
		name   string
		format codec.Format
		call   *schedpb.Call
	}{
		{"json, both ids empty", codec.JSON, &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), FrameworkId: empty(),
			Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("a"), Id: empty()}}}},
		{"json, info id empty", codec.JSON, &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(),
			Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("b"), Id: empty()}}}},
		{"protobuf, both ids empty", codec.Protobuf, &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), FrameworkId: empty(),
			Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("c"), Id: empty()}}}},
		{"protobuf, info id empty", codec.Protobuf, &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(),
			Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("d"), Id: empty()}}}},
	} {
		body, err := codec.Marshal(c.format, c.call)
		if err != nil {
			t.Fatal(err)
		}
		if c.format == codec.JSON && c.call.FrameworkId != nil && !strings.Contains(string(body), `"framework_id":{"value":""}`) {
			t.Fatalf("%s: body %s", c.name, body)
		}
		resp := post(t, srv.URL+"/master/api/v1/scheduler", c.format.MediaType(), body, map[string]string{"Accept": c.format.MediaType()})
		if resp.StatusCode != 200 {
			resp.Body.Close()
			t.Fatalf("%s: %d, want 200 (Mesos subscribes it as a new framework)", c.name, resp.StatusCode)
		}
		s := &stream{t: t, resp: resp, r: recordio.NewReader(resp.Body, 4<<20), format: c.format}
		ev := &schedpb.Event{}
		s.next(ev)
		resp.Body.Close()
		id := ev.GetSubscribed().GetFrameworkId().GetValue()
		if ev.GetType() != schedpb.Event_SUBSCRIBED || id == "" || seen[id] {
			t.Fatalf("%s: first event %v, want SUBSCRIBED with a new framework id", c.name, ev)
		}
		seen[id] = true
	}
	snap, err := m.metrics(t.Context(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap["master/messages_register_framework"]; got != 4 {
		t.Errorf("messages_register_framework = %v, want 4", got)
	}
	if got := snap["master/messages_reregister_framework"]; got != 0 {
		t.Errorf("messages_reregister_framework = %v, want 0", got)
	}
}
