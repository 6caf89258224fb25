package master

import (
	"log/slog"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	schedv0 "github.com/mezzo-project/mezzo/api/v0/scheduler"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/auth"
	"github.com/mezzo-project/mezzo/internal/libprocess"
)

// The driver protocol (libprocess, "v0"): Mesos' MesosSchedulerDriver
// POSTs its calls to /master/<message name> and hears back through POSTs
// the master makes to the driver's own address (internal/libprocess).
//
//	driver ──/master/mesos.scheduler.Call──▶ v0Edge.handlers (HTTP goroutine)
//	                                            │ m.do: the same core calls as
//	                                            │ POST /api/v1/scheduler
//	                                            ▼
//	core ── schedpb.Event ──▶ v0Sink.Send ──▶ libprocess.Sender ──▶ driver
//	core ◀── frameworkStreamClosed ── Sender.OnExited (driver unreachable)
//
// A v0 framework is a framework like any other: its sink replaces the
// HTTP stream, and translates each event into the message the driver
// expects (SUBSCRIBED → FrameworkRegisteredMessage, OFFERS →
// ResourceOffersMessage, UPDATE → StatusUpdateMessage, ...). The core
// does no I/O: the sink only queues on the Sender, which never blocks.

// v0Edge is the master's end of the driver protocol.
type v0Edge struct {
	m   *Master
	log *slog.Logger
	// recv serves /master/<message name>.
	recv *libprocess.Receiver

	mu     sync.Mutex
	sender *libprocess.Sender // made on first use, with the master's pid
	closed bool
	// auth authenticates drivers with CRAM-MD5 (v0_authn.go).
	auth *v0Auth
}

func newV0Edge(m *Master) *v0Edge {
	e := &v0Edge{m: m, log: m.log.With("protocol", "libprocess")}
	e.recv = &libprocess.Receiver{ID: "master", Log: e.log, MaxBody: maxV0Body, Handlers: map[string]func(libprocess.Message){
		"mesos.scheduler.Call":                              e.call,
		"mesos.internal.RegisterFrameworkMessage":           e.registerFramework,
		"mesos.internal.ReregisterFrameworkMessage":         e.reregisterFramework,
		"mesos.internal.UnregisterFrameworkMessage":         e.unregisterFramework,
		"mesos.internal.DeactivateFrameworkMessage":         e.deactivateFramework,
		"mesos.internal.ResourceRequestMessage":             e.resourceRequest,
		"mesos.internal.LaunchTasksMessage":                 e.launchTasks,
		"mesos.internal.ReviveOffersMessage":                e.reviveOffers,
		"mesos.internal.KillTaskMessage":                    e.killTask,
		"mesos.internal.StatusUpdateAcknowledgementMessage": e.acknowledge,
		"mesos.internal.ReconcileTasksMessage":              e.reconcileTasks,
		"mesos.internal.FrameworkToExecutorMessage":         e.frameworkToExecutor,
	}}
	e.auth = newV0Auth(e)
	e.recv.Handlers[auth.MsgAuthenticate] = e.auth.authenticate
	e.recv.Handlers[auth.MsgStart] = e.auth.start
	e.recv.Handlers[auth.MsgStep] = e.auth.step
	return e
}

// maxV0Body bounds a driver's message, as the HTTP API bounds a call.
const maxV0Body = 16 << 20

// senderFor returns the Sender, made with the master's pid self on first
// use; nil once closed.
func (e *v0Edge) senderFor(self string) *libprocess.Sender {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	if e.sender == nil {
		pid, err := libprocess.ParseUPID(self)
		if err != nil {
			e.log.Error("the master's pid is not a libprocess pid: driver-based frameworks get no answers", "pid", self, "err", err)
			return nil
		}
		e.sender = libprocess.NewSender(libprocess.Config{Self: pid, Log: e.log, OnExited: e.exited, TLS: e.m.cfg.TLS})
	}
	return e.sender
}

