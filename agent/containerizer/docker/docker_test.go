package docker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// TestLaunchOnlyDocker: anything that is not a DOCKER container is left
// to the next containerizer, and a task group in a Docker container is
// refused, before the engine is asked anything.
func TestLaunchOnlyDocker(t *testing.T) {
	d := New(Config{WorkDir: t.TempDir()})
	id := &mesos.ContainerID{Value: proto.String("c1")}
	for _, ci := range []*mesos.ContainerInfo{nil, {Type: mesos.ContainerInfo_MESOS.Enum()}} {
		res, err := d.Launch(context.Background(), id, containerizer.Config{ContainerInfo: ci})
		if err != nil || res != containerizer.NotSupported {
			t.Errorf("%v: %v, %v; want NotSupported", ci, res, err)
		}
	}
	docker := &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
		Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("img")}}
	_, err := d.Launch(context.Background(), id, containerizer.Config{ContainerInfo: docker,
		Builtin: &containerizer.BuiltinExecutor{Mode: builtin.Default}})
	if err == nil {
		t.Error("a task group was launched in a Docker container")
	}
	vol := &mesos.Resource{Name: proto.String("disk"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1)},
		Disk: &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String("v1")}}}
	_, err = d.Launch(context.Background(), id, containerizer.Config{ContainerInfo: docker, Resources: []*mesos.Resource{vol}})
	if err == nil || !strings.Contains(err.Error(), `persistent volume "v1"`) {
		t.Errorf("a persistent volume in a Docker container: %v, want it refused by name", err)
	}
	if _, err := d.Status(context.Background(), id); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("after a refused launch: %v, want ErrUnknownContainer", err)
	}
}
