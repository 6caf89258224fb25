package master

import (
	"log/slog"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/libprocess"
)

// v0Sink is the eventSink of a framework whose scheduler is a libprocess
// driver: it turns each event into the message the driver expects and
// queues it on the Sender (which never blocks). It is used on the core's
// goroutine only.
//
//	SUBSCRIBED  → FrameworkRegisteredMessage (FrameworkReregisteredMessage
//	              when the master knew the framework already)
//	OFFERS      → ResourceOffersMessage
//	RESCIND     → RescindResourceOfferMessage
//	UPDATE      → StatusUpdateMessage, pid = the agent's when the update
//	              wants an acknowledgement (the driver acknowledges only those)
//	MESSAGE     → ExecutorToFrameworkMessage
//	FAILURE     → ExitedExecutorMessage (with an executor), else LostSlaveMessage
//	ERROR       → FrameworkErrorMessage
//
// HEARTBEAT, inverse offers and operation updates have no driver message
// (Mesos sends them to HTTP frameworks only) and are dropped.
type v0Sink struct {
	sender *libprocess.Sender
	pid    libprocess.UPID
	log    *slog.Logger
	// agentPID names an agent's libprocess pid ("" when unknown).
	agentPID func(agentID string) string

	frameworkID  string
	reregistered bool
	// quiet is set when the same driver subscribes again: this sink is
	// replaced without telling the driver it failed over.
	quiet  bool
	closed bool
}

// PID is the driver's pid.
func (s *v0Sink) PID() string { return s.pid.String() }

// Send translates ev and queues it for the driver.
func (s *v0Sink) Send(ev *schedpb.Event) {
	if s.closed {
		return
	}
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		s.frameworkID = ev.GetSubscribed().GetFrameworkId().GetValue()
		s.subscribed(ev.GetSubscribed().GetMasterInfo())
	case schedpb.Event_OFFERS:
		m := &messages.ResourceOffersMessage{Offers: ev.GetOffers().GetOffers()}
		for _, o := range m.Offers {
			// The agent's pid: the driver sends its framework messages
			// straight to the agent (FrameworkToExecutorMessage).
			m.Pids = append(m.Pids, s.agentPID(o.GetAgentId().GetValue()))
		}
		s.send("mesos.internal.ResourceOffersMessage", m)
	case schedpb.Event_RESCIND:
		s.send("mesos.internal.RescindResourceOfferMessage", &messages.RescindResourceOfferMessage{OfferId: ev.GetRescind().GetOfferId()})
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		u := &messages.StatusUpdate{
			FrameworkId: frameworkID(s.frameworkID),
			ExecutorId:  st.GetExecutorId(),
			SlaveId:     st.GetAgentId(),
			Status:      st,
			Timestamp:   proto.Float64(st.GetTimestamp()),
		}
		m := &messages.StatusUpdateMessage{Update: u}
		if len(st.GetUuid()) > 0 {
			u.Uuid = st.GetUuid()
			if pid := s.agentPID(st.GetAgentId().GetValue()); pid != "" {
				m.Pid = proto.String(pid)
			}
		}
		s.send("mesos.internal.StatusUpdateMessage", m)
	case schedpb.Event_MESSAGE:
		msg := ev.GetMessage()
		s.send("mesos.internal.ExecutorToFrameworkMessage", &messages.ExecutorToFrameworkMessage{
			SlaveId: msg.GetAgentId(), FrameworkId: frameworkID(s.frameworkID), ExecutorId: msg.GetExecutorId(), Data: msg.GetData(),
		})
	case schedpb.Event_FAILURE:
		fl := ev.GetFailure()
		if fl.ExecutorId != nil {
			s.send("mesos.internal.ExitedExecutorMessage", &messages.ExitedExecutorMessage{
				SlaveId: fl.GetAgentId(), FrameworkId: frameworkID(s.frameworkID), ExecutorId: fl.GetExecutorId(), Status: proto.Int32(fl.GetStatus()),
			})
		} else {
			s.send("mesos.internal.LostSlaveMessage", &messages.LostSlaveMessage{SlaveId: fl.GetAgentId()})
		}
	case schedpb.Event_ERROR:
		if !s.quiet {
			s.send("mesos.internal.FrameworkErrorMessage", &messages.FrameworkErrorMessage{Message: proto.String(ev.GetError().GetMessage())})
		}
	}
}

// subscribed tells the driver it is registered.
func (s *v0Sink) subscribed(info *mesos.MasterInfo) {
	if s.reregistered {
		s.send("mesos.internal.FrameworkReregisteredMessage", &messages.FrameworkReregisteredMessage{
			FrameworkId: frameworkID(s.frameworkID), MasterInfo: info})
		return
	}
	s.send("mesos.internal.FrameworkRegisteredMessage", &messages.FrameworkRegisteredMessage{
		FrameworkId: frameworkID(s.frameworkID), MasterInfo: info})
}

// registered answers a driver's repeated registration; info is the
// master's.
func (s *v0Sink) registered(info *mesos.MasterInfo) { s.subscribed(info) }

func (s *v0Sink) send(name string, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		s.log.Error("cannot encode a driver message", "message", name, "err", err)
		return
	}
	if err := s.sender.Send(s.pid, name, b); err != nil {
		s.log.Warn("driver message dropped", "message", name, "framework_id", s.frameworkID, "err", err)
	}
}

// Close ends the sink: nothing more is sent to the driver.
func (s *v0Sink) Close() { s.closed = true }
