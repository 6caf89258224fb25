package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/version"
)

// masterPath is the master's endpoint for the agent protocol.
const masterPath = "/master/api/v1/agent"

// Default ping settings when REGISTERED carries none.
const (
	defaultPingInterval = 15 * time.Second
	defaultMaxMissed    = 5
	maxBackoff          = time.Minute
)

// masterLink keeps the agent registered: it opens the event stream,
// hands events to the state goroutine, and re-registers with a random,
// doubling backoff after the stream ends. It also runs the sender of
// other calls. It returns when ctx ends or the master refuses the agent.
func (a *Agent) masterLink(ctx context.Context) {
	client := &http.Client{Transport: a.cfg.TLS.Transport()}
	defer client.CloseIdleConnections()
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		a.sender(ctx, client)
	}()
	defer func() { <-senderDone }()

	if detector.Detected(a.cfg.Master) {
		f, stop, err := a.followLeader(ctx)
		if err != nil {
			a.serveErr <- fmt.Errorf("--master=%s: %w", a.cfg.Master, err)
			return
		}
		defer stop()
		a.leader.Store(f)
	}
	// Register only once recovery knows what runs here.
	select {
	case <-a.recovered:
	case <-ctx.Done():
		return
	}

	bound := a.cfg.RegistrationBackoffFactor
	for ctx.Err() == nil {
		registered, err := a.connect(ctx, client)
		if ctx.Err() != nil {
			return
		}
		refused := false
		_ = a.do(func() {
			a.disconnected()
			refused = a.st.refused
		})
		if refused {
			a.serveErr <- fmt.Errorf("%w: %v", ErrRefused, err)
			return
		}
		if registered {
			bound = a.cfg.RegistrationBackoffFactor
		}
		wait := time.Duration(rand.Int64N(int64(bound) + 1))
		a.log.Info("master connection lost; re-registering", "err", err, "in", wait)
		var changed <-chan struct{}
		if f := a.leader.Load(); f != nil {
			changed = f.Changed()
		}
		switch a.sleepOr(ctx, wait, changed) {
		case sleepCancelled:
			return
		case sleepInterrupted:
			// Another master leads: register with it after Mesos'
			// first, short backoff.
			bound = a.cfg.RegistrationBackoffFactor
			if !a.sleep(ctx, time.Duration(rand.Int64N(int64(bound)+1))) {
				return
			}
			continue
		}
		bound = min(bound*2, maxBackoff)
	}
}

// sleep waits d on the agent's clock; false if ctx ended first.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	return a.sleepOr(ctx, d, nil) == slept
}

// How sleepOr ended.
const (
	slept = iota
	sleepCancelled
	sleepInterrupted
)

// sleepOr waits d on the agent's clock, or until ctx ends
// (sleepCancelled) or wake is closed (sleepInterrupted).
func (a *Agent) sleepOr(ctx context.Context, d time.Duration, wake <-chan struct{}) int {
	done := make(chan struct{})
	t := a.clock.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-done:
		return slept
	case <-ctx.Done():
		return sleepCancelled
	case <-wake:
		return sleepInterrupted
	}
}

