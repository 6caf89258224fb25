package v1_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	agentpb "github.com/mezzo-project/mezzo/api/v1/agent"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/limits"
)

// FuzzCallsProtobuf decodes protobuf executor, operator (master's and
// agent's) calls as the agent and the master read them, the first byte
// choosing which, and checks them against Mezzo's bounds: no input
// panics, and a call that decodes encodes to bytes that decode to the
// same encoding.
func FuzzCallsProtobuf(f *testing.F) {
	seeds := []proto.Message{
		&execpb.Call{Type: execpb.Call_UPDATE.Enum(), ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
			Update: &execpb.Call_Update{Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_RUNNING.Enum(), Data: []byte("d")}}},
		&masterpb.Call{Type: masterpb.Call_READ_FILE.Enum(), ReadFile: &masterpb.Call_ReadFile{Path: proto.String("/master/log"), Offset: proto.Uint64(0)}},
		&agentpb.Call{Type: agentpb.Call_LIST_FILES.Enum(), ListFiles: &agentpb.Call_ListFiles{Path: proto.String("/slave")}},
	}
	for i, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(i)}, b...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		var call proto.Message
		switch data[0] % 3 {
		case 0:
			call = &execpb.Call{}
		case 1:
			call = &masterpb.Call{}
		default:
			call = &agentpb.Call{}
		}
		if err := codec.Unmarshal(codec.Protobuf, data[1:], call); err != nil {
			return
		}
		_ = limits.Check("call", call)
		det := proto.MarshalOptions{Deterministic: true}
		first, err := det.Marshal(call)
		if err != nil {
			t.Fatalf("re-encoding a decoded call: %v", err)
		}
		back := call.ProtoReflect().New().Interface()
		if err := codec.Unmarshal(codec.Protobuf, first, back); err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		if again, _ := det.Marshal(back); string(again) != string(first) {
			t.Fatalf("round trip changed the call:\n%v\n%v", call, back)
		}
	})
}
