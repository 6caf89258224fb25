package agent

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/api/v0/messages"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/libprocess"
	"github.com/mezzo-project/mezzo/internal/limits"
)

// The executor driver protocol (libprocess, "v0"): an executor linked
// with libmesos' MesosExecutorDriver POSTs its messages to
// /slave(1)/<message name> and hears back through POSTs the agent makes
// to the executor's own address (internal/libprocess).
//
//	executor ──/slave(1)/RegisterExecutorMessage──▶ v0Edge (HTTP goroutine)
//	                                                 │ a.subscribe / executorCall:
//	                                                 │ the same state code as
//	                                                 ▼ POST /api/v1/executor
//	state goroutine ── execpb.Event ──▶ execConn queue ──▶ v0Edge.forward
//	                                                          │ (one goroutine per
//	executor ◀── RunTask/KillTask/... ── libprocess.Sender ◀──┘  subscription)
//
// A v0 executor is an executor like any other: its subscription is an
// execConn whose events a forwarding goroutine translates into the
// messages the driver expects (SUBSCRIBED → ExecutorRegisteredMessage or
// ExecutorReregisteredMessage, LAUNCH → RunTaskMessage, KILL →
// KillTaskMessage, MESSAGE → FrameworkToExecutorMessage, SHUTDOWN →
// ShutdownExecutorMessage) and queues on the Sender, which never blocks.
// The state goroutine does no network I/O.
//
// As Mesos' agent does, the agent acknowledges an executor's status
// update (StatusUpdateAcknowledgementMessage) as soon as the update is
// durable, not when the framework acknowledges it. Scheduler drivers
// send framework messages straight to the agent's pid (the pid of the
// offer), and the agent sends a v0 executor's messages straight to the
// scheduler driver's pid when the framework has one (RunTask's
// framework_pid), else through the master. A restarted agent asks the
// recovered v0 executors to register again (ReconnectExecutorMessage to
// the pid in the checkpoint's pids/libprocess.pid).

// v0Edge is the agent's end of the executor driver protocol.
type v0Edge struct {
	a    *Agent
	log  *slog.Logger
	recv *libprocess.Receiver

	mu     sync.Mutex
	sender *libprocess.Sender // made by Serve, with the agent's pid
	// pids maps "<framework id>/<executor id>" to the pid of the v0
	// executor registered under it: its messages are taken from that pid
	// only, and the agent's answers go there (never to a sender's claim).
	pids map[string]libprocess.UPID
}

// agentProcessID is the agent's libprocess process id, as Mesos names it.
const agentProcessID = "slave(1)"

// maxV0ExecutorBody bounds an executor driver's message.
const maxV0ExecutorBody = 16 << 20

func newV0Edge(a *Agent) *v0Edge {
	e := &v0Edge{a: a, log: a.log.With("protocol", "libprocess"), pids: map[string]libprocess.UPID{}}
	e.recv = &libprocess.Receiver{ID: agentProcessID, Log: e.log, MaxBody: maxV0ExecutorBody, Handlers: map[string]func(libprocess.Message){
		"mesos.internal.RegisterExecutorMessage":    e.registerExecutor,
		"mesos.internal.ReregisterExecutorMessage":  e.reregisterExecutor,
		"mesos.internal.StatusUpdateMessage":        e.statusUpdate,
		"mesos.internal.ExecutorToFrameworkMessage": e.executorToFramework,
		"mesos.internal.FrameworkToExecutorMessage": e.frameworkToExecutor,
	}}
	return e
}

// ServeHTTP serves /slave(1)/<message name>; other paths under /slave(1)/
// that are not libprocess messages are not found.
func (e *v0Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/"+agentProcessID+"/mesos.") || !libprocess.IsMessage(r) {
		http.NotFound(w, r)
		return
	}
	e.recv.ServeHTTP(w, r)
}

// start makes the Sender once the agent's address is known (Serve).
func (e *v0Edge) start(endpoint string) error {
	self, err := libprocess.ParseUPID(agentProcessID + "@" + endpoint)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sender == nil {
		e.sender = libprocess.NewSender(libprocess.Config{Self: self, Log: e.log, OnExited: e.exited, TLS: e.a.cfg.TLS})
	}
	return nil
}

