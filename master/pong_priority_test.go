package master

import (
	"sync"
	"testing"
	"time"
)

// TestPongsGoBeforeQueuedCalls: an agent's PONG that arrives while many
// calls wait for a busy loop runs before them, so that a master with a
// long queue does not count the answer as a missed ping.
func TestPongsGoBeforeQueuedCalls(t *testing.T) {
	m, _ := testMaster(t)
	release := make(chan struct{})
	busy := make(chan struct{})
	go m.do(func(*core) { close(busy); <-release })
	<-busy

	var mu sync.Mutex
	var order []string
	record := func(name string) func(*core) {
		return func(*core) {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		}
	}
	const queued = 50
	var wg sync.WaitGroup
	for range queued {
		wg.Add(1)
		go func() { defer wg.Done(); m.do(record("call")) }()
	}
	eventually(t, 5*time.Second, "calls to queue", func() bool { return m.queued.Load() >= queued })
	wg.Add(1)
	go func() { defer wg.Done(); m.doPong(record("pong")) }()
	eventually(t, 5*time.Second, "the pong to queue", func() bool { return m.queued.Load() >= queued+1 })
	close(release)
	wg.Wait()
	if len(order) != queued+1 || order[0] != "pong" {
		t.Fatalf("order %v: want the pong first of %d", order[:min(len(order), 5)], queued+1)
	}
}
