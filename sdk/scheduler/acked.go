package scheduler

import "sync"

// maxAcked bounds how many acknowledged updates a Client remembers.
const maxAcked = 1 << 16

// ackedSet remembers the status updates (task id and uuid) a framework
// has acknowledged, the most recent maxAcked of them. An agent resends an
// update whose acknowledgement it did not get (the acknowledgement was
// lost, or the agent restarted); such a duplicate carries the same uuid,
// and the Client acknowledges it again without handing it to the Handler.
type ackedSet struct {
	mu    sync.Mutex
	seen  map[string]bool
	order []string // ring of keys, oldest at next
	next  int
}

func ackKey(taskID string, uuid []byte) string { return taskID + "\x00" + string(uuid) }

func (s *ackedSet) add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if s.seen[key] {
		return
	}
	if len(s.order) < maxAcked {
		s.order = append(s.order, key)
	} else {
		delete(s.seen, s.order[s.next])
		s.order[s.next] = key
		s.next = (s.next + 1) % maxAcked
	}
	s.seen[key] = true
}

func (s *ackedSet) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[key]
}