// close stops the Sender's connections (after the core's loop ended).
func (e *v0Edge) close() {
	e.mu.Lock()
	s := e.sender
	e.closed = true
	e.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// exited is the Sender's report that a driver cannot be reached: its
// frameworks are disconnected, as Mesos' master does on ExitedEvent.
func (e *v0Edge) exited(pid libprocess.UPID) {
	e.auth.forget(pid.String())
	go func() {
		_ = e.m.do(func(c *core) {
			for _, f := range c.v0Frameworks(pid.String()) {
				c.log.Info("framework's scheduler driver exited", "framework_id", f.id, "pid", pid.String())
				c.frameworkStreamClosed(f.id, f.streamID)
			}
		})
	}()
}

// v0Frameworks returns the connected frameworks whose driver is pid.
func (c *core) v0Frameworks(pid string) []*framework {
	var out []*framework
	for _, id := range sortedKeys(c.frameworks) {
		f := c.frameworks[id]
		if s, ok := f.stream.(*v0Sink); ok && s.pid.String() == pid {
			out = append(out, f)
		}
	}
	return out
}

// decode unmarshals msg's body into m, logging a body that does not
// decode.
func (e *v0Edge) decode(msg libprocess.Message, m proto.Message) bool {
	if err := proto.Unmarshal(msg.Body, m); err != nil {
		e.log.Warn("dropping a driver message that does not decode", "message", msg.Name, "from", msg.From.String(), "err", err)
		return false
	}
	return true
}

// call serves mesos.scheduler.Call, what the driver sends for nearly
// everything.
func (e *v0Edge) call(msg libprocess.Message) {
	c0 := &schedv0.Call{}
	if !e.decode(msg, c0) {
		return
	}
	call := c0.V1()
	if err := validateSchedulerCall(call); err != nil {
		_ = e.m.do(func(c *core) { c.invalidSchedulerCall(call.GetType()) })
		e.log.Warn("dropping an invalid driver call", "from", msg.From.String(), "type", call.GetType().String(), "err", err)
		return
	}
	if call.GetType() == schedpb.Call_SUBSCRIBE {
		e.subscribe(msg.From, call.GetSubscribe())
		return
	}
	e.frameworkCall(msg.From, call)
}

// subscribe registers the framework of the driver at from, or registers
// it again.
func (e *v0Edge) subscribe(from libprocess.UPID, sub *schedpb.Call_Subscribe) {
	_ = e.m.do(func(c *core) {
		s := e.senderFor(c.info.GetPid())
		if s == nil {
			return
		}
		if refusal := e.checkPrincipal(from, sub.GetFrameworkInfo()); refusal != "" {
			e.log.Warn("refusing a driver framework", "from", from.String(), "reason", refusal)
			sink := &v0Sink{sender: s, pid: from, log: e.log, agentPID: c.agentPID}
			sink.send("mesos.internal.FrameworkErrorMessage", &messages.FrameworkErrorMessage{Message: proto.String(refusal)})
			return
		}
		id := sub.GetFrameworkInfo().GetId().GetValue()
		if id == "" {
			// The driver retries its registration until it hears back:
			// a framework already registered from this pid is told again.
			for _, f := range c.v0Frameworks(from.String()) {
				f.stream.(*v0Sink).registered(c.info)
				return
			}
		}
		sink := &v0Sink{sender: s, pid: from, log: e.log, agentPID: c.agentPID}
		oldPID := ""
		if f := c.frameworks[id]; f != nil {
			oldPID = f.pid
			// A driver that knew this master hears FrameworkReregistered;
			// after a master restart it hears FrameworkRegistered
			// (Mesos' master does the same: MESOS-786).
			sink.reregistered = !f.recovered
			if old, ok := f.stream.(*v0Sink); ok && old.pid == from {
				old.quiet = true // the same driver again: no "failed over" error to it
			}
		}
		if fid := c.subscribe(sink, newUUID(), sub); fid != "" {
			sink.frameworkID = fid
			// Once subscribed (after its record is written, when it
			// needs one), the framework is known by its driver's pid.
			setPID := func() error {
				if f := c.frameworks[fid]; f != nil && f.stream == sink {
					f.pid = from.String()
					c.frameworkPIDChanged(f, oldPID)
				}
				return nil
			}
			if _, busy := c.whenFree([]string{frameworkKey(fid)}, setPID); !busy {
				setPID()
			}
		}
	})
}

// checkPrincipal returns why a driver's registration is refused, as
// Mesos' master refuses it: with --authenticate_frameworks, a driver that
// has not authenticated (CRAM-MD5, v0_authn.go); and any authenticated
// driver whose FrameworkInfo names another principal.
func (e *v0Edge) checkPrincipal(from libprocess.UPID, info *mesos.FrameworkInfo) string {
	principal, ok := e.auth.principal(from.String())
	if !ok {
		if e.m.cfg.Authentication.Frameworks {
			return "Framework at " + from.String() + " is not authenticated"
		}
		return ""
	}
	if info.GetPrincipal() != principal {
		return "Framework principal '" + info.GetPrincipal() + "' does not match authenticated principal '" + principal + "'"
	}
	return ""
}

// agentPID is an agent's libprocess pid, "" for an agent not known.
func (c *core) agentPID(agentID string) string {
	if a := c.agents[agentID]; a != nil {
		return a.pid()
	}
	return ""
}

// frameworkCall serves every call but SUBSCRIBE. As in Mesos, only the
// framework's own driver may make its calls; others are dropped.
func (e *v0Edge) frameworkCall(from libprocess.UPID, call *schedpb.Call) {
	_ = e.m.do(func(c *core) {
		f := c.frameworks[call.GetFrameworkId().GetValue()]
		if f == nil {
			e.log.Warn("dropping a driver call for an unknown framework", "from", from.String(), "type", call.GetType().String(), "framework_id", call.GetFrameworkId().GetValue())
			return
		}
		if s, ok := f.stream.(*v0Sink); !ok || s.pid != from {
			e.log.Warn("dropping a driver call not from the framework's driver", "from", from.String(), "type", call.GetType().String(), "framework_id", f.id)
			return
		}
		if err := c.schedulerCall(call, f.streamID, true); err != nil {
			e.log.Warn("driver call refused", "framework_id", f.id, "type", call.GetType().String(), "err", err)
		}
	})
}

// ---- the older messages (drivers before the Call API) ----

func (e *v0Edge) registerFramework(msg libprocess.Message) {
	m := &messages.RegisterFrameworkMessage{}
	if e.decode(msg, m) {
		info := m.GetFramework()
		info.Id = nil
		e.subscribeInfo(msg.From, info)
	}
}

func (e *v0Edge) reregisterFramework(msg libprocess.Message) {
	m := &messages.ReregisterFrameworkMessage{}
	if e.decode(msg, m) {
		e.subscribeInfo(msg.From, m.GetFramework())
	}
}

func (e *v0Edge) subscribeInfo(from libprocess.UPID, info *mesos.FrameworkInfo) {
	call := &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), FrameworkId: info.GetId(),
		Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: info}}
	if err := validateSchedulerCall(call); err != nil {
		e.log.Warn("dropping an invalid framework registration", "from", from.String(), "err", err)
		return
	}
	e.subscribe(from, call.GetSubscribe())
}

