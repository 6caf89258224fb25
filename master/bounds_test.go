package master

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/limits"
)

// TestFieldBoundsNameRealFields: every bounded field exists, so that no
// bound is silently void.
func TestFieldBoundsNameRealFields(t *testing.T) {
	for name := range limits.FieldBounds {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, ok := d.(protoreflect.FieldDescriptor); !ok {
			t.Errorf("%s is not a field", name)
		}
	}
}

func TestCheckBounds(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	sub := func(fw *mesos.FrameworkInfo) *schedpb.Call {
		return &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: fw}}
	}
	ok := sub(&mesos.FrameworkInfo{Name: proto.String(long(limits.MaxNameBytes)), User: proto.String("u")})
	if err := limits.Check("call", ok); err != nil {
		t.Errorf("a name of %d bytes: %v", limits.MaxNameBytes, err)
	}
	for _, c := range []struct {
		call *schedpb.Call
		want string
	}{
		{sub(&mesos.FrameworkInfo{Name: proto.String(long(4 << 20)), User: proto.String("u")}), "'call.subscribe.framework_info.name' is 4194304 bytes; at most 1024"},
		{sub(&mesos.FrameworkInfo{Name: proto.String("n"), User: proto.String("u"), Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String(long(limits.MaxLabelValueBytes + 1))}}}}),
			"'call.subscribe.framework_info.labels.labels[0].value' is 16385 bytes"},
		{sub(&mesos.FrameworkInfo{Name: proto.String("n"), User: proto.String("u"), Roles: make([]string, limits.MaxListEntries+1)}), "'call.subscribe.framework_info.roles' has 100001 entries"},
		{&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{Operations: []*mesos.Offer_Operation{{
			Launch: &mesos.Offer_Operation_Launch{TaskInfos: make([]*mesos.TaskInfo, limits.MaxLaunchTasks+1)}}}}}, "task_infos' has 10001 entries"},
		{&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{Operations: []*mesos.Offer_Operation{{
			Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{{Name: proto.String(long(2000))}}}}}}}, "'call.accept.operations[0].launch.task_infos[0].name' is 2000 bytes"},
	} {
		err := limits.Check("call", c.call)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// TestHugeFrameworkNameRefused: a SUBSCRIBE with a 4 MiB name is a 400
// naming the field, and no framework appears.
func TestHugeFrameworkNameRefused(t *testing.T) {
	_, srv := testMaster(t)
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"` + strings.Repeat("n", 4<<20) + `"}}}`
	resp, err := http.Post(srv.URL+"/api/v1/scheduler", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg bytes.Buffer
	msg.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg.String(), "framework_info.name' is 4194304 bytes") {
		t.Fatalf("%d %q", resp.StatusCode, msg.String())
	}
}

// TestEnvironmentNamesCannotInject: a variable named "A=B" or holding a
// NUL would set another variable than the one named.
func TestEnvironmentNamesCannotInject(t *testing.T) {
	env := func(name, value string) *mesos.Environment {
		return &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: proto.String(name), Value: proto.String(value), Type: mesos.Environment_Variable_VALUE.Enum()}}}
	}
	for _, c := range []struct{ name, value, want string }{
		{"PATH=/evil:", "x", "is invalid"},
		{"", "x", "is invalid"},
		{"A\x00B", "x", "is invalid"},
		{"A", "x\x00LD_PRELOAD=/evil.so", "holding NUL"},
	} {
		if err := validateEnvironment(env(c.name, c.value)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q=%q: %v, want %q", c.name, c.value, err, c.want)
		}
	}
	if err := validateEnvironment(env("GOOD_NAME", "a=b c")); err != nil {
		t.Errorf("a valid variable: %v", err)
	}
}
