package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/resources"
)

// ErrIncompatible is returned by New when the agent's resources,
// attributes, hostname or port differ from those checkpointed under its
// id: the agent must start under a new id (remove meta/slaves/latest).
var ErrIncompatible = errors.New("incompatible agent info detected")

// Writing the checkpoint is checkpointer.go's.

// ---- recovery ----

// recover rebuilds the state from the checkpoint before the state
// goroutine starts (New). With --recover=reconnect, live executors of
// checkpointing frameworks are adopted and wait to re-subscribe; those
// that are gone have their tasks failed. With --recover=cleanup, they are
// killed and the checkpoint forgotten.
func (a *Agent) recover() error {
	start := time.Now()
	cp, err := a.store.Recover(a.cfg.Strict)
	if err != nil {
		return fmt.Errorf("failed to recover the agent from %s: %w\n"+
			"To restart this agent with a new agent id instead: rm -f %s",
			a.store.MetaDir(), err, a.store.LatestAgentPath())
	}
	if cp.Errors > 0 {
		a.st.metrics.recoveryErrors += uint64(cp.Errors)
		a.log.Warn("errors during agent recovery; skipped what could not be read", "errors", cp.Errors)
	}
	bootID := checkpoint.ReadBootID()
	rebooted := cp.BootID != "" && bootID != "" && cp.BootID != bootID
	if cp.Agent == nil {
		a.log.Info("no checkpointed agent; starting as a new agent")
		// Nothing to re-adopt; what runs in the sandboxes is destroyed.
		if err := a.containers.Recover(a.detachCtx, nil); err != nil {
			a.log.Warn("containerizer recovery", "err", err)
		}
		a.finishRecovery()
		return nil
	}
	if err := compatible(cp.Agent.Info, a.st.info, a.cfg.Port != 0); err != nil {
		if !rebooted {
			return fmt.Errorf("%w: %v\nTo restart this agent with a new agent id instead: rm -f %s",
				ErrIncompatible, err, a.store.LatestAgentPath())
		}
		// After a reboot nothing runs any more: register as a new agent.
		a.log.Warn("agent info changed across a reboot; starting as a new agent", "err", err)
		a.finishRecovery()
		return a.store.RemoveLatest()
	}
	if cp.Agent.Resources != nil {
		if err := compatibleResources(cp.Agent.Resources, a.st.info.GetResources()); err != nil {
			if !rebooted {
				return fmt.Errorf("%w: %v\nTo restart this agent with a new agent id instead: rm -f %s",
					ErrIncompatible, err, a.store.LatestAgentPath())
			}
			a.log.Warn("checkpointed resources do not match --resources after a reboot; starting as a new agent", "err", err)
			a.finishRecovery()
			return a.store.RemoveLatest()
		}
		a.st.checkpointed = cp.Agent.Resources
	}
	id := cp.Agent.ID
	a.st.info.Id = &mesos.AgentID{Value: proto.String(id)}
	if a.cfg.Port == 0 {
		a.st.info.Port = cp.Agent.Info.Port
		a.recoveredPort = int(cp.Agent.Info.GetPort())
	}
	a.mu.Lock()
	a.idCopy = id
	a.mu.Unlock()

	cleanup := a.cfg.Recover == "cleanup"
	unrecoverable := a.recoverContainers(cp.Agent, rebooted)
	for _, fwID := range slices.Sorted(maps.Keys(cp.Agent.Frameworks)) {
		fs := cp.Agent.Frameworks[fwID]
		if !fs.Info.GetCheckpoint() {
			continue
		}
		fw := a.framework(fs.ID, fs.Info)
		fw.checkpointed = fs.Info
		// Executors found gone end once all of the framework's executors
		// are read: ending one takes the framework away when it is the
		// last one known, and those read after it would be left out.
		var gone []*executor
		// In a fixed order, so that a recovery can be replayed.
		for _, exID := range slices.Sorted(maps.Keys(fs.Executors)) {
			es := fs.Executors[exID]
			// Only the latest run can be recovered: the others are
			// garbage, as is the latest once complete.
			for cid := range es.Runs {
				if cid != es.Latest {
					a.gcRecoveredRun(fw.id, es.ID, cid)
				}
			}
			run := es.Runs[es.Latest]
			if run != nil && run.Completed {
				// Mesos counts a run that ended before the restart.
				a.st.metrics.executorsTerminated++
				a.gcRecoveredRun(fw.id, es.ID, run.ContainerID)
			}
			if run == nil || run.Completed {
				a.gcRecoveredExecutor(fw.id, es.ID)
				continue
			}
			ex, err := a.recoverExecutor(fw, es, run, unrecoverable[run.ContainerID], cleanup)
			if ex != nil {
				gone = append(gone, ex)
			}
			if err != nil {
				if a.cfg.Strict {
					return fmt.Errorf("failed to recover executor %s of framework %s: %w", es.ID, fs.ID, err)
				}
				a.st.metrics.recoveryErrors++
				a.log.Warn("skipping an executor that cannot be recovered", "framework", fs.ID, "executor", es.ID, "err", err)
			}
		}
		for _, ex := range gone {
			a.executorTerminated(ex, nil)
		}
		a.cleanup(fw, nil)
	}
	if cleanup {
		return a.cleanupRecovered()
	}
	n := 0
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if ex.recovered && ex.state == exRegistering {
				n++
			}
		}
	}
	a.log.Info("recovered the agent's checkpoint", "agent_id", id, "frameworks", len(a.st.frameworks),
		"executors_to_reconnect", n, "rebooted", rebooted, "took", time.Since(start))
	if n > 0 {
		a.st.recovering = true
		timeout := a.cfg.ExecutorReregistrationTimeout
		a.st.reregTimer = a.after(timeout, a.reregistrationTimeout)
	} else {
		a.finishRecovery()
	}
	return nil
}

