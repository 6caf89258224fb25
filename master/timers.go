package master

import (
	"fmt"
	"time"
)

// The core's timers.
//
// Every deadline the core keeps (a framework's heartbeat or failover, an
// agent's ping, missed-ping check, disconnection grace or deferred
// removal, an offer's or inverse offer's expiry, a recovered agent's
// re-registration deadline, a draining agent's kill deadline, an operator
// stream's heartbeat, the batch allocation) stays in the object it belongs
// to; the timer heap only says when to look at it. Whoever sets or moves a
// deadline schedules the object's timer (scheduleFramework, scheduleAgent,
// ...). When a timer fires, tick re-reads the object and does what is due
// there, exactly as it would if it had visited every object, then
// schedules the object's next deadline.
//
// So a timer may fire early without harm (a deadline moved later, an
// object gone: tick finds nothing due, and forgets or reschedules it),
// but a deadline set or moved earlier must be scheduled, or it is missed.
// Objects that go away cancel their timers where that is cheap, so the
// heap holds about one timer per object with a deadline.
//
// Costs: schedule, cancel and each firing are O(log n) in the number of
// timers; nextDeadline is O(1); tick does work only for the timers due.

// timerKind is what a timer is for. Timers due at the same tick fire
// grouped by kind, in this order (the order in which tick has always
// visited them), and by id within a kind.
type timerKind uint8

const (
	// timerOperator is an operator event stream's HEARTBEAT; its id is the
	// subscriber's number (operatorTimerID).
	timerOperator timerKind = iota
	// timerFramework is a framework's HEARTBEAT while connected, its
	// failover deadline while disconnected.
	timerFramework
	// timerAgent is an agent's next ping (and missed-ping check) while
	// connected, the end of its grace period while disconnected, or its
	// deferred removal (checkAgent).
	timerAgent
	// timerRecovered is a recovered agent's re-registration deadline
	// (expireRecovered).
	timerRecovered
	// timerOffer is an offer's --offer_timeout.
	timerOffer
	// timerInverseOffer is an inverse offer's --offer_timeout
	// (expireInverseOffers).
	timerInverseOffer
	// timerDrain is a draining agent's kill deadline; checkDraining, at the
	// end of the tick's event, does the killing.
	timerDrain
	// timerAllocation is the batch allocation, every --allocation_interval.
	timerAllocation
)

// timerKey names one timer: at most one per kind and id is scheduled.
type timerKey struct {
	kind timerKind
	id   string
}

// allocationTimer is the one timer of the batch allocation.
var allocationTimer = timerKey{kind: timerAllocation}

// operatorTimerID is the timer id of operator subscriber n; the padding
// makes ids sort as the numbers do.
func operatorTimerID(n int) string { return fmt.Sprintf("%012d", n) }

// timerEntry is a scheduled timer; index is its place in the heap.
type timerEntry struct {
	key   timerKey
	at    time.Time
	index int
}

// timerHeap is a min-heap of timers keyed by (deadline, kind, id), with an
// index from key to entry so that a timer can be moved or canceled in
// O(log n). The zero value is empty and ready to use. The order is total,
// so timers pop in the same order whatever order they were scheduled in.
type timerHeap struct {
	entries []*timerEntry
	byKey   map[timerKey]*timerEntry
	// fired counts the timers popped as due, for tests.
	fired uint64
}

// len is the number of scheduled timers.
func (h *timerHeap) len() int { return len(h.entries) }

// schedule sets timer k to fire at at, scheduling it or moving it; a zero
// at cancels it.
func (h *timerHeap) schedule(k timerKey, at time.Time) {
	if at.IsZero() {
		h.cancel(k)
		return
	}
	if e := h.byKey[k]; e != nil {
		e.at = at
		h.fix(e.index)
		return
	}
	if h.byKey == nil {
		h.byKey = map[timerKey]*timerEntry{}
	}
	e := &timerEntry{key: k, at: at, index: len(h.entries)}
	h.byKey[k] = e
	h.entries = append(h.entries, e)
	h.up(e.index)
}

// cancel removes timer k; a no-op when it is not scheduled.
func (h *timerHeap) cancel(k timerKey) {
	e := h.byKey[k]
	if e == nil {
		return
	}
	delete(h.byKey, k)
	last := len(h.entries) - 1
	i := e.index
	if i != last {
		h.swap(i, last)
	}
	h.entries[last] = nil
	h.entries = h.entries[:last]
	if i != last {
		h.fix(i)
	}
}

