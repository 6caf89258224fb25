package simq

import (
	"testing"
	"time"
)

// TestOrder: events come out by time, then by sequence number, whatever
// the order they were pushed in.
func TestOrder(t *testing.T) {
	var q Queue[string]
	t0 := time.Unix(1000, 0)
	q.Push(t0.Add(2*time.Second), 1, "c")
	q.Push(t0, 5, "b")
	q.Push(t0, 3, "a")
	q.Push(t0.Add(time.Second), 9, "bb")
	if at, ok := q.Next(); !ok || !at.Equal(t0) {
		t.Fatalf("Next = %v, %v", at, ok)
	}
	var got []string
	for q.Len() > 0 {
		got = append(got, q.Pop())
	}
	want := []string{"a", "b", "bb", "c"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if _, ok := q.Next(); ok {
		t.Error("Next on an empty queue reports an event")
	}
}
