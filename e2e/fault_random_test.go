package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// churnFramework launches short tasks until it has launched total, keeping
// a few outstanding, and records every status update per task in order.
type churnFramework struct {
	client *scheduler.Client
	rng    *rand.Rand
	total  int

	mu       sync.Mutex
	launched int
	agentOf  map[string]*mesos.AgentID
	updates  map[string][]mesos.TaskState
	// why holds the reason and message of each task's update that ended
	// it other than TASK_FINISHED.
	why map[string]string
	// recon collects reconciliation answers once the faults are over.
	recon map[string]mesos.TaskState
	// seen holds the uuids of the updates received, by task: delivery is
	// at least once (an update acknowledged through a master that died
	// before passing the acknowledgement on comes again from the next
	// one), and a framework recognizes a repeat by its uuid.
	seen map[string]map[string]bool
	// trail holds every update received, by task, described with its
	// source, reason and message, for the failure report.
	trail map[string][]string
}

func (f *churnFramework) outstanding() int {
	n := 0
	for id := range f.agentOf {
		if s := f.updates[id]; len(s) == 0 || !scheduler.IsTerminal(s[len(s)-1]) {
			n++
		}
	}
	return n
}

// outstandingTasks are the tasks not yet terminal, as reconciliation asks
// about them.
func (f *churnFramework) outstandingTasks() []*schedpb.Call_Reconcile_Task {
	var out []*schedpb.Call_Reconcile_Task
	for id, agent := range f.agentOf {
		if s := f.updates[id]; len(s) == 0 || !scheduler.IsTerminal(s[len(s)-1]) {
			out = append(out, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: agent})
		}
	}
	return out
}

// describeOutstanding names the tasks not yet terminal, with the states
// seen for each and its agent.
func (f *churnFramework) describeOutstanding() string {
	var out []string
	for id, agent := range f.agentOf {
		if s := f.updates[id]; len(s) == 0 || !scheduler.IsTerminal(s[len(s)-1]) {
			out = append(out, fmt.Sprintf("%s on %s %v", id, agent.GetValue(), s))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func (f *churnFramework) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			f.mu.Lock()
			var tasks []*mesos.TaskInfo
			for f.launched < f.total && f.outstanding()+len(tasks) < 4 {
				id := fmt.Sprintf("churn-%d", f.launched)
				secs := 0.2 + f.rng.Float64()*2
				tasks = append(tasks, &mesos.TaskInfo{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
					AgentId: o.GetAgentId(), Command: &mesos.CommandInfo{Value: proto.String(fmt.Sprintf("sleep %.2f", secs))},
					Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 16)}})
				f.agentOf[id] = o.GetAgentId()
				f.launched++
			}
			f.mu.Unlock()
			var err error
			if len(tasks) > 0 {
				err = f.client.Launch(ctx, o.GetId(), tasks...)
			} else {
				err = f.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(1)})
			}
			if err != nil {
				return nil // the master may be down; the offer is void anyway
			}
		}
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		f.mu.Lock()
		id := st.GetTaskId().GetValue()
		f.trail[id] = append(f.trail[id], fmt.Sprintf("%v/%v/%v uuid=%t %q", st.GetState(), st.GetSource(), st.GetReason(), len(st.GetUuid()) > 0, st.GetMessage()))
		if st.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION && len(st.GetUuid()) == 0 {
			// Answers to reconciliation repeat what is known; they are
			// checked at the end, not recorded as transitions.
			if f.recon != nil {
				f.recon[id] = st.GetState()
			} else if l := f.updates[id]; len(l) == 0 || (!scheduler.IsTerminal(l[len(l)-1]) && l[len(l)-1] != st.GetState()) {
				f.updates[id] = append(f.updates[id], st.GetState())
			}
		} else if uuid := string(st.GetUuid()); uuid == "" || !f.seen[id][uuid] {
			if uuid != "" {
				if f.seen[id] == nil {
					f.seen[id] = map[string]bool{}
				}
				f.seen[id][uuid] = true
			}
			// Reconciliation may have told the terminal state before the
			// update itself arrives (it was held while the framework was
			// away): the same state again is not a transition.
			if l := f.updates[id]; len(l) == 0 || !scheduler.IsTerminal(l[len(l)-1]) || l[len(l)-1] != st.GetState() {
				f.updates[id] = append(f.updates[id], st.GetState())
			}
			if scheduler.IsTerminal(st.GetState()) && st.GetState() != mesos.TaskState_TASK_FINISHED {
				f.why[id] = st.GetState().String() + " " + st.GetReason().String() + ": " + st.GetMessage()
			}
		}
		f.mu.Unlock()
	}
	return nil
}

