package v0test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	schedv0 "github.com/mezzo-project/mezzo/api/v0/scheduler"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/auth"
	"github.com/mezzo-project/mezzo/internal/libprocess"
)

// Received is one message a Scheduler got.
type Received struct {
	From libprocess.UPID
	Name string
	// Msg is the decoded message (nil for a type Mezzo has no Go type for).
	Msg  proto.Message
	Body []byte
}

// Scheduler is a minimal libprocess scheduler driver: it listens on
// loopback under its own pid, sends calls to the master as
// MesosSchedulerDriver does, and queues what the master sends it. With
// ImplicitAcks it acknowledges each status update that carries a uuid and
// an agent pid right after receiving it, as the driver does by default.
type Scheduler struct {
	// PID is the driver's pid; Master the master's.
	PID, Master libprocess.UPID
	// ImplicitAcks makes the driver acknowledge updates itself.
	ImplicitAcks bool

	sender *libprocess.Sender
	srv    *http.Server
	ln     net.Listener

	mu          sync.Mutex
	frameworkID string
	agentPIDs   map[string]string // agent id → pid, from offers
	// registeredWith is the master that last answered a registration.
	registeredWith libprocess.UPID
	inbox          []Received
	wake           chan struct{}
}

// NewScheduler starts a driver with the process id id ("scheduler-<uuid>")
// for the master at addr (host:port).
func NewScheduler(addr, id string) (*Scheduler, error) {
	master, err := libprocess.ParseUPID("master@" + addr)
	if err != nil {
		return nil, fmt.Errorf("scheduler driver: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("scheduler driver: listen: %w", err)
	}
	s := &Scheduler{
		PID:       libprocess.UPID{ID: id, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port},
		Master:    master,
		ln:        ln,
		agentPIDs: map[string]string{},
		wake:      make(chan struct{}, 1),
	}
	s.sender = libprocess.NewSender(libprocess.Config{Self: s.PID, RedialInterval: time.Millisecond})
	rc := &libprocess.Receiver{ID: id, Handlers: map[string]func(libprocess.Message){}}
	for _, name := range []string{"FrameworkRegisteredMessage", "FrameworkReregisteredMessage", "ResourceOffersMessage",
		"RescindResourceOfferMessage", "StatusUpdateMessage", "ExecutorToFrameworkMessage", "LostSlaveMessage",
		"ExitedExecutorMessage", "FrameworkErrorMessage"} {
		rc.Handlers["mesos.internal."+name] = s.receive
	}
	for _, name := range []string{auth.MsgMechanisms, auth.MsgStep, auth.MsgCompleted, auth.MsgFailed, auth.MsgError} {
		rc.Handlers[name] = s.receive
	}
	s.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the driver: its listener and connections close, which the
// master sees as the driver's exit.
func (s *Scheduler) Close() {
	_ = s.srv.Close()
	s.sender.Close()
}

// FrameworkID is the id the master registered the framework with.
func (s *Scheduler) FrameworkID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frameworkID
}

func (s *Scheduler) receive(m libprocess.Message) {
	r := Received{From: m.From, Name: m.Name, Body: m.Body}
	if msg := NewMessage(m.Name); msg != nil && proto.Unmarshal(m.Body, msg) == nil {
		r.Msg = msg
	}
	s.mu.Lock()
	switch msg := r.Msg.(type) {
	case *messages.FrameworkRegisteredMessage:
		s.frameworkID = msg.GetFrameworkId().GetValue()
		s.registeredWith = m.From
	case *messages.FrameworkReregisteredMessage:
		s.frameworkID = msg.GetFrameworkId().GetValue()
		s.registeredWith = m.From
	case *messages.ResourceOffersMessage:
		for i, o := range msg.GetOffers() {
			if i < len(msg.GetPids()) && msg.GetPids()[i] != "" {
				s.agentPIDs[o.GetAgentId().GetValue()] = msg.GetPids()[i]
			}
		}
	}
	s.inbox = append(s.inbox, r)
	implicit := s.ImplicitAcks
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if u, ok := r.Msg.(*messages.StatusUpdateMessage); ok && implicit && len(u.GetUpdate().GetUuid()) > 0 && u.GetPid() != "" {
		_ = s.Acknowledge(u)
	}
}

// Next returns the next message received, waiting up to timeout.
func (s *Scheduler) Next(timeout time.Duration) (Received, error) {
	return s.Await(timeout, func(Received) bool { return true })
}

// Await returns the first message received that match accepts, waiting
// up to timeout; the messages before it are dropped.
func (s *Scheduler) Await(timeout time.Duration, match func(Received) bool) (Received, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for {
			s.mu.Lock()
			if len(s.inbox) == 0 {
				s.mu.Unlock()
				break
			}
			r := s.inbox[0]
			s.inbox = s.inbox[1:]
			s.mu.Unlock()
			if match(r) { // without the lock: match may make calls
				return r, nil
			}
		}
		select {
		case <-s.wake:
		case <-deadline.C:
			return Received{}, errors.New("scheduler driver: no matching message in time")
		}
	}
}

// Named matches messages of the given name (short names get the
// "mesos.internal." prefix).
func Named(name string) func(Received) bool {
	if !strings.Contains(name, ".") {
		name = "mesos.internal." + name
	}
	return func(r Received) bool { return r.Name == name }
}

