package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// slowReconciler is a framework with failover_timeout 0 that reads its
// event stream slowly: it stalls at the first answer of a reconciliation,
// then pauses every few answers.
type slowReconciler struct {
	client *scheduler.Client
	done   chan error

	mu         sync.Mutex
	running    map[string]bool // real tasks seen TASK_RUNNING
	answers    map[string]int  // reconciliation answers per task id
	states     map[mesos.TaskState]int
	subscribed int
	// slow makes the reader stall at the first answer and pause every
	// 100 answers; stalled is set once it has stalled; last is when the
	// latest answer arrived.
	slow, stalled bool
	last          time.Time
}

// TestLargeReconcileSlowFramework: a framework with failover_timeout 0
// and a few running tasks asks about 20,000 and then 50,000 tasks the
// master never heard of, and reads slowly (then 50,000 again, reading
// as fast as it can). Its stream stays open, every
// task is answered exactly once (TASK_UNKNOWN), the framework is not
// removed and its tasks keep running; the master's queue for the stream
// stays small (its peak is in the master's log when the stream ends).
func TestLargeReconcileSlowFramework(t *testing.T) {
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	master := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mp := start(t, "master", "master", "--ip=127.0.0.1", "--port="+master[len("127.0.0.1:"):],
		"--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms")
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + master + "/health") })
	start(t, "agent", "agent", "--master="+master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]")

	const realTasks = 3
	f := &slowReconciler{done: make(chan error, 1), running: map[string]bool{}, answers: map[string]int{}, states: map[mesos.TaskState]int{}}
	info := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("slow-reconciler"),
		FailoverTimeout: proto.Float64(0),
		Capabilities:    []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}}
	f.client = scheduler.New(scheduler.Config{Master: master, Framework: info, AutoAcknowledge: true})
	ctx, cancel := context.WithCancel(context.Background())
	var launched sync.Once
	go func() {
		f.done <- f.client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
			switch ev.GetType() {
			case schedpb.Event_SUBSCRIBED:
				f.mu.Lock()
				f.subscribed++
				f.mu.Unlock()
			case schedpb.Event_OFFERS:
				for _, o := range ev.GetOffers().GetOffers() {
					first := false
					launched.Do(func() { first = true })
					if !first {
						_ = f.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
						continue
					}
					var tasks []*mesos.TaskInfo
					for i := 0; i < realTasks; i++ {
						tasks = append(tasks, &mesos.TaskInfo{Name: proto.String("real"), TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprint("real-", i))},
							AgentId: o.GetAgentId(), Command: &mesos.CommandInfo{Value: proto.String("exec sleep 600")},
							Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)}})
					}
					_ = f.client.Launch(ctx, o.GetId(), tasks...)
				}
			case schedpb.Event_UPDATE:
				f.update(ev.GetUpdate().GetStatus())
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	waitFor(t, 30*time.Second, "the real tasks running", func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.running) != realTasks {
			return fmt.Errorf("%d of %d running", len(f.running), realTasks)
		}
		return nil
	})

	for _, run := range []struct {
		n    int
		slow bool
	}{{20000, true}, {50000, true}, {50000, false}} {
		n := run.n
		var tasks []*schedpb.Call_Reconcile_Task
		prefix := fmt.Sprintf("unknown-%d-%v-", n, run.slow)
		for i := 0; i < n; i++ {
			tasks = append(tasks, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("%s%05d", prefix, i))}})
		}
		f.mu.Lock()
		f.answers, f.states, f.stalled, f.slow = map[string]int{}, map[mesos.TaskState]int{}, false, run.slow
		f.mu.Unlock()
		begin := time.Now()
		if err := f.client.Reconcile(context.Background(), tasks...); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 40*time.Second, fmt.Sprintf("%d answers", n), func() error {
			select {
			case err := <-f.done:
				f.done <- err
				t.Fatalf("the framework's stream ended: %v", err)
			default:
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.answers) < n {
				return fmt.Errorf("%d of %d answered", len(f.answers), n)
			}
			return nil
		})
		f.mu.Lock()
		elapsed := f.last.Sub(begin)
		for _, tk := range tasks {
			if c := f.answers[tk.GetTaskId().GetValue()]; c != 1 {
				f.mu.Unlock()
				t.Fatalf("%s answered %d times", tk.GetTaskId().GetValue(), c)
			}
		}
		if len(f.answers) != n || f.states[mesos.TaskState_TASK_UNKNOWN] != n {
			f.mu.Unlock()
			t.Fatalf("%d answers, states %v", len(f.answers), f.states)
		}
		f.mu.Unlock()
		reader := "a fast reader"
		if run.slow {
			reader = "a slow reader (stalled 2 s, then 2 ms every 100 answers)"
		}
		t.Logf("%d reconciliation answers delivered to %s in %v", n, reader, elapsed.Round(time.Millisecond))
	}

	// The framework kept its subscription, was never removed, and its real
	// tasks still run.
	f.mu.Lock()
	subscribed := f.subscribed
	f.mu.Unlock()
	if subscribed != 1 {
		t.Fatalf("subscribed %d times", subscribed)
	}
	var st struct {
		Frameworks []struct {
			ID     string `json:"id"`
			Active bool   `json:"active"`
			Tasks  []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"tasks"`
		} `json:"frameworks"`
		Completed []struct{} `json:"completed_frameworks"`
	}
	if err := getJSON("http://"+master+"/master/state", &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Frameworks) != 1 || len(st.Completed) != 0 || !st.Frameworks[0].Active || len(st.Frameworks[0].Tasks) != realTasks {
		t.Fatalf("state: %+v", st)
	}
	for _, tk := range st.Frameworks[0].Tasks {
		if tk.State != "TASK_RUNNING" {
			t.Fatalf("task %s is %s", tk.ID, tk.State)
		}
	}

	// The stream's peak backlog, logged by the master when it ends.
	cancel()
	<-f.done
	f.done <- nil
	re := regexp.MustCompile(`framework event stream ended.*peak_queued_events=(\d+) peak_queued_bytes=(\d+)`)
	var peakEvents, peakBytes int
	waitFor(t, 10*time.Second, "the master's log of the stream's end", func() error {
		m := re.FindStringSubmatch(mp.out.String())
		if m == nil {
			return errors.New("not logged yet")
		}
		peakEvents, _ = strconv.Atoi(m[1])
		peakBytes, _ = strconv.Atoi(m[2])
		return nil
	})
	t.Logf("peak queued for the framework's stream: %d events, %d bytes", peakEvents, peakBytes)
	if peakEvents > 2048 || peakBytes > 4<<20 {
		t.Fatalf("peak backlog %d events, %d bytes: answers were not paced", peakEvents, peakBytes)
	}
}

func (f *slowReconciler) update(s *mesos.TaskStatus) {
	f.mu.Lock()
	if s.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
		if s.GetState() == mesos.TaskState_TASK_RUNNING {
			f.running[s.GetTaskId().GetValue()] = true
		}
		f.mu.Unlock()
		return
	}
	f.answers[s.GetTaskId().GetValue()]++
	f.states[s.GetState()]++
	f.last = time.Now()
	n, slow, stall := len(f.answers), f.slow, f.slow && !f.stalled
	f.stalled = true
	f.mu.Unlock()
	switch {
	case !slow:
	case stall:
		time.Sleep(2 * time.Second) // the reader stops: the stream fills
	case n%100 == 0:
		time.Sleep(2 * time.Millisecond) // then reads slowly
	}
}
