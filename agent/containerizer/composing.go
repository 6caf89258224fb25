package containerizer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Composing is Mesos' ComposingContainerizer: it offers each launch to
// its containerizers in order (--containerizers=mesos,docker) until one
// accepts it, remembers which one did, and sends every later call for
// that container to it. It forgets a container when its owner no longer
// knows it (a Wait reported its end, or a call answered
// ErrUnknownContainer).
type Composing struct {
	cs []Containerizer

	mu    sync.Mutex
	owner map[string]Containerizer
}

// NewComposing composes cs, tried in that order.
func NewComposing(cs ...Containerizer) *Composing {
	return &Composing{cs: cs, owner: map[string]Containerizer{}}
}

// Recover recovers every containerizer with the same list (each adopts
// the containers it recognises), then learns who owns what from their
// Containers.
func (c *Composing) Recover(ctx context.Context, known []RecoverState) error {
	var errs []error
	for _, z := range c.cs {
		if err := z.Recover(ctx, known); err != nil {
			errs = append(errs, err)
		}
		ids, err := z.Containers(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.mu.Lock()
		for _, id := range ids {
			if _, ok := c.owner[id.GetValue()]; !ok {
				c.owner[id.GetValue()] = z
			}
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Launch offers the container to each containerizer in turn: the first
// that does not answer NotSupported launches it (or fails to). When none
// supports it, Launch answers NotSupported.
func (c *Composing) Launch(ctx context.Context, id *mesos.ContainerID, cfg Config) (LaunchResult, error) {
	key := id.GetValue()
	c.mu.Lock()
	if _, ok := c.owner[key]; ok {
		c.mu.Unlock()
		return AlreadyLaunched, nil
	}
	c.owner[key] = nil // launching: taken
	c.mu.Unlock()
	for _, z := range c.cs {
		res, err := z.Launch(ctx, id, cfg)
		if err == nil && res == NotSupported {
			continue
		}
		c.mu.Lock()
		if err == nil && res == Launched {
			c.owner[key] = z
		} else {
			delete(c.owner, key)
		}
		c.mu.Unlock()
		return res, err
	}
	c.mu.Lock()
	delete(c.owner, key)
	c.mu.Unlock()
	return NotSupported, nil
}

// route returns the owner of a container.
func (c *Composing) route(id *mesos.ContainerID) (Containerizer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	z := c.owner[id.GetValue()]
	if z == nil {
		return nil, fmt.Errorf("%w %s", ErrUnknownContainer, id.GetValue())
	}
	return z, nil
}

// forget drops a container its owner z no longer knows.
func (c *Composing) forget(id *mesos.ContainerID, z Containerizer, err error) {
	if err == nil || errors.Is(err, ErrUnknownContainer) {
		c.mu.Lock()
		if c.owner[id.GetValue()] == z {
			delete(c.owner, id.GetValue())
		}
		c.mu.Unlock()
	}
}

// Wait waits on the owner; a reported end forgets the container.
func (c *Composing) Wait(ctx context.Context, id *mesos.ContainerID) (Termination, error) {
	z, err := c.route(id)
	if err != nil {
		return Termination{}, err
	}
	t, err := z.Wait(ctx, id)
	c.forget(id, z, err)
	return t, err
}

// Destroy destroys the container through its owner.
func (c *Composing) Destroy(ctx context.Context, id *mesos.ContainerID) error {
	z, err := c.route(id)
	if err != nil {
		return err
	}
	err = z.Destroy(ctx, id)
	if errors.Is(err, ErrUnknownContainer) {
		c.forget(id, z, err)
	}
	return err
}

// Update updates the container through its owner.
func (c *Composing) Update(ctx context.Context, id *mesos.ContainerID, res []*mesos.Resource, limits map[string]*mesos.Value_Scalar) error {
	z, err := c.route(id)
	if err != nil {
		return err
	}
	err = z.Update(ctx, id, res, limits)
	if errors.Is(err, ErrUnknownContainer) {
		c.forget(id, z, err)
	}
	return err
}

// Usage measures the container through its owner.
func (c *Composing) Usage(ctx context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	z, err := c.route(id)
	if err != nil {
		return nil, err
	}
	s, err := z.Usage(ctx, id)
	if errors.Is(err, ErrUnknownContainer) {
		c.forget(id, z, err)
	}
	return s, err
}

// Status describes the container through its owner.
func (c *Composing) Status(ctx context.Context, id *mesos.ContainerID) (*mesos.ContainerStatus, error) {
	z, err := c.route(id)
	if err != nil {
		return nil, err
	}
	s, err := z.Status(ctx, id)
	if errors.Is(err, ErrUnknownContainer) {
		c.forget(id, z, err)
	}
	return s, err
}

// Containers lists the containers of every containerizer.
func (c *Composing) Containers(ctx context.Context) ([]*mesos.ContainerID, error) {
	var out []*mesos.ContainerID
	for _, z := range c.cs {
		ids, err := z.Containers(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// Names of the containerizers --containerizers accepts.
const (
	// NameMesos is Mesos' "mesos" containerizer: Mezzo.
	NameMesos = "mesos"
	// NameDocker is Mesos' "docker" containerizer (package
	// containerizer/docker).
	NameDocker = "docker"
)

// ParseContainerizers checks a --containerizers value and returns its
// names in order: "mesos" (the Mezzo containerizer; "mezzo" is accepted
// as another name for it) and "docker"; a name given twice counts once.
// Any other name is refused.
func ParseContainerizers(s string) ([]string, error) {
	var names []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case NameMesos, "mezzo":
			name = NameMesos
		case NameDocker:
		default:
			return nil, fmt.Errorf("--containerizers=%s: unknown containerizer %q; supported: mesos, docker", s, name)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, nil
}
