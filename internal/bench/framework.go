package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/resources"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// declineRefuse is how long a framework refuses an agent whose offer it
// declined: Mesos' default filter (5 s). With a shorter one the unused
// agents of a large cluster go round the frameworks every second or so,
// and the master's time goes to offers that are only declined.
const declineRefuse = 5 * time.Second

// FrameworkOptions describe one emulated framework.
type FrameworkOptions struct {
	// Master is the master's host:port (or a zk:// URL).
	Master string
	// Name is the framework's name; Role its role (default "*").
	Name, Role string
	// TaskResources is what each task takes, e.g. "cpus:0.1;mem:32".
	TaskResources string
	// Constraint, when set, is a placement constraint every task obeys
	// (sdk/offers syntax, e.g. ["rack", "LIKE", "r[0-4]"]).
	Constraint []string
	// Keep, when above 0, keeps that many tasks running: a task that
	// ends is replaced by a new one (the paper's steady load).
	Keep int
	// Command gives task i's command; emulated agents run "sleep N" for N
	// seconds and anything else for their TaskDuration. Default: "true".
	Command func(i int) string
}

// Framework is an emulated framework: it launches the tasks it is given
// on the offers it gets, as fast as offers come, and records when each
// was placed (its ACCEPT answered) and when it ran (TASK_RUNNING).
type Framework struct {
	opts   FrameworkOptions
	client *scheduler.Client
	need   offers.Need
	cons   *offers.Constraint

	mu        sync.Mutex
	next      int         // index of the next task
	pending   []time.Time // submission times of tasks not yet placed
	submitted map[string]time.Time
	isRunning map[string]bool // live tasks that reported TASK_RUNNING
	placed    []time.Duration // submission → ACCEPT answered
	running   []time.Duration // submission → TASK_RUNNING
	live      int             // tasks launched and not ended
	firstSub  time.Time
	lastPlace time.Time
	lastRun   time.Time
	// subscribedAt is when SUBSCRIBED arrived, firstOffer when the first
	// OFFERS event did; runStamp and endStamp are the agent's timestamps
	// of the latest TASK_RUNNING and terminal update, endAt when that
	// terminal update arrived (the probe's breakdown).
	subscribedAt       time.Time
	firstOffer         time.Time
	runStamp, endStamp time.Time
	endAt              time.Time
	hostOf             map[string]offers.Host // where live tasks run (for the constraint)
	// suppressed: offers are suppressed (suppressIfDone) until Submit
	// revives them; offerCalls orders those two calls.
	suppressed bool
	offerCalls sync.Mutex
	changed    chan struct{}

	// async counts the DECLINE calls in flight beside the event stream.
	// At most one is: offers to decline while one is in flight wait in
	// toDecline and go together in the next call, so that a framework
	// offered many agents at once keeps one connection busy with its
	// declines instead of one per OFFERS event.
	async     sync.WaitGroup
	declining bool
	toDecline []*mesos.OfferID

	calls, events atomic.Int64
	launchErrs    atomic.Int64
	// relaunched counts the tasks placed again after they ended without
	// running.
	relaunched atomic.Int64
	lastErr    atomic.Value // string
	done       chan struct{}
	err        error
}