func (e *v0Edge) simpleCall(from libprocess.UPID, t schedpb.Call_Type, fid *mesos.FrameworkID, fill func(*schedpb.Call)) {
	call := &schedpb.Call{Type: t.Enum(), FrameworkId: fid}
	if fill != nil {
		fill(call)
	}
	if err := validateSchedulerCall(call); err != nil {
		e.log.Warn("dropping an invalid driver message", "from", from.String(), "type", t.String(), "err", err)
		return
	}
	e.frameworkCall(from, call)
}

func (e *v0Edge) unregisterFramework(msg libprocess.Message) {
	m := &messages.UnregisterFrameworkMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_TEARDOWN, m.GetFrameworkId(), nil)
	}
}

// deactivateFramework serves what an aborted driver sends: the framework
// is disconnected (no more offers; removed when its failover timeout
// passes) as if its driver had exited.
func (e *v0Edge) deactivateFramework(msg libprocess.Message) {
	m := &messages.DeactivateFrameworkMessage{}
	if !e.decode(msg, m) {
		return
	}
	_ = e.m.do(func(c *core) {
		f := c.frameworks[m.GetFrameworkId().GetValue()]
		if f == nil {
			return
		}
		if s, ok := f.stream.(*v0Sink); ok && s.pid == msg.From {
			c.log.Info("framework deactivated by its driver", "framework_id", f.id)
			c.frameworkStreamClosed(f.id, f.streamID)
		}
	})
}

