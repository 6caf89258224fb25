package master

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// FuzzSchedulerCallProtobuf decodes protobuf scheduler calls as the
// master does (both the v1 API and the driver protocol carry them) and
// validates them: no input panics, and a call that decodes encodes and
// decodes again to an equal call.
func FuzzSchedulerCallProtobuf(f *testing.F) {
	for _, c := range []*schedpb.Call{
		{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Roles: []string{"a", "b/c"},
			Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}}}}},
		{Type: schedpb.Call_ACCEPT.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String("f")}, Accept: &schedpb.Call_Accept{
			OfferIds: []*mesos.OfferID{{Value: proto.String("o")}},
			Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{{
				Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t1")}, AgentId: &mesos.AgentID{Value: proto.String("a")},
				Command: &mesos.CommandInfo{Value: proto.String("true"), Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: proto.String("A"), Value: proto.String("b")}}}},
			}}}}}}},
		{Type: schedpb.Call_ACKNOWLEDGE.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String("f")}, Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: &mesos.AgentID{Value: proto.String("a")}, TaskId: &mesos.TaskID{Value: proto.String("t")}, Uuid: make([]byte, 16)}},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c schedpb.Call
		if err := codec.Unmarshal(codec.Protobuf, data, &c); err != nil {
			return
		}
		_ = validateSchedulerCall(&c)
		b, err := proto.Marshal(&c)
		if err != nil {
			t.Fatalf("re-encoding a decoded call: %v", err)
		}
		var back schedpb.Call
		if err := codec.Unmarshal(codec.Protobuf, b, &back); err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		// Compared encoded: a NaN decodes, and is not equal to itself.
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(&back)
		if err != nil {
			t.Fatal(err)
		}
		if first, _ := (proto.MarshalOptions{Deterministic: true}).Marshal(&c); string(first) != string(again) {
			t.Fatalf("round trip changed the call:\n%v\n%v", &c, &back)
		}
	})
}