// connect runs one registration and its event stream until it ends.
// registered says whether REGISTERED arrived.
func (a *Agent) connect(ctx context.Context, client *http.Client) (registered bool, err error) {
	var reg *agentproto.AgentCall
	if err := a.do(func() { reg = a.registerCall() }); err != nil {
		return false, err
	}
	body, err := proto.Marshal(reg)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := a.cfg.Master
	if f := a.leader.Load(); f != nil {
		// A change of leader ends this connection.
		if addr = f.Attach(cancel); addr == "" {
			return false, fmt.Errorf("%w in %s", errNoLeader, a.cfg.Master)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.TLS.Scheme()+"://"+addr+masterPath, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set("Accept", codec.MediaProtobuf)
	a.authn.authorize(req)

	// The watchdog cuts the attempt when the master stays silent for ping
	// interval × max missed pings: while connecting (a partitioned network
	// can swallow a connection without refusing it) and then when no event
	// (PING) arrives on the stream.
	var watchdog Timer
	silence := a.silence()
	arm := func() {
		if watchdog != nil {
			watchdog.Stop()
		}
		watchdog = a.clock.AfterFunc(silence, cancel)
	}
	arm()
	defer func() { watchdog.Stop() }()

	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil && a.ctx.Err() == nil {
			err = fmt.Errorf("no answer from the master within %s", silence)
		}
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusUnauthorized {
			hint := "the master authenticates agents (--authenticate_agents): start the agent with --credential"
			if a.authn.credential != nil {
				hint = "the master does not accept this agent's --credential (principal " + a.authn.credential.Principal + ")"
			}
			return false, fmt.Errorf("REGISTER: %s: %s", resp.Status, hint)
		}
		return false, fmt.Errorf("REGISTER: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	streamID := resp.Header.Get("Mesos-Stream-Id")
	format, ok := codec.FormatOf(resp.Header.Get("Content-Type"))
	if !ok {
		format = codec.Protobuf
	}
	arm()

	rec := recordio.NewReader(resp.Body, 0)
	for {
		b, err := rec.Read()
		if err != nil {
			if ctx.Err() != nil && a.ctx.Err() == nil {
				err = fmt.Errorf("no PING from the master for %s", silence)
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("master closed the stream")
			}
			return registered, err
		}
		ev := &agentproto.AgentEvent{}
		if err := codec.Unmarshal(format, b, ev); err != nil {
			return registered, fmt.Errorf("bad event from master: %w", err)
		}
		if ev.GetType() == agentproto.AgentEvent_REGISTERED {
			registered = true
			r := ev.GetRegistered()
			if iv := r.GetPingIntervalSeconds(); iv > 0 {
				n := r.GetMaxMissedPings()
				if n == 0 {
					n = defaultMaxMissed
				}
				silence = time.Duration(iv * float64(time.Second) * float64(n))
				a.setSilence(silence)
			}
		}
		arm()
		if err := a.do(func() { a.masterEvent(streamID, ev) }); err != nil {
			return registered, err
		}
		if ev.GetType() == agentproto.AgentEvent_ERROR {
			return registered, errors.New(ev.GetError().GetMessage())
		}
	}
}

// sender posts queued calls to the master one at a time, in order.
func (a *Agent) sender(ctx context.Context, client *http.Client) {
	q := a.st.out // the queue itself is goroutine-safe
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wait():
		}
		items, _ := q.take()
		for _, oc := range items {
			call := oc.call.(*agentproto.AgentCall)
			if err := a.postCall(ctx, client, oc.streamID, call); err != nil && ctx.Err() == nil {
				a.log.Info("call to master failed", "type", call.GetType(), "err", err)
			}
		}
	}
}

func (a *Agent) postCall(ctx context.Context, client *http.Client, streamID string, call *agentproto.AgentCall) error {
	body, err := proto.Marshal(call)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.TLS.Scheme()+"://"+a.masterAddress()+masterPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set("Mesos-Stream-Id", streamID)
	a.authn.authorize(req)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// send queues a call for the master (state goroutine). Calls made while
// disconnected are dropped: status updates are resent on re-registration.
func (a *Agent) send(call *agentproto.AgentCall) {
	if !a.st.connected {
		return
	}
	call.AgentId = a.st.info.GetId()
	a.drv.send(outCall{streamID: a.st.streamID, call: call})
}

// registerCall builds REGISTER with what runs here (state goroutine).
func (a *Agent) registerCall() *agentproto.AgentCall {
	r := &agentproto.AgentCall_Register{
		AgentInfo: proto.Clone(a.st.info).(*mesos.AgentInfo),
		Version:   proto.String(version.Version),
		Endpoint:  proto.String(a.st.endpoint),
	}
	for _, c := range agentCapabilities {
		r.Capabilities = append(r.Capabilities, &mesos.AgentInfo_Capability{Type: c.Enum()})
	}
	r.CheckpointedResources = a.st.checkpointed
	for _, fw := range a.st.frameworks {
		if fw.info == nil || fw.terminating {
			continue
		}
		r.Frameworks = append(r.Frameworks, fw.info)
		for _, ex := range fw.executors {
			if ex.kind != kindCommand {
				r.Executors = append(r.Executors, ex.info)
			}
			for _, t := range ex.tasks {
				r.Tasks = append(r.Tasks, a.taskProto(ex, t))
			}
		}
		// A task ended before it reached an executor (refused, or its
		// executor terminating) is in no executor, but its update waits
		// for the framework's acknowledgement: it is reported too, or the
		// master would take it for unknown here and end it a second time.
		for taskID, u := range fw.updates {
			if len(u.pending) > 0 && fw.executorOf(taskID) == nil {
				r.Tasks = append(r.Tasks, a.pendingTaskProto(fw, u))
			}
		}
	}
	return &agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: r}
}

// pendingTaskProto describes for the master a task that is in no
// executor, from its pending updates.
func (a *Agent) pendingTaskProto(fw *framework, u *updateStream) *mesos.Task {
	latest := u.pending[len(u.pending)-1]
	head := u.pending[0]
	return &mesos.Task{
		Name:              proto.String(u.taskID),
		TaskId:            &mesos.TaskID{Value: proto.String(u.taskID)},
		FrameworkId:       &mesos.FrameworkID{Value: proto.String(fw.id)},
		AgentId:           a.st.info.GetId(),
		ExecutorId:        latest.GetExecutorId(),
		State:             latest.State,
		Statuses:          u.pending,
		StatusUpdateState: head.State,
		StatusUpdateUuid:  head.GetUuid(),
	}
}

// taskProto describes a task for the master.
func (a *Agent) taskProto(ex *executor, t *task) *mesos.Task {
	mt := &mesos.Task{
		Name:        t.info.Name,
		TaskId:      t.info.GetTaskId(),
		FrameworkId: &mesos.FrameworkID{Value: proto.String(ex.fw.id)},
		AgentId:     a.st.info.GetId(),
		State:       t.state.Enum(),
		Resources:   t.info.GetResources(),
		Statuses:    t.statuses,
		Labels:      t.info.GetLabels(),
		Discovery:   t.info.GetDiscovery(),
		Container:   t.info.GetContainer(),
		HealthCheck: t.info.GetHealthCheck(),
		KillPolicy:  t.info.GetKillPolicy(),
		Limits:      t.info.GetLimits(),
	}
	if ex.kind != kindCommand {
		mt.ExecutorId = ex.info.GetExecutorId()
	}
	if u := ex.fw.updates[t.info.GetTaskId().GetValue()]; u != nil && len(u.pending) > 0 {
		mt.StatusUpdateState = u.pending[0].State
		mt.StatusUpdateUuid = u.pending[0].GetUuid()
	}
	return mt
}

// disconnected marks the master link down (state goroutine).
func (a *Agent) disconnected() {
	a.st.connected = false
	a.st.streamID = ""
}

// masterEvent applies one event from the master (state goroutine).
func (a *Agent) masterEvent(streamID string, ev *agentproto.AgentEvent) {
	switch ev.GetType() {
	case agentproto.AgentEvent_REGISTERED:
		r := ev.GetRegistered()
		id := r.GetAgentId().GetValue()
		if old := a.st.agentID(); old != "" && old != id {
			a.log.Warn("master assigned a new agent id", "old", old, "new", id)
			// The reservations and volumes were the old agent's.
			a.st.checkpointed = nil
		}
		// Copy on write: events already queued for executors hold the
		// old AgentInfo.
		info := proto.Clone(a.st.info).(*mesos.AgentInfo)
		info.Id = proto.Clone(r.GetAgentId()).(*mesos.AgentID)
		a.st.info = info
		a.st.masterInfo = r.GetMasterInfo()
		a.st.connected = true
		a.st.streamID = streamID
		a.mu.Lock()
		a.idCopy = id
		a.mu.Unlock()
		a.log.Info("registered with master", "agent_id", id, "master", a.masterAddress())
		a.gcUnscheduleAgent(id)
		a.persist(func(b *checkpoint.Batch) { b.WriteAgent(info) }, a.logCheckpointError("agent info"))
		for _, fw := range a.st.frameworks {
			a.checkpointFramework(fw)
		}
		a.resendUpdates()
	case agentproto.AgentEvent_PING:
		a.send(&agentproto.AgentCall{Type: agentproto.AgentCall_PONG.Enum(),
			Pong: &agentproto.AgentCall_Pong{Sequence: ev.GetPing().Sequence}})
	case agentproto.AgentEvent_RUN_TASK:
		a.runTask(ev.GetRunTask())
	case agentproto.AgentEvent_KILL_TASK:
		k := ev.GetKillTask()
		a.killTask(k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue(), k.GetKillPolicy())
	case agentproto.AgentEvent_ACKNOWLEDGE:
		k := ev.GetAcknowledge()
		a.acknowledge(k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue(), k.GetUuid())
	case agentproto.AgentEvent_SHUTDOWN_FRAMEWORK:
		a.shutdownFramework(ev.GetShutdownFramework().GetFrameworkId().GetValue())
	case agentproto.AgentEvent_SHUTDOWN_EXECUTOR:
		s := ev.GetShutdownExecutor()
		if fw := a.st.frameworks[s.GetFrameworkId().GetValue()]; fw != nil {
			if ex := fw.executors[s.GetExecutorId().GetValue()]; ex != nil {
				a.shutdownExecutor(ex)
			}
		}
	case agentproto.AgentEvent_FRAMEWORK_MESSAGE:
		m := ev.GetFrameworkMessage()
		a.frameworkMessage(m.GetFrameworkId().GetValue(), m.GetExecutorId().GetValue(), m.GetData())
	case agentproto.AgentEvent_ERROR:
		a.log.Error("master refused the agent", "message", ev.GetError().GetMessage())
		a.st.refused = true
		// The id is dead: the next start must register as a new agent.
		a.persist(func(b *checkpoint.Batch) { b.RemoveLatest() }, a.logCheckpointError("removal of meta/slaves/latest"))
	case agentproto.AgentEvent_RECONCILE:
		a.reconcile(ev.GetReconcile())
	case agentproto.AgentEvent_UPDATE_FRAMEWORK:
		u := ev.GetUpdateFramework()
		if fw := a.st.frameworks[u.GetFrameworkId().GetValue()]; fw != nil {
			fw.pid = u.GetFrameworkPid()
		}
	case agentproto.AgentEvent_CHECKPOINT_RESOURCES:
		a.checkpointResources(ev.GetCheckpointResources().GetResources())
	default:
		a.log.Warn("unknown event from master", "type", ev.GetType())
	}
}

// reconcile kills what the master does not know (state goroutine).
func (a *Agent) reconcile(r *agentproto.AgentEvent_Reconcile) {
	knownFw := map[string]bool{}
	for _, id := range r.GetKnownFrameworks() {
		knownFw[id.GetValue()] = true
	}
	knownTask := map[string]bool{}
	for _, id := range r.GetKnownTasks() {
		knownTask[id.GetValue()] = true
	}
	for id, fw := range a.st.frameworks {
		if !knownFw[id] {
			a.shutdownFramework(id)
			continue
		}
		for _, ex := range fw.executors {
			for tid, t := range ex.tasks {
				if !knownTask[tid] && !mesos.IsTerminalState(t.state) {
					a.killTask(id, tid, nil)
				}
			}
		}
	}
}

// silence returns how long the master may stay silent before the agent
// gives up on the connection: what the last REGISTERED announced, or
// Mesos' defaults before any.
func (a *Agent) silence() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.masterSilence > 0 {
		return a.masterSilence
	}
	return defaultPingInterval * defaultMaxMissed
}

