package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// process is a running executor as the agent sees it: a child process
// (*launcher.Process, started or adopted) or a built-in executor running
// inside the agent (*inlineExecutor).
type process interface {
	// Pid is the executor's process id; 0 for one inside the agent.
	Pid() int
	// Done is closed once the executor has ended.
	Done() <-chan struct{}
	// Status is its wait status, valid after Done.
	Status() syscall.WaitStatus
	// Adopted: recovered from an earlier run of the agent, so its wait
	// status is unknown.
	Adopted() bool
	// Destroy kills it and everything it started, without waiting.
	Destroy()
}

// inlineBuiltin reports whether ex, a built-in executor, runs inside the
// agent (--builtin_executors=auto and a framework that does not
// checkpoint).
func (a *Agent) inlineBuiltin(ex *executor) bool {
	return (ex.kind == kindCommand || ex.kind == kindDefault) &&
		a.cfg.BuiltinExecutors == "auto" && !ex.fw.info.GetCheckpoint()
}

// inlineExecutor is Mezzo's command or default executor running on a
// goroutine of the agent. It speaks to the agent through the same calls
// and events as an executor over HTTP (executorCall, the subscription's
// queue), so the agent treats it like any other executor; its tasks are
// the agent's children, each in a session of its own, and die with the
// agent.
type inlineExecutor struct {
	cancel context.CancelFunc
	done   chan struct{}
	status syscall.WaitStatus
}

// startInline starts ex's built-in executor inside the agent with the
// environment env (what the process would have been given). Its log goes
// to the sandbox's stderr, as an executor process's would.
func (a *Agent) startInline(ex *executor, env map[string]string) (*inlineExecutor, error) {
	logFile, err := os.OpenFile(filepath.Join(ex.sandbox, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	grace := a.cfg.ExecutorShutdownGracePeriod
	if gp := ex.info.GetShutdownGracePeriod(); gp != nil {
		grace = time.Duration(gp.GetNanoseconds())
	}
	mode := builtin.Command
	if ex.kind == kindDefault {
		mode = builtin.Default
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &inlineExecutor{cancel: cancel, done: make(chan struct{})}
	cfg := builtin.Config{
		Env: builtin.Env{
			FrameworkID:         ex.fw.id,
			ExecutorID:          ex.id,
			Endpoint:            a.st.endpoint,
			Sandbox:             ex.sandbox,
			ShutdownGracePeriod: grace,
		},
		Mode:         mode,
		TaskEnv:      env,
		Transport:    &localTransport{a: a, fwID: ex.fw.id, exID: ex.id},
		TaskSession:  true,
		DieWithAgent: true,
	}
	log := slog.New(slog.NewTextHandler(logFile, nil)).With("executor", ex.id)
	go func() {
		defer close(p.done)
		defer logFile.Close()
		err := builtin.Run(ctx, cfg, log)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			p.status = syscall.WaitStatus(syscall.SIGKILL) // destroyed
		default:
			log.Error("executor exiting", "err", err)
			p.status = syscall.WaitStatus(1 << 8) // exit status 1
		}
	}()
	return p, nil
}

func (p *inlineExecutor) Pid() int                   { return 0 }
func (p *inlineExecutor) Done() <-chan struct{}      { return p.done }
func (p *inlineExecutor) Status() syscall.WaitStatus { <-p.done; return p.status }
func (p *inlineExecutor) Adopted() bool              { return false }

// Destroy stops the executor at once: its tasks are SIGKILLed with
// their sessions as it returns.
func (p *inlineExecutor) Destroy() { p.cancel() }

// localTransport carries an inline executor's calls straight to the
// agent's state goroutine.
type localTransport struct {
	a          *Agent
	fwID, exID string
}

func (t *localTransport) call(typ execpb.Call_Type) *execpb.Call {
	return &execpb.Call{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(t.fwID)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(t.exID)},
		Type:        typ.Enum(),
	}
}

// Subscribe is the executor's SUBSCRIBE.
func (t *localTransport) Subscribe(ctx context.Context, sub *execpb.Call_Subscribe) (builtin.EventStream, error) {
	c := t.call(execpb.Call_SUBSCRIBE)
	c.Subscribe = sub
	conn, err := t.a.executorCall(c)
	if err != nil {
		return nil, err
	}
	return &localStream{a: t.a, conn: conn, ctx: ctx}, nil
}

// Update is the executor's UPDATE, validated as one over HTTP would be.
func (t *localTransport) Update(ctx context.Context, s *mesos.TaskStatus) error {
	c := t.call(execpb.Call_UPDATE)
	c.Update = &execpb.Call_Update{Status: s}
	if err := validateCall(c); err != nil {
		return err
	}
	_, err := t.a.executorCall(c)
	return err
}

// localStream reads an inline executor's events off its subscription's
// queue.
type localStream struct {
	a       *Agent
	conn    *execConn
	ctx     context.Context
	pending []*execpb.Event
	closed  bool
}

// Next returns the next event, io.EOF once the agent closed the
// subscription and every event was read.
func (s *localStream) Next() (*execpb.Event, error) {
	for len(s.pending) == 0 {
		if s.closed {
			return nil, io.EOF
		}
		select {
		case <-s.conn.events.wait():
		case <-s.ctx.Done():
			return nil, s.ctx.Err()
		case <-s.a.quit:
			return nil, errors.New("the agent is shutting down")
		}
		s.pending, s.closed = s.conn.events.take()
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev, nil
}

// Close ends the subscription, as a closed HTTP stream would.
func (s *localStream) Close() error {
	conn := s.conn
	s.a.post(func() { s.a.unsubscribe(conn) })
	return nil
}
