package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// recorder is a framework that launches one long task and records every
// status update it receives, in order.
type recorder struct {
	t      *testing.T
	client *scheduler.Client
	cmd    string

	mu       sync.Mutex
	launched bool
	updates  []*mesos.TaskStatus
}

func newRecorder(t *testing.T, master string, partitionAware bool, cmd string) *recorder {
	fw := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("recorder"),
		FailoverTimeout: proto.Float64(300), Checkpoint: proto.Bool(true)}
	if partitionAware {
		fw.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
	}
	r := &recorder{t: t, cmd: cmd}
	r.client = scheduler.New(scheduler.Config{Master: master, Framework: fw, AutoAcknowledge: true, Reconnect: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.client.Run(ctx, r.handle)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *recorder) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			r.mu.Lock()
			first := !r.launched
			r.launched = true
			r.mu.Unlock()
			if !first {
				_ = r.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
				continue
			}
			task := &mesos.TaskInfo{Name: proto.String("long"), TaskId: &mesos.TaskID{Value: proto.String("long")},
				AgentId: o.GetAgentId(), Command: &mesos.CommandInfo{Value: proto.String(r.cmd)},
				Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)}}
			if err := r.client.Launch(ctx, o.GetId(), task); err != nil {
				return err
			}
		}
	case schedpb.Event_UPDATE:
		r.mu.Lock()
		r.updates = append(r.updates, ev.GetUpdate().GetStatus())
		r.mu.Unlock()
	}
	return nil
}

// states returns the states received so far, in order.
func (r *recorder) states() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, u := range r.updates {
		out = append(out, u.GetState().String())
	}
	return out
}

func (r *recorder) waitState(want string, limit time.Duration) *mesos.TaskStatus {
	r.t.Helper()
	var found *mesos.TaskStatus
	waitFor(r.t, limit, want, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, u := range r.updates {
			if u.GetState().String() == want {
				found = u
				return nil
			}
		}
		return fmt.Errorf("updates so far: %v", r.statesLocked())
	})
	return found
}

func (r *recorder) statesLocked() []string {
	var out []string
	for _, u := range r.updates {
		out = append(out, u.GetState().String())
	}
	return out
}

// touch creates an empty file.
func touch(path string) error {
	return os.WriteFile(path, nil, 0o644)
}
