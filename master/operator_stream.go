package master

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// The operator API's SUBSCRIBE: an event stream of the cluster's changes.
//
// A subscriber first gets SUBSCRIBED, holding what GET_STATE would answer
// at that moment, then one HEARTBEAT, then the events below in the order
// the core made the changes, and a HEARTBEAT every heartbeat interval.
// SUBSCRIBED is built and the subscriber registered in one core step: a
// subscriber that applies the events to it knows, at every event, the
// registered agents and frameworks and the state of every task.
//
//   - TASK_ADDED: a task was launched, or a (re-)registering agent reported
//     one the master did not know.
//   - TASK_UPDATED: a task's status changed: a status in a new state, a
//     check or health check result, or a state the master decided (the
//     task was killed with its framework, lost with its agent). An agent's
//     retry of an update the master has is not news.
//   - FRAMEWORK_ADDED: a framework new to the master subscribed, or was
//     learned from an agent's report.
//   - FRAMEWORK_UPDATED: a framework subscribed again, changed its
//     FrameworkInfo (UPDATE_FRAMEWORK), or disconnected.
//   - FRAMEWORK_REMOVED: a framework was torn down or its failover timeout
//     elapsed.
//   - AGENT_ADDED: an agent joined the registered agents: it registered
//     for the first time, after a master restart, or back from
//     unreachable (an agent that reconnects while registered does not).
//   - AGENT_REMOVED: a registered agent left: unregistered, marked
//     unreachable or gone, or its machine went DOWN.
//
// The core never waits for a subscriber: events go into the subscriber's
// outbox, and one that falls maxQueued events behind is cut off.
//
// Where Mezzo goes beyond Mesos 1.11, to keep a subscriber's view equal
// to GET_STATE: Mesos sends AGENT_REMOVED only for an agent that
// unregistered or whose machine went DOWN, not for one marked unreachable
// or gone, and no FRAMEWORK_UPDATED when a framework disconnects. Also
// different: UPDATE_FRAMEWORK is always announced (Mesos: when the
// FrameworkInfo changed); the framework in FRAMEWORK_ADDED and
// FRAMEWORK_UPDATED is GET_FRAMEWORKS' whole description (Mesos leaves out
// offers and resources); a re-admitted agent's AGENT_ADDED comes before
// the TASK_ADDED of the tasks it reports (Mesos sends it after them); a
// framework that subscribes with an id this master never saw is only
// added (Mesos: added, then updated).
//
// With --acls, each subscriber sees what the principal that subscribed
// may view (authz.go): SUBSCRIBED's state is filtered as GET_STATE is,
// and framework and task events of frameworks or tasks it may not view
// are not sent to it.

// operatorHeartbeatInterval is how often an operator event stream gets a
// HEARTBEAT, advertised in SUBSCRIBED (Mesos' 15 s, as for frameworks).
const operatorHeartbeatInterval = 15 * time.Second

// operatorSink is the core's end of one operator event stream, with the
// contract of eventSink: Send never blocks, Close ends the stream after
// the events already sent, and both may be called after Close.
type operatorSink interface {
	Send(*masterpb.Event)
	Close()
}

// operatorOutbox adapts an outbox to operatorSink.
type operatorOutbox struct{ *outbox }

// Send queues an operator event.
func (o operatorOutbox) Send(ev *masterpb.Event) { o.push(ev) }

// operatorStreams are the core's open operator event streams.
type operatorStreams struct {
	// subs by subscription number; the lowest is the oldest.
	subs map[int]*operatorSub
	seq  int
	// interval is the heartbeat interval, operatorHeartbeatInterval (tests
	// lower it); max the limit on subscribers
	// (--max_operator_event_stream_subscribers): a new subscriber beyond it
	// closes the oldest stream.
	interval time.Duration
	max      int
}

// operatorSub is one operator event stream.
type operatorSub struct {
	sink          operatorSink
	nextHeartbeat time.Time
	// view is what the subscriber may see; nil: everything.
	view *viewer
}

// newOperatorStreams returns an empty set of streams with Mesos' heartbeat
// interval and at most max subscribers.
func newOperatorStreams(max int) operatorStreams {
	return operatorStreams{subs: map[int]*operatorSub{}, interval: operatorHeartbeatInterval, max: max}
}

// closeAll ends every stream; the master is shutting down.
func (s *operatorStreams) closeAll() {
	for id, sub := range s.subs {
		sub.sink.Close()
		delete(s.subs, id)
	}
}

// subscribeOperator registers sink as an operator subscriber. It returns
// the subscriber's number, for operatorStreamClosed, and the SUBSCRIBED
// event, which the caller writes before anything sink receives; sink's
// first event is a HEARTBEAT. SUBSCRIBED shares nothing with the core.
func (c *core) subscribeOperator(sink operatorSink) (int, *masterpb.Event) {
	return c.subscribeOperatorAs(sink, nil)
}

