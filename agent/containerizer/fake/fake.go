// Package fake is a Containerizer that runs no process: each container
// runs a function of the test on a goroutine (or nothing, until it is
// told to exit), and every call is recorded. It lets the agent run in
// tests and simulations without executors as processes.
package fake

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Containerizer is the fake. Set its fields before first use.
type Containerizer struct {
	// Name tells calls of several fakes apart (in Calls).
	Name string
	// Accept decides whether Launch takes a container (nil: all);
	// refused ones are NotSupported.
	Accept func(cfg containerizer.Config) bool
	// Run, when set, is what a launched container runs, on a goroutine
	// of its own: the container ends when Run returns, with Run's wait
	// status. ctx ends on Destroy. Nil: the container runs until Exit or
	// Destroy.
	Run func(ctx context.Context, id string, cfg containerizer.Config) syscall.WaitStatus
	// Alive are the ids of RecoverState that Recover re-adopts (nil:
	// none).
	Alive map[string]bool
	// Statistics is what Usage reports (a copy, with the container's
	// limits left as given).
	Statistics *mesos.ResourceStatistics

	mu         sync.Mutex
	calls      []Call
	containers map[string]*container
}

// Call is one recorded call: its method and container id.
type Call struct {
	Fake, Method, ID string
}

type container struct {
	id        *mesos.ContainerID
	cfg       containerizer.Config
	resources []*mesos.Resource
	cancel    context.CancelFunc
	exit      chan syscall.WaitStatus // Exit's status, buffered
	done      chan struct{}
	term      containerizer.Termination
}

var _ containerizer.Containerizer = (*Containerizer)(nil)

func (f *Containerizer) record(method string, id *mesos.ContainerID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Fake: f.Name, Method: method, ID: id.GetValue()})
}

// Calls returns the recorded calls, in order.
func (f *Containerizer) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Launched returns the config of every container launched, by id.
func (f *Containerizer) Launched() map[string]containerizer.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]containerizer.Config{}
	for id, c := range f.containers {
		out[id] = c.cfg
	}
	return out
}

func (f *Containerizer) get(id *mesos.ContainerID) (*container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id.GetValue()]
	if c == nil {
		return nil, fmt.Errorf("%w %s", containerizer.ErrUnknownContainer, id.GetValue())
	}
	return c, nil
}

// start runs a container (f.mu held).
func (f *Containerizer) start(id *mesos.ContainerID, cfg containerizer.Config, run func(context.Context, string, containerizer.Config) syscall.WaitStatus) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &container{id: id, cfg: cfg, resources: cfg.Resources, cancel: cancel,
		exit: make(chan syscall.WaitStatus, 1), done: make(chan struct{})}
	if f.containers == nil {
		f.containers = map[string]*container{}
	}
	f.containers[id.GetValue()] = c
	go func() {
		defer close(c.done)
		defer cancel()
		var ws syscall.WaitStatus
		if run != nil {
			ws = run(ctx, id.GetValue(), cfg)
		} else {
			select {
			case ws = <-c.exit:
			case <-ctx.Done():
				ws = syscall.WaitStatus(syscall.SIGKILL)
			}
		}
		c.term = containerizer.Termination{Status: proto.Int32(int32(ws))}
	}()
}

// Launch starts the container (NotSupported when Accept refuses it).
func (f *Containerizer) Launch(_ context.Context, id *mesos.ContainerID, cfg containerizer.Config) (containerizer.LaunchResult, error) {
	f.record("Launch", id)
	if f.Accept != nil && !f.Accept(cfg) {
		return containerizer.NotSupported, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.containers[id.GetValue()] != nil {
		return containerizer.AlreadyLaunched, nil
	}
	f.start(id, cfg, f.Run)
	return containerizer.Launched, nil
}

// Exit ends a container (without Run) with wait status ws.
func (f *Containerizer) Exit(id string, ws syscall.WaitStatus) error {
	c, err := f.get(&mesos.ContainerID{Value: &id})
	if err != nil {
		return err
	}
	select {
	case c.exit <- ws:
	default:
	}
	return nil
}

// Wait waits for the container's end; the first Wait to see it forgets
// the container.
func (f *Containerizer) Wait(ctx context.Context, id *mesos.ContainerID) (containerizer.Termination, error) {
	f.record("Wait", id)
	c, err := f.get(id)
	if err != nil {
		return containerizer.Termination{}, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return containerizer.Termination{}, ctx.Err()
	}
	f.mu.Lock()
	if f.containers[id.GetValue()] == c {
		delete(f.containers, id.GetValue())
	}
	f.mu.Unlock()
	return c.term, nil
}

// Destroy ends the container: Run's context is cancelled (without Run,
// it ends with SIGKILL's status).
func (f *Containerizer) Destroy(_ context.Context, id *mesos.ContainerID) error {
	f.record("Destroy", id)
	c, err := f.get(id)
	if err != nil {
		return err
	}
	c.cancel()
	return nil
}

// Update records the container's resources.
func (f *Containerizer) Update(_ context.Context, id *mesos.ContainerID, res []*mesos.Resource, _ map[string]*mesos.Value_Scalar) error {
	f.record("Update", id)
	c, err := f.get(id)
	if err != nil {
		return err
	}
	f.mu.Lock()
	c.resources = res
	f.mu.Unlock()
	return nil
}

// Resources returns what Launch or the latest Update gave a container.
func (f *Containerizer) Resources(id string) ([]*mesos.Resource, error) {
	c, err := f.get(&mesos.ContainerID{Value: &id})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return c.resources, nil
}

// Usage reports Statistics.
func (f *Containerizer) Usage(_ context.Context, id *mesos.ContainerID) (*mesos.ResourceStatistics, error) {
	f.record("Usage", id)
	if _, err := f.get(id); err != nil {
		return nil, err
	}
	if f.Statistics == nil {
		return &mesos.ResourceStatistics{}, nil
	}
	return proto.Clone(f.Statistics).(*mesos.ResourceStatistics), nil
}

// Status reports the container's id.
func (f *Containerizer) Status(_ context.Context, id *mesos.ContainerID) (*mesos.ContainerStatus, error) {
	f.record("Status", id)
	if _, err := f.get(id); err != nil {
		return nil, err
	}
	return &mesos.ContainerStatus{ContainerId: proto.Clone(id).(*mesos.ContainerID)}, nil
}

// Containers lists the live containers.
func (f *Containerizer) Containers(context.Context) ([]*mesos.ContainerID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*mesos.ContainerID
	for _, c := range f.containers {
		out = append(out, c.id)
	}
	return out, nil
}

// Recover re-adopts the listed containers named in Alive: they run until
// Exit or Destroy.
func (f *Containerizer) Recover(_ context.Context, known []containerizer.RecoverState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Fake: f.Name, Method: "Recover"})
	for _, s := range known {
		if f.Alive[s.ID.GetValue()] {
			f.start(s.ID, containerizer.Config{Directory: s.Directory}, nil) // runs nothing
		}
	}
	return nil
}