// close stops the Sender's connections (after the state goroutine ended).
func (e *v0Edge) close() {
	e.mu.Lock()
	s := e.sender
	e.sender = nil
	e.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// send encodes m and queues it for to; it never blocks.
func (e *v0Edge) send(to libprocess.UPID, name string, m proto.Message) {
	e.mu.Lock()
	s := e.sender
	e.mu.Unlock()
	if s == nil {
		e.log.Warn("driver message dropped: the agent does not serve yet", "message", name, "to", to.String())
		return
	}
	b, err := proto.Marshal(m)
	if err != nil {
		e.log.Error("cannot encode a driver message", "message", name, "err", err)
		return
	}
	if err := s.Send(to, name, b); err != nil {
		e.log.Warn("driver message dropped", "message", name, "to", to.String(), "err", err)
	}
}

func executorKey(fwID, exID string) string { return fwID + "/" + exID }

// pidOf returns the pid of the registered v0 executor exID.
func (e *v0Edge) pidOf(fwID, exID string) (libprocess.UPID, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pid, ok := e.pids[executorKey(fwID, exID)]
	return pid, ok
}

func (e *v0Edge) setPID(fwID, exID string, pid libprocess.UPID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pids[executorKey(fwID, exID)] = pid
}

// forget drops an executor that ended (state goroutine), and the
// Sender's old dial times with it, so that neither grows with the
// executors an agent ever ran.
func (e *v0Edge) forget(fwID, exID string) {
	e.mu.Lock()
	delete(e.pids, executorKey(fwID, exID))
	s := e.sender
	e.mu.Unlock()
	if s != nil {
		s.Forget()
	}
}

// exited is the Sender's report that pid cannot be reached: the
// subscriptions of the executors at pid end, as a broken HTTP stream
// ends an HTTP executor's. The executor stays until its process ends or
// it registers again.
func (e *v0Edge) exited(pid libprocess.UPID) {
	e.a.post(func() {
		for _, fw := range e.a.st.frameworks {
			for _, ex := range fw.executors {
				if ex.conn != nil && ex.libprocessPID == pid.String() {
					e.log.Info("executor driver unreachable", "framework", fw.id, "executor", ex.id, "pid", pid.String())
					e.a.unsubscribe(ex.conn)
				}
			}
		}
	})
}

// decode unmarshals msg's body into m, logging a body that does not
// decode.
func (e *v0Edge) decode(msg libprocess.Message, m proto.Message) bool {
	if err := proto.Unmarshal(msg.Body, m); err != nil {
		e.log.Warn("dropping an executor driver message that does not decode", "message", msg.Name, "from", msg.From.String(), "err", err)
		return false
	}
	return true
}

func (e *v0Edge) registerExecutor(msg libprocess.Message) {
	m := &messages.RegisterExecutorMessage{}
	if e.decode(msg, m) {
		e.register(msg.From, m.GetFrameworkId().GetValue(), m.GetExecutorId().GetValue(), false, nil)
	}
}

// reregisterExecutor serves an executor driver that lost its agent: it
// subscribes again with the tasks it holds, then its unacknowledged
// updates go through the usual path (and are acknowledged once durable).
func (e *v0Edge) reregisterExecutor(msg libprocess.Message) {
	m := &messages.ReregisterExecutorMessage{}
	if !e.decode(msg, m) {
		return
	}
	fwID, exID := m.GetFrameworkId().GetValue(), m.GetExecutorId().GetValue()
	if !e.register(msg.From, fwID, exID, true, m.GetTasks()) {
		return
	}
	for _, u := range m.GetUpdates() {
		e.update(msg.From, fwID, exID, u)
	}
}

// register subscribes the v0 executor exID of framework fwID at pid, and
// starts forwarding its events. It reports whether the executor is
// subscribed.
func (e *v0Edge) register(pid libprocess.UPID, fwID, exID string, again bool, tasks []*mesos.TaskInfo) bool {
	if fwID == "" || exID == "" {
		e.log.Warn("dropping an executor registration without framework or executor id", "from", pid.String())
		return false
	}
	var conn *execConn
	var fwPID string
	unknown := false
	err := e.a.do(func() {
		fw := e.a.st.frameworks[fwID]
		var ex *executor
		if fw != nil {
			ex = fw.executors[exID]
		}
		if ex == nil {
			unknown = true
			return
		}
		// Remembered before subscribe, which may deliver at once.
		e.setPID(fwID, exID, pid)
		ex.libprocessPID = pid.String()
		if ex.checkpointed {
			run := ex.runID
			e.a.persist(func(b *checkpoint.Batch) { b.WriteLibprocessPid(run, pid.String()) }, e.a.logCheckpointError("executor libprocess pid"))
		}
		fwPID = fw.pid
		conn = e.a.subscribe(fw, ex, &execpb.Call_Subscribe{UnacknowledgedTasks: tasks})
	})
	if err != nil {
		return false
	}
	if unknown {
		// As Mesos' agent does: an executor it does not know is told to
		// shut down.
		e.log.Warn("shutting down an unknown executor that registers", "framework", fwID, "executor", exID, "from", pid.String())
		e.send(pid, "mesos.internal.ShutdownExecutorMessage", &messages.ShutdownExecutorMessage{})
		return false
	}
	e.a.wg.Add(1)
	go func() {
		defer e.a.wg.Done()
		e.forward(conn, pid, fwID, exID, fwPID, again)
	}()
	return true
}

// forward translates one subscription's events into driver messages for
// the executor at pid, until the subscription ends.
func (e *v0Edge) forward(conn *execConn, pid libprocess.UPID, fwID, exID, fwPID string, again bool) {
	var fwInfo *mesos.FrameworkInfo
	var agentID *mesos.AgentID
	fid := &mesos.FrameworkID{Value: proto.String(fwID)}
	for {
		select {
		case <-conn.events.wait():
		case <-e.a.quit:
			return
		}
		events, closed := conn.events.take()
		for _, ev := range events {
			switch ev.GetType() {
			case execpb.Event_SUBSCRIBED:
				s := ev.GetSubscribed()
				fwInfo, agentID = s.GetFrameworkInfo(), s.GetAgentInfo().GetId()
				if again {
					e.send(pid, "mesos.internal.ExecutorReregisteredMessage", &messages.ExecutorReregisteredMessage{
						SlaveId: agentID, SlaveInfo: s.GetAgentInfo()})
					continue
				}
				e.send(pid, "mesos.internal.ExecutorRegisteredMessage", &messages.ExecutorRegisteredMessage{
					ExecutorInfo: s.GetExecutorInfo(), FrameworkId: fid, FrameworkInfo: fwInfo,
					SlaveId: agentID, SlaveInfo: s.GetAgentInfo()})
			case execpb.Event_LAUNCH:
				m := &messages.RunTaskMessage{Framework: fwInfo, Task: ev.GetLaunch().GetTask()}
				if fwPID != "" {
					m.Pid = proto.String(fwPID)
				}
				e.send(pid, "mesos.internal.RunTaskMessage", m)
			case execpb.Event_KILL:
				k := ev.GetKill()
				e.send(pid, "mesos.internal.KillTaskMessage", &messages.KillTaskMessage{
					FrameworkId: fid, TaskId: k.GetTaskId(), KillPolicy: k.GetKillPolicy()})
			case execpb.Event_MESSAGE:
				e.send(pid, "mesos.internal.FrameworkToExecutorMessage", &messages.FrameworkToExecutorMessage{
					SlaveId: agentID, FrameworkId: fid, ExecutorId: &mesos.ExecutorID{Value: proto.String(exID)},
					Data: ev.GetMessage().GetData()})
			case execpb.Event_SHUTDOWN:
				e.send(pid, "mesos.internal.ShutdownExecutorMessage", &messages.ShutdownExecutorMessage{})
			case execpb.Event_ACKNOWLEDGED:
				// The driver heard of the update when it was durable
				// (statusUpdate); the framework's acknowledgement is not
				// its business.
			default:
				// LAUNCH_GROUP (task groups run under the HTTP default
				// executor), ERROR and HEARTBEAT have no driver message.
				e.log.Warn("event with no executor driver message dropped", "type", ev.GetType().String(), "executor", exID)
			}
		}
		if closed {
			return
		}
	}
}

// statusUpdate serves an executor's StatusUpdateMessage: the update takes
// the path of an HTTP executor's UPDATE, and once it is durable the
// executor gets its StatusUpdateAcknowledgementMessage.
func (e *v0Edge) statusUpdate(msg libprocess.Message) {
	m := &messages.StatusUpdateMessage{}
	if !e.decode(msg, m) {
		return
	}
	u := m.GetUpdate()
	e.update(msg.From, u.GetFrameworkId().GetValue(), u.GetExecutorId().GetValue(), u)
}

func (e *v0Edge) update(from libprocess.UPID, fwID, exID string, u *messages.StatusUpdate) {
	pid, ok := e.pidOf(fwID, exID)
	if !ok || pid != from {
		e.log.Warn("dropping a status update not from the executor's driver", "from", from.String(), "framework", fwID, "executor", exID)
		return
	}
	if err := limits.Check("status_update", u); err != nil {
		e.log.Warn("dropping a status update past Mezzo's bounds", "framework", fwID, "executor", exID, "err", err)
		return
	}
	s := proto.Clone(u.GetStatus()).(*mesos.TaskStatus)
	if s.Uuid == nil {
		s.Uuid = u.GetUuid()
	}
	if s.Source == nil {
		s.Source = mesos.TaskStatus_SOURCE_EXECUTOR.Enum()
	}
	if s.ExecutorId == nil {
		s.ExecutorId = &mesos.ExecutorID{Value: proto.String(exID)}
	}
	if s.Timestamp == nil && u.Timestamp != nil {
		s.Timestamp = u.Timestamp
	}
	call := &execpb.Call{
		Type:        execpb.Call_UPDATE.Enum(),
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(exID)},
		Update:      &execpb.Call_Update{Status: s},
	}
	if err := validateCall(call); err != nil {
		e.log.Warn("dropping an invalid status update from an executor driver", "framework", fwID, "executor", exID, "err", err)
		return
	}
	if _, err := e.a.executorCall(call); err != nil {
		e.log.Warn("status update from an executor driver refused", "framework", fwID, "executor", exID, "task", s.GetTaskId().GetValue(), "err", err)
		return
	}
	e.send(pid, "mesos.internal.StatusUpdateAcknowledgementMessage", &messages.StatusUpdateAcknowledgementMessage{
		SlaveId: s.GetAgentId(), FrameworkId: call.GetFrameworkId(), TaskId: s.GetTaskId(), Uuid: s.GetUuid()})
}

