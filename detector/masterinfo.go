package detector

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Labels of the znodes masters create under the election path: Mesos
// writes MasterInfo as JSON under json.info_; masters before Mesos 0.24
// wrote it as protobuf under info_, which detectors still read.
const (
	jsonLabel   = "json.info_"
	legacyLabel = "info_"
)

// EncodeMasterInfo returns info in the JSON form Mesos writes into its
// election znodes: Mesos' JSON mapping of MasterInfo with the keys of
// every object in sorted order, compact. It fails when a field MasterInfo
// requires (id, ip, port) is missing.
func EncodeMasterInfo(info *mesos.MasterInfo) ([]byte, error) {
	if err := proto.CheckInitialized(info); err != nil {
		return nil, fmt.Errorf("encoding MasterInfo: %w", err)
	}
	b, err := codec.Marshal(codec.JSON, info)
	if err != nil {
		return nil, fmt.Errorf("encoding MasterInfo: %w", err)
	}
	// Mesos writes JSON objects with sorted keys; re-encoding through
	// generic maps sorts them, and json.Number keeps numbers as written.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("encoding MasterInfo: re-reading its JSON: %w", err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding MasterInfo: %w", err)
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

// decodeMasterInfo reads the data of an election znode by its label.
func decodeMasterInfo(label string, data []byte) (*mesos.MasterInfo, error) {
	info := &mesos.MasterInfo{}
	switch label {
	case jsonLabel:
		if err := codec.Unmarshal(codec.JSON, data, info); err != nil {
			return nil, fmt.Errorf("decoding MasterInfo JSON: %w", err)
		}
	case legacyLabel:
		if err := proto.Unmarshal(data, info); err != nil {
			return nil, fmt.Errorf("decoding MasterInfo protobuf: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown election label %q", label)
	}
	return info, nil
}

// PackIP returns an IPv4 address as MasterInfo.ip stores it: the four
// bytes in network order read as a little-endian uint32, so 127.0.0.1 is
// 16777343. It returns 0 for an address that is not IPv4.
func PackIP(ip net.IP) uint32 {
	v4 := ip.To4()
	if v4 == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v4)
}

// UnpackIP is the inverse of PackIP.
func UnpackIP(v uint32) net.IP {
	ip := make(net.IP, 4)
	binary.LittleEndian.PutUint32(ip, v)
	return ip
}

// LeaderAddress returns the "host:port" at which the master described by
// info serves: its hostname when it has one, else its IP address. It
// returns "" for nil.
func LeaderAddress(info *mesos.MasterInfo) string {
	if info == nil {
		return ""
	}
	port := info.GetAddress().GetPort()
	if port == 0 {
		port = int32(info.GetPort())
	}
	host := info.GetAddress().GetHostname()
	if host == "" {
		host = info.GetHostname()
	}
	if host == "" {
		host = info.GetAddress().GetIp()
	}
	if host == "" && info.Ip != nil {
		host = UnpackIP(info.GetIp()).String()
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// fixedMasterInfo describes the fixed master of a host:port URL, as Mesos
// describes a master it knows only by its address.
func fixedMasterInfo(hostport string) *mesos.MasterInfo {
	host, portStr, _ := net.SplitHostPort(hostport)
	port, _ := strconv.Atoi(portStr)
	pid := "master@" + hostport
	info := &mesos.MasterInfo{
		Id:       proto.String(pid),
		Port:     proto.Uint32(uint32(port)),
		Pid:      proto.String(pid),
		Hostname: proto.String(host),
		Address:  &mesos.Address{Hostname: proto.String(host), Port: proto.Int32(int32(port))},
	}
	var ip uint32
	if parsed := net.ParseIP(host); parsed != nil {
		ip = PackIP(parsed)
		info.Address.Ip = proto.String(parsed.String())
	}
	info.Ip = proto.Uint32(ip)
	return info
}
