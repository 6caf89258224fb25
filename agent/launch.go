package agent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	dockerc "github.com/mezzo-project/mezzo/agent/containerizer/docker"
	"github.com/mezzo-project/mezzo/agent/docker"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
	"github.com/mezzo-project/mezzo/internal/auth"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/resources"

	"strings"
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
	config  containerizer.Config
	// held is what the container holds at launch (config.Resources).
	held resources.Resources
}

type fetchJob struct {
	uris []*mesos.CommandInfo_URI
	dir  string
}

// launchExecutor has the driver fetch the executor's URIs and launch its
// container off the state goroutine (startContainer), which reports
// back, and then wait for the container's end (state goroutine).
func (a *Agent) launchExecutor(ex *executor) {
	ls, err := a.launchSpecFor(ex)
	if err != nil {
		a.launchFailed(ex, err)
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	ex.fetchCancel = cancel
	id := ex.container()
	a.drv.launch(ex, id, func() bool { return a.startContainer(ctx, ex, id, ls) }, cancel)
}

// startContainer fetches the executor's URIs and has the containerizer
// launch its container, then posts the outcome to the state goroutine;
// true when the container was launched (launch goroutine).
func (a *Agent) startContainer(ctx context.Context, ex *executor, id *mesos.ContainerID, ls launchSpec) bool {
	fetched := false // every URI of the launch was fetched
	err := func() error {
		for _, j := range ls.fetches {
			if err := os.MkdirAll(j.dir, 0o755); err != nil {
				return err
			}
			if err := a.fetch.Fetch(ctx, j.uris, j.dir, ls.config.User); err != nil {
				return err
			}
		}
		fetched = true
		if ctx.Err() != nil {
			return fmt.Errorf("launch cancelled")
		}
		if ls.config.User != "" {
			if err := chownSandbox(ls.config.Directory, ls.config.User); err != nil {
				return err
			}
		}
		res, err := a.containers.Launch(ctx, id, ls.config)
		switch {
		case err != nil:
			return fmt.Errorf("Failed to launch the executor: %w", err)
		case res == containerizer.NotSupported:
			return fmt.Errorf("no containerizer can run the executor (--containerizers=%s)", a.cfg.Containerizers)
		case res == containerizer.AlreadyLaunched:
			return fmt.Errorf("container %s is already launched", id.GetValue())
		}
		return nil
	}()
	if err != nil {
		a.post(func() {
			a.st.metrics.countFetch(fetched)
			a.launchFailed(ex, err)
		})
		return false
	}
	pid := 0
	if st, err := a.containers.Status(ctx, id); err == nil {
		pid = int(st.GetExecutorPid())
	}
	a.post(func() {
		a.st.metrics.countFetch(fetched)
		a.executorStarted(ex, pid, ls.held)
	})
	return true
}

// waitContainer waits for ex's container to end and reports it to the
// state goroutine; it returns early when the agent detaches (launch or
// recovery goroutine).
func (a *Agent) waitContainer(ex *executor, id *mesos.ContainerID) {
	term, err := a.containers.Wait(a.detachCtx, id)
	switch {
	case a.detachCtx.Err() != nil:
		return
	case err != nil:
		// Its end was reported elsewhere, or it is unknown: it is over,
		// how is not known.
		a.log.Warn("cannot wait for an executor's container", "executor", ex.id, "container", id.GetValue(), "err", err)
		term = containerizer.Termination{}
	}
	a.post(func() { a.executorTerminated(ex, &term) })
}

// launchSpecFor builds the fetch jobs and container config of an
// executor.
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
	ls.held = allocatedTo(ex)
	ls.config = containerizer.Config{
		ExecutorInfo:  ex.info,
		Command:       cmd,
		ContainerInfo: ex.info.GetContainer(),
		Resources:     resources.ToProto(ls.held, resources.FormatEndpoint),
		Limits:        containerLimits(ex),
		Directory:     ex.sandbox,
		Env:           a.executorEnv(ex, cmd),
		Checkpoint:    ex.fw.info.GetCheckpoint(),
	}
	user, err := a.executorUser(ex.fw, ex.info)
	if err != nil {
		return ls, err
	}
	ls.config.User = user
	if ex.kind == kindCommand {
		// Its one task: docker/runtime merges its command with the
		// image's.
		for _, t := range ex.tasks {
			ls.config.Task = t.info
		}
	}
	if ex.kind == kindCommand || ex.kind == kindDefault {
		mode := builtin.Command
		if ex.kind == kindDefault {
			mode = builtin.Default
		}
		ls.config.Builtin = &containerizer.BuiltinExecutor{
			Mode: mode,
			Env: builtin.Env{
				FrameworkID:         ex.fw.id,
				ExecutorID:          ex.id,
				Endpoint:            a.st.endpoint,
				Sandbox:             ex.sandbox,
				ShutdownGracePeriod: a.shutdownGrace(ex),
			},
			Transport: &localTransport{a: a, fwID: ex.fw.id, exID: ex.id},
		}
	}
	return ls, nil
}