// recoverContainers has the containerizer re-adopt the executors of the
// latest, unfinished runs of checkpointing frameworks that still run (by
// their checkpointed pids; none after a reboot) and destroy what else
// runs in this agent's sandboxes, as Mesos' agent destroys the containers
// it does not recover: what the previous run supervised itself or did
// not checkpoint (tasks of frameworks that do not checkpoint and the
// processes they started). It returns, by container id, the errors of
// containers that could not be recovered for another reason than being
// gone.
func (a *Agent) recoverContainers(agent *checkpoint.AgentState, rebooted bool) map[string]error {
	var known []containerizer.RecoverState
	for _, fs := range agent.Frameworks {
		if !fs.Info.GetCheckpoint() {
			continue
		}
		for _, es := range fs.Executors {
			run := es.Runs[es.Latest]
			if run == nil || run.Completed {
				continue
			}
			s := containerizer.RecoverState{
				ID:        &mesos.ContainerID{Value: proto.String(run.ContainerID)},
				Directory: executorDir(a.cfg.WorkDir, agent.ID, fs.ID, es.ID) + "/runs/" + run.ContainerID,
			}
			if !rebooted {
				s.Pid = run.Pid
			}
			known = append(known, s)
		}
	}
	err := a.containers.Recover(a.detachCtx, known)
	out := map[string]error{}
	var re *containerizer.RecoverError
	for _, e := range unjoin(err) {
		if errors.As(e, &re) {
			out[re.ID] = re.Err
		} else {
			a.st.metrics.recoveryErrors++
			a.log.Warn("containerizer recovery", "err", e)
		}
	}
	return out
}