// StartFramework subscribes a framework and starts handling its offers.
func StartFramework(ctx context.Context, o FrameworkOptions) (*Framework, error) {
	if o.Role == "" {
		o.Role = "*"
	}
	rs, err := resources.Parse(o.TaskResources, "*")
	if err != nil {
		return nil, fmt.Errorf("bench: task resources %q: %w", o.TaskResources, err)
	}
	need := offers.Need{}
	for _, r := range resources.ToProto(rs, resources.FormatPreRefinement) {
		switch r.GetName() {
		case "cpus":
			need.Cpus = r.GetScalar().GetValue()
		case "mem":
			need.Mem = r.GetScalar().GetValue()
		case "disk":
			need.Disk = r.GetScalar().GetValue()
		default:
			return nil, fmt.Errorf("bench: task resources %q: only cpus, mem and disk are supported", o.TaskResources)
		}
	}
	f := &Framework{opts: o, need: need, submitted: map[string]time.Time{}, isRunning: map[string]bool{}, hostOf: map[string]offers.Host{}, changed: make(chan struct{}), done: make(chan struct{})}
	if len(o.Constraint) > 0 {
		c, err := offers.ParseConstraint(o.Constraint)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		f.cons = &c
	}
	f.client = scheduler.New(scheduler.Config{
		Master: o.Master,
		Framework: &mesos.FrameworkInfo{
			Name: proto.String(o.Name), User: proto.String("root"), Roles: []string{o.Role},
			FailoverTimeout: proto.Float64(3600),
			Capabilities:    []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}},
		},
		Format:          codec.Protobuf,
		AutoAcknowledge: true,
		Reconnect:       true,
	})
	go func() {
		defer close(f.done)
		f.err = f.client.Run(ctx, f.handle)
	}()
	select {
	case <-f.client.Subscribed():
	case <-f.done:
		return nil, fmt.Errorf("bench: framework %s did not subscribe: %w", o.Name, f.err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if o.Keep > 0 {
		f.Submit(o.Keep)
	}
	return f, nil
}

// Submit adds n tasks to place, submitted now.
func (f *Framework) Submit(n int) {
	f.offerCalls.Lock()
	defer f.offerCalls.Unlock()
	now := time.Now()
	f.mu.Lock()
	if f.firstSub.IsZero() {
		f.firstSub = now
	}
	for range n {
		f.pending = append(f.pending, now)
	}
	f.suppressed = false
	f.mu.Unlock()
	f.calls.Add(1)
	f.client.Revive(context.Background())
}

// suppressIfDone suppresses the offers of a framework that keeps no
// tasks running once it has nothing left to place, as a well-behaved
// scheduler does: offers it would only decline would otherwise keep
// coming, every second, ahead of its status updates on its event stream.
func (f *Framework) suppressIfDone(ctx context.Context) {
	f.offerCalls.Lock()
	defer f.offerCalls.Unlock()
	f.mu.Lock()
	done := f.opts.Keep == 0 && len(f.pending) == 0 && !f.suppressed
	if done {
		f.suppressed = true
	}
	f.mu.Unlock()
	if done {
		f.calls.Add(1)
		f.client.Suppress(ctx)
	}
}

func (f *Framework) handle(ctx context.Context, ev *schedpb.Event) error {
	f.events.Add(1)
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		f.mu.Lock()
		if f.subscribedAt.IsZero() {
			f.subscribedAt = time.Now()
		}
		f.mu.Unlock()
	case schedpb.Event_OFFERS:
		f.mu.Lock()
		if f.firstOffer.IsZero() {
			f.firstOffer = time.Now()
		}
		f.mu.Unlock()
		f.offers(ctx, ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		f.update(ev.GetUpdate().GetStatus())
	}
	return nil
}

func (f *Framework) offers(ctx context.Context, os []*mesos.Offer) {
	var decline []*mesos.OfferID
	for _, o := range os {
		f.mu.Lock()
		var tasks []*mesos.TaskInfo
		var subs []time.Time
		pool := offers.NewPool(o, f.opts.Role)
		host := offers.HostOf(o)
		var others []offers.Host
		if f.cons != nil {
			for _, h := range f.hostOf {
				others = append(others, h)
			}
		}
		for len(f.pending) > 0 {
			if f.cons != nil {
				if ok, _ := f.cons.Allows(host, others); !ok {
					break
				}
				others = append(others, host)
			}
			m, _, ok := pool.Take(f.need)
			if !ok {
				break
			}
			i := f.next
			f.next++
			id := f.opts.Name + "-" + strconv.Itoa(i)
			cmd := "true" // an emulated agent runs it for its TaskDuration
			if f.opts.Command != nil {
				cmd = f.opts.Command(i)
			}
			tasks = append(tasks, &mesos.TaskInfo{
				Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
				AgentId: o.GetAgentId(), Resources: m.Resources,
				Command: &mesos.CommandInfo{Value: proto.String(cmd)},
			})
			subs = append(subs, f.pending[0])
			f.submitted[id] = f.pending[0]
			f.pending = f.pending[1:]
			if f.cons != nil {
				f.hostOf[id] = host
			}
		}
		f.mu.Unlock()
		if len(tasks) == 0 {
			decline = append(decline, o.GetId())
			continue
		}
		f.calls.Add(1)
		err := f.client.Launch(ctx, o.GetId(), tasks...)
		now := time.Now()
		f.mu.Lock()
		if err != nil {
			f.launchErrs.Add(1)
			f.lastErr.Store(err.Error())
			// Put them back: the next offers place them.
			for i, t := range tasks {
				delete(f.submitted, t.GetTaskId().GetValue())
				delete(f.hostOf, t.GetTaskId().GetValue())
				f.pending = append(f.pending, subs[i])
			}
		} else {
			for _, s := range subs {
				f.placed = append(f.placed, now.Sub(s))
			}
			f.live += len(tasks)
			f.lastPlace = now
		}
		f.mu.Unlock()
	}
	f.suppressIfDone(ctx)
	if len(decline) > 0 {
		f.decline(ctx, decline)
	}
}

// reviveLater revives the framework's offers in the background: tasks
// to place came back while they were suppressed. Called with f.mu held.
func (f *Framework) reviveLater() {
	f.suppressed = false
	f.async.Add(1)
	go func() {
		defer f.async.Done()
		f.offerCalls.Lock()
		defer f.offerCalls.Unlock()
		f.calls.Add(1)
		f.client.Revive(context.Background())
	}()
}

// decline declines offers without holding up the event stream: nothing
// waits for the answer, so the framework's updates are not held up
// behind it. Declines asked for while one is in flight are sent
// together once it is answered.
func (f *Framework) decline(ctx context.Context, ids []*mesos.OfferID) {
	f.mu.Lock()
	f.toDecline = append(f.toDecline, ids...)
	if f.declining {
		f.mu.Unlock()
		return
	}
	f.declining = true
	f.mu.Unlock()
	f.async.Add(1)
	go func() {
		defer f.async.Done()
		filters := &mesos.Filters{RefuseSeconds: proto.Float64(declineRefuse.Seconds())}
		for {
			f.mu.Lock()
			batch := f.toDecline
			f.toDecline = nil
			if len(batch) == 0 {
				f.declining = false
				f.mu.Unlock()
				return
			}
			f.mu.Unlock()
			f.calls.Add(1)
			f.client.Decline(ctx, batch, filters)
		}
	}()
}

func (f *Framework) update(st *mesos.TaskStatus) {
	id := st.GetTaskId().GetValue()
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	sub, ok := f.submitted[id]
	if !ok {
		return
	}
	switch {
	case st.GetState() == mesos.TaskState_TASK_RUNNING:
		if f.isRunning[id] {
			return // a resent update
		}
		f.isRunning[id] = true
		f.running = append(f.running, now.Sub(sub))
		f.lastRun = now
		f.runStamp = stampOf(st)
	case mesos.IsTerminalState(st.GetState()):
		f.endStamp, f.endAt = stampOf(st), now
		ran := f.isRunning[id]
		delete(f.submitted, id)
		delete(f.isRunning, id)
		f.live--
		delete(f.hostOf, id)
		switch {
		case f.opts.Keep > 0:
			f.pending = append(f.pending, now)
		case !ran && st.GetState() != mesos.TaskState_TASK_FINISHED:
			// Lost before it ran (its offer was void by the time the
			// ACCEPT arrived, say): place it again, as a framework
			// does, keeping its submission time.
			f.relaunched.Add(1)
			f.pending = append(f.pending, sub)
			if f.suppressed {
				f.reviveLater()
			}
		}
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// stampOf is the time the agent stamped on a status update (zero when
// it has none).
func stampOf(st *mesos.TaskStatus) time.Time {
	ts := st.GetTimestamp()
	if ts <= 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ts*1e9))
}

// Stats is what a framework measured.
type Stats struct {
	Placed, Running []time.Duration
	Live, Pending   int
	// First is the first submission; LastPlaced and LastRunning the last
	// placement and TASK_RUNNING.
	First, LastPlaced, LastRunning time.Time
}

// Stats returns a copy of what the framework measured so far.
func (f *Framework) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{Placed: append([]time.Duration(nil), f.placed...), Running: append([]time.Duration(nil), f.running...),
		Live: f.live, Pending: len(f.pending), First: f.firstSub, LastPlaced: f.lastPlace, LastRunning: f.lastRun}
}

