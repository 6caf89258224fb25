package agent

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Checkpoint writes as effects, group-committed.
//
// The state goroutine does no checkpoint I/O. What it must make durable
// (status-update and acknowledgement records, the *.info files, pids,
// sentinels, the latest links, the boot id) it adds to the next batch
// with persist, together with what must wait for it; the checkpointer
// goroutine commits one batch at a time (checkpoint.Batch.Commit: one
// round of fsyncs for all the batch's files, one for its directories)
// and posts the outcome back:
//
//	state goroutine ──persist(write, then)──▶ next batch
//	      │  (each loop turn, when no batch is in flight)
//	      └──────── batch ──▶ checkpointer goroutine: Commit
//	state goroutine ◀── committed(batch, err): run the batch's thens
//
// Everything submitted while a batch is being committed goes into the
// next one, so the rate of commits adapts to the disk: one commit per
// batch, however many tasks the batch touches. Batches commit in the
// order they were made, and a batch's thens run in the order they were
// added, so what was written first is durable first.
//
// What waits for a commit: an executor's UPDATE gets 202 only once its
// update is durable; an update goes to the master only once durable (so
// whatever the master acknowledges, a restarted agent knows); an
// acknowledgement takes effect (the executor hears ACKNOWLEDGED, the
// next update goes out, the task and then its executor may be forgotten
// and the run's sentinel written) only once its record is durable. What
// does not: launching the executor (a crash before its info is durable
// leaves a process recovery does not know, which it kills as a
// leftover), the in-memory state /state shows, and everything of
// frameworks that do not checkpoint.
//
// A failed commit stops the agent, as a failed checkpoint aborts Mesos'
// agent: after it the agent cannot tell what a restart would recover (an
// append may be torn, a rename done or not). Nothing that depended on
// the batch, or on any later one, is released: an executor's pending
// UPDATEs get 500 (it keeps them and resends them when it subscribes
// again), nothing more goes to the master, and any further write fails
// at once. Serve and Run return an error wrapping ErrCheckpoint, and Run
// detaches (the executors of checkpointing frameworks keep running); a
// new agent on the same --work_dir recovers what is durable, as after a
// crash.

// ErrCheckpoint is returned (wrapped) by Serve and Run when writing the
// checkpoint failed: the agent stopped taking work and must be
// restarted to recover from what is on disk.
var ErrCheckpoint = errors.New("failed to checkpoint")

// ckptState is the state goroutine's side of the checkpointer.
type ckptState struct {
	// next collects the writes of the next batch and nextThen what waits
	// for them, in order; nil when nothing was added since the last
	// handoff.
	next     *checkpoint.Batch
	nextThen []func(error)
	// flight is the batch being committed (nil when none), flightThen
	// what waits for it.
	flight     *checkpoint.Batch
	flightThen []func(error)
	// failed is set by the first failed commit; it is final.
	failed error
}

// persist adds what write adds to the next checkpoint batch and calls
// then once it is durable (err nil) or once it is known that it will
// not be (state goroutine). With write nil, then is called once
// everything persisted so far is durable (at once when nothing is
// pending). After a failed commit, then is called at once with the
// failure. then runs on the state goroutine and may persist more.
func (a *Agent) persist(write func(*checkpoint.Batch), then func(error)) {
	c := &a.st.ckpt
	if c.failed != nil {
		if then != nil {
			then(c.failed)
		}
		return
	}
	if write == nil {
		switch {
		case then == nil:
		case c.next != nil:
			c.nextThen = append(c.nextThen, then)
		case c.flight != nil:
			c.flightThen = append(c.flightThen, then)
		default:
			then(nil)
		}
		return
	}
	if c.next == nil {
		c.next = a.store.NewBatch()
	}
	write(c.next)
	if then != nil {
		c.nextThen = append(c.nextThen, then)
	}
}

// checkpointFailed returns the failure that stopped the checkpointer,
// nil while it works (state goroutine).
func (a *Agent) checkpointFailed() error { return a.st.ckpt.failed }

// flushCheckpoint hands the next batch to the checkpointer when no batch
// is being committed (state goroutine, after every input).
func (a *Agent) flushCheckpoint() {
	c := &a.st.ckpt
	if c.flight != nil || c.next == nil {
		return
	}
	c.flight, c.flightThen = c.next, c.nextThen
	c.next, c.nextThen = nil, nil
	a.drv.commit(c.flight)
}

