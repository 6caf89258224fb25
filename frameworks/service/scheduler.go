package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// FailoverTimeout is the framework's failover timeout: how long the
// master keeps its tasks running while `mezzo service run` is down.
const FailoverTimeout = 7 * 24 * time.Hour

// Config configures a Scheduler.
type Config struct {
	// Master is the master's address (host:port, http URL or zk://...).
	Master string
	// Spec is the service to run; StateDir comes from it.
	Spec *Spec
	// Credential authenticates the framework to a master that requires
	// it (its principal becomes FrameworkInfo.principal); zero: none.
	Credential scheduler.Credential
	// Log receives the framework's log; nil discards it.
	Log *slog.Logger
	// Now reads the clock for restart backoffs and launch times; nil is
	// time.Now. Tests pass a fake clock; Run's one-second tick is real
	// time either way.
	Now func() time.Time
}

// master is what the service's logic asks of the master: the calls of
// the scheduler API it makes. *scheduler.Client implements it; Run makes
// one, and tests record the calls instead. All calls come from Run's
// goroutine.
type master interface {
	Accept(ctx context.Context, offerIDs []*mesos.OfferID, ops []*mesos.Offer_Operation, filters *mesos.Filters) error
	Decline(ctx context.Context, offerIDs []*mesos.OfferID, filters *mesos.Filters) error
	Acknowledge(ctx context.Context, st *mesos.TaskStatus) error
	Kill(ctx context.Context, taskID *mesos.TaskID, agentID *mesos.AgentID) error
	Reconcile(ctx context.Context, tasks ...*schedpb.Call_Reconcile_Task) error
	Revive(ctx context.Context, roles ...string) error
	Suppress(ctx context.Context, roles ...string) error
	Teardown(ctx context.Context) error
}

// Scheduler runs one service: it owns the service's state on Run's
// goroutine; the HTTP API reaches that goroutine through a channel.
type Scheduler struct {
	cfg    Config
	spec   *Spec
	st     *state
	log    *slog.Logger
	now    func() time.Time
	client master

	waiting    map[string]string             // role -> why its pending instances wait
	attrs      map[string][]*mesos.Attribute // agent id -> attributes seen in its offers
	blocked    map[string]bool               // roles waiting for their dependencies
	suppressed bool
	subscribed bool
	dirty      bool
	stopped    bool
	apiAddr    string
	reqs       chan apiRequest
}

// New loads the service's state from its state directory (creating the
// directory); nothing runs until Run.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Spec == nil {
		return nil, errors.New("service: no spec")
	}
	if err := os.MkdirAll(filepath.Join(cfg.Spec.StateDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("service: state dir: %w", err)
	}
	st, err := loadState(cfg.Spec.StateDir)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Scheduler{cfg: cfg, spec: cfg.Spec, st: st, log: log.With("service", cfg.Spec.Name), now: now,
		waiting: map[string]string{}, blocked: map[string]bool{}, reqs: make(chan apiRequest)}, nil
}

// APIAddrFile is where Run writes its API's address, in the state dir.
const APIAddrFile = "api.addr"

// event is a scheduler event handed from the client's goroutine to Run's.
type event struct {
	ev   *schedpb.Event
	done chan error
}

