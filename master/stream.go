package master

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// The outbox policy. An outbox is the queue between the core (which never
// waits) and the goroutine that writes one HTTP event stream; how much it
// may hold depends on who reads it:
//
//   - A framework's stream holds at most maxStreamBytes. Big answers never
//     get near it: the core paces them against the stream's backlog
//     (pacing.go), withholds offers while the backlog is long, and the
//     outbox coalesces HEARTBEATs and repeated status updates. Only live
//     events arriving faster than the framework reads them for a long
//     time can fill it; the stream is then cut (errStreamOverflow), which
//     the core treats as a disconnection with a failover timeout of at
//     least overflowFailoverTimeout, so no task is lost: the framework
//     subscribes again and reconciles.
//   - An agent's stream holds at most maxStreamBytes too; the core sends
//     no PING while it holds anything (a ping stuck behind a burst is not
//     a missed ping). Cutting it is a disconnection: the agent registers
//     again within its grace.
//   - An operator event stream holds at most maxQueued events, as before:
//     an observer that falls that far behind is cut off and subscribes
//     again.
//
// A client that stops reading is found by writeTimeout: a write blocked
// that long ends the stream (a disconnection, nothing more), whatever
// the queue holds.
const (
	// maxQueued bounds the events waiting for one operator event stream.
	maxQueued = 10000
	// maxStreamBytes bounds what waits for one framework's or agent's
	// stream: the events' encoded size plus eventOverhead each (the
	// memory held is a small multiple of it).
	maxStreamBytes = 64 << 20
	// eventOverhead is what each queued event is charged beyond its
	// encoded size, so that many tiny events are bounded too.
	eventOverhead = 64
)

// writeTimeout bounds one write to a stream, so a client that stops reading
// frees its handler.
const writeTimeout = 30 * time.Second

// pumpBatch is how many events the writer takes from its outbox at once.
const pumpBatch = 64

// errStreamOverflow ends a stream whose outbox went over its bound.
var errStreamOverflow = errors.New("the client fell too far behind: its event stream was cut")

// outboxLimits bound an outbox; zero is no bound.
type outboxLimits struct {
	maxEvents int
	maxBytes  int64
}

// outbox is the queue between the core (which enqueues and never blocks)
// and the HTTP handler goroutine that writes a stream. It implements
// eventSink, flowSink and (through agentOutbox and operatorOutbox)
// agentSink and operatorSink.
type outbox struct {
	limits outboxLimits
	// onDrain, when set, is called on the writer's goroutine after the
	// core asked (NotifyDrained) and the backlog has fallen to
	// drainLowWater; it may block (it enters the core).
	onDrain func()

	mu    sync.Mutex
	queue []queuedEvent
	// bytes and events count what was sent and not yet written: the
	// queue and the batch the writer holds.
	bytes  int64
	events int
	// uuids counts the queued status updates by uuid (frameworks' streams
	// only, from when the backlog reaches drainLowWater): a retry of an
	// update still queued is not queued again.
	uuids      map[string]int
	closed     bool
	overflowed bool
	drainAsked bool
	// peakEvents and peakBytes are the largest backlog seen.
	peakEvents int
	peakBytes  int64
	wake       chan struct{}
}

type queuedEvent struct {
	msg  proto.Message
	size int64
	uuid string // a scheduler UPDATE's uuid, when it has one
}

// newOutbox returns the outbox of an operator event stream (maxQueued
// events).
func newOutbox() *outbox { return newOutboxWith(outboxLimits{maxEvents: maxQueued}) }

// newFrameworkOutbox returns the outbox of a framework's stream; onDrain
// tells the core its backlog drained (see flowSink).
func newFrameworkOutbox(onDrain func()) *outbox {
	o := newOutboxWith(outboxLimits{maxBytes: maxStreamBytes})
	o.onDrain = onDrain
	o.uuids = map[string]int{}
	return o
}

// newAgentOutbox returns the outbox of an agent's stream.
func newAgentOutbox() agentOutbox {
	return agentOutbox{newOutboxWith(outboxLimits{maxBytes: maxStreamBytes})}
}

func newOutboxWith(l outboxLimits) *outbox {
	return &outbox{limits: l, wake: make(chan struct{}, 1)}
}

