package containerizer

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/provisioner"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// probeImage writes an image of the e2e tests' imageprobe program
// (built static), with an entrypoint, env and working directory, as
// <reg>/probe:1.tar.
func probeImage(t *testing.T, reg string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-o", bin, "../../e2e/testdata/imageprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build imageprobe: %v\n%s", err, out)
	}
	probe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "bin/probe", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(probe))})
	tw.Write(probe)
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err == nil {
		img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/probe", "ep"}, Cmd: []string{"dropped"},
			Env: []string{"PATH=/bin", "IMG=image", "OWN=image"}, WorkingDir: "/wd"})
	}
	if err == nil {
		err = tarball.WriteToFile(filepath.Join(reg, "probe:1.tar"), name.MustParseReference("probe:1"), img)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestImageCustomExecutor runs a custom executor in an image through the
// Mezzo containerizer: its command is the image's entrypoint with the
// CommandInfo's arguments, it starts in the image's working directory
// with the image's env under its own, sees the sandbox at
// /mnt/mesos/sandbox and not the host's files, and its root is gone
// once it ended, with nothing mounted.
func TestImageCustomExecutor(t *testing.T) {
	needRoot(t)
	reg := t.TempDir()
	probeImage(t, reg)
	work := t.TempDir()
	store, err := provisioner.NewStore(provisioner.StoreConfig{Dir: filepath.Join(work, "store"), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{provisioner.BackendOverlay, provisioner.BackendCopy} {
		t.Run(backend, func(t *testing.T) {
			prov, err := provisioner.New(provisioner.Config{Dir: filepath.Join(work, "provisioner-"+backend), Backend: backend, Store: store})
			if err != nil {
				t.Fatal(err)
			}
			isolators, err := NewLinuxIsolators([]string{"filesystem/linux", DockerRuntimeName, "namespaces/pid", "volume/host_path"}, LinuxOptions{WorkDir: work})
			if err != nil {
				t.Fatal(err)
			}
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			m := NewMezzo(MezzoConfig{Isolators: isolators, Helper: exe, Provisioner: prov})
			ci := mesosContainer()
			ci.Mesos = &mesos.ContainerInfo_MesosInfo{Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("probe:1")}}}
			host := t.TempDir()
			if err := os.WriteFile(filepath.Join(host, "f"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			// Volumes are mounted inside the root: an absolute
			// container path at that path of the image, a relative one
			// in the sandbox.
			ci.Volumes = []*mesos.Volume{
				{ContainerPath: proto.String("/data"), HostPath: proto.String(host), Mode: mesos.Volume_RO.Enum()},
				{ContainerPath: proto.String("vol"), HostPath: proto.String(host), Mode: mesos.Volume_RO.Enum()},
			}
			cmd := &mesos.CommandInfo{Shell: proto.Bool(false), Arguments: []string{"custom", "stat", "/data/f", "stat", "/mnt/mesos/sandbox/vol/f"},
				Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: proto.String("OWN"), Value: proto.String("executor")}}}}
			dir := t.TempDir()
			id := &mesos.ContainerID{Value: proto.String("image-" + backend)}
			if _, err := m.Launch(context.Background(), id, Config{Command: cmd, ContainerInfo: ci, Directory: dir,
				Env: map[string]string{"OWN": "executor", "MESOS_SANDBOX": "/host/path"}}); err != nil {
				t.Fatal(err)
			}
			term, err := m.Wait(waitCtx(t), id)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "stdout"))
			out := string(b)
			if term.Describe() != "exited with status 0" {
				t.Fatalf("%s:\n%s", term.Describe(), out)
			}
			for _, want := range []string{`args=["ep" "custom" "stat" "/data/f" "stat" "/mnt/mesos/sandbox/vol/f"]`, "cwd=/wd",
				"exists /data/f=true", "exists /mnt/mesos/sandbox/vol/f=true", "env IMG=image", "env OWN=executor",
				"env MESOS_SANDBOX=/mnt/mesos/sandbox", "exists /etc/hostname=false", "exists /mnt/mesos/sandbox=true",
				"exists /proc/1/cmdline=true"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if ents, _ := os.ReadDir(filepath.Join(work, "provisioner-"+backend, "containers")); len(ents) != 0 {
				t.Errorf("rootfs left: %v", ents)
			}
			if mounts, _ := provisioner.MountsUnder(work); len(mounts) != 0 {
				t.Errorf("mounts left: %v", mounts)
			}
		})
	}
}
