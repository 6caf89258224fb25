package codec

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Mezzo's .proto files define a few enum values and fields that Mesos
// 1.11's v1 .proto files do not: values Mesos has only in its v0 protos
// (its v1 answers are v0 messages converted by reserializing, which turns
// such a value into an unknown field) and ones later Mesos versions added.
// Mesos 1.11 keeps them as unknown fields, so its protobuf answers carry
// them and its JSON answers leave them out: a capability of type QUOTA_V2
// is {"type":"QUOTA_V2"} in /master/state and ZooKeeper but {} in
// SUBSCRIBED and GET_MASTER. JSONOptions.MesosV1 writes JSON that way.

// v1LacksEnumValues are the enum values, by enum, that Mesos 1.11's v1
// protos lack.
var v1LacksEnumValues = map[protoreflect.FullName][]protoreflect.Name{
	// v0 only (MasterInfo.Capability.Type in mesos.proto).
	"mesos.v1.MasterInfo.Capability.Type": {"QUOTA_V2"},
	// Linux capabilities added after Mesos 1.11.
	"mesos.v1.CapabilityInfo.Capability": {"PERFMON", "BPF", "CHECKPOINT_RESTORE"},
}

// v1LacksFields are the fields Mesos 1.11's v1 protos lack.
var v1LacksFields = []protoreflect.FullName{
	// Statistics added after Mesos 1.11.
	"mesos.v1.ResourceStatistics.net_tx_rate_limit",
	"mesos.v1.ResourceStatistics.net_tx_burst_rate_limit",
	"mesos.v1.ResourceStatistics.net_tx_burst_size",
	"mesos.v1.ResourceStatistics.net_rx_rate_limit",
	"mesos.v1.ResourceStatistics.net_rx_burst_rate_limit",
	"mesos.v1.ResourceStatistics.net_rx_burst_size",
	"mesos.v1.ResourceStatistics.mem_kmem_usage_bytes",
	"mesos.v1.ResourceStatistics.mem_kmem_tcp_usage_bytes",
	"mesos.v1.ResourceStatistics.net_rate_statistics",
	"mesos.v1.ResourceStatistics.net_ephemeral_ports",
}

// lacksEnum and lacksField index the tables above.
var (
	lacksEnum  = map[protoreflect.FullName]map[protoreflect.Name]bool{}
	lacksField = map[protoreflect.FullName]bool{}
)

func init() {
	for e, names := range v1LacksEnumValues {
		m := map[protoreflect.Name]bool{}
		for _, n := range names {
			m[n] = true
		}
		lacksEnum[e] = m
	}
	for _, f := range v1LacksFields {
		lacksField[f] = true
	}
}

// mesosV1LacksField reports whether Mesos 1.11's v1 protos lack field fd.
func mesosV1LacksField(fd protoreflect.FieldDescriptor) bool {
	return lacksField[fd.FullName()]
}

// mesosV1LacksValue reports whether Mesos 1.11's v1 protos lack value v
// of enum field fd (a value Mezzo's enum does not name either counts as
// lacking: Mesos would not know it).
func mesosV1LacksValue(fd protoreflect.FieldDescriptor, v protoreflect.EnumNumber) bool {
	ev := fd.Enum().Values().ByNumber(v)
	return ev == nil || lacksEnum[fd.Enum().FullName()][ev.Name()]
}

// MarshalV1 encodes m as Mesos 1.11's v1 HTTP APIs write it: protobuf as
// Marshal does, JSON with JSONOptions.MesosV1.
func MarshalV1(f Format, m proto.Message) ([]byte, error) {
	if f == Protobuf {
		return Marshal(f, m)
	}
	b, err := JSONOptions{MesosV1: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// AppendV1JSON appends m's JSON as Mesos 1.11's v1 APIs write it
// (JSONOptions.MesosV1) to b.
func AppendV1JSON(b []byte, m proto.Message) ([]byte, error) {
	return JSONOptions{MesosV1: true}.Append(b, m)
}