// Run serves the API, subscribes (as the framework of the state file when
// there is one, reconciling its tasks) and runs the service until ctx
// ends or a stop request tears it down.
func (s *Scheduler) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.spec.API)
	if err != nil {
		return fmt.Errorf("service: API listen on %s: %w", s.spec.API, err)
	}
	s.apiAddr = ln.Addr().String()
	if err := os.WriteFile(filepath.Join(s.spec.StateDir, APIAddrFile), []byte(s.apiAddr+"\n"), 0o644); err != nil {
		ln.Close()
		return fmt.Errorf("service: %w", err)
	}
	srv := &http.Server{Handler: s.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Only a running service has an API address.
		_ = os.Remove(filepath.Join(s.spec.StateDir, APIAddrFile))
		// Let the answer to a stop request reach its caller.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	s.log.Info("API serving", "address", s.apiAddr, "state_dir", s.spec.StateDir)

	fw := &mesos.FrameworkInfo{
		Name:            proto.String("mezzo-service:" + s.spec.Name),
		Role:            proto.String(s.spec.Role),
		FailoverTimeout: proto.Float64(FailoverTimeout.Seconds()),
		Checkpoint:      proto.Bool(true),
		Capabilities: []*mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()},
		},
	}
	if s.spec.User != "" {
		fw.User = proto.String(s.spec.User)
	}
	if s.st.FrameworkID != "" {
		fw.Id = &mesos.FrameworkID{Value: proto.String(s.st.FrameworkID)}
		s.log.Info("re-attaching to the framework of the state file", "framework_id", s.st.FrameworkID,
			"instances", len(s.st.Instances))
	}
	client := scheduler.New(scheduler.Config{Master: s.cfg.Master, Framework: fw, Reconnect: true, Log: s.log, Credential: s.cfg.Credential})
	s.client = client

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan event)
	clientDone := make(chan error, 1)
	go func() {
		clientDone <- client.Run(runCtx, func(ctx context.Context, ev *schedpb.Event) error {
			e := event{ev: ev, done: make(chan error, 1)}
			select {
			case events <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case err := <-e.done:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	s.converge(runCtx)
	for {
		select {
		case <-ctx.Done():
			s.saveIfDirty()
			return nil
		case err := <-clientDone:
			s.saveIfDirty()
			if s.stopped {
				return nil
			}
			return fmt.Errorf("service: scheduler API: %w", err)
		case e := <-events:
			err := s.handle(runCtx, e.ev)
			s.converge(runCtx)
			s.saveIfDirty()
			e.done <- err
			if err != nil {
				return err
			}
		case r := <-s.reqs:
			v, err := r.fn(runCtx)
			s.converge(runCtx)
			s.saveIfDirty()
			r.reply <- apiResponse{v, err}
			if s.stopped {
				return nil
			}
		case <-tick.C:
			s.converge(runCtx)
			s.saveIfDirty()
		}
	}
}

func (s *Scheduler) saveIfDirty() {
	if !s.dirty || s.stopped {
		return
	}
	if err := s.st.save(s.spec.StateDir); err != nil {
		s.log.Error("state not saved", "err", err)
		return
	}
	s.dirty = false
}

func (s *Scheduler) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		id := ev.GetSubscribed().GetFrameworkId().GetValue()
		s.log.Info("subscribed", "framework_id", id)
		s.subscribed, s.suppressed = true, false
		if s.st.FrameworkID != id {
			s.st.FrameworkID, s.dirty = id, true
			s.saveIfDirty()
		}
		var tasks []*schedpb.Call_Reconcile_Task
		for _, in := range s.st.Instances {
			if in.TaskID != "" {
				tasks = append(tasks, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(in.TaskID)},
					AgentId: &mesos.AgentID{Value: proto.String(in.AgentID)}})
			}
		}
		if len(tasks) > 0 {
			s.log.Info("reconciling the tasks of the state file", "tasks", len(tasks))
			if err := s.client.Reconcile(ctx, tasks...); err != nil {
				s.log.Warn("reconcile failed", "err", err)
			}
		}
	case schedpb.Event_OFFERS:
		s.offers(ctx, ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		s.update(ctx, st)
		if err := s.client.Acknowledge(ctx, st); err != nil {
			s.log.Warn("acknowledge failed", "task", st.GetTaskId().GetValue(), "err", err)
		}
	case schedpb.Event_FAILURE:
		f := ev.GetFailure()
		s.log.Warn("failure", "agent", f.GetAgentId().GetValue(), "executor", f.GetExecutorId().GetValue(), "status", f.GetStatus())
	case schedpb.Event_MESSAGE:
		s.log.Info("framework message", "executor", ev.GetMessage().GetExecutorId().GetValue(), "bytes", len(ev.GetMessage().GetData()))
	case schedpb.Event_ERROR:
		return fmt.Errorf("service: the master ended the framework: %s", ev.GetError().GetMessage())
	}
	return nil
}