// executorToFramework serves an executor's message to its scheduler: to
// the scheduler driver's pid when the framework has one, else through
// the master.
func (e *v0Edge) executorToFramework(msg libprocess.Message) {
	m := &messages.ExecutorToFrameworkMessage{}
	if !e.decode(msg, m) {
		return
	}
	fwID, exID := m.GetFrameworkId().GetValue(), m.GetExecutorId().GetValue()
	if pid, ok := e.pidOf(fwID, exID); !ok || pid != msg.From {
		e.log.Warn("dropping an executor message not from the executor's driver", "from", msg.From.String(), "framework", fwID, "executor", exID)
		return
	}
	_ = e.a.do(func() {
		fw := e.a.st.frameworks[fwID]
		if fw == nil {
			e.a.st.metrics.invalidFrameworkMessages++
			return
		}
		e.a.st.metrics.validFrameworkMessages++
		m.SlaveId = e.a.st.info.GetId()
		if to, err := libprocess.ParseUPID(fw.pid); err == nil {
			e.send(to, "mesos.internal.ExecutorToFrameworkMessage", m)
			return
		}
		e.a.send(frameworkMessageCall(fwID, &execpb.Call{ExecutorId: m.GetExecutorId(),
			Message: &execpb.Call_Message{Data: m.GetData()}}))
	})
}

