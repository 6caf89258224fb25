package master

import (
	"errors"
	"time"

	"github.com/mezzo-project/mezzo/master/registry"
)

// Registry writes as effects.
//
// The core never waits for the registry. A change that must be durable
// before the master acts on it is asked for with write: its ops, the
// objects they concern (keys such as "agent/<id>") and a continuation,
// what the master does once the ops are durable (or failed). The write
// joins the pending batch; the core's driver (Master.loop, or the
// simulation) hands the whole batch to a registry writer when none is in
// flight (takeWrites), which commits it in one registry.Store.Commit (one
// transaction: one fsync, or one ZooKeeper multi-op) and posts the
// outcome back to the core (committed). The core then runs the
// continuations in the order the writes were asked for, each with its own
// outcome: a write the registry refuses (registry.OpError) fails only its
// own continuation.
//
// Nothing the master tells anyone about such a change happens before its
// continuation: the in-memory change, the reply, the events. While a
// write is pending its keys are busy: a call that would change the same
// object (an agent registering again, a framework subscribing twice, an
// operator marking the agent gone) waits for it (whenFree) and then runs
// on the state the write left, so no object is changed twice on the same
// stale view and the changes to one object are recorded in the order the
// core made them.
//
// A core that drives itself (tests that call it directly, with no loop)
// writes inline: write commits at once and runs the continuation before
// it returns.

// write is one change to the registry: one group of a batch.
type write struct {
	seq  uint64
	ops  []registry.Op
	keys []string
	then func(err error)
}

// writeBatch is what the core hands to the registry writer.
type writeBatch []*write

// groups are the batch's ops, one group per write, for Store.Commit.
func (b writeBatch) groups() [][]registry.Op {
	out := make([][]registry.Op, len(b))
	for i, w := range b {
		out[i] = w.ops
	}
	return out
}

// writeState is the core's side of its registry writes.
type writeState struct {
	// inline writes commit at once on the core's goroutine (no driver).
	inline bool
	// closed fails every write at once (the master is shutting down).
	closed error
	// pending are the writes not yet handed to the writer, in order;
	// inflight the batch being committed (nil when none).
	pending  writeBatch
	inflight writeBatch
	// busy counts, by key, the writes not yet committed that concern it;
	// waiting holds the calls that wait for a key to be free, in order.
	busy    map[string]int
	waiting map[string][]func()
	// asked and done count the writes asked for and those whose
	// continuation ran; barriers run once done reaches their mark.
	asked, done uint64
	barriers    []barrier
}

type barrier struct {
	mark uint64
	fn   func()
}

func newWriteState() writeState {
	return writeState{inline: true, busy: map[string]int{}, waiting: map[string][]func(){}}
}

// Keys of the objects a write concerns.
func agentKey(id string) string     { return "agent/" + id }
func frameworkKey(id string) string { return "framework/" + id }

const (
	rolesKey       = "roles"
	maintenanceKey = "maintenance"
)

// write asks for ops to be made durable; then runs once they are (err
// nil) or could not be (err wraps errRegistry), on the core's goroutine.
// keys name the objects the ops concern; they are busy until then has run.
func (c *core) write(keys []string, ops []registry.Op, then func(err error)) {
	ws := &c.writes
	ws.asked++
	w := &write{seq: ws.asked, ops: ops, keys: keys, then: then}
	for _, k := range keys {
		ws.busy[k]++
	}
	switch {
	case ws.closed != nil:
		c.finishWrite(w, ws.closed)
	case ws.inline:
		start := c.clock.Now()
		refused, err := c.reg.Commit([][]registry.Op{ops})
		c.committed(writeBatch{w}, refused, err, start, c.clock.Now().Sub(start))
	default:
		ws.pending = append(ws.pending, w)
		c.metrics.queuedWrites = len(ws.pending)
	}
}

// writeThen is write for a call that answers an error: then's answer is
// returned at once when writes are inline, else a *pendingReply that
// then's answer resolves.
func (c *core) writeThen(keys []string, ops []registry.Op, then func(err error) error) error {
	var answer error
	p := c.newPendingReply()
	c.write(keys, ops, func(err error) {
		answer = then(err)
		p.resolve(answer)
	})
	if p.resolved {
		return answer
	}
	return p
}

// whenFree reports whether one of keys is busy with a write not yet
// committed; then call runs once they are all free, and its answer
// resolves the returned *pendingReply.
func (c *core) whenFree(keys []string, call func() error) (*pendingReply, bool) {
	for _, k := range keys {
		if c.writes.busy[k] > 0 {
			p := c.newPendingReply()
			c.writes.waiting[k] = append(c.writes.waiting[k], func() { p.follow(call()) })
			return p, true
		}
	}
	return nil, false
}

// keyBusy reports whether a write concerning key is not yet committed.
func (c *core) keyBusy(key string) bool { return c.writes.busy[key] > 0 }

