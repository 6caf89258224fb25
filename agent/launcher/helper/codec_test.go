package helper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"syscall"
)

// Every field of a request, and the difference between a nil and an
// empty list (an empty Effective drops every capability, a nil one
// leaves them), survive the encoding.
func TestRequestRoundTrip(t *testing.T) {
	full := &Request{
		Path: "/bin/sh", Argv: []string{"sh", "-c", "echo ünïcode\x00 and bytes"}, Env: []string{"A=1", "B="},
		Dir: "/sandbox", Namespaces: unix.CLONE_NEWPID | unix.CLONE_NEWNS,
		Mounts:        []Mount{{Source: "/a", Target: "/b", ReadOnly: true}, {Target: "/tmp", Type: "tmpfs", Data: "mode=1777"}},
		User:          &User{Name: "nobody", UID: 65534, GID: 65534, Groups: []uint32{1, 1 << 31}, Home: "/nonexistent"},
		Rlimits:       []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 10, Hard: RlimInfinity}, {Resource: -1}},
		Capabilities:  &Capabilities{Bounding: []string{"NET_RAW"}, Effective: []string{}},
		DieWithParent: true,
		Rootfs:        &Rootfs{Dir: "/r", Overlay: "lowerdir=/l", Sandbox: "/s", HostExecutable: true},
	}
	for _, req := range []*Request{full, {}, {Argv: []string{}, Mounts: []Mount{}, Rlimits: []Rlimit{}, User: &User{Groups: []uint32{}},
		Capabilities: &Capabilities{}}} {
		got, err := DecodeRequest(EncodeRequest(req))
		if err != nil {
			t.Fatalf("decode %+v: %v", req, err)
		}
		if !reflect.DeepEqual(got, req) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, req)
		}
	}
}

// Anything but a whole request is refused with an error: every
// truncation, trailing bytes, another version, lengths past the end.
func TestDecodeRequestRefuses(t *testing.T) {
	b := EncodeRequest(&Request{Path: "/bin/true", Argv: []string{"true"}, Env: []string{"PATH=/bin"},
		User: &User{Name: "u", Groups: []uint32{1}}, Rlimits: []Rlimit{{Resource: 7, Soft: 1, Hard: 2}},
		Capabilities: &Capabilities{Bounding: []string{"CHOWN"}}, Rootfs: &Rootfs{Dir: "/r"}})
	for i := range len(b) {
		if _, err := DecodeRequest(b[:i]); err == nil {
			t.Errorf("the first %d of %d bytes were taken for a request", i, len(b))
		}
	}
	for name, bad := range map[string][]byte{
		"trailing bytes": append(slices.Clone(b), 0),
		"other version":  append([]byte{requestVersion + 1}, b[1:]...),
		"huge list":      {requestVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge string":    {requestVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad bool":       append(EncodeRequest(&Request{})[:len(EncodeRequest(&Request{}))-1], 2),
	} {
		if _, err := DecodeRequest(bad); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// The numbers the helper defines for itself are the kernel's, as
// golang.org/x/sys/unix has them for this architecture.
func TestSysConstants(t *testing.T) {
	for name, c := range map[string][2]int{
		"PR_SET_PDEATHSIG":         {prSetPdeathsig, unix.PR_SET_PDEATHSIG},
		"PR_SET_KEEPCAPS":          {prSetKeepcaps, unix.PR_SET_KEEPCAPS},
		"PR_CAPBSET_DROP":          {prCapbsetDrop, unix.PR_CAPBSET_DROP},
		"PR_CAP_AMBIENT":           {prCapAmbient, unix.PR_CAP_AMBIENT},
		"PR_CAP_AMBIENT_RAISE":     {prCapAmbientRaise, unix.PR_CAP_AMBIENT_RAISE},
		"PR_CAP_AMBIENT_CLEAR_ALL": {prCapAmbientClearAll, unix.PR_CAP_AMBIENT_CLEAR_ALL},
		"LINUX_CAPABILITY_V3":      {linuxCapabilityVersion3, unix.LINUX_CAPABILITY_VERSION_3},
		"RLMT_AS":                  {RlimitResources["RLMT_AS"], unix.RLIMIT_AS},
		"RLMT_CORE":                {RlimitResources["RLMT_CORE"], unix.RLIMIT_CORE},
		"RLMT_CPU":                 {RlimitResources["RLMT_CPU"], unix.RLIMIT_CPU},
		"RLMT_DATA":                {RlimitResources["RLMT_DATA"], unix.RLIMIT_DATA},
		"RLMT_FSIZE":               {RlimitResources["RLMT_FSIZE"], unix.RLIMIT_FSIZE},
		"RLMT_LOCKS":               {RlimitResources["RLMT_LOCKS"], unix.RLIMIT_LOCKS},
		"RLMT_MEMLOCK":             {RlimitResources["RLMT_MEMLOCK"], unix.RLIMIT_MEMLOCK},
		"RLMT_MSGQUEUE":            {RlimitResources["RLMT_MSGQUEUE"], unix.RLIMIT_MSGQUEUE},
		"RLMT_NICE":                {RlimitResources["RLMT_NICE"], unix.RLIMIT_NICE},
		"RLMT_NOFILE":              {RlimitResources["RLMT_NOFILE"], unix.RLIMIT_NOFILE},
		"RLMT_NPROC":               {RlimitResources["RLMT_NPROC"], unix.RLIMIT_NPROC},
		"RLMT_RSS":                 {RlimitResources["RLMT_RSS"], unix.RLIMIT_RSS},
		"RLMT_RTPRIO":              {RlimitResources["RLMT_RTPRIO"], unix.RLIMIT_RTPRIO},
		"RLMT_RTTIME":              {RlimitResources["RLMT_RTTIME"], unix.RLIMIT_RTTIME},
		"RLMT_SIGPENDING":          {RlimitResources["RLMT_SIGPENDING"], unix.RLIMIT_SIGPENDING},
		"RLMT_STACK":               {RlimitResources["RLMT_STACK"], unix.RLIMIT_STACK},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %d, the kernel's is %d", name, c[0], c[1])
		}
	}
	if len(RlimitResources) != 16 {
		t.Errorf("%d rlimits, want 16", len(RlimitResources))
	}
}

// The helper's package imports none of the packages that Go initializes
// only after most of the binary's (see init): strings, and through it
// encoding/json and golang.org/x/sys/unix; unicode, and through it
// reflect, fmt and encoding/binary; path/filepath and os/exec.
func TestHelperStartsEarly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, late := range []string{"strings", "encoding/json", "golang.org/x/sys/unix", "unicode", "reflect", "fmt",
		"encoding/binary", "path/filepath", "os/exec"} {
		if slices.Contains(deps, late) {
			t.Errorf("the helper depends on %s", late)
		}
	}
}

// The string helpers do what the strings functions they replace do.
func TestText(t *testing.T) {
	for _, s := range []string{"", "a", "a:b", ":a::b:", "/usr/bin:/bin"} {
		if got, want := split(s, ':'), strings.Split(s, ":"); !slices.Equal(got, want) {
			t.Errorf("split(%q) = %q, want %q", s, got, want)
		}
	}
	for _, s := range []string{"", " x ", "\t\n x y \r\n", "   "} {
		if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
			t.Errorf("trimSpace(%q) = %q, want %q", s, got, want)
		}
	}
	if got := toUpperASCII("cap_Net_raw"); got != "CAP_NET_RAW" {
		t.Errorf("toUpperASCII = %q", got)
	}
	if v, ok := cutPrefix("PATH=/bin", "PATH="); !ok || v != "/bin" {
		t.Errorf("cutPrefix = %q, %v", v, ok)
	}
	if _, ok := cutPrefix("PAT", "PATH="); ok {
		t.Error("cutPrefix of a shorter string")
	}
	if trimRightByte("/a//", '/') != "/a" || lastIndexByte("/a/b", '/') != 2 || indexByte("ab", 'c') != -1 {
		t.Error("trimRightByte, lastIndexByte or indexByte")
	}
}