// frameworkToExecutor serves a scheduler driver's message to one of its
// executors, sent straight to the agent.
func (e *v0Edge) frameworkToExecutor(msg libprocess.Message) {
	m := &messages.FrameworkToExecutorMessage{}
	if !e.decode(msg, m) {
		return
	}
	e.a.post(func() { e.a.frameworkMessage(m.GetFrameworkId().GetValue(), m.GetExecutorId().GetValue(), m.GetData()) })
}

// reconnectExecutors asks the recovered v0 executors to register again
// (state goroutine, once the agent serves).
func (e *v0Edge) reconnectExecutors() {
	for _, fw := range e.a.st.frameworks {
		for _, ex := range fw.executors {
			if !ex.recovered || ex.state != exRegistering || ex.libprocessPID == "" {
				continue
			}
			pid, err := libprocess.ParseUPID(ex.libprocessPID)
			if err != nil {
				e.log.Warn("recovered executor has a bad libprocess pid", "executor", ex.id, "pid", ex.libprocessPID, "err", err)
				continue
			}
			e.log.Info("asking a recovered executor driver to register again", "framework", fw.id, "executor", ex.id, "pid", pid.String())
			e.send(pid, "mesos.internal.ReconnectExecutorMessage", &messages.ReconnectExecutorMessage{SlaveId: e.a.st.info.GetId()})
		}
	}
}
