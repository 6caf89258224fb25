package registry

import (
	"maps"
	"slices"
	"sync"
)

// Memory is a Store kept in memory: Mesos' --registry=in_memory. Its
// content is lost when the process ends.
type Memory struct {
	mu     sync.Mutex
	data   map[string]map[string][]byte
	closed bool
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{data: map[string]map[string][]byte{}}
	for _, k := range kinds {
		m.data[k] = map[string][]byte{}
	}
	return m
}

// Recover returns the current content.
func (m *Memory) Recover() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	return load(&memTxn{data: m.data})
}

// Apply applies ops all or none.
func (m *Memory) Apply(ops ...Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	// Work on a copy so a failing op leaves nothing behind.
	work := make(map[string]map[string][]byte, len(m.data))
	for k, v := range m.data {
		work[k] = maps.Clone(v)
	}
	t := &memTxn{data: work}
	for _, op := range ops {
		if err := op.apply(t); err != nil {
			return err
		}
	}
	m.data = work
	return nil
}

// Commit applies the groups of batch, each all or none; groups refused
// with an *OpError are left out.
func (m *Memory) Commit(batch [][]Op) ([]error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	work := make(map[string]map[string][]byte, len(m.data))
	for k, v := range m.data {
		work[k] = maps.Clone(v)
	}
	refused, err := commitGroups(&memTxn{data: work}, batch)
	if err != nil {
		return nil, err
	}
	m.data = work
	return refused, nil
}

// Close marks the store closed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

type memTxn struct{ data map[string]map[string][]byte }

func (t *memTxn) get(kind, key string) ([]byte, bool) {
	v, ok := t.data[kind][key]
	return v, ok
}

func (t *memTxn) put(kind, key string, value []byte) error {
	t.data[kind][key] = value
	return nil
}

func (t *memTxn) del(kind, key string) error {
	delete(t.data[kind], key)
	return nil
}

func (t *memTxn) each(kind string, f func(key string, value []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(t.data[kind])) {
		if err := f(k, t.data[kind][k]); err != nil {
			return err
		}
	}
	return nil
}
