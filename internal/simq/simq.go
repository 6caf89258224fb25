// Package simq is the event queue of Mezzo's deterministic simulations
// (the master's and the agent's): events ordered by the simulated time
// they are due, and events due at the same time by the sequence number
// their simulation gave them, so that one seed always replays the same
// order.
package simq

import (
	"container/heap"
	"time"
)

// Queue holds events of type E. The zero value is an empty queue.
type Queue[E any] struct {
	h items[E]
}

type item[E any] struct {
	at  time.Time
	seq uint64
	e   E
}

// Push adds e, due at at; seq breaks ties between events due at the same
// time (lower first) and must differ between events.
func (q *Queue[E]) Push(at time.Time, seq uint64, e E) {
	heap.Push(&q.h, item[E]{at: at, seq: seq, e: e})
}

// Pop removes and returns the first event. The queue must not be empty.
func (q *Queue[E]) Pop() E {
	return heap.Pop(&q.h).(item[E]).e
}

// Next returns when the first event is due; ok is false when the queue
// is empty.
func (q *Queue[E]) Next() (at time.Time, ok bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].at, true
}

// Len is the number of events queued.
func (q *Queue[E]) Len() int { return len(q.h) }

// items is the heap behind a Queue.
type items[E any] []item[E]

func (h items[E]) Len() int { return len(h) }
func (h items[E]) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h items[E]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *items[E]) Push(x any)   { *h = append(*h, x.(item[E])) }
func (h *items[E]) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