// checkpointer commits the batches the state goroutine hands off, one
// at a time, and reports each outcome back. It ends with the agent
// (after the commit in progress).
func (a *Agent) checkpointer() {
	defer a.wg.Done()
	for {
		select {
		case b := <-a.ckptWork:
			err := a.commit(b)
			a.post(func() { a.committed(b, err) })
		case <-a.quit:
			return
		}
	}
}

// committed releases what waited for the batch b (state goroutine). A
// failed commit stops the agent (see above).
func (a *Agent) committed(b *checkpoint.Batch, err error) {
	c := &a.st.ckpt
	if c.flight != b {
		return
	}
	then := c.flightThen
	c.flight, c.flightThen = nil, nil
	if err != nil {
		c.failed = fmt.Errorf("%w: %v", ErrCheckpoint, err)
		a.log.Error("failed to checkpoint; the agent stops taking work and must be restarted to recover", "writes", b.Len(), "err", err)
		then = append(then, c.nextThen...)
		c.next, c.nextThen = nil, nil
		select {
		case a.serveErr <- c.failed:
		default:
		}
	}
	for _, f := range then {
		f(c.failed)
	}
}

// syncCheckpoint waits until everything persisted so far is committed,
// or the agent stops (any goroutine but the state goroutine).
func (a *Agent) syncCheckpoint() error {
	done := make(chan error, 1)
	if err := a.do(func() { a.persist(nil, func(err error) { done <- err }) }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-a.quit:
		return ErrClosed
	}
}

// checkpointWriting reports whether a write under dir waits for its
// commit (state goroutine): the garbage collector leaves such a directory
// for later.
func (a *Agent) checkpointWriting(dir string) bool {
	c := &a.st.ckpt
	return (c.next != nil && c.next.Touches(dir)) || (c.flight != nil && c.flight.Touches(dir))
}

// logCheckpointError is a then for writes nothing waits for.
func (a *Agent) logCheckpointError(what string) func(error) {
	return func(err error) {
		if err != nil {
			a.log.Debug("checkpoint write not done", "what", what, "err", err)
		}
	}
}

// ---- what the agent checkpoints (state goroutine) ----

// checkpointFramework writes a checkpointing framework's info when it
// changed.
func (a *Agent) checkpointFramework(fw *framework) {
	if !fw.info.GetCheckpoint() || a.st.agentID() == "" || proto.Equal(fw.checkpointed, fw.info) {
		return
	}
	id, info := a.st.agentID(), fw.info
	a.persist(func(b *checkpoint.Batch) { b.WriteFramework(id, info) }, a.logCheckpointError("framework info"))
	fw.checkpointed = info
}

// checkpointExecutor starts the checkpoint of a new executor run of a
// checkpointing framework: from now on its pid, tasks and their updates
// are checkpointed under the run.
func (a *Agent) checkpointExecutor(ex *executor) {
	if !ex.fw.info.GetCheckpoint() || a.st.agentID() == "" {
		return
	}
	a.checkpointFramework(ex.fw)
	ex.runID = checkpoint.Run{AgentID: a.st.agentID(), FrameworkID: ex.fw.id, ExecutorID: ex.id, ContainerID: ex.containerID}
	run, info := ex.runID, ex.info
	a.persist(func(b *checkpoint.Batch) { b.WriteExecutor(run, info) }, a.logCheckpointError("executor info"))
	ex.checkpointed = true
}

// checkpointTask writes a task of a checkpointed executor run.
func (a *Agent) checkpointTask(ex *executor, info *mesos.TaskInfo) {
	if !ex.checkpointed {
		return
	}
	run := ex.runID
	a.persist(func(b *checkpoint.Batch) { b.WriteTask(run, info) }, a.logCheckpointError("task info"))
}

// checkpointPid writes the pid of a checkpointed executor run.
func (a *Agent) checkpointPid(ex *executor, pid int) {
	if !ex.checkpointed {
		return
	}
	run := ex.runID
	a.persist(func(b *checkpoint.Batch) { b.WritePid(run, pid) }, a.logCheckpointError("executor pid"))
}

// checkpointCompleted marks a checkpointed run over: its executor is
// gone and its tasks' updates all acknowledged (or dropped with their
// framework).
func (a *Agent) checkpointCompleted(ex *executor) {
	if !ex.checkpointed {
		return
	}
	run := ex.runID
	a.persist(func(b *checkpoint.Batch) { b.MarkCompleted(run) }, a.logCheckpointError("executor sentinel"))
}
