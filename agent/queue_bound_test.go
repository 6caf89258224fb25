package agent

import "testing"

// TestBoundedQueueClosesWhenFull: a consumer that falls max items behind
// gets what was queued, then the end; later pushes are refused.
func TestBoundedQueueClosesWhenFull(t *testing.T) {
	q := newBoundedQueue[int](3)
	for i := range 3 {
		if !q.push(i) {
			t.Fatalf("push %d refused below the bound", i)
		}
	}
	if q.push(3) {
		t.Fatal("push past the bound accepted")
	}
	items, closed := q.take()
	if len(items) != 3 || !closed {
		t.Fatalf("take: %v, closed %v; want 3 items and closed", items, closed)
	}
	if q.push(4) {
		t.Fatal("push after overflow accepted")
	}
	u := newQueue[int]()
	for i := range 20000 {
		if !u.push(i) {
			t.Fatalf("unbounded queue refused item %d", i)
		}
	}
}
