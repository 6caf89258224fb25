package agent

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// newContainerID returns a random UUID string, as Mesos names containers.
func newContainerID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// executorDir is Mesos' sandbox layout:
// <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>.
func executorDir(workDir, agentID, fwID, exID string) string {
	return filepath.Join(workDir, "slaves", agentID, "frameworks", fwID, "executors", exID)
}

// newExecutor creates an executor and its sandbox, with the runs/latest
// symlink (state goroutine).
func (a *Agent) newExecutor(fw *framework, info *mesos.ExecutorInfo, kind executorKind) (*executor, error) {
	id := info.GetExecutorId().GetValue()
	// A new run of an executor id keeps the executor's directories.
	a.gcUnscheduleExecutor(fw.id, id)
	cid := newContainerID()
	runs := filepath.Join(executorDir(a.cfg.WorkDir, a.st.agentID(), fw.id, id), "runs")
	sandbox := filepath.Join(runs, cid)
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		return nil, err
	}
	latest := filepath.Join(runs, "latest")
	os.Remove(latest)
	if err := os.Symlink(sandbox, latest); err != nil {
		return nil, err
	}
	ex := &executor{
		fw: fw, id: id, info: info, kind: kind, containerID: cid, sandbox: sandbox,
		state: exLaunching, tasks: map[string]*task{}, completed: map[string]bool{},
	}
	fw.executors[id] = ex
	a.checkpointExecutor(ex)
	return ex, nil
}

// launchSpec is what the launch goroutine needs, copied off the state.
type launchSpec struct {
	fetches []fetchJob
	spec    launcher.Spec
	// inline: run the built-in executor inside the agent with spec.Env.
	inline bool
}

type fetchJob struct {
	uris []*mesos.CommandInfo_URI
	dir  string
}

// launchExecutor fetches the executor's URIs and starts its process on a
// separate goroutine, which reports back to the state goroutine
// (state goroutine).
func (a *Agent) launchExecutor(ex *executor) {
	ls, err := a.launchSpecFor(ex)
	if err != nil {
		a.launchFailed(ex, err)
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	ex.fetchCancel = cancel
	a.procs.Add(1)
	go func() {
		defer a.procs.Done()
		defer cancel()
		var proc process
		fetched := false // every URI of the launch was fetched
		err := func() error {
			for _, j := range ls.fetches {
				if err := os.MkdirAll(j.dir, 0o755); err != nil {
					return err
				}
				if err := a.fetch.Fetch(ctx, j.uris, j.dir); err != nil {
					return err
				}
			}
			fetched = true
			if ctx.Err() != nil {
				return fmt.Errorf("launch cancelled")
			}
			if ls.inline {
				p, err := a.startInline(ex, ls.spec.Env)
				if err != nil {
					return fmt.Errorf("Failed to launch the executor: %w", err)
				}
				proc = p
				return nil
			}
			p, err := launcher.Start(ls.spec)
			if err != nil {
				return fmt.Errorf("Failed to launch the executor: %w", err)
			}
			proc = p
			return nil
		}()
		if proc != nil {
			// Wait for the process here, so Close can wait for it; Detach
			// leaves it running.
			a.post(func() {
				a.st.metrics.countFetch(fetched)
				a.executorStarted(ex, proc)
			})
			select {
			case <-proc.Done():
				a.post(func() { a.executorTerminated(ex, proc) })
			case <-a.detached:
			}
			return
		}
		a.post(func() {
			a.st.metrics.countFetch(fetched)
			a.launchFailed(ex, err)
		})
	}()
}

// launchSpecFor builds the fetch jobs and process spec of an executor.
func (a *Agent) launchSpecFor(ex *executor) (launchSpec, error) {
	var ls launchSpec
	cmd := ex.info.GetCommand()
	switch ex.kind {
	case kindCommand, kindDefault:
		argv := append([]string(nil), a.cfg.ExecutorCommand...)
		if ex.kind == kindDefault {
			argv = append(argv, "--default")
		}
		c := &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String(argv[0]), Arguments: argv}
		if cmd != nil {
			c.Uris = cmd.GetUris()
			c.Environment = cmd.GetEnvironment()
		}
		cmd = c
	default:
		if cmd == nil {
			return ls, fmt.Errorf("executor %s has no command", ex.id)
		}
	}
	if len(cmd.GetUris()) > 0 {
		ls.fetches = append(ls.fetches, fetchJob{uris: cmd.GetUris(), dir: ex.sandbox})
	}
	// Task groups: each task's URIs go to its own sandbox,
	// <sandbox>/tasks/<task_id> (a link to containers/<id>, as Mesos'
	// default executor lays it out).
	if ex.kind == kindDefault {
		for id, t := range ex.tasks {
			dir, err := taskSandbox(ex.sandbox, id)
			if err != nil {
				return ls, err
			}
			if uris := t.info.GetCommand().GetUris(); len(uris) > 0 {
				ls.fetches = append(ls.fetches, fetchJob{uris: uris, dir: dir})
			}
		}
	}
	ls.spec = launcher.Spec{Command: cmd, Env: a.executorEnv(ex, cmd), Dir: ex.sandbox, NewSession: true}
	ls.inline = a.inlineBuiltin(ex)
	if ls.inline {
		if _, ok := ls.spec.Env["PATH"]; !ok {
			ls.spec.Env["PATH"] = launcher.DefaultPath
		}
	}
	return ls, nil
}

