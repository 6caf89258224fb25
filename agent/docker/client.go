package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// DefaultSocket is Mesos' --docker_socket default.
const DefaultSocket = "/var/run/docker.sock"

// Client talks to one Docker Engine through its socket. It is safe for
// concurrent use.
type Client struct {
	api    *client.Client
	socket string
}

// ErrNoImage is returned (wrapped, naming the image) when an image is
// neither present nor can be pulled.
var ErrNoImage = errors.New("image not available")

// Connect opens a client on socket and checks that an engine answers
// there (negotiating the API version). The error names the socket.
func Connect(ctx context.Context, socket string) (*Client, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	api, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker socket %s: %w", socket, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ping, err := api.Ping(ctx)
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("no Docker engine answers at --docker_socket=%s: %w", socket, err)
	}
	api.NegotiateAPIVersionPing(ping)
	return &Client{api: api, socket: socket}, nil
}

// Socket is the engine's socket path.
func (c *Client) Socket() string { return c.socket }

// Close closes the client's connections.
func (c *Client) Close() error { return c.api.Close() }

// EnsureImage makes image present: pulled when absent or when force is
// set. An image that cannot be had is ErrNoImage, naming it and why.
func (c *Client) EnsureImage(ctx context.Context, ref string, force bool) error {
	if !force {
		_, err := c.api.ImageInspect(ctx, ref)
		if err == nil {
			return nil
		}
		if !errdefs.IsNotFound(err) {
			return fmt.Errorf("inspect image %s: %w", ref, err)
		}
	}
	rc, err := c.api.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("%w: failed to pull image %s: %v", ErrNoImage, ref, err)
	}
	defer rc.Close()
	// The pull's progress is a stream of JSON messages; a failure is one
	// of them.
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("%w: failed to pull image %s: %v", ErrNoImage, ref, err)
	}
	if _, err := c.api.ImageInspect(ctx, ref); err != nil {
		return fmt.Errorf("%w: image %s is absent after its pull: %v", ErrNoImage, ref, err)
	}
	return nil
}

// Create pulls the spec's image when needed and creates its container
// (not started). It returns the container's engine id.
func (c *Client) Create(ctx context.Context, s RunSpec) (string, error) {
	cfg, host, netCfg, err := s.build()
	if err != nil {
		return "", err
	}
	if err := c.EnsureImage(ctx, cfg.Image, s.Info.GetDocker().GetForcePullImage()); err != nil {
		return "", err
	}
	resp, err := c.api.ContainerCreate(ctx, cfg, host, netCfg, nil, s.Name)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", s.Name, err)
	}
	return resp.ID, nil
}

// Start starts a created container.
func (c *Client) Start(ctx context.Context, name string) error {
	if err := c.api.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", name, err)
	}
	return nil
}

