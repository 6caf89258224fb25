package master

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// BenchmarkSnapshotBuild measures what a snapshot costs the core goroutine
// on a cluster of 1,000 agents running 10,000 tasks: the first build
// (every task message cloned), a build when nothing changed (the clones
// reused), and a build after 100 tasks changed state, as between two
// builds of a busy master.
//
//	go test ./master -run '^$' -bench SnapshotBuild -benchtime 20x
func BenchmarkSnapshotBuild(b *testing.B) {
	c := benchCluster(b, 1000, 10)
	var live []*task
	for _, f := range c.sortedFrameworks() {
		live = append(live, sortedTasks(f.tasks)...)
	}
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var sc snapshotCopier
			if v := sc.freeze(c); len(v.agents) != 1000 {
				b.Fatalf("%d agents", len(v.agents))
			}
		}
	})
	var sc snapshotCopier
	sc.freeze(c)
	b.Run("unchanged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sc.freeze(c)
		}
	})
	b.Run("100-tasks-changed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			for j := 0; j < 100; j++ {
				t := live[(i*100+j)%len(live)]
				applyStatus(t.pb, &mesos.TaskStatus{TaskId: t.pb.GetTaskId(), State: mesos.TaskState_TASK_RUNNING.Enum(),
					Message: proto.String(fmt.Sprint(i))}, nil)
			}
			b.StartTimer()
			v := sc.freeze(c)
			if got := v.frameworks[live[i*100%len(live)].pb.GetFrameworkId().GetValue()]; got == nil {
				b.Fatal("framework missing")
			}
		}
	})
}
