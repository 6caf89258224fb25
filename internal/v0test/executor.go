package v0test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/libprocess"
)

// Executor is a minimal libprocess executor driver: started with the
// environment an agent gives its executors (MESOS_SLAVE_PID,
// MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_CHECKPOINT), it registers
// with the agent as libmesos' MesosExecutorDriver does, sends status
// updates and messages, and queues what the agent sends it.
//
// As the driver does, it keeps the updates the agent has not
// acknowledged and the tasks it got and sent no update for, and answers
// a restarted agent's ReconnectExecutorMessage with a
// ReregisterExecutorMessage carrying them. When the agent's connection
// breaks, an executor of a framework that does not checkpoint queues an
// "AgentExited" message (Name) for its owner, which should exit then.
type Executor struct {
	// PID is the driver's pid (executor(1)@127.0.0.1:<port>); Agent the
	// agent's.
	PID, Agent libprocess.UPID
	// FrameworkID and ExecutorID name the executor.
	FrameworkID, ExecutorID string
	// Checkpoint is MESOS_CHECKPOINT: the framework checkpoints, so the
	// executor waits for a restarted agent.
	Checkpoint bool

	sender *libprocess.Sender
	srv    *http.Server

	mu      sync.Mutex
	agentID *mesos.AgentID
	unacked map[string]*messages.StatusUpdate // by uuid
	tasks   map[string]*mesos.TaskInfo        // launched, no update sent yet
	inbox   []Received
	wake    chan struct{}
}

// AgentExited is the Name of the message an Executor queues when its
// agent's connection breaks.
const AgentExited = "AgentExited"

// NewExecutorFromEnv starts a driver from the environment the agent set.
func NewExecutorFromEnv() (*Executor, error) {
	agent, err := libprocess.ParseUPID(os.Getenv("MESOS_SLAVE_PID"))
	if err != nil {
		return nil, fmt.Errorf("executor driver: MESOS_SLAVE_PID: %w", err)
	}
	fw, ex := os.Getenv("MESOS_FRAMEWORK_ID"), os.Getenv("MESOS_EXECUTOR_ID")
	if fw == "" || ex == "" {
		return nil, errors.New("executor driver: MESOS_FRAMEWORK_ID and MESOS_EXECUTOR_ID must be set")
	}
	return NewExecutor(agent, fw, ex, os.Getenv("MESOS_CHECKPOINT") == "1")
}

// NewExecutor starts a driver for executor ex of framework fw, whose
// agent is agent. It listens on loopback and registers at once.
func NewExecutor(agent libprocess.UPID, fw, ex string, checkpoint bool) (*Executor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("executor driver: listen: %w", err)
	}
	e := &Executor{
		PID:         libprocess.UPID{ID: "executor(1)", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port},
		Agent:       agent,
		FrameworkID: fw, ExecutorID: ex, Checkpoint: checkpoint,
		unacked: map[string]*messages.StatusUpdate{},
		tasks:   map[string]*mesos.TaskInfo{},
		wake:    make(chan struct{}, 1),
	}
	e.sender = libprocess.NewSender(libprocess.Config{Self: e.PID, RedialInterval: time.Millisecond, OnExited: e.exited})
	rc := &libprocess.Receiver{ID: e.PID.ID, Handlers: map[string]func(libprocess.Message){}}
	for _, name := range []string{"ExecutorRegisteredMessage", "ExecutorReregisteredMessage", "ReconnectExecutorMessage",
		"RunTaskMessage", "KillTaskMessage", "StatusUpdateAcknowledgementMessage", "FrameworkToExecutorMessage",
		"ShutdownExecutorMessage"} {
		rc.Handlers["mesos.internal."+name] = e.receive
	}
	e.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	if err := e.send("mesos.internal.RegisterExecutorMessage", &messages.RegisterExecutorMessage{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)}, ExecutorId: &mesos.ExecutorID{Value: proto.String(ex)}}); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the driver's listener and connections.
func (e *Executor) Close() {
	_ = e.srv.Close()
	e.sender.Close()
}

// Send sends a raw message to the agent.
func (e *Executor) Send(name string, m proto.Message) error { return e.send(name, m) }

func (e *Executor) send(name string, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	e.mu.Lock()
	to := e.Agent
	e.mu.Unlock()
	return e.sender.Send(to, name, b)
}