// WaitRunning waits until n tasks have reported TASK_RUNNING.
func (f *Framework) WaitRunning(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		got, ch := len(f.running), f.changed
		f.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: %s: %d of %d tasks running: %w", f.opts.Name, got, n, ctx.Err())
		case <-f.done:
			return fmt.Errorf("bench: %s ended: %v", f.opts.Name, f.err)
		case <-ch:
		}
	}
}

// Relaunched returns how many tasks were placed again after they ended
// without running.
func (f *Framework) Relaunched() int64 { return f.relaunched.Load() }

// LaunchErrors returns how many ACCEPT calls failed, and the last error.
func (f *Framework) LaunchErrors() (int64, string) {
	s, _ := f.lastErr.Load().(string)
	return f.launchErrs.Load(), s
}

// Messages returns the calls the framework sent and the events it read.
func (f *Framework) Messages() (sent, received int64) { return f.calls.Load(), f.events.Load() }

// Client is the framework's scheduler client.
func (f *Framework) Client() *scheduler.Client { return f.client }

// Teardown ends the framework and waits for its calls in flight.
func (f *Framework) Teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.client.Teardown(ctx)
	f.async.Wait()
}

// ProbeTimes are the steps of one probe, each from its start. The
// agent's steps come from the timestamps it puts on its updates (the
// emulated agents run on the same machine, on the same clock).
type ProbeTimes struct {
	// Subscribed: SUBSCRIBED arrived. Offered: the first offer arrived.
	// Launched: the ACCEPT launching the task was answered.
	Subscribed, Offered, Launched time.Duration
	// AgentRunning: the agent stamped TASK_RUNNING, which it does as soon
	// as it reads RUN_TASK. Running: TASK_RUNNING reached the framework.
	AgentRunning, Running time.Duration
	// AgentEnded: the agent stamped the terminal update. Ended: that
	// update reached the framework, the launch overhead.
	AgentEnded, Ended time.Duration
	// LaunchErrors counts the probe's failed ACCEPTs (its task placed
	// again on a later offer); LastError is the last one.
	LaunchErrors int64
	LastError    string
}