// unjoin returns the errors joined in err (err alone when it is not a
// join; none for nil).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// recoverExecutor rebuilds an executor's latest run, its tasks and their
// update streams, and watches its container when the containerizer
// re-adopted it (adoptErr: why it could not). An executor whose
// container is gone is returned for the caller to end once the
// framework's other executors are read.
func (a *Agent) recoverExecutor(fw *framework, es *checkpoint.ExecutorState, run *checkpoint.RunState, adoptErr error, cleanup bool) (gone *executor, err error) {
	id := es.ID
	kind := kindCustom
	switch {
	case es.Info.GetType() == mesos.ExecutorInfo_DEFAULT:
		kind = kindDefault
	case es.Info.GetCommand().GetValue() == "":
		// The ExecutorInfo the agent makes for a command task has no
		// command of its own (see commandExecutorInfo).
		kind = kindCommand
	}
	ex := &executor{
		fw: fw, id: id, info: es.Info, kind: kind, containerID: run.ContainerID,
		sandbox:   executorDir(a.cfg.WorkDir, a.st.agentID(), fw.id, id) + "/runs/" + run.ContainerID,
		state:     exRegistering,
		tasks:     map[string]*task{},
		completed: map[string]bool{},
		everSent:  true, recovered: true, checkpointed: true,
		libprocessPID: run.LibprocessPid,
		runID:         checkpoint.Run{AgentID: a.st.agentID(), FrameworkID: fw.id, ExecutorID: id, ContainerID: run.ContainerID},
	}
	fw.executors[id] = ex
	for _, ts := range run.Tasks {
		t := &task{info: ts.Info, state: mesos.TaskState_TASK_STAGING}
		seen := map[string]bool{}
		for _, r := range ts.Records {
			if r.Kind == checkpoint.RecordUpdate && !seen[string(r.Status.GetUuid())] {
				seen[string(r.Status.GetUuid())] = true
				t.state = r.Status.GetState()
				t.statuses = append(t.statuses, r.Status)
			}
		}
		if len(ts.Records) > 0 {
			u, err := replayStream(fw.id, ts.ID, ts.Records, a.journalOf(fw, ex))
			if err != nil {
				return nil, err
			}
			if u.done() {
				ex.completed[ts.ID] = true
				continue
			}
			fw.updates[ts.ID] = u
		}
		ex.tasks[ts.ID] = t
	}

	if adoptErr != nil {
		return nil, adoptErr
	}
	cid := ex.container()
	st, err := a.containers.Status(a.detachCtx, cid)
	if err != nil {
		// The executor is gone (or never started): its unfinished tasks
		// fail as if it had just exited.
		a.log.Info("recovered executor is not running", "framework", fw.id, "executor", id, "pid", run.Pid)
		return ex, nil
	}
	// What it holds reaches the containerizer with the first update.
	ex.launched = &launchedContainer{pid: int(st.GetExecutorPid())}
	a.log.Info("recovered a running executor", "framework", fw.id, "executor", id, "pid", ex.launched.pid, "tasks", len(ex.tasks))
	a.drv.watch(ex, cid)
	if cleanup {
		ex.state = exTerminating
		a.destroyContainer(ex)
	}
	return nil, nil
}

// cleanupRecovered finishes --recover=cleanup: every adopted executor was
// killed; wait for them to go, then forget the checkpointed agent so the
// next start registers as a new one.
func (a *Agent) cleanupRecovered() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if ex.launched == nil {
				continue
			}
			// Unknown: its end was reported already.
			if _, err := a.containers.Wait(ctx, ex.container()); ctx.Err() != nil {
				return fmt.Errorf("--recover=cleanup: executor %s (pid %d) did not die: %w", ex.id, ex.launched.pid, err)
			}
		}
	}
	a.cleanedUp = true
	a.log.Info("--recover=cleanup: killed the recovered executors; the next start registers as a new agent")
	return a.store.RemoveLatest()
}

