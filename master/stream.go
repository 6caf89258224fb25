package master

import (
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// maxQueued bounds the events waiting for one slow stream. A client that
// falls this far behind is cut off (its stream closes), which the master
// then treats as a disconnection.
const maxQueued = 10000

// writeTimeout bounds one write to a stream, so a client that stops reading
// frees its handler.
const writeTimeout = 30 * time.Second

// outbox is the queue between the core (which enqueues and never blocks)
// and the HTTP handler goroutine that writes a stream. It implements
// eventSink and agentSink.
type outbox struct {
	mu     sync.Mutex
	queue  []proto.Message
	closed bool
	wake   chan struct{}
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

func (o *outbox) push(m proto.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if len(o.queue) >= maxQueued {
		o.closed = true // overflow: cut the client off
		o.queue = nil
	} else {
		o.queue = append(o.queue, m)
	}
	o.signal()
}

// Send queues a scheduler event (eventSink).
func (o *outbox) Send(ev *schedpb.Event) { o.push(ev) }

// Close ends the stream after the queued events.
func (o *outbox) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) take() ([]proto.Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.queue
	o.queue = nil
	return q, o.closed
}

// pump writes queued messages to st until the outbox is closed (nil), the
// client goes away or a write fails (error), or ctx ends.
func (o *outbox) pump(ctx context.Context, st *httpapi.Stream) error {
	for {
		msgs, closed := o.take()
		for _, m := range msgs {
			_ = st.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := st.Send(m); err != nil {
				return err
			}
		}
		if closed {
			return nil
		}
		select {
		case <-o.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// agentOutbox adapts an outbox to agentSink.
type agentOutbox struct{ *outbox }

// Send queues an agent event.
func (o agentOutbox) Send(ev *agentproto.AgentEvent) { o.push(ev) }
