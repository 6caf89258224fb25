package agent

import (
	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// The driver: how the state code starts what it does not do itself.
//
// The state code (everything that runs on the state goroutine, and
// recovery before it) starts no goroutine of its own and waits for no
// I/O. It hands closures to the state loop, checkpoint batches to be
// committed, launches and container watches to be run, and calls to the
// master to be sent through one driver, and it reads time and arms
// timers through the injected Clock:
//
//	state code ──post(f)────────▶ the state loop runs turn(f)
//	           ──commit(batch)──▶ batch made durable, then committed(batch, err) posted
//	           ──launch(ex, f)──▶ f (fetch + containerizer Launch) run, then the container watched
//	           ──watch(ex, id)──▶ the container's end posted (executorTerminated)
//	           ──send(call)─────▶ the call POSTed to the master, in order
//
// goDriver, the production driver, runs each on goroutines as the rest
// of this package describes (the state loop, the checkpointer, launch
// goroutines, the sender of the master link). A test can give New
// another driver (Config.driver) that runs the same state code from an
// event queue of its own, deterministically: the simulation in
// sim_test.go does, with no goroutine of the agent running.

// driver starts the agent's concurrent work for the state code. commit,
// launch, watch and send are called by the state code and must not
// block; post may be called from any goroutine.
type driver interface {
	// start runs the agent's own loops once New has recovered: the
	// state loop, the checkpointer and the garbage collector's deleter.
	start()
	// post hands f to the state goroutine, which runs it (turn) after
	// what was posted before; dropped once the agent stopped. Any
	// goroutine may call it.
	post(f func())
	// commit makes b durable (a.commit) off the state goroutine and then
	// posts committed(b, err). One batch at most is in flight.
	commit(b *checkpoint.Batch)
	// launch runs start (fetch and containerizer Launch; it posts its
	// outcome itself) off the state goroutine and, when it launched the
	// container, waits for the container's end as watch does; then it
	// calls done (which ends the launch's context).
	launch(ex *executor, id *mesos.ContainerID, start func() bool, done func())
	// watch waits for the end of ex's container (an adopted one) off the
	// state goroutine and posts executorTerminated (waitContainer).
	watch(ex *executor, id *mesos.ContainerID)
	// send hands a call to the master; calls go in the order sent.
	send(oc outCall)
}

// goDriver is the production driver: goroutines, HTTP and the disk.
type goDriver struct{ a *Agent }

func (d goDriver) start() {
	a := d.a
	a.wg.Add(3)
	go a.loop()
	go a.checkpointer()
	go a.gcRemover()
}

func (d goDriver) post(f func()) {
	select {
	case d.a.inbox <- f:
	case <-d.a.quit:
	}
}

// commit hands b to the checkpointer goroutine; the channel is buffered
// and flushCheckpoint hands off one batch at most at a time.
func (d goDriver) commit(b *checkpoint.Batch) { d.a.ckptWork <- b }

func (d goDriver) launch(ex *executor, id *mesos.ContainerID, start func() bool, done func()) {
	a := d.a
	a.procs.Add(1)
	go func() {
		defer a.procs.Done()
		defer done()
		if start() {
			// Wait here, so Close can wait for the end; Detach leaves
			// the container running.
			a.waitContainer(ex, id)
		}
	}()
}

func (d goDriver) watch(ex *executor, id *mesos.ContainerID) {
	a := d.a
	a.procs.Add(1)
	go func() {
		defer a.procs.Done()
		a.waitContainer(ex, id)
	}()
}

// send queues the call for the sender goroutine (masterLink).
func (d goDriver) send(oc outCall) { d.a.st.out.push(oc) }