func (o *outbox) push(m proto.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if o.events > 0 && isHeartbeat(m) {
		// Events still waiting tell the client the stream is alive as
		// well as a HEARTBEAT would.
		return
	}
	e := queuedEvent{msg: m}
	if o.uuids != nil && (o.events >= drainLowWater || len(o.uuids) > 0) {
		// Retries only pile up behind a long backlog: the uuids are
		// tracked from then until the backlog is written.
		if ev, ok := m.(*schedpb.Event); ok && ev.GetType() == schedpb.Event_UPDATE {
			if u := ev.GetUpdate().GetStatus().GetUuid(); len(u) > 0 {
				if o.uuids[string(u)] > 0 {
					return // a retry of an update the client has yet to read
				}
				e.uuid = string(u)
			}
		}
	}
	if o.limits.maxBytes > 0 {
		e.size = int64(proto.Size(m)) + eventOverhead
	}
	if (o.limits.maxEvents > 0 && o.events >= o.limits.maxEvents) ||
		(o.limits.maxBytes > 0 && o.bytes+e.size > o.limits.maxBytes) {
		// Overflow: cut the client off; the writer ends the stream.
		o.closed, o.overflowed = true, true
		o.written(o.queue)
		o.queue = nil
		o.signal()
		return
	}
	o.queue = append(o.queue, e)
	if e.uuid != "" {
		o.uuids[e.uuid]++
	}
	o.events++
	o.bytes += e.size
	if o.events > o.peakEvents {
		o.peakEvents = o.events
	}
	if o.bytes > o.peakBytes {
		o.peakBytes = o.bytes
	}
	o.signal()
}

func isHeartbeat(m proto.Message) bool {
	switch ev := m.(type) {
	case *schedpb.Event:
		return ev.GetType() == schedpb.Event_HEARTBEAT
	case *masterpb.Event:
		return ev.GetType() == masterpb.Event_HEARTBEAT
	}
	return false
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

// Backlog returns the events, and their bytes as charged against the
// bound, sent and not yet written to the client (flowSink).
func (o *outbox) Backlog() (int, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.events, o.bytes
}

// NotifyDrained asks for one call of the drain callback once the backlog
// is at most drainLowWater (flowSink). The writer makes the call, at once
// if the backlog is already that low.
func (o *outbox) NotifyDrained() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.onDrain == nil || o.closed {
		return
	}
	o.drainAsked = true
	o.signal()
}

// Overflowed reports whether the outbox cut its stream for going over its
// bound.
func (o *outbox) Overflowed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.overflowed
}

// Peak returns the largest backlog the outbox held: events and bytes.
func (o *outbox) Peak() (int, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.peakEvents, o.peakBytes
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take hands the writer up to pumpBatch queued events (they stay counted
// in the backlog until written), whether the outbox is closed, and
// whether the drain callback is due.
func (o *outbox) take() (batch []queuedEvent, closed, drained bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(len(o.queue), pumpBatch)
	batch = o.queue[:n:n]
	o.queue = o.queue[n:]
	if len(o.queue) == 0 {
		o.queue = nil // let the array go
	}
	if o.drainAsked && o.events <= drainLowWater && !o.closed {
		o.drainAsked = false
		drained = true
	}
	return batch, o.closed, drained
}

// wrote takes a written batch off the backlog.
func (o *outbox) wrote(batch []queuedEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.written(batch)
}

// written takes events off the backlog; o.mu is held.
func (o *outbox) written(batch []queuedEvent) {
	for _, e := range batch {
		o.events--
		o.bytes -= e.size
		if e.uuid != "" {
			if o.uuids[e.uuid]--; o.uuids[e.uuid] <= 0 {
				delete(o.uuids, e.uuid)
			}
		}
	}
}

// pump writes queued messages to st until the outbox is closed (nil, or
// errStreamOverflow when it was cut), the client goes away or a write
// fails or times out (error), or ctx ends.
func (o *outbox) pump(ctx context.Context, st *httpapi.Stream) error {
	for {
		batch, closed, drained := o.take()
		if drained {
			o.onDrain()
		}
		if len(batch) > 0 {
			// One flush per batch: a stream with a backlog sends it in
			// a few large writes rather than a write per event.
			_ = st.SetWriteDeadline(time.Now().Add(writeTimeout))
			for _, e := range batch {
				if err := st.Write(e.msg); err != nil {
					return err
				}
			}
			if err := st.Flush(); err != nil {
				return err
			}
		}
		o.wrote(batch)
		if len(batch) > 0 || drained {
			continue
		}
		if closed {
			if o.Overflowed() {
				return errStreamOverflow
			}
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
