package agent

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Status-update retry: the head of a stream is resent 10 s after it was
// sent, then after 20 s, 40 s, ... up to every 10 min, until the
// framework's acknowledgement arrives (Mesos'
// STATUS_UPDATE_RETRY_INTERVAL_MIN/MAX).
const (
	updateRetryMin = 10 * time.Second
	updateRetryMax = 10 * time.Minute
)

// updateStream is the status-update manager's core for one task: an
// ordered stream of updates awaiting the framework's acknowledgement.
// Only the head is sent; the next goes once the head is acknowledged. It
// is a plain value — no clock, no I/O — owned by the agent's state
// goroutine, which sends heads and keeps one timer for the earliest
// retry deadline of all streams.
//
// For a framework that checkpoints, the stream is journaled: add and ack
// return the record to write, and the stream holds back what depends on
// it until the agent reports the record durable (synced, ackSynced). An
// update is not sent, and its acknowledgement does not take effect,
// before its record is durable. Records of one stream are written in the
// order the stream returned them, so the durable updates are always the
// oldest pending ones.
type updateStream struct {
	fwID, taskID string
	// journal is the executor run whose task.updates holds the stream's
	// records; nil when the stream is not journaled.
	journal *checkpoint.Run

	pending []*mesos.TaskStatus
	// unsynced is how many of the newest pending updates have a record
	// not yet durable.
	unsynced int
	// acking is the uuid of the head while its acknowledgement's record
	// is being written (nil when none is).
	acking []byte
	// received holds the uuid of every update accepted, acked the uuids
	// acknowledged (duplicate detection, as Mesos does).
	received map[string]bool
	acked    map[string]bool
	// terminated: the terminal update was acknowledged; the stream ends
	// once pending is empty.
	terminated bool

	// backoff is the wait before the next resend of the head; deadline
	// is when it is due (zero: not sent since it became the head).
	backoff  time.Duration
	deadline time.Time
}

func newUpdateStream(fwID, taskID string, journal *checkpoint.Run) *updateStream {
	return &updateStream{fwID: fwID, taskID: taskID, journal: journal,
		received: map[string]bool{}, acked: map[string]bool{}, backoff: updateRetryMin}
}

// addResult is what add did with an update.
type addResult int

const (
	// addHead: queued and now the head.
	addHead addResult = iota
	// addQueued: queued behind an unacknowledged head.
	addQueued
	// addDuplicate: already queued; ignored.
	addDuplicate
	// addDuplicateAcked: already acknowledged; the sender may be told
	// again.
	addDuplicateAcked
)

// errUnexpectedAck is returned by ack for a uuid that is not the head.
var errUnexpectedAck = errors.New("unexpected status update acknowledgement")

// add queues s. For a journaled stream it returns the record to write:
// s counts as received at once (a resent copy is a duplicate) but is
// held back until synced reports the record durable.
func (u *updateStream) add(s *mesos.TaskStatus) (addResult, *checkpoint.Record) {
	id := string(s.GetUuid())
	if u.acked[id] {
		return addDuplicateAcked, nil
	}
	if u.received[id] {
		return addDuplicate, nil
	}
	u.received[id] = true
	u.pending = append(u.pending, s)
	var rec *checkpoint.Record
	if u.journal != nil {
		u.unsynced++
		rec = &checkpoint.Record{Kind: checkpoint.RecordUpdate, Status: s}
	}
	if len(u.pending) == 1 {
		u.backoff = updateRetryMin
		u.deadline = time.Time{}
		return addHead, rec
	}
	return addQueued, rec
}

// synced reports the oldest update whose record was being written
// durable.
func (u *updateStream) synced() {
	if u.unsynced > 0 {
		u.unsynced--
	}
}

// durable reports whether the pending or acknowledged update uuid is
// durable (always, for a stream that is not journaled).
func (u *updateStream) durable(uuid []byte) bool {
	if u.acked[string(uuid)] {
		return true
	}
	for i, s := range u.pending {
		if bytes.Equal(s.GetUuid(), uuid) {
			return i < len(u.pending)-u.unsynced
		}
	}
	return false
}

// head returns the oldest pending update (nil when none waits), durable
// or not.
func (u *updateStream) head() *mesos.TaskStatus {
	if len(u.pending) == 0 {
		return nil
	}
	return u.pending[0]
}

