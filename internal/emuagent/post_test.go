package emuagent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// TestUpdatesDoNotHoldUpTheStream checks that an agent handed several
// tasks at once reports each of them running while the master has not
// answered any of its calls yet: its calls must not wait on the stream
// reader, nor one another.
func TestUpdatesDoNotHoldUpTheStream(t *testing.T) {
	const tasks = 5
	release := make(chan struct{})
	var updates atomic.Int32
	got := make(chan struct{}, tasks)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		call := &agentproto.AgentCall{}
		if err := proto.Unmarshal(body, call); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch call.GetType() {
		case agentproto.AgentCall_REGISTER:
			w.Header().Set("Mesos-Stream-Id", "s1")
			w.WriteHeader(http.StatusOK)
			rec := recordio.NewWriter(w)
			send := func(ev *agentproto.AgentEvent) {
				b, err := proto.Marshal(ev)
				if err != nil {
					t.Error(err)
				}
				rec.Write(b)
				w.(http.Flusher).Flush()
			}
			send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_REGISTERED.Enum(),
				Registered: &agentproto.AgentEvent_Registered{AgentId: &mesos.AgentID{Value: proto.String("a1")},
					MasterInfo: &mesos.MasterInfo{Id: proto.String("m1"), Ip: proto.Uint32(0), Port: proto.Uint32(5050)}}})
			for i := range tasks {
				id := "t" + string(rune('0'+i))
				send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_RUN_TASK.Enum(),
					RunTask: &agentproto.AgentEvent_RunTask{
						Framework: &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("f1")}, Name: proto.String("f"), User: proto.String("u")},
						Task: &mesos.TaskInfo{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
							AgentId: &mesos.AgentID{Value: proto.String("a1")}, Command: &mesos.CommandInfo{Value: proto.String("sleep 100")}},
					}})
			}
			<-r.Context().Done()
		case agentproto.AgentCall_STATUS_UPDATE:
			if call.GetStatusUpdate().GetStatus().GetState() == mesos.TaskState_TASK_RUNNING {
				updates.Add(1)
				got <- struct{}{}
			}
			<-release // the master is busy: no answer yet
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	defer close(release)

	p, err := Start(context.Background(), Config{Master: strings.TrimPrefix(srv.URL, "http://"), Count: 1, Resources: "cpus:8;mem:1024",
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	timeout := time.After(10 * time.Second)
	for range tasks {
		select {
		case <-got:
		case <-timeout:
			t.Fatalf("%d of %d TASK_RUNNING updates reached the master while it answered none", updates.Load(), tasks)
		}
	}
}

// testWriter routes log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