// Attach copies the container's stdout and stderr (demultiplexed) to the
// files stdout and stderr in dir (appended), from now on. Call it before
// Start so nothing is missed. The returned channel is closed when the
// output ends (the container exited, or ctx ended).
func (c *Client) Attach(ctx context.Context, name, dir string) (<-chan struct{}, error) {
	out, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	errf, err := os.OpenFile(filepath.Join(dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		out.Close()
		return nil, err
	}
	hj, err := c.api.ContainerAttach(ctx, name, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		out.Close()
		errf.Close()
		return nil, fmt.Errorf("attach to container %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer out.Close()
		defer errf.Close()
		defer hj.Close()
		stdcopy.StdCopy(out, errf, hj.Reader)
	}()
	return done, nil
}

// Follow copies the container's log (stdout and stderr, demultiplexed)
// from since (empty: its beginning) to the files stdout and stderr in
// dir until the container stops or ctx ends; the returned channel is
// closed then. A supervisor that may restart uses it rather than Attach.
func (c *Client) Follow(ctx context.Context, name, dir, since string) (<-chan struct{}, error) {
	out, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	errf, err := os.OpenFile(filepath.Join(dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		out.Close()
		return nil, err
	}
	rc, err := c.api.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Since: since})
	if err != nil {
		out.Close()
		errf.Close()
		return nil, fmt.Errorf("follow the log of container %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer out.Close()
		defer errf.Close()
		defer rc.Close()
		stdcopy.StdCopy(out, errf, rc)
	}()
	return done, nil
}

// Wait waits until the container is not running and returns its exit
// code.
func (c *Client) Wait(ctx context.Context, name string) (int, error) {
	okC, errC := c.api.ContainerWait(ctx, name, container.WaitConditionNotRunning)
	select {
	case r := <-okC:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("wait for container %s: %s", name, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-errC:
		return 0, fmt.Errorf("wait for container %s: %w", name, err)
	}
}

// Kill sends sig (e.g. "SIGTERM") to the container's main process. A
// container that is not running is not an error.
func (c *Client) Kill(ctx context.Context, name, sig string) error {
	err := c.api.ContainerKill(ctx, name, sig)
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) && !strings.Contains(err.Error(), "is not running") {
		return fmt.Errorf("kill container %s with %s: %w", name, sig, err)
	}
	return nil
}

// Stop stops the container as `docker stop -t timeout` does: SIGTERM,
// SIGKILL after timeout (at once for 0). A missing container is not an
// error.
func (c *Client) Stop(ctx context.Context, name string, timeout time.Duration) error {
	secs := int(timeout / time.Second)
	err := c.api.ContainerStop(ctx, name, container.StopOptions{Timeout: &secs})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: %w", name, err)
	}
	return nil
}

// Remove removes the container (killing it if it still runs). A missing
// container is not an error.
func (c *Client) Remove(ctx context.Context, name string) error {
	err := c.api.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !errdefs.IsNotFound(err) && !strings.Contains(err.Error(), "is already in progress") {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// State is what Inspect reports of a container.
type State struct {
	ID      string
	Running bool
	// Pid is the host pid of its main process, 0 when not running.
	Pid      int
	ExitCode int
	// HostNetwork: it shares the host's network namespace.
	HostNetwork bool
	// IP is its address on its first network (empty for host and none).
	IP string
	// StartedAt is when it started, in RFC 3339.
	StartedAt string
	Labels    map[string]string
}

// ErrNotFound is returned by Inspect for a container that does not exist.
var ErrNotFound = errors.New("no such container")

// Inspect reports the container's state.
func (c *Client) Inspect(ctx context.Context, name string) (State, error) {
	r, err := c.api.ContainerInspect(ctx, name)
	if errdefs.IsNotFound(err) {
		return State{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return State{}, fmt.Errorf("inspect container %s: %w", name, err)
	}
	s := State{ID: r.ID}
	if r.State != nil {
		s.Running, s.Pid, s.ExitCode, s.StartedAt = r.State.Running, r.State.Pid, r.State.ExitCode, r.State.StartedAt
	}
	if r.HostConfig != nil {
		s.HostNetwork = r.HostConfig.NetworkMode.IsHost()
	}
	if r.Config != nil {
		s.Labels = r.Config.Labels
	}
	if r.NetworkSettings != nil {
		for _, ep := range r.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress != "" {
				s.IP = ep.IPAddress
				break
			}
		}
	}
	return s, nil
}

// Found is a container of the agent, as List finds it.
type Found struct {
	Name        string
	ContainerID string
	Kind        string
	Running     bool
}

// List lists the containers (running or not) labelled with workDir.
func (c *Client) List(ctx context.Context, workDir string) ([]Found, error) {
	f := filters.NewArgs(filters.Arg("label", LabelWorkDir+"="+filepath.Clean(workDir)))
	cs, err := c.api.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []Found
	for _, s := range cs {
		name := s.ID
		if len(s.Names) > 0 {
			name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, Found{Name: name, ContainerID: s.Labels[LabelContainerID], Kind: s.Labels[LabelKind], Running: s.State == container.StateRunning})
	}
	return out, nil
}

// Update sets the container's CPU shares and memory limit from
// resources (those present).
func (c *Client) Update(ctx context.Context, name string, resources []*mesos.Resource) error {
	var u container.UpdateConfig
	for _, r := range resources {
		switch r.GetName() {
		case "cpus":
			u.CPUShares += int64(r.GetScalar().GetValue() * cpuSharesPerCPU)
		case "mem":
			u.Memory += int64(r.GetScalar().GetValue()) << 20
		}
	}
	if u.CPUShares > 0 {
		u.CPUShares = max(u.CPUShares, minCPUShares)
	}
	if u.Memory > 0 {
		u.Memory = max(u.Memory, minMemory)
		u.MemorySwap = u.Memory
	}
	if u.CPUShares == 0 && u.Memory == 0 {
		return nil
	}
	if _, err := c.api.ContainerUpdate(ctx, name, u); err != nil {
		return fmt.Errorf("update container %s: %w", name, err)
	}
	return nil
}

// Stats measures the container once: CPU times and memory, as Mesos'
// ResourceStatistics.
func (c *Client) Stats(ctx context.Context, name string) (*mesos.ResourceStatistics, error) {
	r, err := c.api.ContainerStatsOneShot(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("stats of container %s: %w", name, err)
	}
	defer r.Body.Close()
	var st container.StatsResponse
	if err := decodeJSON(r.Body, &st); err != nil {
		return nil, fmt.Errorf("stats of container %s: %w", name, err)
	}
	s := &mesos.ResourceStatistics{
		Timestamp:          proto.Float64(float64(time.Now().UnixNano()) / 1e9),
		CpusUserTimeSecs:   proto.Float64(float64(st.CPUStats.CPUUsage.UsageInUsermode) / 1e9),
		CpusSystemTimeSecs: proto.Float64(float64(st.CPUStats.CPUUsage.UsageInKernelmode) / 1e9),
		MemTotalBytes:      proto.Uint64(st.MemoryStats.Usage),
	}
	if rss, ok := st.MemoryStats.Stats["rss"]; ok {
		s.MemRssBytes = proto.Uint64(rss)
	} else if anon, ok := st.MemoryStats.Stats["anon"]; ok {
		s.MemRssBytes = proto.Uint64(anon)
	}
	if st.MemoryStats.Limit > 0 {
		s.MemLimitBytes = proto.Uint64(st.MemoryStats.Limit)
	}
	if st.PidsStats.Current > 0 {
		s.Processes = proto.Uint32(uint32(st.PidsStats.Current))
	}
	return s, nil
}