// errorf words what the helper formats as fmt.Errorf does, and wraps its
// %w argument.
func TestErrorf(t *testing.T) {
	errno := syscall.EPERM
	for _, c := range []struct {
		format string
		args   []any
	}{
		{"mount %s (%s) on %s: %w", []any{"proc", "proc", "/proc", errno}},
		{"executable %q not found in PATH %q", []any{"a b\"c", "/bin:/usr/bin\n"}},
		{"switch to user %q: setgroups %v: %w", []any{"nobody", []uint32{1, 2}, errno}},
		{"set capabilities %v: %w", []any{[]string{"CAP_CHOWN", "CAP_KILL"}, errno}},
		{"capability %q is not supported by this kernel (last is %d)", []any{"BPF", 38}},
		{"request of %d bytes is too large", []any{uint32(1 << 30)}},
		{"setuid %d, limit %d, 100%%, %v", []any{uint32(65534), uint64(math.MaxUint64), errors.New("x")}},
		{"no argument: %s", nil},
	} {
		got, want := errorf(c.format, c.args...), fmt.Errorf(c.format, c.args...)
		if got.Error() != want.Error() {
			t.Errorf("errorf(%q) = %q, want %q", c.format, got, want)
		}
		if errors.Is(want, errno) != errors.Is(got, errno) {
			t.Errorf("errorf(%q) wraps %v: %v, want %v", c.format, errno, errors.Is(got, errno), errors.Is(want, errno))
		}
	}
}

// The helper's number encodings are encoding/binary's.
func TestNumberEncodings(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<32 - 1, 1 << 63, math.MaxUint64} {
		got := appendUvarint(nil, v)
		if want := binary.AppendUvarint(nil, v); !slices.Equal(got, want) {
			t.Errorf("appendUvarint(%d) = %x, want %x", v, got, want)
		}
		if d, n := uvarint(got); d != v || n != len(got) {
			t.Errorf("uvarint(%x) = %d, %d", got, d, n)
		}
	}
	for _, v := range []int64{0, -1, 1, -64, 64, math.MinInt64, math.MaxInt64} {
		got := appendVarint(nil, v)
		if want := binary.AppendVarint(nil, v); !slices.Equal(got, want) {
			t.Errorf("appendVarint(%d) = %x, want %x", v, got, want)
		}
		if d, n := varint(got); d != v || n != len(got) {
			t.Errorf("varint(%x) = %d, %d", got, d, n)
		}
	}
	for _, b := range [][]byte{nil, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		v1, n1 := uvarint(b)
		v2, n2 := binary.Uvarint(b)
		if v1 != v2 || n1 != n2 {
			t.Errorf("uvarint(%x) = %d, %d; binary.Uvarint: %d, %d", b, v1, n1, v2, n2)
		}
	}
	var b [4]byte
	putBigEndianUint32(b[:], 0x01020304)
	if binary.BigEndian.Uint32(b[:]) != 0x01020304 || bigEndianUint32([]byte{4, 3, 2, 1}) != 0x04030201 {
		t.Errorf("big-endian: %x", b)
	}
}
