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

// journalFunc persists one record of a stream before the stream applies
// it; nil for frameworks that do not checkpoint.
type journalFunc func(checkpoint.Record) error

// updateStream is the status-update manager's core for one task: an
// ordered stream of updates awaiting the framework's acknowledgement.
// Only the head is sent; the next goes once the head is acknowledged. It
// is a plain value — no clock, no I/O besides its journal — owned by the
// agent's state goroutine, which sends heads and keeps one timer for the
// earliest retry deadline of all streams.
type updateStream struct {
	fwID, taskID string
	journal      journalFunc

	pending []*mesos.TaskStatus
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

func newUpdateStream(fwID, taskID string, j journalFunc) *updateStream {
	return &updateStream{fwID: fwID, taskID: taskID, journal: j,
		received: map[string]bool{}, acked: map[string]bool{}, backoff: updateRetryMin}
}

// addResult is what add did with an update.
type addResult int

const (
	// addHead: queued and now the head: send it.
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

// add queues s (journaled first for checkpointing frameworks: once add
// returns, the update survives an agent crash).
func (u *updateStream) add(s *mesos.TaskStatus) (addResult, error) {
	id := string(s.GetUuid())
	if u.acked[id] {
		return addDuplicateAcked, nil
	}
	if u.received[id] {
		return addDuplicate, nil
	}
	if u.journal != nil {
		if err := u.journal(checkpoint.Record{Kind: checkpoint.RecordUpdate, Status: s}); err != nil {
			return 0, err
		}
	}
	u.received[id] = true
	u.pending = append(u.pending, s)
	if len(u.pending) == 1 {
		u.backoff = updateRetryMin
		u.deadline = time.Time{}
		return addHead, nil
	}
	return addQueued, nil
}

// head returns the update to send (nil when none waits).
func (u *updateStream) head() *mesos.TaskStatus {
	if len(u.pending) == 0 {
		return nil
	}
	return u.pending[0]
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
	return len(u.pending) > 0 && !u.deadline.IsZero() && !now.Before(u.deadline)
}

// ack applies the acknowledgement of uuid, which must be the head's
// (journaled first). It returns the acknowledged update; the next head,
// if any, is then due at once.
func (u *updateStream) ack(uuid []byte) (*mesos.TaskStatus, error) {
	if u.acked[string(uuid)] {
		return nil, nil // a duplicate acknowledgement
	}
	h := u.head()
	if h == nil || !bytes.Equal(h.GetUuid(), uuid) {
		return nil, errUnexpectedAck
	}
	if u.journal != nil {
		if err := u.journal(checkpoint.Record{Kind: checkpoint.RecordAck, UUID: uuid}); err != nil {
			return nil, err
		}
	}
	u.apply(uuid)
	return h, nil
}

// apply pops the head, acknowledged (no journal).
func (u *updateStream) apply(uuid []byte) {
	h := u.pending[0]
	u.pending = u.pending[1:]
	u.acked[string(uuid)] = true
	if isTerminal(h.GetState()) {
		u.terminated = true
	}
	u.backoff = updateRetryMin
	u.deadline = time.Time{}
}

// done reports whether nothing is left to deliver: the terminal update
// was acknowledged and nothing waits.
func (u *updateStream) done() bool { return u.terminated && len(u.pending) == 0 }

// replayStream rebuilds a stream from its journal (agent recovery): the
// updates not yet acknowledged are pending again, in order.
func replayStream(fwID, taskID string, recs []checkpoint.Record, j journalFunc) (*updateStream, error) {
	u := newUpdateStream(fwID, taskID, j)
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
