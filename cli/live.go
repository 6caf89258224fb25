package cli

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// liveCluster keeps the cluster's agents, frameworks and live tasks up to
// date from the master's operator event stream: the state SUBSCRIBED
// carries, then every TASK_*, AGENT_* and FRAMEWORK_* event. It never
// re-reads the whole state.
type liveCluster struct {
	mu         sync.Mutex
	agents     map[string]*masterpb.Response_GetAgents_Agent
	frameworks map[string]*mesos.FrameworkInfo
	tasks      map[taskKey]*mesos.Task // live tasks only
	ready      chan struct{}           // closed once SUBSCRIBED arrived
	err        error                   // why the stream ended
	done       chan struct{}           // closed when the stream ended
}

type taskKey struct{ framework, task string }

// followCluster subscribes to the event stream and keeps the model until
// ctx ends or the stream does. It returns once SUBSCRIBED has arrived.
func followCluster(ctx context.Context, c *client) (*liveCluster, error) {
	next, closeStream, err := c.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	lc := &liveCluster{
		agents:     map[string]*masterpb.Response_GetAgents_Agent{},
		frameworks: map[string]*mesos.FrameworkInfo{},
		tasks:      map[taskKey]*mesos.Task{},
		ready:      make(chan struct{}),
		done:       make(chan struct{}),
	}
	go func() {
		defer close(lc.done)
		defer closeStream()
		for {
			ev, err := next()
			if err != nil {
				lc.mu.Lock()
				lc.err = err
				lc.mu.Unlock()
				return
			}
			lc.apply(ev)
		}
	}()
	select {
	case <-lc.ready:
		return lc, nil
	case <-lc.done:
		return nil, lc.failure()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// failure is why the stream ended (nil while it runs).
func (lc *liveCluster) failure() error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.err == nil {
		return fmt.Errorf("the event stream ended")
	}
	return lc.err
}

// ended returns a channel closed when the stream ends.
func (lc *liveCluster) ended() <-chan struct{} { return lc.done }

func (lc *liveCluster) apply(ev *masterpb.Event) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	switch ev.GetType() {
	case masterpb.Event_SUBSCRIBED:
		st := ev.GetSubscribed().GetGetState()
		for _, a := range st.GetGetAgents().GetAgents() {
			lc.agents[a.GetAgentInfo().GetId().GetValue()] = a
		}
		fws := st.GetGetFrameworks()
		for _, f := range append(append([]*masterpb.Response_GetFrameworks_Framework(nil), fws.GetFrameworks()...), fws.GetCompletedFrameworks()...) {
			lc.frameworks[f.GetFrameworkInfo().GetId().GetValue()] = f.GetFrameworkInfo()
		}
		ts := st.GetGetTasks()
		for _, t := range append(append(append([]*mesos.Task(nil), ts.GetPendingTasks()...), ts.GetTasks()...), ts.GetUnreachableTasks()...) {
			lc.tasks[taskKey{t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue()}] = t
		}
		select {
		case <-lc.ready:
		default:
			close(lc.ready)
		}
	case masterpb.Event_TASK_ADDED:
		t := ev.GetTaskAdded().GetTask()
		lc.tasks[taskKey{t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue()}] = t
	case masterpb.Event_TASK_UPDATED:
		u := ev.GetTaskUpdated()
		k := taskKey{u.GetFrameworkId().GetValue(), u.GetStatus().GetTaskId().GetValue()}
		if mesos.IsTerminalState(u.GetState()) {
			delete(lc.tasks, k)
		} else if t := lc.tasks[k]; t != nil {
			t = proto.Clone(t).(*mesos.Task)
			t.State = u.GetState().Enum()
			lc.tasks[k] = t
		}
	case masterpb.Event_AGENT_ADDED:
		a := ev.GetAgentAdded().GetAgent()
		lc.agents[a.GetAgentInfo().GetId().GetValue()] = a
	case masterpb.Event_AGENT_REMOVED:
		delete(lc.agents, ev.GetAgentRemoved().GetAgentId().GetValue())
	case masterpb.Event_FRAMEWORK_ADDED:
		info := ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo()
		lc.frameworks[info.GetId().GetValue()] = info
	case masterpb.Event_FRAMEWORK_UPDATED:
		info := ev.GetFrameworkUpdated().GetFramework().GetFrameworkInfo()
		lc.frameworks[info.GetId().GetValue()] = info
	case masterpb.Event_FRAMEWORK_REMOVED:
		// Its name stays known for tasks still reported.
	}
}

// snapshot is the model now, in the form the listings use.
func (lc *liveCluster) snapshot() *cluster {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	cl := &cluster{
		agents:     make(map[string]*masterpb.Response_GetAgents_Agent, len(lc.agents)),
		frameworks: make(map[string]*mesos.FrameworkInfo, len(lc.frameworks)),
	}
	for id, a := range lc.agents {
		cl.agents[id] = a
	}
	for id, f := range lc.frameworks {
		cl.frameworks[id] = f
	}
	for _, t := range lc.tasks {
		cl.tasks = append(cl.tasks, t)
	}
	cl.live = len(cl.tasks)
	return cl
}