// instance returns the instance whose current task is id, or nil.
func (s *Scheduler) instance(taskID string) *Instance {
	for _, in := range s.st.Instances {
		if in.TaskID == taskID {
			return in
		}
	}
	return nil
}

// gone: the task's agent was lost, not the task's own failure.
func gone(st mesos.TaskState) bool {
	switch st {
	case mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_UNREACHABLE, mesos.TaskState_TASK_GONE,
		mesos.TaskState_TASK_DROPPED, mesos.TaskState_TASK_GONE_BY_OPERATOR, mesos.TaskState_TASK_UNKNOWN:
		return true
	}
	return false
}

func (s *Scheduler) update(ctx context.Context, st *mesos.TaskStatus) {
	id := st.GetTaskId().GetValue()
	state := st.GetState()
	in := s.instance(id)
	if in == nil {
		if !scheduler.IsTerminal(state) && state != mesos.TaskState_TASK_UNREACHABLE {
			// A task the service no longer counts on (one replaced after
			// its agent was lost, come back): end it.
			s.log.Info("killing a task of no instance", "task", id, "state", state.String())
			_ = s.client.Kill(ctx, st.GetTaskId(), st.GetAgentId())
		}
		return
	}
	s.dirty = true
	now := s.now()
	healthySince := in.HealthySince
	prevHealthy := in.Healthy
	in.State, in.Message = state.String(), st.GetMessage()
	if st.Healthy != nil {
		in.Healthy = st.GetHealthy()
	}
	if in.Healthy && !prevHealthy {
		s.log.Info("instance healthy", "role", in.Role, "index", in.Index, "task", id, "host", in.Host, "ports", in.Ports)
	}
	switch healthy := s.healthy(in); {
	case healthy && in.HealthySince.IsZero():
		in.HealthySince = now
	case !healthy:
		in.HealthySince = time.Time{}
	}
	if !scheduler.IsTerminal(state) && state != mesos.TaskState_TASK_UNREACHABLE && state != mesos.TaskState_TASK_UNKNOWN {
		if state == mesos.TaskState_TASK_RUNNING && st.Healthy == nil {
			s.log.Info("instance running", "role", in.Role, "index", in.Index, "task", id, "host", in.Host)
		}
		return
	}
	reason := ""
	if st.Reason != nil {
		reason = st.GetReason().String()
	}
	s.log.Info("task ended", "role", in.Role, "index", in.Index, "task", id, "state", state.String(),
		"reason", reason, "message", st.GetMessage())
	if !scheduler.IsTerminal(state) {
		// Unreachable or unknown: it is replaced; should it come back,
		// it is killed then (see above), and now if the master can.
		_ = s.client.Kill(ctx, st.GetTaskId(), st.GetAgentId())
	}
	agent := in.AgentID
	// A healthy run: healthy for at least the longest backoff.
	healthyRun := !healthySince.IsZero() && now.Sub(healthySince) >= s.spec.Restart.maxDelay()
	in.HealthySince = time.Time{}
	in.TaskID, in.AgentID, in.Host, in.Hostname, in.Ports, in.Hash = "", "", "", "", nil, ""
	in.Healthy = false
	switch {
	case in.Removing:
		s.st.Instances = slices.DeleteFunc(s.st.Instances, func(x *Instance) bool { return x == in })
	case in.Restarting:
		in.Restarting, in.NotBefore = false, now
	case gone(state):
		// Replace it elsewhere at once.
		in.Avoid = append(in.Avoid, agent)
		in.NotBefore = now
	default:
		if in.Failures > 0 && healthyRun {
			s.log.Info("failures forgotten after a healthy run", "role", in.Role, "index", in.Index,
				"failures", in.Failures, "healthy_for", now.Sub(healthySince))
			in.Failures = 0
		}
		in.Failures++
		d := s.spec.Restart.backoff(in.Failures)
		in.NotBefore = now.Add(d)
		s.log.Info("restarting after a backoff", "role", in.Role, "index", in.Index, "failures", in.Failures, "backoff", d)
	}
}