func (a *Agent) setSilence(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.masterSilence = d
}

// checkpointResources takes the total the master sent after a
// reservation or volume operation: it is kept and checkpointed, so a
// restarted agent reports it; once that is durable, the data of volumes
// it no longer holds is deleted unless a live executor or task, or a
// total received since, still uses it (state goroutine).
func (a *Agent) checkpointResources(rs []*mesos.Resource) {
	if rs == nil {
		rs = []*mesos.Resource{}
	}
	old := a.st.checkpointed
	a.st.checkpointed = rs
	write := func(*checkpoint.Batch) {}
	if id := a.st.agentID(); id != "" {
		write = func(b *checkpoint.Batch) { b.WriteResources(id, rs) }
	}
	a.persist(write, func(err error) {
		if err != nil {
			return
		}
		a.log.Info("checkpointed the agent's total resources", "resources", len(rs))
		a.deleteDestroyedVolumes(old)
	})
}

// deleteDestroyedVolumes deletes the data of the volumes of old that the
// agent's total no longer holds and nothing uses (state goroutine).
func (a *Agent) deleteDestroyedVolumes(old []*mesos.Resource) {
	kept := map[volumeKey]bool{}
	for _, k := range volumeKeys(a.st.checkpointed) {
		kept[k] = true
	}
	for _, k := range volumeKeys(old) {
		if kept[k] {
			continue
		}
		if a.volumeInUse(k) {
			a.log.Warn("destroyed persistent volume is still in use; keeping its data", "role", k.role, "volume", k.id)
			continue
		}
		path := volumePath(a.cfg.WorkDir, k.role, k.id)
		if err := os.RemoveAll(path); err != nil {
			a.log.Error("failed to delete a destroyed persistent volume", "path", path, "err", err)
			continue
		}
		a.log.Info("deleted a destroyed persistent volume", "role", k.role, "volume", k.id, "path", path)
	}
}

// volumeKey names a persistent volume on the agent.
type volumeKey struct{ role, id string }

func volumeKeys(rs []*mesos.Resource) []volumeKey {
	var out []volumeKey
	for _, r := range rs {
		if p := r.GetDisk().GetPersistence(); r.GetName() == "disk" && p != nil {
			out = append(out, volumeKey{reservationRole(r), p.GetId()})
		}
	}
	return out
}

// volumeInUse reports whether a live executor or one of its tasks holds
// the volume (state goroutine).
func (a *Agent) volumeInUse(k volumeKey) bool {
	uses := func(rs []*mesos.Resource) bool {
		for _, v := range volumeKeys(rs) {
			if v == k {
				return true
			}
		}
		return false
	}
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if ex.state == exTerminated {
				continue
			}
			if uses(ex.info.GetResources()) {
				return true
			}
			for _, t := range ex.tasks {
				if !mesos.IsTerminalState(t.state) && uses(t.info.GetResources()) {
					return true
				}
			}
		}
	}
	return false
}