// subscribeOperatorAs is subscribeOperator for a subscriber that sees
// what v may view (nil: everything).
func (c *core) subscribeOperatorAs(sink operatorSink, v *viewer) (int, *masterpb.Event) {
	subs := &c.operatorSubs
	for len(subs.subs) >= subs.max && subs.max > 0 {
		oldest := -1
		for id := range subs.subs {
			if oldest < 0 || id < oldest {
				oldest = id
			}
		}
		c.log.Info("closing the oldest operator event stream: too many subscribers", "subscriber", oldest, "max", subs.max)
		c.operatorStreamClosed(oldest)
	}
	subs.seq++
	id := subs.seq
	subs.subs[id] = &operatorSub{sink: sink, nextHeartbeat: c.clock.Now().Add(subs.interval), view: v}
	c.scheduleOperator(id)
	c.log.Info("operator subscribed to the event stream", "subscriber", id, "subscribers", len(subs.subs))
	sink.Send(heartbeatEvent())
	return id, &masterpb.Event{
		Type: masterpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &masterpb.Event_Subscribed{
			GetState:                 c.viewStateResponse(&masterpb.Response{GetState: c.getState()}, v).GetGetState(),
			HeartbeatIntervalSeconds: proto.Float64(subs.interval.Seconds()),
		},
	}
}

// operatorStreamClosed forgets subscriber id and closes its stream; a
// no-op for a subscriber already gone.
func (c *core) operatorStreamClosed(id int) {
	sub := c.operatorSubs.subs[id]
	if sub == nil {
		return
	}
	sub.sink.Close()
	delete(c.operatorSubs.subs, id)
	c.scheduleOperator(id)
	c.log.Info("operator event stream closed", "subscriber", id, "subscribers", len(c.operatorSubs.subs))
}

// heartbeatOperators sends HEARTBEAT to the subscribers among ids (their
// timers came due; see operatorTimerID) it is due to.
func (c *core) heartbeatOperators(now time.Time, ids []string) {
	for _, tid := range ids {
		n, err := strconv.Atoi(tid)
		if err != nil {
			continue
		}
		sub := c.operatorSubs.subs[n]
		if sub == nil {
			continue
		}
		if !now.Before(sub.nextHeartbeat) {
			sub.sink.Send(heartbeatEvent())
			sub.nextHeartbeat = now.Add(c.operatorSubs.interval)
		}
		c.scheduleOperator(n)
	}
}

// An operatorEvent builds an event for the operator subscribers from the
// core's current state. publish calls it at once, and only when someone
// is subscribed: the core pays nothing for the stream while nobody
// watches. The event may share messages with the core's books.
type operatorEvent func(c *core) *masterpb.Event

// publish sends the event ev builds to every operator subscriber. It
// copies the event once, before it leaves the core goroutine, and the
// streams share that copy, which they only read.
func (c *core) publish(ev operatorEvent) {
	if len(c.operatorSubs.subs) == 0 {
		return
	}
	msg := proto.Clone(ev(c)).(*masterpb.Event)
	for _, sub := range c.operatorSubs.subs {
		if c.operatorEventVisible(msg, sub.view) {
			sub.sink.Send(msg)
		}
	}
}

// ---- events ----

// heartbeatEvent is a HEARTBEAT, the keep-alive of a quiet stream.
func heartbeatEvent() *masterpb.Event {
	return &masterpb.Event{Type: masterpb.Event_HEARTBEAT.Enum()}
}

// taskAdded is TASK_ADDED for the master's task t, its resources written
// as GET_TASKS writes them.
func taskAdded(t *mesos.Task) operatorEvent {
	return func(*core) *masterpb.Event {
		return &masterpb.Event{
			Type:      masterpb.Event_TASK_ADDED.Enum(),
			TaskAdded: &masterpb.Event_TaskAdded{Task: storedTask(t)},
		}
	}
}

// taskUpdated is TASK_UPDATED for task t, which has just recorded st: the
// status and the task's state (which may be ahead of the status, or kept
// terminal after it).
func taskUpdated(t *mesos.Task, st *mesos.TaskStatus) operatorEvent {
	return func(*core) *masterpb.Event {
		return &masterpb.Event{
			Type: masterpb.Event_TASK_UPDATED.Enum(),
			TaskUpdated: &masterpb.Event_TaskUpdated{
				FrameworkId: t.GetFrameworkId(),
				Status:      st,
				State:       t.GetState().Enum(),
			},
		}
	}
}