// backoff is the wait before relaunching an instance after its n-th
// failure in a row (n ≥ 1): Delay, doubled for each further failure, at
// most MaxDelay.
func (r Restart) backoff(n int) time.Duration {
	maxDelay := r.maxDelay()
	d := time.Duration(r.Delay * float64(time.Second))
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

func (r Restart) maxDelay() time.Duration { return time.Duration(r.MaxDelay * float64(time.Second)) }

// wanted is how many instances role should have.
func (s *Scheduler) wanted(r *RoleSpec) int {
	if n, ok := s.st.Scale[r.Name]; ok {
		return n
	}
	return *r.Instances
}

// healthy: the instance's task runs and passes its health check (if it
// has one).
func (s *Scheduler) healthy(in *Instance) bool {
	r := s.spec.role(in.Role)
	return in.TaskID != "" && in.State == mesos.TaskState_TASK_RUNNING.String() && r != nil && (r.Health == nil || in.Healthy)
}

// roleHealthy: every wanted instance of the role is healthy.
func (s *Scheduler) roleHealthy(r *RoleSpec) bool {
	n := 0
	for _, in := range s.st.Instances {
		if in.Role == r.Name && in.Index < s.wanted(r) && s.healthy(in) {
			n++
		}
	}
	return n >= s.wanted(r)
}

// blockedBy returns the first dependency of r that is not healthy, or "".
func (s *Scheduler) blockedBy(r *RoleSpec) string {
	for _, d := range r.DependsOn {
		if dr := s.spec.role(d); dr != nil && !s.roleHealthy(dr) {
			return d
		}
	}
	return ""
}

// peers returns the placed instances of a role, by index.
func (s *Scheduler) peers(role string) []Peer {
	var out []Peer
	for _, in := range s.st.Instances {
		if in.Role == role && in.TaskID != "" && !in.Removing {
			out = append(out, Peer{Index: in.Index, Host: in.Host, Hostname: in.Hostname, Ports: in.Ports})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func (s *Scheduler) context(r *RoleSpec, in *Instance) Context {
	return Context{Service: s.spec.Name, Role: r.Name, Index: in.Index, Host: in.Host, Hostname: in.Hostname,
		Ports: in.Ports, Home: r.home()}
}

// converge brings the instances in line with the spec: creates and
// removes instances for scaling, restarts one instance at a time whose
// rendering changed (rolling update), and revives or suppresses offers.
func (s *Scheduler) converge(ctx context.Context) {
	// Scale: create missing instances, remove extra ones.
	for _, r := range s.spec.Roles {
		for i := 0; i < s.wanted(r); i++ {
			if !slices.ContainsFunc(s.st.Instances, func(in *Instance) bool { return in.Role == r.Name && in.Index == i }) {
				s.st.Instances = append(s.st.Instances, &Instance{Role: r.Name, Index: i, Gen: s.st.Gens[slot(r.Name, i)]})
				s.dirty = true
			}
		}
	}
	for _, in := range slices.Clone(s.st.Instances) {
		r := s.spec.role(in.Role)
		if r != nil && in.Index < s.wanted(r) {
			continue
		}
		if in.pending() {
			s.st.Instances = slices.DeleteFunc(s.st.Instances, func(x *Instance) bool { return x == in })
			s.dirty = true
		} else if !in.Removing && s.subscribed {
			s.log.Info("scaling down", "role", in.Role, "index", in.Index, "task", in.TaskID)
			in.Removing, s.dirty = true, true
			_ = s.client.Kill(ctx, &mesos.TaskID{Value: proto.String(in.TaskID)}, &mesos.AgentID{Value: proto.String(in.AgentID)})
		}
	}
	sort.SliceStable(s.st.Instances, func(i, j int) bool {
		a, b := s.st.Instances[i], s.st.Instances[j]
		if a.Role != b.Role {
			return s.roleOrder(a.Role) < s.roleOrder(b.Role)
		}
		return a.Index < b.Index
	})
	if !s.subscribed {
		return
	}
	// Rolling update: at most one instance of a role restarts at a time,
	// and only while the rest of the role and its dependencies are
	// healthy.
	for _, r := range s.spec.Roles {
		if s.blockedBy(r) != "" || !s.roleHealthy(r) {
			continue
		}
		if slices.ContainsFunc(s.st.Instances, func(in *Instance) bool { return in.Role == r.Name && in.Restarting }) {
			continue
		}
		for _, in := range s.st.Instances {
			if in.Role != r.Name || in.pending() || in.Removing {
				continue
			}
			out, err := render(r, s.context(r, in), s.peers)
			if err != nil || out.hash() == in.Hash {
				continue
			}
			s.log.Info("configuration changed; restarting the instance", "role", r.Name, "index", in.Index, "task", in.TaskID)
			in.Restarting, s.dirty = true, true
			_ = s.client.Kill(ctx, &mesos.TaskID{Value: proto.String(in.TaskID)}, &mesos.AgentID{Value: proto.String(in.AgentID)})
			break
		}
	}
	// A role whose dependencies just became healthy revives offers: the
	// offers declined while it waited are filtered for a while otherwise.
	unblocked := false
	for _, r := range s.spec.Roles {
		blocked := s.blockedBy(r) != ""
		if s.blocked[r.Name] && !blocked {
			unblocked = true
		}
		s.blocked[r.Name] = blocked
	}
	// Offers are wanted while an instance waits to be launched.
	now := s.now()
	want := false
	for _, in := range s.st.Instances {
		if in.pending() && !in.Removing && !now.Before(in.NotBefore) {
			want = true
		}
	}
	switch {
	case want && (s.suppressed || unblocked):
		if err := s.client.Revive(ctx); err != nil {
			s.log.Warn("revive failed", "err", err)
		} else {
			s.suppressed = false
		}
	case !want && !s.suppressed && !s.anyPending():
		if err := s.client.Suppress(ctx); err != nil {
			s.log.Warn("suppress failed", "err", err)
		} else {
			s.suppressed = true
		}
	}
	for _, r := range s.spec.Roles {
		if !slices.ContainsFunc(s.st.Instances, func(in *Instance) bool { return in.Role == r.Name && in.pending() }) {
			s.setWaiting(r.Name, "")
		}
	}
}

func (s *Scheduler) anyPending() bool {
	return slices.ContainsFunc(s.st.Instances, func(in *Instance) bool { return in.pending() && !in.Removing })
}

func (s *Scheduler) roleOrder(name string) int {
	for i, r := range s.spec.Roles {
		if r.Name == name {
			return i
		}
	}
	return len(s.spec.Roles)
}

// setWaiting records why a role waits, logging each new reason once.
func (s *Scheduler) setWaiting(role, why string) {
	if s.waiting[role] == why {
		return
	}
	s.waiting[role] = why
	if why != "" {
		s.log.Info("role waits", "role", role, "why", why)
	}
}

// launchable returns the pending instances that may launch now, in
// deploy order, recording why the others wait.
func (s *Scheduler) launchable() []*Instance {
	var out []*Instance
	now := s.now()
	for _, r := range s.spec.Roles {
		var ready []*Instance
		why := ""
		for _, in := range s.st.Instances {
			if in.Role != r.Name || !in.pending() || in.Removing || in.Index >= s.wanted(r) {
				continue
			}
			if dep := s.blockedBy(r); dep != "" {
				why = fmt.Sprintf("waiting for role %s to be healthy", dep)
				break
			}
			if now.Before(in.NotBefore) {
				why = fmt.Sprintf("instance %d restarts in %v (backoff after %d failures)", in.Index,
					in.NotBefore.Sub(now).Round(100*time.Millisecond), in.Failures)
				continue
			}
			// Rendering may need other roles' instances placed.
			probe := Context{Service: s.spec.Name, Role: r.Name, Index: in.Index, Host: "0.0.0.0", Ports: map[string]uint64{}, Home: r.home()}
			for _, p := range r.ports {
				probe.Ports[p.Name] = 0
			}
			if _, err := render(r, probe, s.peers); err != nil {
				why = "cannot render: " + err.Error()
				break
			}
			ready = append(ready, in)
		}
		if why != "" && len(ready) == 0 {
			s.setWaiting(r.Name, why)
		}
		out = append(out, ready...)
	}
	return out
}

// offers launches what it can on offers and declines the rest.
func (s *Scheduler) offers(ctx context.Context, batch []*mesos.Offer) {
	ready := s.launchable()
	misfits := map[string]map[string]bool{} // role -> distinct reasons
	placed := map[*Instance]bool{}
	for _, o := range batch {
		pool := offers.NewPool(o, s.spec.Role)
		host := offers.HostOf(o)
		var tasks []*mesos.TaskInfo
		for _, in := range ready {
			if placed[in] {
				continue
			}
			r := s.spec.role(in.Role)
			miss := func(m string) {
				if misfits[r.Name] == nil {
					misfits[r.Name] = map[string]bool{}
				}
				misfits[r.Name][m] = true
			}
			if slices.Contains(in.Avoid, o.GetAgentId().GetValue()) {
				miss("the only agents offering enough lost this instance before")
				continue
			}
			var others []offers.Host
			for _, x := range s.st.Instances {
				if x.Role == r.Name && x != in && !x.pending() {
					others = append(others, offers.Host{Hostname: x.Hostname, Attributes: s.attrs[x.AgentID]})
				}
			}
			if ok, m := offers.AllowAll(r.constraints, host, others); !ok {
				miss(m.Reason)
				continue
			}
			m, mis, ok := pool.Take(offers.Need{Cpus: r.Cpus, Mem: r.Mem, Disk: r.Disk, Ports: r.ports})
			if !ok {
				if mis.Resource == "ports" {
					miss("no agent offers " + strings.TrimPrefix(mis.Reason, "no "))
				} else {
					miss("no agent offers enough " + mis.Resource + " (" + mis.Reason + ")")
				}
				continue
			}
			task, err := s.task(r, in, o, m)
			if err != nil {
				s.log.Error("task not built", "role", r.Name, "index", in.Index, "err", err)
				continue
			}
			if s.attrs == nil {
				s.attrs = map[string][]*mesos.Attribute{}
			}
			s.attrs[o.GetAgentId().GetValue()] = o.GetAttributes()
			tasks = append(tasks, task)
			placed[in] = true
		}
		refuse := 1.0
		if len(tasks) == 0 {
			if err := s.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(refuse)}); err != nil {
				s.log.Warn("decline failed", "err", err)
			}
			continue
		}
		if err := s.client.Accept(ctx, []*mesos.OfferID{o.GetId()}, []*mesos.Offer_Operation{offers.Launch(tasks...)},
			&mesos.Filters{RefuseSeconds: proto.Float64(refuse)}); err != nil {
			s.log.Warn("launch failed", "err", err)
			for _, t := range tasks {
				if in := s.instance(t.GetTaskId().GetValue()); in != nil {
					in.TaskID, in.AgentID, in.Host, in.Hostname, in.Ports, in.Hash, in.State = "", "", "", "", nil, "", ""
				}
			}
			continue
		}
	}
	for _, in := range ready {
		if placed[in] {
			continue
		}
		if reasons := misfits[in.Role]; len(reasons) > 0 {
			s.setWaiting(in.Role, strings.Join(slices.Sorted(maps.Keys(reasons)), "; "))
		}
	}
}

// task builds the TaskInfo of in on offer o with the resources of m, and
// records the placement in the instance.
func (s *Scheduler) task(r *RoleSpec, in *Instance, o *mesos.Offer, m offers.Match) (*mesos.TaskInfo, error) {
	hostAddr := o.GetUrl().GetAddress().GetIp()
	if hostAddr == "" {
		hostAddr = o.GetHostname()
	}
	ports := map[string]uint64{}
	for i, p := range r.ports {
		ports[p.Name] = m.Ports[i]
	}
	in.Host, in.Hostname, in.Ports = hostAddr, o.GetHostname(), ports
	out, err := render(r, s.context(r, in), s.peers)
	if err != nil {
		in.Host, in.Hostname, in.Ports = "", "", nil
		return nil, err
	}
	in.Gen = max(in.Gen, s.st.Gens[slot(r.Name, in.Index)]) + 1
	if s.st.Gens == nil {
		s.st.Gens = map[string]int{}
	}
	s.st.Gens[slot(r.Name, in.Index)] = in.Gen
	in.TaskID = fmt.Sprintf("%s.%s.%d.%d", s.spec.Name, r.Name, in.Index, in.Gen)
	in.AgentID = o.GetAgentId().GetValue()
	in.Hash = out.hash()
	in.State = mesos.TaskState_TASK_STAGING.String()
	in.Healthy, in.Message, in.Launched = false, "", s.now()
	s.dirty = true

	script, fileEnv := out.script()
	env := map[string]string{"HOST": hostAddr, "MEZZO_SERVICE": s.spec.Name, "MEZZO_ROLE": r.Name,
		"MEZZO_INSTANCE": fmt.Sprint(in.Index)}
	for i, p := range r.ports {
		env["PORT_"+strings.ToUpper(p.Name)] = fmt.Sprint(m.Ports[i])
		env[fmt.Sprintf("PORT%d", i)] = fmt.Sprint(m.Ports[i])
	}
	maps.Copy(env, out.Env)
	maps.Copy(env, fileEnv)
	var vars []*mesos.Environment_Variable
	for _, k := range slices.Sorted(maps.Keys(env)) {
		vars = append(vars, &mesos.Environment_Variable{Name: proto.String(k), Value: proto.String(env[k])})
	}
	cmd := &mesos.CommandInfo{Value: proto.String(script), Shell: proto.Bool(true),
		Environment: &mesos.Environment{Variables: vars}}
	for _, u := range r.URIs {
		cmd.Uris = append(cmd.Uris, &mesos.CommandInfo_URI{Value: proto.String(u), Extract: proto.Bool(true)})
	}
	if s.spec.User != "" {
		cmd.User = proto.String(s.spec.User)
	}
	t := &mesos.TaskInfo{
		Name:      proto.String(fmt.Sprintf("%s.%s.%d", s.spec.Name, r.Name, in.Index)),
		TaskId:    &mesos.TaskID{Value: proto.String(in.TaskID)},
		AgentId:   o.GetAgentId(),
		Resources: m.Resources,
		Command:   cmd,
	}
	if h := r.Health; h != nil {
		t.HealthCheck = &mesos.HealthCheck{
			Type:                mesos.HealthCheck_COMMAND.Enum(),
			Command:             &mesos.CommandInfo{Value: proto.String(out.Health), Shell: proto.Bool(true)},
			DelaySeconds:        proto.Float64(h.Delay),
			IntervalSeconds:     proto.Float64(h.Interval),
			TimeoutSeconds:      proto.Float64(h.Timeout),
			GracePeriodSeconds:  proto.Float64(h.Grace),
			ConsecutiveFailures: proto.Uint32(h.Failures),
		}
	}
	s.log.Info("launching", "role", r.Name, "index", in.Index, "task", in.TaskID, "agent", in.AgentID,
		"host", hostAddr, "ports", ports)
	return t, nil
}