// reregistrationTimeout ends recovery: executors that did not re-subscribe
// within --executor_reregistration_timeout are killed, and their tasks
// become TASK_GONE (TASK_LOST for frameworks that are not partition-aware)
// with REASON_EXECUTOR_REREGISTRATION_TIMEOUT, as Mesos does (state
// goroutine).
func (a *Agent) reregistrationTimeout() {
	a.st.reregTimer = nil
	if !a.st.recovering {
		return
	}
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if !ex.recovered || ex.state != exRegistering {
				continue
			}
			state := mesos.TaskState_TASK_GONE
			if !fw.partitionAware() {
				state = mesos.TaskState_TASK_LOST
			}
			a.log.Info("killing an executor that did not re-subscribe", "framework", fw.id, "executor", ex.id,
				"timeout", a.cfg.ExecutorReregistrationTimeout)
			ex.pendingTermination = &termination{
				state:   state,
				reason:  mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
				message: "Executor did not reregister within " + flags.FormatDuration(a.cfg.ExecutorReregistrationTimeout),
			}
			ex.state = exTerminating
			a.destroyContainer(ex)
		}
	}
	a.finishRecovery()
}

// checkRecovered ends recovery early once no recovered executor is still
// expected to re-subscribe (state goroutine).
func (a *Agent) checkRecovered() {
	if !a.st.recovering {
		return
	}
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if ex.recovered && ex.state == exRegistering {
				return
			}
		}
	}
	if a.st.reregTimer != nil {
		a.st.reregTimer.Stop()
		a.st.reregTimer = nil
	}
	a.finishRecovery()
}

// finishRecovery lets the agent register: what it reports is now known.
func (a *Agent) finishRecovery() {
	a.st.recovering = false
	if !a.st.metrics.recovered {
		a.st.metrics.recovered = true
		a.st.metrics.recoveryTime = time.Since(a.started)
	}
	if id := checkpoint.ReadBootID(); id != "" {
		a.persist(func(b *checkpoint.Batch) { b.WriteBootID(id) }, a.logCheckpointError("boot id"))
	}
	a.recoveredOnce.Do(func() { close(a.recovered) })
}

// compatible applies Mesos' "equal" reconfiguration policy: the agent may
// keep its id only if its hostname, resources, attributes and domain are
// unchanged (and its port, when it is fixed).
func compatible(prev, cur *mesos.AgentInfo, comparePort bool) error {
	p := proto.Clone(prev).(*mesos.AgentInfo)
	c := proto.Clone(cur).(*mesos.AgentInfo)
	p.Id, c.Id = nil, nil
	if !comparePort {
		p.Port, c.Port = nil, nil
	}
	if proto.Equal(p, c) {
		return nil
	}
	return fmt.Errorf("old agent info: %v; new agent info: %v", p, c)
}

// compatibleResources checks the checkpointed total against the flag
// resources: without the dynamic reservations and persistent volumes the
// master added, they must be the same (statically reserved resources are
// compared unreserved too, as reservations stack on them).
func compatibleResources(checkpointed, flags []*mesos.Resource) error {
	cp, err := resources.FromProto(checkpointed)
	if err != nil {
		return fmt.Errorf("checkpointed resources: %w", err)
	}
	fl, err := resources.FromProto(flags)
	if err != nil {
		return fmt.Errorf("agent resources: %w", err)
	}
	if b, f := baseResources(cp), baseResources(fl); !b.Equal(f) {
		return fmt.Errorf("checkpointed resources %v (without reservations and volumes: %v) do not match the agent resources %v", cp, b, f)
	}
	return nil
}

// baseResources returns rs unreserved, persistent volumes turned back
// into plain disk.
func baseResources(rs resources.Resources) resources.Resources {
	var items []resources.Resource
	for r := range rs.All() {
		if r.Disk != nil {
			d := *r.Disk
			d.Persistence, d.Volume = nil, nil
			if d.Source == nil {
				r.Disk = nil
			} else {
				r.Disk = &d
			}
			r.Shared = false
		}
		items = append(items, r)
	}
	out, err := resources.New(items...)
	if err != nil {
		return rs.ToUnreserved()
	}
	return out.Unallocate().ToUnreserved()
}