// at returns when timer k fires, and whether it is scheduled.
func (h *timerHeap) at(k timerKey) (time.Time, bool) {
	if e := h.byKey[k]; e != nil {
		return e.at, true
	}
	return time.Time{}, false
}

// next returns the earliest deadline, and false when no timer is
// scheduled.
func (h *timerHeap) next() (time.Time, bool) {
	if len(h.entries) == 0 {
		return time.Time{}, false
	}
	return h.entries[0].at, true
}

// popDue removes the timers due at now (deadline not after now) and
// appends their keys to due, in (deadline, kind, id) order.
func (h *timerHeap) popDue(now time.Time, due []timerKey) []timerKey {
	for len(h.entries) > 0 && !now.Before(h.entries[0].at) {
		k := h.entries[0].key
		h.cancel(k)
		h.fired++
		due = append(due, k)
	}
	return due
}

func (h *timerHeap) less(i, j int) bool {
	a, b := h.entries[i], h.entries[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.key.kind != b.key.kind {
		return a.key.kind < b.key.kind
	}
	return a.key.id < b.key.id
}

func (h *timerHeap) swap(i, j int) {
	h.entries[i], h.entries[j] = h.entries[j], h.entries[i]
	h.entries[i].index = i
	h.entries[j].index = j
}

// fix restores the heap order after entry i changed.
func (h *timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *timerHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down moves entry i towards the leaves; it reports whether it moved.
func (h *timerHeap) down(i int) bool {
	start, n := i, len(h.entries)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

// ---- the core's timers: when each object is next due ----

// scheduleFramework sets framework f's timer to its next deadline: the
// next HEARTBEAT while it is connected, the failover deadline while it is
// disconnected (a framework recovered from an agent or the registry has
// none until it subscribes).
func (c *core) scheduleFramework(f *framework) {
	var at time.Time
	switch {
	case c.frameworks[f.id] != f:
	case f.stream != nil:
		at = f.nextHeartbeat
	case !f.recovered:
		at = f.failoverDeadline
	}
	c.timers.schedule(timerKey{timerFramework, f.id}, at)
}

// scheduleAgent sets agent a's timer to the next time checkAgent has
// something to do for it: its deferred removal if one is pending (nothing
// else is done for it until then), else its next ping while connected, or
// the end of its grace period while disconnected.
func (c *core) scheduleAgent(a *agent) {
	var at time.Time
	switch {
	case c.agents[a.id] != a:
	case !a.removalDeferred.IsZero():
		at = a.removalDeferred
	case a.stream != nil:
		at = a.nextPing
	default:
		at = a.disconnected.Add(c.agentGrace())
	}
	c.timers.schedule(timerKey{timerAgent, a.id}, at)
}

// scheduleOffer sets offer o's timer to its expiry (none without
// --offer_timeout).
func (c *core) scheduleOffer(o *offer) {
	c.timers.schedule(timerKey{timerOffer, o.pb.GetId().GetValue()}, o.expires)
}

// cancelOffer cancels the timer of the offer with id.
func (c *core) cancelOffer(id string) { c.timers.cancel(timerKey{timerOffer, id}) }

// scheduleRecovered sets the timer of recovered agent id to its
// re-registration deadline, or cancels it once the agent is no longer
// waiting.
func (c *core) scheduleRecovered(id string) {
	var at time.Time
	if r := c.recovered[id]; r != nil {
		at = r.deadline
	}
	c.timers.schedule(timerKey{timerRecovered, id}, at)
}

// scheduleInverseOffer sets the timer of the inverse offer with id to its
// expiry, or cancels it once the inverse offer is gone.
func (c *core) scheduleInverseOffer(id string) {
	var at time.Time
	if io := c.maint.inverse[id]; io != nil {
		at = io.expires
	}
	c.timers.schedule(timerKey{timerInverseOffer, id}, at)
}

// scheduleDrain sets the timer of draining agent id to its kill deadline
// if one is armed and still ahead of now; checkDraining acts on a deadline
// that has passed.
func (c *core) scheduleDrain(id string, now time.Time) {
	var at time.Time
	if d := c.maint.draining[id]; d != nil && d.killDeadline.After(now) {
		at = d.killDeadline
	}
	c.timers.schedule(timerKey{timerDrain, id}, at)
}

// scheduleOperator sets operator subscriber n's timer to its next
// HEARTBEAT, or cancels it once the subscriber is gone.
func (c *core) scheduleOperator(n int) {
	var at time.Time
	if sub := c.operatorSubs.subs[n]; sub != nil {
		at = sub.nextHeartbeat
	}
	c.timers.schedule(timerKey{timerOperator, operatorTimerID(n)}, at)
}
