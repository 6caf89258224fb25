package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// schedulerSession runs one subscription of a framework and records what
// it receives; stop disconnects it (the framework's scheduler "crashes").
type schedulerSession struct {
	client *scheduler.Client
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	updates []*mesos.TaskStatus
	errors  []string
}

func startSession(t *testing.T, master string, info *mesos.FrameworkInfo, onOffer func(*scheduler.Client, *mesos.Offer)) *schedulerSession {
	s := &schedulerSession{done: make(chan error, 1)}
	s.client = scheduler.New(scheduler.Config{Master: master, Framework: info, AutoAcknowledge: true})
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		s.done <- s.client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
			switch ev.GetType() {
			case schedpb.Event_OFFERS:
				for _, o := range ev.GetOffers().GetOffers() {
					if onOffer != nil {
						onOffer(s.client, o)
					} else {
						_ = s.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
					}
				}
			case schedpb.Event_UPDATE:
				s.mu.Lock()
				s.updates = append(s.updates, ev.GetUpdate().GetStatus())
				s.mu.Unlock()
			case schedpb.Event_ERROR:
				s.mu.Lock()
				s.errors = append(s.errors, ev.GetError().GetMessage())
				s.mu.Unlock()
			}
			return nil
		})
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *schedulerSession) stop() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

func (s *schedulerSession) sawState(state mesos.TaskState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.updates {
		if u.GetState() == state {
			return true
		}
	}
	return false
}

// TestSchedulerFailover: a framework's scheduler goes away and a new one
// subscribes with the same FrameworkID within the failover timeout — it
// gets the framework's running task; a second scheduler taking over from a
// live one makes the first get an ERROR; and when the scheduler stays away
// past the timeout the framework is torn down and its task killed.
func TestSchedulerFailover(t *testing.T) {
	c := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]", noIsolation)
	pidFile := filepath.Join(c.work, "task.pid")
	info := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("failover"),
		FailoverTimeout: proto.Float64(4), Checkpoint: proto.Bool(true)}
	var once sync.Once
	first := startSession(t, c.master, info, func(cl *scheduler.Client, o *mesos.Offer) {
		launched := false
		once.Do(func() {
			launched = true
			task := &mesos.TaskInfo{Name: proto.String("long"), TaskId: &mesos.TaskID{Value: proto.String("long")},
				AgentId: o.GetAgentId(), Command: &mesos.CommandInfo{Value: proto.String("echo $$ > " + pidFile + "; exec sleep 600")},
				Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)}}
			_ = cl.Launch(context.Background(), o.GetId(), task)
		})
		if !launched {
			_ = cl.Decline(context.Background(), []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
		}
	})
	waitFor(t, 30*time.Second, "TASK_RUNNING", func() error {
		if first.sawState(mesos.TaskState_TASK_RUNNING) {
			return nil
		}
		return errors.New("not yet")
	})
	pid := taskPid(t, pidFile)
	id := first.client.FrameworkID()

	// A second scheduler takes over while the first is connected.
	withID := proto.Clone(info).(*mesos.FrameworkInfo)
	withID.Id = id
	second := startSession(t, c.master, withID, nil)
	waitFor(t, 20*time.Second, "the first scheduler told it failed over", func() error {
		first.mu.Lock()
		defer first.mu.Unlock()
		for _, e := range first.errors {
			if strings.Contains(e, "failed over") {
				return nil
			}
		}
		return fmt.Errorf("errors: %v", first.errors)
	})
	// The new scheduler has the task.
	waitFor(t, 20*time.Second, "reconciled TASK_RUNNING", func() error {
		_ = second.client.Reconcile(context.Background())
		if second.sawState(mesos.TaskState_TASK_RUNNING) {
			return nil
		}
		return errors.New("not yet")
	})

	// The scheduler disappears for longer than the failover timeout.
	second.stop()
	waitFor(t, 30*time.Second, "the task killed after the failover timeout", func() error {
		if alive(pid) {
			return fmt.Errorf("pid %d alive", pid)
		}
		return nil
	})
	var st struct {
		Completed []struct {
			ID string `json:"id"`
		} `json:"completed_frameworks"`
	}
	if err := getJSON("http://"+c.master+"/master/state", &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Completed) != 1 || st.Completed[0].ID != id.GetValue() {
		t.Fatalf("completed frameworks: %+v", st.Completed)
	}
	// The torn-down framework may not come back.
	third := startSession(t, c.master, withID, nil)
	waitFor(t, 20*time.Second, "re-subscription refused", func() error {
		third.mu.Lock()
		defer third.mu.Unlock()
		for _, e := range third.errors {
			if strings.Contains(e, "removed") {
				return nil
			}
		}
		return fmt.Errorf("errors: %v", third.errors)
	})
}
