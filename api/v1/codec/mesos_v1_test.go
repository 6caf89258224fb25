package codec

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// TestMesosV1LeavesOutWhatMesosV1Lacks: in the v1 APIs' JSON a master
// capability of type QUOTA_V2 is {} and Linux capabilities newer than
// Mesos 1.11 are left out of lists, as Mesos 1.11.1 writes them
// (scheduler_events_json.jsonl, operator_GET_MASTER.json); the default
// JSON (ZooKeeper's MasterInfo, v0 documents) and protobuf keep them.
func TestMesosV1LeavesOutWhatMesosV1Lacks(t *testing.T) {
	mi := &mesos.MasterInfo{Id: proto.String("m"), Ip: proto.Uint32(1), Port: proto.Uint32(5050), Capabilities: []*mesos.MasterInfo_Capability{
		{Type: mesos.MasterInfo_Capability_AGENT_UPDATE.Enum()},
		{Type: mesos.MasterInfo_Capability_QUOTA_V2.Enum()},
	}}
	b, err := MarshalV1(JSON, mi)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"capabilities":[{"type":"AGENT_UPDATE"},{}]`; !strings.Contains(string(b), want) {
		t.Errorf("v1 JSON %s, want %s", b, want)
	}
	if b, _ := MarshalJSON(mi); !strings.Contains(string(b), `{"type":"QUOTA_V2"}`) {
		t.Errorf("default JSON %s lost QUOTA_V2", b)
	}
	pb, err := MarshalV1(Protobuf, mi)
	if err != nil {
		t.Fatal(err)
	}
	back := &mesos.MasterInfo{}
	if err := proto.Unmarshal(pb, back); err != nil || back.GetCapabilities()[1].GetType() != mesos.MasterInfo_Capability_QUOTA_V2 {
		t.Errorf("protobuf lost QUOTA_V2: %v %v", back, err)
	}

	ci := &mesos.CapabilityInfo{Capabilities: []mesos.CapabilityInfo_Capability{
		mesos.CapabilityInfo_CHOWN, mesos.CapabilityInfo_PERFMON, mesos.CapabilityInfo_BPF, mesos.CapabilityInfo_KILL,
	}}
	if b, _ := MarshalV1(JSON, ci); string(b) != `{"capabilities":["CHOWN","KILL"]}` {
		t.Errorf("v1 JSON of capabilities: %s", b)
	}
	rs := &mesos.ResourceStatistics{Timestamp: proto.Float64(1), MemKmemUsageBytes: proto.Uint64(5)}
	if b, _ := MarshalV1(JSON, rs); strings.Contains(string(b), "kmem") {
		t.Errorf("v1 JSON of statistics has a field Mesos 1.11 lacks: %s", b)
	}
}
