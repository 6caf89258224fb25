package limits

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// A call within its bounds is checked without building any path (what is
// left are protoreflect's own per-message and per-list values: 14 here,
// against 27 when every field's path was built on the way); one past a
// bound is named by its full path.
func TestCheckAllocatesOnlyForAnError(t *testing.T) {
	ok := &mesos.TaskInfo{Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
		Resources: []*mesos.Resource{{Name: proto.String("cpus")}, {Name: proto.String("mem")}},
		Labels:    &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v")}}}}
	if n := testing.AllocsPerRun(100, func() {
		if err := Check("task", ok); err != nil {
			t.Fatal(err)
		}
	}); n > 16 {
		t.Errorf("Check of a valid message made %v allocations, want at most 16", n)
	}
	bad := proto.Clone(ok).(*mesos.TaskInfo)
	bad.Labels.Labels = append(bad.Labels.Labels, &mesos.Label{Key: proto.String(strings.Repeat("k", MaxNameBytes+1))})
	err := Check("task", bad)
	want := "'task.labels.labels[1].key' is 1025 bytes; at most 1024 are accepted"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}
