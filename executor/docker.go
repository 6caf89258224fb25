package executor

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mezzo-project/mezzo/agent/docker"
	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// A Docker task is a Container: its checks run inside it.
var _ Container = (*docker.Container)(nil)

// dockerFlags are the flags of `mezzo executor --docker`, Mezzo's
// mesos-docker-executor: the command executor, running its task as a
// Docker container (package agent/docker) instead of a process. The
// Docker containerizer passes them.
type dockerFlags struct {
	enabled     bool
	socket      string
	container   string
	labels      string
	stopTimeout time.Duration
	enableCFS   bool
}

func (d *dockerFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.enabled, "docker", false, "Run the task in a Docker container (the Docker containerizer's executor).")
	fs.StringVar(&d.socket, "docker_socket", docker.DefaultSocket, "With --docker: the Docker engine's socket.")
	fs.StringVar(&d.container, "container", "", "With --docker: the name of the task's container (mesos-<container id>).")
	fs.StringVar(&d.labels, "container_labels", "", "With --docker: the container's labels, as a JSON object.")
	fs.BoolVar(&d.enableCFS, "cgroups_enable_cfs", false, "With --docker: cap the task's container at its cpus with a CFS quota (the agent's --cgroups_enable_cfs).")
	flags.DurationVar(fs, &d.stopTimeout, "stop_timeout", 0, "With --docker: the grace period of a kill for a task without a kill policy (--docker_stop_timeout).")
}

// configure makes cfg run its task as a container.
func (d *dockerFlags) configure(cfg *Config, env Env, log *slog.Logger) error {
	if d.container == "" {
		return fmt.Errorf("--docker needs --container")
	}
	var labels map[string]string
	if d.labels != "" {
		if err := json.Unmarshal([]byte(d.labels), &labels); err != nil {
			return fmt.Errorf("--container_labels: %w", err)
		}
	}
	var (
		once   sync.Once
		client *docker.Client
		cerr   error
	)
	cfg.RunTask = func(spec launcher.Spec, task *mesos.TaskInfo) (Process, error) {
		if task.GetContainer().GetType() != mesos.ContainerInfo_DOCKER {
			return nil, fmt.Errorf("task %s has no DOCKER ContainerInfo", task.GetTaskId().GetValue())
		}
		once.Do(func() { client, cerr = docker.Connect(context.Background(), d.socket) })
		if cerr != nil {
			return nil, cerr
		}
		r := &docker.TaskRunner{Client: client, Name: d.container, Labels: labels, Sandbox: env.Sandbox, EnableCFS: d.enableCFS, Log: log}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		c, err := r.Start(ctx, task, spec.Env["MESOS_ALLOCATION_ROLE"])
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	stop := d.stopTimeout
	cfg.DefaultKillGrace = &stop
	return nil
}