func (e *Executor) exited(pid libprocess.UPID) {
	e.mu.Lock()
	isAgent := pid == e.Agent
	e.mu.Unlock()
	if isAgent && !e.Checkpoint {
		e.queue(Received{From: pid, Name: AgentExited})
	}
}

func (e *Executor) queue(r Received) {
	e.mu.Lock()
	e.inbox = append(e.inbox, r)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Executor) receive(m libprocess.Message) {
	r := Received{From: m.From, Name: m.Name, Body: m.Body}
	if msg := NewMessage(m.Name); msg != nil && proto.Unmarshal(m.Body, msg) == nil {
		r.Msg = msg
	}
	e.mu.Lock()
	switch msg := r.Msg.(type) {
	case *messages.ExecutorRegisteredMessage:
		e.agentID = msg.GetSlaveId()
	case *messages.ExecutorReregisteredMessage:
		e.agentID = msg.GetSlaveId()
	case *messages.RunTaskMessage:
		e.tasks[msg.GetTask().GetTaskId().GetValue()] = msg.GetTask()
	case *messages.StatusUpdateAcknowledgementMessage:
		delete(e.unacked, string(msg.GetUuid()))
	case *messages.ReconnectExecutorMessage:
		// The agent restarted: register again with what it may not know.
		e.Agent = m.From
		re := &messages.ReregisterExecutorMessage{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(e.FrameworkID)},
			ExecutorId:  &mesos.ExecutorID{Value: proto.String(e.ExecutorID)},
		}
		for _, t := range e.tasks {
			re.Tasks = append(re.Tasks, t)
		}
		for _, u := range e.unacked {
			re.Updates = append(re.Updates, u)
		}
		e.mu.Unlock()
		_ = e.send("mesos.internal.ReregisterExecutorMessage", re)
		e.queue(r)
		return
	}
	e.mu.Unlock()
	e.queue(r)
}

// Next returns the next message received, waiting up to timeout.
func (e *Executor) Next(timeout time.Duration) (Received, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		if len(e.inbox) > 0 {
			r := e.inbox[0]
			e.inbox = e.inbox[1:]
			e.mu.Unlock()
			return r, nil
		}
		e.mu.Unlock()
		select {
		case <-e.wake:
		case <-deadline.C:
			return Received{}, errors.New("executor driver: no message in time")
		}
	}
}

// Update sends a status update of task in state, as the driver's
// sendStatusUpdate does; it stays unacknowledged until the agent says.
func (e *Executor) Update(task string, state mesos.TaskState, message string) error {
	uuid := make([]byte, 16)
	_, _ = rand.Read(uuid)
	uuid[6] = uuid[6]&0x0f | 0x40
	uuid[8] = uuid[8]&0x3f | 0x80
	now := float64(time.Now().UnixNano()) / 1e9
	e.mu.Lock()
	agentID := e.agentID
	st := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: state.Enum(),
		AgentId: agentID, Timestamp: proto.Float64(now), Uuid: uuid}
	if message != "" {
		st.Message = proto.String(message)
	}
	u := &messages.StatusUpdate{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(e.FrameworkID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(e.ExecutorID)},
		SlaveId:     agentID, Status: st, Timestamp: proto.Float64(now), Uuid: uuid,
	}
	e.unacked[string(uuid)] = u
	delete(e.tasks, task)
	pid := e.PID.String()
	e.mu.Unlock()
	return e.send("mesos.internal.StatusUpdateMessage", &messages.StatusUpdateMessage{Update: u, Pid: proto.String(pid)})
}

// Unacknowledged returns how many updates the agent has not acknowledged.
func (e *Executor) Unacknowledged() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.unacked)
}

// SendFrameworkMessage sends data to the executor's scheduler (through
// the agent).
func (e *Executor) SendFrameworkMessage(data []byte) error {
	e.mu.Lock()
	agentID := e.agentID
	e.mu.Unlock()
	return e.send("mesos.internal.ExecutorToFrameworkMessage", &messages.ExecutorToFrameworkMessage{
		SlaveId: agentID, FrameworkId: &mesos.FrameworkID{Value: proto.String(e.FrameworkID)},
		ExecutorId: &mesos.ExecutorID{Value: proto.String(e.ExecutorID)}, Data: data})
}