// taskUpdateIsNews reports whether recording st on t (not yet recorded)
// is a TASK_UPDATED: its state differs from the task's last status', or
// it reports a check or health check result. An agent resending an
// update, or repeating a state, is not.
func taskUpdateIsNews(t *mesos.Task, st *mesos.TaskStatus) bool {
	switch st.GetReason() {
	case mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED, mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED:
		return true
	}
	n := len(t.GetStatuses())
	return n == 0 || t.GetStatuses()[n-1].GetState() != st.GetState()
}

// frameworkEvent is FRAMEWORK_ADDED or FRAMEWORK_UPDATED (typ) for f, as
// GET_FRAMEWORKS describes it.
func frameworkEvent(typ masterpb.Event_Type, f *framework) operatorEvent {
	return func(c *core) *masterpb.Event {
		ev := &masterpb.Event{Type: typ.Enum()}
		if typ == masterpb.Event_FRAMEWORK_ADDED {
			ev.FrameworkAdded = &masterpb.Event_FrameworkAdded{Framework: c.frameworkProto(f)}
		} else {
			ev.FrameworkUpdated = &masterpb.Event_FrameworkUpdated{Framework: c.frameworkProto(f)}
		}
		return ev
	}
}

// frameworkRemoved is FRAMEWORK_REMOVED for the framework with info.
func frameworkRemoved(info *mesos.FrameworkInfo) operatorEvent {
	return func(*core) *masterpb.Event {
		return &masterpb.Event{
			Type:             masterpb.Event_FRAMEWORK_REMOVED.Enum(),
			FrameworkRemoved: &masterpb.Event_FrameworkRemoved{FrameworkInfo: info},
		}
	}
}

// agentAdded is AGENT_ADDED for a, as GET_AGENTS describes it.
func agentAdded(a *agent) operatorEvent {
	return func(c *core) *masterpb.Event {
		return &masterpb.Event{
			Type:       masterpb.Event_AGENT_ADDED.Enum(),
			AgentAdded: &masterpb.Event_AgentAdded{Agent: c.agentProto(a)},
		}
	}
}

// agentRemoved is AGENT_REMOVED for the agent id.
func agentRemoved(id string) operatorEvent {
	return func(*core) *masterpb.Event {
		return &masterpb.Event{
			Type:         masterpb.Event_AGENT_REMOVED.Enum(),
			AgentRemoved: &masterpb.Event_AgentRemoved{AgentId: agentID(id)},
		}
	}
}

// ---- HTTP ----

// operatorSubscribe answers the operator API's SUBSCRIBE with the event
// stream in format f (200, RecordIO), open until the client goes away,
// the stream falls too far behind or is displaced by newer ones, or the
// master closes.
func (m *Master) operatorSubscribe(w http.ResponseWriter, r *http.Request, f codec.Format, vw *viewer) error {
	box := newOutbox()
	var id int
	var subscribed *masterpb.Event
	if err := m.do(func(c *core) { id, subscribed = c.subscribeOperatorAs(operatorOutbox{box}, vw) }); err != nil {
		return unavailable(err)
	}
	// However the stream ends, the core forgets it. When the master is
	// closing this does nothing: the core closed every stream itself.
	defer func() { _ = m.do(func(c *core) { c.operatorStreamClosed(id) }) }()
	first, err := encodeSubscribed(f, subscribed)
	if err != nil {
		return err
	}
	st, err := httpapi.StartStream(w, f, nil)
	if err == nil {
		_ = st.SetWriteDeadline(time.Now().Add(writeTimeout))
		err = st.SendEncoded(first)
	}
	if err == nil {
		err = box.pump(r.Context(), st)
	}
	if err != nil {
		m.log.Debug("operator event stream ended", "subscriber", id, "err", err)
	}
	return nil
}

// encodeSubscribed encodes SUBSCRIBED in format f. In JSON its get_state
// is written as the answer to GET_STATE is, every list present even when
// empty, as Mesos writes it.
func encodeSubscribed(f codec.Format, ev *masterpb.Event) ([]byte, error) {
	if f != codec.JSON {
		return codec.MarshalV1(f, ev)
	}
	sub := ev.GetSubscribed()
	b := []byte(`{"type":"SUBSCRIBED","subscribed":{"get_state":`)
	b, err := appendStateJSON(b, sub.GetGetState().ProtoReflect())
	if err != nil {
		return nil, fmt.Errorf("encode SUBSCRIBED as JSON: get_state: %w", err)
	}
	b = append(b, `,"heartbeat_interval_seconds":`...)
	b = codec.AppendFloat(b, sub.GetHeartbeatIntervalSeconds(), 64)
	return append(b, "}}"...), nil
}