// containerLimits are the limits of an executor's tasks (TaskInfo.limits;
// the agent refuses cpus and mem limits, so none so far).
func containerLimits(ex *executor) map[string]*mesos.Value_Scalar {
	var out map[string]*mesos.Value_Scalar
	for _, t := range ex.tasks {
		for name, v := range t.info.GetLimits() {
			if out == nil {
				out = map[string]*mesos.Value_Scalar{}
			}
			out[name] = v
		}
	}
	return out
}

// shutdownGrace is an executor's shutdown grace period.
func (a *Agent) shutdownGrace(ex *executor) time.Duration {
	if gp := ex.info.GetShutdownGracePeriod(); gp != nil {
		return time.Duration(gp.GetNanoseconds())
	}
	return a.cfg.ExecutorShutdownGracePeriod
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
	grace := a.shutdownGrace(ex)
	env := map[string]string{"PATH": containerizer.DefaultPath}
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
	// With a --jwt_secret_key, the executor proves to the executor API
	// which framework, executor and container it is.
	if token, err := a.authn.executorToken(ex.fw.id, ex.id, ex.containerID); err != nil {
		a.log.Error("no authentication token for the executor", "framework_id", ex.fw.id, "executor_id", ex.id, "err", err)
	} else if token != "" {
		env[auth.ExecutorTokenEnv] = token
	}
	// As Mesos' agent, pass its SSL settings on: the executor speaks TLS
	// to the agent's endpoint.
	for _, kv := range a.cfg.TLS.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
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

// executorStarted records a launched executor container and arms its
// registration timeout (state goroutine).
func (a *Agent) executorStarted(ex *executor, pid int, held resources.Resources) {
	ex.launched = &launchedContainer{pid: pid, held: held}
	ex.fetchCancel = nil
	if pid > 0 {
		a.checkpointPid(ex, pid)
	}
	a.log.Info("executor started", "framework", ex.fw.id, "executor", ex.id, "pid", pid, "sandbox", ex.sandbox)
	switch ex.state {
	case exLaunching:
		ex.state = exRegistering
		ex.regTimer = a.after(a.cfg.ExecutorRegistrationTimeout, func() { a.registrationTimeout(ex) })
	case exTerminating:
		a.destroyContainer(ex)
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

// launchedContainer is an executor's container once launched, as the
// state goroutine knows it.
type launchedContainer struct {
	// pid is the executor's pid; 0 for one without a process of its own
	// (a built-in executor inside the agent).
	pid int
	// held is what the containerizer was last told the container holds.
	held resources.Resources
}

// container is the id of ex's container.
func (ex *executor) container() *mesos.ContainerID {
	return &mesos.ContainerID{Value: proto.String(ex.containerID)}
}

// destroyContainer kills ex's container, if launched; its waiter reports
// the end (state goroutine).
func (a *Agent) destroyContainer(ex *executor) {
	if ex.launched == nil {
		return
	}
	if err := a.containers.Destroy(a.ctx, ex.container()); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
		a.log.Error("failed to destroy an executor's container", "executor", ex.id, "container", ex.containerID, "err", err)
	}
}

// updateContainer tells the containerizer what ex's container holds when
// that changed: its executor's and live tasks' resources (state
// goroutine).
func (a *Agent) updateContainer(ex *executor) {
	if ex.launched == nil || ex.state == exTerminated {
		return
	}
	held := allocatedTo(ex)
	if held.Equal(ex.launched.held) {
		return
	}
	ex.launched.held = held
	err := a.containers.Update(a.ctx, ex.container(), resources.ToProto(held, resources.FormatEndpoint), containerLimits(ex))
	if err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
		a.log.Warn("failed to update an executor's container", "executor", ex.id, "container", ex.containerID, "err", err)
	}
}

// newContainerizer builds the containerizer of --containerizers and
// --isolation (and --builtin_executors=auto: the built-in executors of
// frameworks that do not checkpoint run inside the agent, offered to the
// Builtin containerizer first), unless the config supplies one, and the
// context that ends when the agent detaches (New, before recovery).
func (a *Agent) newContainerizer() error {
	a.detachCtx = detachContext{Context: context.Background(), done: a.detached}
	if a.cfg.Containerizer != nil {
		a.containers = a.cfg.Containerizer
		return nil
	}
	names, err := containerizer.ParseContainerizers(a.cfg.Containerizers)
	if err != nil {
		return err
	}
	iso, err := containerizer.ParseIsolation(a.cfg.Isolation)
	if err != nil {
		return err
	}
	isolators, err := iso.Build(a.isolatorOptions())
	if err != nil {
		return err
	}
	for _, i := range isolators {
		if mem, ok := i.(*containerizer.CgroupsMemIsolator); ok {
			a.oomEvents = mem.OOMs
		}
	}
	var cs []containerizer.Containerizer
	if a.cfg.BuiltinExecutors == "auto" {
		cs = append(cs, containerizer.NewBuiltin(containerizer.BuiltinConfig{Isolation: iso, Isolators: isolators, Helper: a.cfg.LaunchHelper}))
	}
	// The Docker containerizer goes before the others whatever its place
	// in --containerizers: the containers each accepts are disjoint (type
	// DOCKER, or not), so the order of launches does not change, and
	// recovery then gives the executors it recognises to it first (the
	// Mezzo containerizer also adopts every live checkpointed pid, which
	// keeps Docker executors from being killed as leftovers).
	if slices.Contains(names, containerizer.NameDocker) {
		client, err := docker.Connect(context.Background(), a.cfg.DockerSocket)
		if err != nil {
			return fmt.Errorf("--containerizers=%s: %w", a.cfg.Containerizers, err)
		}
		cs = append(cs, dockerc.New(dockerc.Config{
			Client:      client,
			WorkDir:     a.cfg.WorkDir,
			StopTimeout: a.cfg.DockerStopTimeout,
			RemoveDelay: a.cfg.DockerRemoveDelay,
			KillOrphans: a.cfg.DockerKillOrphans,
			EnableCFS:   a.cfg.CgroupsEnableCFS,
			Log:         a.log.With("containerizer", containerizer.NameDocker),
		}))
	}
	for _, name := range names {
		switch name {
		case containerizer.NameMesos:
			prov, err := a.newProvisioner()
			if err != nil {
				return err
			}
			cs = append(cs, containerizer.NewMezzo(containerizer.MezzoConfig{
				Isolators: isolators,
				Helper:    a.cfg.LaunchHelper,
				Sandboxes: filepath.Join(a.cfg.WorkDir, "slaves"),
				Log:       a.log.With("containerizer", name),

				// Container images (--image_providers=docker).
				Provisioner: prov,
			}))
		case containerizer.NameDocker:
		default:
			return fmt.Errorf("--containerizers: %q is not implemented", name)
		}
	}
	a.containers = containerizer.NewComposing(cs...)
	return nil
}

// detachContext is a context that ends when the agent detaches (its
// done channel, Agent.detached, is closed), with no goroutine of its own.
type detachContext struct {
	context.Context
	done <-chan struct{}
}

func (c detachContext) Done() <-chan struct{} { return c.done }

func (c detachContext) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}