func (e *v0Edge) resourceRequest(msg libprocess.Message) {
	m := &messages.ResourceRequestMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_REQUEST, m.GetFrameworkId(), func(c *schedpb.Call) {
			c.Request = &schedpb.Call_Request{Requests: m.GetRequests()}
		})
	}
}

func (e *v0Edge) launchTasks(msg libprocess.Message) {
	m := &messages.LaunchTasksMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_ACCEPT, m.GetFrameworkId(), func(c *schedpb.Call) {
			c.Accept = &schedpb.Call_Accept{OfferIds: m.GetOfferIds(), Filters: m.GetFilters(),
				Operations: []*mesos.Offer_Operation{{
					Type:   mesos.Offer_Operation_LAUNCH.Enum(),
					Launch: &mesos.Offer_Operation_Launch{TaskInfos: m.GetTasks()},
				}}}
		})
	}
}

func (e *v0Edge) reviveOffers(msg libprocess.Message) {
	m := &messages.ReviveOffersMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_REVIVE, m.GetFrameworkId(), func(c *schedpb.Call) {
			c.Revive = &schedpb.Call_Revive{Roles: m.GetRoles()}
		})
	}
}

func (e *v0Edge) killTask(msg libprocess.Message) {
	m := &messages.KillTaskMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_KILL, m.GetFrameworkId(), func(c *schedpb.Call) {
			c.Kill = &schedpb.Call_Kill{TaskId: m.GetTaskId(), KillPolicy: m.GetKillPolicy()}
		})
	}
}

func (e *v0Edge) acknowledge(msg libprocess.Message) {
	m := &messages.StatusUpdateAcknowledgementMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_ACKNOWLEDGE, m.GetFrameworkId(), func(c *schedpb.Call) {
			c.Acknowledge = &schedpb.Call_Acknowledge{AgentId: m.GetSlaveId(), TaskId: m.GetTaskId(), Uuid: m.GetUuid()}
		})
	}
}

func (e *v0Edge) reconcileTasks(msg libprocess.Message) {
	m := &messages.ReconcileTasksMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_RECONCILE, m.GetFrameworkId(), func(c *schedpb.Call) {
			c.Reconcile = &schedpb.Call_Reconcile{}
			for _, st := range m.GetStatuses() {
				c.Reconcile.Tasks = append(c.Reconcile.Tasks, &schedpb.Call_Reconcile_Task{TaskId: st.GetTaskId(), AgentId: st.GetAgentId()})
			}
		})
	}
}

func (e *v0Edge) frameworkToExecutor(msg libprocess.Message) {
	m := &messages.FrameworkToExecutorMessage{}
	if e.decode(msg, m) {
		e.simpleCall(msg.From, schedpb.Call_MESSAGE, m.GetFrameworkId(), func(c *schedpb.Call) {
			c.Message = &schedpb.Call_Message{AgentId: m.GetSlaveId(), ExecutorId: m.GetExecutorId(), Data: m.GetData()}
		})
	}
}