// takeWrites hands the pending writes to the registry writer: nil when
// there are none, or when a batch is still in flight (batches commit one
// after the other, in order).
func (c *core) takeWrites() writeBatch {
	ws := &c.writes
	if ws.inflight != nil || len(ws.pending) == 0 {
		return nil
	}
	ws.inflight, ws.pending = ws.pending, nil
	c.metrics.queuedWrites = 0
	return ws.inflight
}

// writing reports whether a batch is in flight.
func (c *core) writing() bool { return c.writes.inflight != nil }

// committed takes the outcome of batch's commit (Store.Commit's answer,
// which began at start and took took) and runs its continuations in order.
func (c *core) committed(batch writeBatch, refused []error, err error, start time.Time, took time.Duration) {
	c.metrics.stateStore.record(start, took)
	if !c.writes.inline {
		c.writes.inflight = nil
	}
	if err != nil {
		c.log.Error("registry write failed", "writes", len(batch), "first", batch[0].ops[0].String(), "err", err)
	}
	for i, w := range batch {
		werr := err
		if werr == nil && i < len(refused) && refused[i] != nil {
			werr = refused[i]
			c.log.Error("registry refused a write", "op", w.ops[0].String(), "err", werr)
		}
		if werr != nil {
			werr = errors.Join(errRegistry, werr)
		}
		c.finishWrite(w, werr)
	}
}

// finishWrite runs w's continuation, frees its keys (running the calls
// that waited for them) and the barriers it reached.
func (c *core) finishWrite(w *write, err error) {
	ws := &c.writes
	w.then(err)
	if w.seq > ws.done {
		ws.done = w.seq
	}
	for _, k := range w.keys {
		if ws.busy[k]--; ws.busy[k] > 0 {
			continue
		}
		delete(ws.busy, k)
		waiting := ws.waiting[k]
		delete(ws.waiting, k)
		for i, call := range waiting {
			if ws.busy[k] > 0 {
				// The call before asked for a write of the same object:
				// the rest wait for it, in order.
				ws.waiting[k] = append(ws.waiting[k], waiting[i:]...)
				break
			}
			call()
		}
	}
	for len(ws.barriers) > 0 && ws.barriers[0].mark <= ws.done {
		fn := ws.barriers[0].fn
		ws.barriers = ws.barriers[1:]
		fn()
	}
}

// afterWrites runs fn once every write asked for since mark (a value of
// writes.asked) has run its continuation: at once when there is none.
func (c *core) afterWrites(mark uint64, fn func()) {
	ws := &c.writes
	if ws.asked == mark || ws.done >= ws.asked {
		fn()
		return
	}
	ws.barriers = append(ws.barriers, barrier{mark: ws.asked, fn: fn})
}

// closeWrites fails the pending writes (and every later one) with err;
// the batch in flight, if any, must have been committed first.
func (c *core) closeWrites(err error) {
	ws := &c.writes
	ws.closed = err
	pending := ws.pending
	ws.pending = nil
	c.metrics.queuedWrites = 0
	for _, w := range pending {
		c.finishWrite(w, err)
	}
}

// pendingReply stands for the answer of a call that waits for a registry
// write: the core returns it in place of the answer, and resolves it on
// its goroutine once the write's continuation has answered. The HTTP edge
// waits for it (awaitReply). It is not an error itself.
type pendingReply struct {
	done chan struct{}
	err  error
	// resolved and next are the core goroutine's.
	resolved bool
	next     []func(error)
}

func (c *core) newPendingReply() *pendingReply { return &pendingReply{done: make(chan struct{})} }

// Error says the answer is not known yet.
func (p *pendingReply) Error() string { return "the answer waits for a registry write" }

// resolve sets the answer.
func (p *pendingReply) resolve(err error) {
	if p.resolved {
		return
	}
	p.resolved, p.err = true, err
	close(p.done)
	for _, f := range p.next {
		f(err)
	}
	p.next = nil
}

// follow resolves p with answer, or with the answer of answer when that
// is a *pendingReply itself.
func (p *pendingReply) follow(answer error) {
	onAnswer(answer, p.resolve)
}

// onAnswer runs f with the answer err stands for, on the core's
// goroutine: at once, or when the *pendingReply err is resolves.
func onAnswer(err error, f func(error)) {
	var p *pendingReply
	if !errors.As(err, &p) {
		f(err)
		return
	}
	if p.resolved {
		f(p.err)
		return
	}
	p.next = append(p.next, f)
}

// awaitReply returns the answer err stands for: err itself, or, when it is
// a *pendingReply, its answer once resolved. It must not run on the core's
// goroutine.
func awaitReply(err error) error {
	var p *pendingReply
	if !errors.As(err, &p) {
		return err
	}
	<-p.done
	return p.err
}
