package master

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
)

// benchCluster is a core with agents agents, each running tasksPerAgent
// tasks of one of ten frameworks, learned as a restarted master learns
// them: from the agents' re-registrations.
func benchCluster(b *testing.B, agents, tasksPerAgent int) *core {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "m", "127.0.0.1", "in_memory"
	info, err := masterInfo(cfg, "M")
	if err != nil {
		b.Fatal(err)
	}
	c := newCore(cfg, discardLogger, &fakeClock{t: time.Unix(1e9, 0)}, info, registry.NewMemory())
	var frameworks []*mesos.FrameworkInfo
	for f := 0; f < 10; f++ {
		frameworks = append(frameworks, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String(fmt.Sprintf("f%d", f)),
			Id: frameworkID(fmt.Sprintf("F-%04d", f))})
	}
	for i := 0; i < agents; i++ {
		id := fmt.Sprintf("A-S%d", i)
		reg := &agentproto.AgentCall_Register{
			AgentInfo:  &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("h%d", i)), Id: agentID(id), Resources: benchResources},
			Endpoint:   proto.String(fmt.Sprintf("10.0.%d.%d:5051", i/250, i%250+1)),
			Frameworks: frameworks,
		}
		for j := 0; j < tasksPerAgent; j++ {
			fw := frameworks[(i+j)%len(frameworks)]
			reg.Tasks = append(reg.Tasks, &mesos.Task{
				Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("t-%d-%d", i, j))},
				FrameworkId: fw.Id, AgentId: agentID(id), State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: benchTaskResources,
				Statuses: []*mesos.TaskStatus{{TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("t-%d-%d", i, j))},
					State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(float64(1e9 + i*tasksPerAgent + j))}},
			})
		}
		if _, err := c.registerAgent(&recAgent{streamID: "s"}, fmt.Sprint(i), reg); err != nil {
			b.Fatal(err)
		}
	}
	c.flush()
	return c
}

// BenchmarkStateDocuments measures building and encoding the master's views
// of a cluster of 1,000 agents running 10,000 tasks: the JSON documents
// tools poll and the operator API's GET_STATE. "build" is the part that
// holds the core goroutine; "encode" runs after it has moved on.
//
//	go test ./master -run '^$' -bench StateDocuments -benchtime 10x
func BenchmarkStateDocuments(b *testing.B) {
	c := benchCluster(b, 1000, 10)
	legacyJSON := func(v any) ([]byte, error) { return legacy.Marshal(v) }
	operator := func(f codec.Format) func(v any) ([]byte, error) {
		return func(v any) ([]byte, error) {
			rec := httptest.NewRecorder()
			resp := &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum(), GetState: v.(*masterpb.Response_GetState)}
			err := respondState(rec, f, resp)
			return rec.Body.Bytes(), err
		}
	}
	for _, d := range []struct {
		name   string
		build  func() any
		encode func(any) ([]byte, error)
	}{
		{"master-state", func() any { return c.state() }, legacyJSON},
		{"state-summary", func() any { return c.stateSummary() }, legacyJSON},
		{"tasks-limit-100", func() any { return c.tasks(taskQuery{limit: defaultTaskLimit}) }, legacyJSON},
		{"GET_STATE-json", func() any { return c.getState() }, operator(codec.JSON)},
		{"GET_STATE-protobuf", func() any { return c.getState() }, operator(codec.Protobuf)},
	} {
		b.Run(d.name+"/build", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				d.build()
			}
		})
		b.Run(d.name+"/build+encode", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				out, err := d.encode(d.build())
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
			}
		})
	}
}
