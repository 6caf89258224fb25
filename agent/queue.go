package agent

import "sync"

// queue is a FIFO between the state goroutine (which must never block on
// a slow reader) and one consumer goroutine: unbounded, or bounded to
// max items, past which it closes itself (the consumer, fallen that far
// behind, is cut off after what is queued).
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	max    int // 0: unbounded
	closed bool
	ready  chan struct{} // has a token while items or closed
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{ready: make(chan struct{}, 1)}
}

// newBoundedQueue is a queue of at most max items.
func newBoundedQueue[T any](max int) *queue[T] {
	return &queue[T]{ready: make(chan struct{}, 1), max: max}
}

// push appends v; false after close, and when a bounded queue is full
// (it is then closed).
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if q.max > 0 && len(q.items) >= q.max {
		q.closed = true
		q.signal()
		return false
	}
	q.items = append(q.items, v)
	q.signal()
	return true
}

func (q *queue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// close wakes the consumer; what is queued is still delivered.
func (q *queue[T]) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}

// take returns everything queued, and whether the queue is closed.
func (q *queue[T]) take() ([]T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	if q.closed || len(items) > 0 {
		q.signal() // keep the token for the next take while non-empty/closed
	}
	return items, q.closed
}

// wait returns a channel that is ready when take may return something.
func (q *queue[T]) wait() <-chan struct{} { return q.ready }