// TestRandomFaults launches tasks while killing (SIGKILL) and restarting
// the master and the agents at random, for a bounded time, then checks the
// invariant: every task the framework launched reached a terminal state in
// the framework's view, no task moved backwards after a terminal state, and
// the state the cluster reports for each task (reconciliation) agrees with
// what the framework saw. The seed is logged; MEZZO_FAULT_SEED replays it.
func TestRandomFaults(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("MEZZO_FAULT_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (replay with MEZZO_FAULT_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))

	work := t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	masterArgs := []string{"master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir=" + filepath.Join(work, "master"),
		"--allocation_interval=100ms", "--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=6",
		"--agent_reregister_timeout=10secs"}
	m := start(t, "master", masterArgs...)
	waitFor(t, 20*time.Second, "master", func() error { return httpOK("http://" + master + "/health") })
	agentArgs := func(i int) []string {
		return []string{"agent", "--master=" + master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", 0),
			"--work_dir=" + filepath.Join(work, fmt.Sprintf("agent%d", i)), "--resources=cpus:1;mem:512;disk:256;ports:[31000-31010]",
			"--registration_backoff_factor=100ms", "--executor_reregistration_timeout=5secs"}
	}
	agents := []*proc{start(t, "agent0", agentArgs(0)...), start(t, "agent1", agentArgs(1)...)}

	f := &churnFramework{rng: rand.New(rand.NewSource(seed + 1)), total: 24,
		agentOf: map[string]*mesos.AgentID{}, updates: map[string][]mesos.TaskState{}, why: map[string]string{},
		seen: map[string]map[string]bool{}, trail: map[string][]string{}}
	f.client = scheduler.New(scheduler.Config{Master: master, AutoAcknowledge: true, Reconnect: true,
		Framework: &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("churn"),
			FailoverTimeout: proto.Float64(3600), Checkpoint: proto.Bool(true),
			Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}}})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		f.client.Run(ctx, f.handle)
	}()
	defer func() { cancel(); <-runDone }()

	// Faults, for a bounded time.
	faultsUntil := time.Now().Add(25 * time.Second)
	restarts := 0
	for time.Now().Before(faultsUntil) {
		time.Sleep(time.Duration(1500+rng.Intn(2500)) * time.Millisecond)
		switch rng.Intn(3) {
		case 0:
			t.Logf("fault: SIGKILL the master")
			syscall.Kill(m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.done
			restarts++
			m = start(t, fmt.Sprintf("master-%d", restarts), masterArgs...)
		default:
			i := rng.Intn(len(agents))
			t.Logf("fault: SIGKILL agent %d", i)
			syscall.Kill(agents[i].cmd.Process.Pid, syscall.SIGKILL)
			<-agents[i].done
			restarts++
			agents[i] = start(t, fmt.Sprintf("agent%d-%d", i, restarts), agentArgs(i)...)
		}
	}
	t.Logf("faults over after %d restarts; waiting for every task to end", restarts)

	// Quiet: every launched task must end, and all must be launched.
	waitFor(t, 90*time.Second, "all tasks terminal in the framework's view", func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := f.outstanding()
		if n > 0 {
			// As Mesos' reconciliation advice goes: ask about each task
			// not yet terminal by name (an ACCEPT sent while the master
			// was down launched nothing, and only an explicit question
			// gets an answer for it), then about everything.
			_ = f.client.Reconcile(context.Background(), f.outstandingTasks()...)
			_ = f.client.Reconcile(context.Background())
		}
		if f.launched < f.total {
			return fmt.Errorf("launched %d of %d", f.launched, f.total)
		}
		if n > 0 {
			return fmt.Errorf("%d tasks not terminal: %s", n, f.describeOutstanding())
		}
		return nil
	})

	f.mu.Lock()
	defer f.mu.Unlock()
	counts := map[mesos.TaskState]int{}
	for id, states := range f.updates {
		last := states[len(states)-1]
		counts[last]++
		// No task moves on after a terminal state.
		for i, s := range states {
			if scheduler.IsTerminal(s) && i != len(states)-1 {
				t.Errorf("task %s moved on after %v: %v; updates received: %s", id, s, states, strings.Join(f.trail[id], "; "))
			}
		}
	}
	if len(f.updates) != f.total {
		t.Errorf("updates for %d tasks, launched %d", len(f.updates), f.total)
	}
	t.Logf("final states: %v", counts)
	for id, why := range f.why {
		t.Logf("%s: %s", id, why)
	}

	// The cluster agrees: asked about every task, it reports none live,
	// and each answer is the state the framework saw or TASK_UNKNOWN (a
	// completed task a restarted master no longer remembers).
	f.recon = map[string]mesos.TaskState{}
	var tasks []*schedpb.Call_Reconcile_Task
	for id := range f.updates {
		tasks = append(tasks, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(id)}})
	}
	f.mu.Unlock()
	waitFor(t, 30*time.Second, "an answer for every task", func() error {
		f.mu.Lock()
		n := len(f.recon)
		f.mu.Unlock()
		if n == f.total {
			return nil
		}
		_ = f.client.Reconcile(context.Background(), tasks...)
		return fmt.Errorf("%d of %d answered", n, f.total)
	})
	f.mu.Lock()
	for id, got := range f.recon {
		seen := f.updates[id][len(f.updates[id])-1]
		if got != seen && got != mesos.TaskState_TASK_UNKNOWN {
			t.Errorf("task %s: the cluster reports %v, the framework saw %v (%v)", id, got, seen, f.updates[id])
		}
	}
}
