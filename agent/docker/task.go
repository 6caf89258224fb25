package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// TaskRunner runs a command task as a container: what Mesos'
// mesos-docker-executor does with `docker run`. `mezzo executor --docker`
// holds one.
type TaskRunner struct {
	// Client is the engine.
	Client *Client
	// Name is the container's name (Name(the executor's container id)).
	Name string
	// Labels label the container (Labels(work dir, id, KindTask)).
	Labels map[string]string
	// Sandbox is the executor's sandbox on the host.
	Sandbox string
	// EnableCFS is the agent's --cgroups_enable_cfs (RunSpec.EnableCFS).
	EnableCFS bool
	// Log receives the runner's log lines.
	Log *slog.Logger
}

// Start creates and starts the task's container from its ContainerInfo,
// command and resources. Its environment is Mesos' for a Docker task:
// the command's variables, MESOS_ALLOCATION_ROLE (allocationRole),
// MESOS_SANDBOX and MESOS_CONTAINER_NAME — not the executor's MESOS_*
// variables. Its stdout and stderr are appended to the sandbox's files.
// An image that cannot be had fails at once, naming it.
func (r *TaskRunner) Start(ctx context.Context, task *mesos.TaskInfo, allocationRole string) (*Container, error) {
	env := map[string]string{"MESOS_ALLOCATION_ROLE": allocationRole}
	for _, v := range task.GetCommand().GetEnvironment().GetVariables() {
		if v.GetType() == mesos.Environment_Variable_SECRET {
			return nil, fmt.Errorf("environment variable %s: secrets are not supported", v.GetName())
		}
		env[v.GetName()] = v.GetValue()
	}
	spec := RunSpec{
		Name:      r.Name,
		Labels:    r.Labels,
		Info:      task.GetContainer(),
		Command:   task.GetCommand(),
		Env:       env,
		Resources: task.GetResources(),
		Limits:    task.GetLimits(),
		EnableCFS: r.EnableCFS,
		Sandbox:   r.Sandbox,
	}
	// A container of that name left by a previous attempt is replaced.
	if err := r.Client.Remove(ctx, r.Name); err != nil {
		return nil, err
	}
	if _, err := r.Client.Create(ctx, spec); err != nil {
		return nil, err
	}
	out, err := r.Client.Attach(context.Background(), r.Name, r.Sandbox)
	if err != nil {
		r.Client.Remove(context.Background(), r.Name)
		return nil, err
	}
	if err := r.Client.Start(ctx, r.Name); err != nil {
		r.Client.Remove(context.Background(), r.Name)
		<-out
		return nil, err
	}
	st, err := r.Client.Inspect(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	c := &Container{client: r.Client, name: r.Name, state: st, done: make(chan struct{}), log: r.Log}
	go c.wait(out)
	return c, nil
}

// Container is a running task container, shaped like a process for the
// executor: it ends when the container stops; signals go to its main
// process through the engine.
type Container struct {
	client *Client
	name   string
	state  State
	log    *slog.Logger

	done   chan struct{}
	mu     sync.Mutex
	status syscall.WaitStatus
}

func (c *Container) wait(out <-chan struct{}) {
	code, err := c.client.Wait(context.Background(), c.name)
	if err != nil {
		c.log.Error("lost the task's container", "container", c.name, "err", err)
		code = 255
	}
	// The last output lands in the sandbox before the end is reported.
	select {
	case <-out:
	case <-time.After(5 * time.Second):
	}
	c.mu.Lock()
	c.status = syscall.WaitStatus(code&0xff) << 8
	c.mu.Unlock()
	close(c.done)
}

// Name is the container's name.
func (c *Container) Name() string { return c.name }

// Pid is the host pid of the container's main process when it started.
func (c *Container) Pid() int { return c.state.Pid }

// Done is closed when the container has stopped.
func (c *Container) Done() <-chan struct{} { return c.done }

// Status is the container's end as a wait status: its exit code (128+N
// after signal N, as Docker reports it).
func (c *Container) Status() syscall.WaitStatus {
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Signal sends sig to the container's main process.
func (c *Container) Signal(sig syscall.Signal) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.client.Kill(ctx, c.name, strconv.Itoa(int(sig)))
}

// Destroy SIGKILLs the container.
func (c *Container) Destroy() { c.Signal(syscall.SIGKILL) }

// Address is the host:port HTTP and TCP checks of the task reach port
// at: the loopback for a container on the host network, else the
// container's address on its network.
func (c *Container) Address(port uint32, ipv6 bool) string {
	host := "127.0.0.1"
	if ipv6 {
		host = "::1"
	}
	if !c.state.HostNetwork && c.state.IP != "" {
		host = c.state.IP
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}

// Exec runs a check command inside the container (Mesos' docker executor
// enters the container's namespaces for COMMAND checks): a shell command
// as /bin/sh -c value, else value and its arguments (arguments[0] being
// argv[0]), with env, its output appended to the file output. It returns
// the command's exit code; when ctx ends first the command is SIGKILLed
// and ctx's error returned.
func (c *Container) Exec(ctx context.Context, cmd *mesos.CommandInfo, env map[string]string, output string) (int, error) {
	var argv []string
	if cmd.Shell == nil || cmd.GetShell() {
		argv = []string{"/bin/sh", "-c", cmd.GetValue()}
	} else {
		argv = []string{cmd.GetValue()}
		if args := cmd.GetArguments(); len(args) > 1 {
			argv = append(argv, args[1:]...)
		}
	}
	env = maps.Clone(env)
	delete(env, "PATH")
	delete(env, "MESOS_DIRECTORY")
	env["MESOS_SANDBOX"] = MappedSandbox
	var envList []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		envList = append(envList, k+"="+env[k])
	}
	api := c.client.api
	ex, err := api.ContainerExecCreate(ctx, c.name, container.ExecOptions{
		Cmd: argv, Env: envList, AttachStdout: true, AttachStderr: true, WorkingDir: MappedSandbox,
	})
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: %w", c.name, err)
	}
	hj, err := api.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: %w", c.name, err)
	}
	copied := make(chan struct{})
	var buf bytes.Buffer
	go func() {
		defer close(copied)
		stdcopy.StdCopy(&buf, &buf, hj.Reader)
	}()
	select {
	case <-copied:
	case <-ctx.Done():
		if in, err := api.ContainerExecInspect(context.Background(), ex.ID); err == nil && in.Pid > 0 {
			syscall.Kill(in.Pid, syscall.SIGKILL)
		}
		hj.Close()
		<-copied
		appendFile(output, buf.Bytes())
		return 0, ctx.Err()
	}
	hj.Close()
	appendFile(output, buf.Bytes())
	// The exec's exit code is set once the engine has reaped it.
	for {
		in, err := api.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return 0, fmt.Errorf("exec in container %s: %w", c.name, err)
		}
		if !in.Running {
			return in.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func appendFile(path string, b []byte) {
	if path == "" || len(b) == 0 {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(b)
}