// Update matches the status update of task in state.
func Update(task string, state mesos.TaskState) func(Received) bool {
	return func(r Received) bool {
		u, ok := r.Msg.(*messages.StatusUpdateMessage)
		st := u.GetUpdate().GetStatus()
		return ok && st.GetTaskId().GetValue() == task && st.GetState() == state
	}
}

// Send sends a raw message to the master.
func (s *Scheduler) Send(name string, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return s.sender.Send(s.master(), name, b)
}

// master is the master the driver talks to (it changes when the driver
// follows a leader in ZooKeeper).
func (s *Scheduler) master() libprocess.UPID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Master
}

// Call sends a v1 call the way the driver sends it (mesos.scheduler.Call),
// filling in the framework id.
func (s *Scheduler) Call(c *schedpb.Call) error {
	if c.FrameworkId == nil && c.GetType() != schedpb.Call_SUBSCRIBE {
		c.FrameworkId = &mesos.FrameworkID{Value: proto.String(s.FrameworkID())}
	}
	return s.Send("mesos.scheduler.Call", schedv0.FromV1(c))
}

// Subscribe registers the framework (again, when info has an id).
func (s *Scheduler) Subscribe(info *mesos.FrameworkInfo) error {
	return s.Call(&schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), FrameworkId: info.GetId(),
		Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: info}})
}

// Acknowledge acknowledges a status update.
func (s *Scheduler) Acknowledge(u *messages.StatusUpdateMessage) error {
	return s.Call(&schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: u.GetUpdate().GetSlaveId(), TaskId: u.GetUpdate().GetStatus().GetTaskId(), Uuid: u.GetUpdate().GetUuid()}})
}

// Launch accepts offer with a LAUNCH of tasks.
func (s *Scheduler) Launch(offer *mesos.Offer, tasks ...*mesos.TaskInfo) error {
	return s.Call(&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
		OfferIds: []*mesos.OfferID{offer.GetId()},
		Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
		Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0.1)}}})
}

// SendFrameworkMessage sends data to executor exID on agent agentID as
// the driver does: straight to the agent's pid learnt from its offers,
// through the master (Call MESSAGE) when the pid is not known.
func (s *Scheduler) SendFrameworkMessage(agentID, exID string, data []byte) error {
	s.mu.Lock()
	pid := s.agentPIDs[agentID]
	fw := s.frameworkID
	s.mu.Unlock()
	if pid == "" {
		return s.Call(&schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(), Message: &schedpb.Call_Message{
			AgentId: &mesos.AgentID{Value: proto.String(agentID)}, ExecutorId: &mesos.ExecutorID{Value: proto.String(exID)}, Data: data}})
	}
	to, err := libprocess.ParseUPID(pid)
	if err != nil {
		return fmt.Errorf("agent %s: %w", agentID, err)
	}
	b, err := proto.Marshal(&messages.FrameworkToExecutorMessage{
		SlaveId: &mesos.AgentID{Value: proto.String(agentID)}, FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)},
		ExecutorId: &mesos.ExecutorID{Value: proto.String(exID)}, Data: data})
	if err != nil {
		return fmt.Errorf("encode FrameworkToExecutorMessage: %w", err)
	}
	return s.sender.Send(to, "mesos.internal.FrameworkToExecutorMessage", b)
}

// Authenticate runs the driver's CRAM-MD5 exchange with the master as
// principal, as MesosSchedulerDriver does before it registers when given
// a credential. It returns nil once the master completed it, and an
// error naming the master's answer otherwise.
func (s *Scheduler) Authenticate(principal, secret string, timeout time.Duration) error {
	named := func(names ...string) func(Received) bool {
		return func(r Received) bool { return slices.Contains(names, r.Name) }
	}
	fail := []string{auth.MsgFailed, auth.MsgError}
	if err := s.sender.Send(s.master(), auth.MsgAuthenticate, auth.EncodeFields(auth.WireField{Num: 1, Data: []byte(s.PID.String())})); err != nil {
		return err
	}
	r, err := s.Await(timeout, named(append([]string{auth.MsgMechanisms}, fail...)...))
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	if r.Name != auth.MsgMechanisms {
		return fmt.Errorf("authenticate: the master answered %s %q", r.Name, r.Body)
	}
	// The exchange continues with the process that offered the mechanisms.
	if err := s.sender.Send(r.From, auth.MsgStart, auth.EncodeFields(auth.WireField{Num: 1, Data: []byte(auth.CRAMMD5)})); err != nil {
		return err
	}
	if r, err = s.Await(timeout, named(append([]string{auth.MsgStep}, fail...)...)); err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	f, err := auth.DecodeFields(r.Body)
	if r.Name != auth.MsgStep || err != nil || len(f[1]) == 0 {
		return fmt.Errorf("authenticate: the master answered %s %q", r.Name, r.Body)
	}
	resp := auth.CRAMMD5Response(principal, secret, string(f[1][0]))
	if err := s.sender.Send(r.From, auth.MsgStep, auth.EncodeFields(auth.WireField{Num: 1, Data: resp})); err != nil {
		return err
	}
	if r, err = s.Await(timeout, named(append([]string{auth.MsgCompleted}, fail...)...)); err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	if r.Name != auth.MsgCompleted {
		return fmt.Errorf("authenticate: the master answered %s %q", r.Name, r.Body)
	}
	return nil
}