// Probe measures the launch overhead as the Mesos paper did: a new
// framework registers, waits for an offer, runs one task that ends at
// once ("sleep 0" on an emulated agent) and waits for its end. Ended is
// the launch overhead: from the subscription to the terminal update. The
// framework is torn down afterwards.
func Probe(ctx context.Context, master, name, taskResources string) (ProbeTimes, error) {
	var pt ProbeTimes
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	f, err := StartFramework(ctx, FrameworkOptions{
		Master: master, Name: name, TaskResources: taskResources,
		Command: func(int) string { return "sleep 0" },
	})
	if err != nil {
		return pt, err
	}
	defer f.Teardown()
	f.Submit(1)
	since := func(t time.Time) time.Duration {
		if t.IsZero() {
			return 0
		}
		return t.Sub(start)
	}
	for {
		f.mu.Lock()
		ended := f.next == 1 && len(f.submitted) == 0 && len(f.pending) == 0
		pt.Subscribed, pt.Offered, pt.Launched = since(f.subscribedAt), since(f.firstOffer), since(f.lastPlace)
		pt.AgentRunning, pt.Running = since(f.runStamp), since(f.lastRun)
		pt.AgentEnded, pt.Ended = since(f.endStamp), since(f.endAt)
		ch := f.changed
		f.mu.Unlock()
		if ended {
			pt.LaunchErrors, pt.LastError = f.LaunchErrors()
			return pt, nil
		}
		select {
		case <-ctx.Done():
			return pt, fmt.Errorf("bench: the probe's task did not end within a minute (%s)", pt)
		case <-ch:
		}
	}
}

// String lists the steps a probe reached.
func (pt ProbeTimes) String() string {
	return fmt.Sprintf("subscribed %.3fs, offered %.3fs, launched %.3fs, running on the agent %.3fs, running %.3fs, ended on the agent %.3fs, ended %.3fs",
		pt.Subscribed.Seconds(), pt.Offered.Seconds(), pt.Launched.Seconds(), pt.AgentRunning.Seconds(), pt.Running.Seconds(),
		pt.AgentEnded.Seconds(), pt.Ended.Seconds())
}
