package containerizer

import (
	"context"
	"fmt"
	"sync"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// ending is what a containerizer keeps of a container's end: done is
// closed once the container has ended, and term then says how.
type ending struct {
	done chan struct{}
	term Termination
}

func (e *ending) end() *ending { return e }

// lookup returns the container with id from containers (guarded by mu),
// or ErrUnknownContainer.
func lookup[C any](mu *sync.Mutex, containers map[string]C, id *mesos.ContainerID) (C, error) {
	mu.Lock()
	defer mu.Unlock()
	c, ok := containers[id.GetValue()]
	if !ok {
		var none C
		return none, fmt.Errorf("%w %s", ErrUnknownContainer, id.GetValue())
	}
	return c, nil
}

// waitEnd waits for the end of the container with id and returns how it
// ended; the first wait to see the end forgets the container.
func waitEnd[C interface {
	comparable
	end() *ending
}](ctx context.Context, mu *sync.Mutex, containers map[string]C, id *mesos.ContainerID) (Termination, error) {
	c, err := lookup(mu, containers, id)
	if err != nil {
		return Termination{}, err
	}
	select {
	case <-c.end().done:
	case <-ctx.Done():
		return Termination{}, ctx.Err()
	}
	mu.Lock()
	if containers[id.GetValue()] == c {
		delete(containers, id.GetValue())
	}
	mu.Unlock()
	return c.end().term, nil
}