// sendable returns the head when it may go to the master: it is durable
// and its acknowledgement is not being written; nil otherwise.
func (u *updateStream) sendable() *mesos.TaskStatus {
	if len(u.pending) <= u.unsynced || u.acking != nil {
		return nil
	}
	return u.pending[0]
}

// latest returns the state of the newest durable pending update, which
// goes with the head as the task's latest state (sendable must be
// non-nil).
func (u *updateStream) latest() mesos.TaskState {
	return u.pending[len(u.pending)-1-u.unsynced].GetState()
}

// sent records that the head went out at now: it is due again after the
// current backoff, which then doubles up to updateRetryMax.
func (u *updateStream) sent(now time.Time) {
	u.deadline = now.Add(u.backoff)
	u.backoff = min(u.backoff*2, updateRetryMax)
}

// resume restarts the backoff (a new master connection: every head is
// sent at once).
func (u *updateStream) resume() {
	u.backoff = updateRetryMin
	u.deadline = time.Time{}
}

// due reports whether the head should be resent at now.
func (u *updateStream) due(now time.Time) bool {
	return u.sendable() != nil && !u.deadline.IsZero() && !now.Before(u.deadline)
}

// ready reports whether the head should be sent now: it is sendable and
// was not sent since it became the head (or since resume).
func (u *updateStream) ready() bool {
	return u.sendable() != nil && u.deadline.IsZero()
}

// ack takes the acknowledgement of uuid, which must be the sendable
// head's. It returns the acknowledged update; a repeated acknowledgement
// returns nil. For a journaled stream it also returns the record to
// write, and the acknowledgement takes effect when ackSynced reports it
// durable; otherwise it takes effect at once. Then the next head, if
// any, is due.
func (u *updateStream) ack(uuid []byte) (*mesos.TaskStatus, *checkpoint.Record, error) {
	if u.acked[string(uuid)] || (u.acking != nil && bytes.Equal(u.acking, uuid)) {
		return nil, nil, nil // a duplicate acknowledgement
	}
	h := u.sendable()
	if h == nil || !bytes.Equal(h.GetUuid(), uuid) {
		return nil, nil, errUnexpectedAck
	}
	if u.journal == nil {
		u.apply(uuid)
		return h, nil, nil
	}
	u.acking = bytes.Clone(uuid)
	return h, &checkpoint.Record{Kind: checkpoint.RecordAck, UUID: uuid}, nil
}

// ackSynced reports the record of the acknowledgement being written
// durable: the head is popped.
func (u *updateStream) ackSynced() {
	if u.acking == nil {
		return
	}
	uuid := u.acking
	u.acking = nil
	u.apply(uuid)
}

// apply pops the head, acknowledged.
func (u *updateStream) apply(uuid []byte) {
	h := u.pending[0]
	u.pending = u.pending[1:]
	u.acked[string(uuid)] = true
	if mesos.IsTerminalState(h.GetState()) {
		u.terminated = true
	}
	u.backoff = updateRetryMin
	u.deadline = time.Time{}
}

// done reports whether nothing is left to deliver: the terminal update
// was acknowledged and nothing waits.
func (u *updateStream) done() bool { return u.terminated && len(u.pending) == 0 }

// replayStream rebuilds a stream from its journal (agent recovery): the
// updates not yet acknowledged are pending again, in order, and durable.
func replayStream(fwID, taskID string, recs []checkpoint.Record, journal *checkpoint.Run) (*updateStream, error) {
	u := newUpdateStream(fwID, taskID, journal)
	for i, r := range recs {
		switch r.Kind {
		case checkpoint.RecordUpdate:
			id := string(r.Status.GetUuid())
			if u.received[id] {
				continue
			}
			u.received[id] = true
			u.pending = append(u.pending, r.Status)
		case checkpoint.RecordAck:
			if u.acked[string(r.UUID)] {
				continue
			}
			if h := u.head(); h == nil || !bytes.Equal(h.GetUuid(), r.UUID) {
				return nil, fmt.Errorf("task %s: record %d acknowledges an update that is not the head", taskID, i)
			}
			u.apply(r.UUID)
		}
	}
	return u, nil
}
