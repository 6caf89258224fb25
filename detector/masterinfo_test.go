package detector

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// readSample returns a znode recorded from a Mesos 1.11.1 master.
func readSample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/zookeeper_json.info_0000000001.json")
	if err != nil {
		t.Fatalf("reading the recorded znode: %v", err)
	}
	return bytes.TrimSpace(b)
}

func TestEncodeMasterInfoMatchesMesos(t *testing.T) {
	sample := readSample(t)
	info, err := decodeMasterInfo(jsonLabel, sample)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EncodeMasterInfo(info)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sample) {
		t.Errorf("encoded:\n%s\nMesos wrote:\n%s", got, sample)
	}
	if info.GetIp() != 16777343 || !UnpackIP(info.GetIp()).Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("ip %d does not unpack to 127.0.0.1", info.GetIp())
	}
	if PackIP(net.ParseIP("127.0.0.1")) != 16777343 || PackIP(net.ParseIP("::1")) != 0 {
		t.Errorf("PackIP is not Mesos' packing")
	}
}

func TestEncodeMasterInfoNeedsRequiredFields(t *testing.T) {
	if _, err := EncodeMasterInfo(&mesos.MasterInfo{Id: proto.String("x")}); err == nil {
		t.Fatal("encoded a MasterInfo without ip and port")
	}
}

func TestDecodeLegacyProtobuf(t *testing.T) {
	want := testMasterInfo("legacy", 5050)
	b, _ := proto.Marshal(want)
	got, err := decodeMasterInfo(legacyLabel, b)
	if err != nil || !proto.Equal(got, want) {
		t.Fatalf("decode = %v, %v", got, err)
	}
}

func TestLeaderAddress(t *testing.T) {
	for _, c := range []struct {
		info *mesos.MasterInfo
		want string
	}{
		{nil, ""},
		{testMasterInfo("a", 5050), "localhost:5050"},
		{&mesos.MasterInfo{Ip: proto.Uint32(16777343), Port: proto.Uint32(5051), Address: &mesos.Address{Ip: proto.String("127.0.0.1"), Port: proto.Int32(5051)}}, "127.0.0.1:5051"},
		{&mesos.MasterInfo{Ip: proto.Uint32(PackIP(net.ParseIP("10.1.2.3"))), Port: proto.Uint32(5050)}, "10.1.2.3:5050"},
		{fixedMasterInfo("10.0.0.9:5050"), "10.0.0.9:5050"},
	} {
		if got := LeaderAddress(c.info); got != c.want {
			t.Errorf("LeaderAddress(%v) = %q, want %q", c.info, got, c.want)
		}
	}
	// A fixed master's MasterInfo is complete enough to encode.
	if _, err := codec.Marshal(codec.JSON, fixedMasterInfo("example.com:5050")); err != nil {
		t.Error(err)
	}
}

// testMasterInfo describes a master on 127.0.0.1 as Mesos would.
func testMasterInfo(id string, port uint32) *mesos.MasterInfo {
	return &mesos.MasterInfo{
		Id:       proto.String(id),
		Ip:       proto.Uint32(16777343),
		Port:     proto.Uint32(port),
		Pid:      proto.String("master@127.0.0.1:" + strconv.Itoa(int(port))),
		Hostname: proto.String("localhost"),
		Version:  proto.String("1.11.1"),
		Address:  &mesos.Address{Hostname: proto.String("localhost"), Ip: proto.String("127.0.0.1"), Port: proto.Int32(int32(port))},
		Capabilities: []*mesos.MasterInfo_Capability{
			{Type: mesos.MasterInfo_Capability_AGENT_UPDATE.Enum()},
		},
	}
}
