package agent

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/mezzo-project/mezzo/agent/docker"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// DockerConfig holds Mesos' flags of the Docker containerizer
// (--containerizers=docker; package containerizer/docker).
type DockerConfig struct {
	// Docker is Mesos' --docker (default "docker"): the path of the
	// docker CLI. Accepted for compatibility and unused: Mezzo speaks the
	// Engine API on DockerSocket.
	Docker string
	// DockerSocket is Mesos' --docker_socket (default
	// /var/run/docker.sock): the Docker engine's Unix socket. With
	// "docker" in --containerizers, an engine must answer there when the
	// agent starts.
	DockerSocket string
	// DockerRemoveDelay is Mesos' --docker_remove_delay (default 6hrs):
	// how long a Docker container is kept after it ended before it is
	// removed. A restart of the agent removes ended containers at once
	// (with DockerKillOrphans).
	DockerRemoveDelay time.Duration
	// DockerStopTimeout is Mesos' --docker_stop_timeout (default 0secs):
	// how long a Docker container gets between SIGTERM and SIGKILL when it
	// is stopped, and the grace period of a kill of a Docker command task
	// without a kill policy.
	DockerStopTimeout time.Duration
	// DockerKillOrphans is Mesos' --docker_kill_orphans (default true):
	// at start, remove the Docker containers of this agent (labelled
	// with its --work_dir) that it does not recover. Set it to false
	// when agents share a work directory.
	DockerKillOrphans bool
	// DockerMesosImage is Mesos' --docker_mesos_image: Mesos then runs
	// its executors in containers of that image. Not supported: setting
	// it makes New fail.
	DockerMesosImage string
}

func defaultDockerConfig() DockerConfig {
	return DockerConfig{
		Docker:            "docker",
		DockerSocket:      docker.DefaultSocket,
		DockerRemoveDelay: 6 * time.Hour,
		DockerKillOrphans: true,
	}
}

func (c *DockerConfig) addFlags(fs *flag.FlagSet) {
	d := *c
	fs.StringVar(&c.Docker, "docker", d.Docker, "Path of the docker CLI (accepted; unused: the Engine API is used through --docker_socket).")
	fs.StringVar(&c.DockerSocket, "docker_socket", d.DockerSocket, "The Docker engine's Unix socket.")
	flags.DurationVar(fs, &c.DockerRemoveDelay, "docker_remove_delay", d.DockerRemoveDelay, "Time an ended Docker container is kept before it is removed.")
	flags.DurationVar(fs, &c.DockerStopTimeout, "docker_stop_timeout", d.DockerStopTimeout, "Time a Docker container gets between SIGTERM and SIGKILL when stopped.")
	fs.BoolVar(&c.DockerKillOrphans, "docker_kill_orphans", d.DockerKillOrphans, "At start, remove this agent's Docker containers that it does not recover.")
	fs.StringVar(&c.DockerMesosImage, "docker_mesos_image", d.DockerMesosImage, "Not supported (Mesos runs its executors in containers of this image).")
}

func (c *DockerConfig) validate() []error {
	var errs []error
	if c.DockerSocket == "" {
		c.DockerSocket = docker.DefaultSocket
	}
	if c.DockerMesosImage != "" {
		errs = append(errs, fmt.Errorf("--docker_mesos_image=%s: running the agent's executors in Docker containers is not supported; Docker executors run as processes on the host", c.DockerMesosImage))
	}
	if c.DockerRemoveDelay < 0 {
		errs = append(errs, errors.New("--docker_remove_delay must not be negative"))
	}
	if c.DockerStopTimeout < 0 {
		errs = append(errs, errors.New("--docker_stop_timeout must not be negative"))
	}
	return errs
}
