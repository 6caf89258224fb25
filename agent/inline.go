package agent

import (
	"context"
	"errors"
	"io"

	"google.golang.org/protobuf/proto"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// The built-in command and default executors of frameworks that do not
// checkpoint run inside the agent (--builtin_executors=auto): the
// containerizer.Builtin containerizer runs the executor package's code on
// a goroutine, which reaches the agent through a localTransport — the
// same calls and events as an executor over HTTP (executorCall, the
// subscription's queue) — so the agent treats it like any other
// executor. Its tasks are the agent's children, each in a session of its
// own, and die with the agent.

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