// taskSandbox creates <sandbox>/containers/<uuid> and the link
// <sandbox>/tasks/<task_id> to it, and returns the link's path.
func taskSandbox(sandbox, taskID string) (string, error) {
	link := filepath.Join(sandbox, "tasks", taskID)
	if _, err := os.Stat(link); err == nil {
		return link, nil
	}
	dir := filepath.Join(sandbox, "containers", newContainerID())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return "", err
	}
	if err := os.Symlink(dir, link); err != nil {
		return "", err
	}
	return link, nil
}

// executorEnv is the environment Mesos documents for executors, over
// --executor_environment_variables (or a default PATH); the agent's own
// environment is not inherited.
func (a *Agent) executorEnv(ex *executor, cmd *mesos.CommandInfo) map[string]string {
	checkpoint := ex.fw.info.GetCheckpoint()
	grace := a.cfg.ExecutorShutdownGracePeriod
	if gp := ex.info.GetShutdownGracePeriod(); gp != nil {
		grace = time.Duration(gp.GetNanoseconds())
	}
	env := map[string]string{"PATH": launcher.DefaultPath}
	if a.cfg.executorEnv != nil {
		env = maps.Clone(a.cfg.executorEnv)
	}
	maps.Copy(env, map[string]string{
		"MESOS_FRAMEWORK_ID":                   ex.fw.id,
		"MESOS_EXECUTOR_ID":                    ex.id,
		"MESOS_DIRECTORY":                      ex.sandbox,
		"MESOS_SANDBOX":                        ex.sandbox,
		"MESOS_AGENT_ENDPOINT":                 a.st.endpoint,
		"MESOS_SLAVE_PID":                      "slave(1)@" + a.st.endpoint,
		"MESOS_SLAVE_ID":                       a.st.agentID(),
		"MESOS_CHECKPOINT":                     boolEnv(checkpoint),
		"MESOS_HTTP_COMMAND_EXECUTOR":          boolEnv(a.cfg.HTTPCommandExecutor),
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": flags.FormatDuration(grace),
		"LIBPROCESS_PORT":                      "0",
	})
	if checkpoint {
		env["MESOS_RECOVERY_TIMEOUT"] = flags.FormatDuration(a.cfg.RecoveryTimeout)
		env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = flags.FormatDuration(a.cfg.ExecutorReregistrationTimeout)
	}
	if ip, ok := os.LookupEnv("LIBPROCESS_IP"); ok {
		env["LIBPROCESS_IP"] = ip
	}
	for _, v := range cmd.GetEnvironment().GetVariables() {
		if v.GetType() == mesos.Environment_Variable_SECRET {
			continue
		}
		env[v.GetName()] = v.GetValue()
	}
	return env
}

func boolEnv(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// executorStarted records a running executor process and arms its
// registration timeout (state goroutine).
func (a *Agent) executorStarted(ex *executor, proc process) {
	ex.proc = proc
	ex.fetchCancel = nil
	if proc.Pid() > 0 {
		a.checkpointPid(ex, proc.Pid())
	}
	a.log.Info("executor started", "framework", ex.fw.id, "executor", ex.id, "pid", proc.Pid(), "sandbox", ex.sandbox)
	switch ex.state {
	case exLaunching:
		ex.state = exRegistering
		ex.regTimer = a.after(a.cfg.ExecutorRegistrationTimeout, func() { a.registrationTimeout(ex) })
	case exTerminating:
		proc.Destroy()
	}
}

// launchFailed fails an executor that could not be fetched or started
// (state goroutine).
func (a *Agent) launchFailed(ex *executor, err error) {
	ex.fetchCancel = nil
	a.st.metrics.containerLaunchErrors++
	a.log.Info("executor launch failed", "framework", ex.fw.id, "executor", ex.id, "err", err)
	if ex.pendingTermination == nil {
		ex.pendingTermination = &termination{
			state:   mesos.TaskState_TASK_FAILED,
			reason:  mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED,
			message: "Failed to launch container: " + err.Error(),
		}
	}
	a.executorTerminated(ex, nil)
}
