package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// probeImage is the test image, built once with Docker: FROM scratch, the
// static imageprobe program with an entrypoint, env, workdir and a user
// of its own, saved (`docker save`) into a directory that serves as
// --docker_registry, with an OCI layout of the same image beside it.
var probeImage struct {
	once     sync.Once
	registry string // the directory of archives
	probe    string // the imageprobe binary
	layers   int
	err      error
}

// probeRef is the test image's name; the OCI layout's is ociRef.
const (
	probeRef = "mezzo-e2e-probe:latest"
	ociRef   = "mezzo-e2e-oci"
)

// needDocker skips a test that builds its image with Docker, when Docker
// is missing outside CI (as root, CI has it: the test then fails).
func needDocker(t testing.TB) {
	t.Helper()
	if err := exec.Command("docker", "version").Run(); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("needs Docker (to build the test image) and root: %v", err)
		}
		t.Fatalf("Docker is needed to build the test image: %v", err)
	}
}

// buildProbeImage builds the test image once and returns its registry
// directory.
func buildProbeImage(t testing.TB) string {
	t.Helper()
	needDocker(t)
	probeImage.once.Do(func() { probeImage.err = makeProbeImage() })
	if probeImage.err != nil {
		t.Fatal(probeImage.err)
	}
	return probeImage.registry
}

func makeProbeImage() error {
	ctx := filepath.Join(bin.dir, "probe-image")
	reg := filepath.Join(bin.dir, "registry")
	for _, d := range []string{ctx, reg} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	probeImage.probe = filepath.Join(ctx, "probe")
	cmd := exec.Command("go", "build", "-o", probeImage.probe, "./testdata/imageprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build imageprobe: %v\n%s", err, out)
	}
	files := map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/probe\nprobe:x:1000:1000:probe:/home/probe:/bin/probe\n",
		"group":  "root:x:0:\nprobe:x:1000:\n",
		"marker": "mezzo-test-image\n",
		"Dockerfile": "FROM scratch\nCOPY probe /bin/probe\nCOPY passwd /etc/passwd\nCOPY group /etc/group\nCOPY marker /image-marker\n" +
			"ENV IMAGE_VAR=from-image PATH=/bin SHARED_VAR=image\nWORKDIR /work\nUSER probe\n" +
			`ENTRYPOINT ["/bin/probe", "entry"]` + "\n" + `CMD ["default-cmd"]` + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(ctx, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	tag := fmt.Sprintf("mezzo-e2e-probe:build-%d", os.Getpid())
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, ctx).CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	defer exec.Command("docker", "rmi", "-f", tag).Run()
	if out, err := exec.Command("docker", "tag", tag, probeRef).CombinedOutput(); err != nil {
		return fmt.Errorf("docker tag: %v\n%s", err, out)
	}
	defer exec.Command("docker", "rmi", probeRef).Run()
	archive := filepath.Join(reg, probeRef+".tar")
	if out, err := exec.Command("docker", "save", "-o", archive, probeRef).CombinedOutput(); err != nil {
		return fmt.Errorf("docker save: %v\n%s", err, out)
	}
	// The same image as an OCI layout, <registry>/<name>.
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		return fmt.Errorf("read the saved image: %w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	probeImage.layers = len(ls)
	p, err := layout.Write(filepath.Join(reg, ociRef), empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return fmt.Errorf("write the OCI layout: %w", err)
	}
	probeImage.registry = reg
	return nil
}

// imageTask is a TaskInfo's JSON fields for a command task in image.
func imageTask(image, command string) string {
	return fmt.Sprintf(`"container":{"type":"MESOS","mesos":{"image":{"type":"DOCKER","docker":{"name":%q}}}},"command":%s`, image, command)
}

// imageFlags are the agent flags of the image tests, with the layer
// store under work.
func imageFlags(registry, store string, extra ...string) []string {
	return append([]string{"--isolation=filesystem/linux,docker/runtime,namespaces/pid,cgroups/mem",
		"--image_providers=docker", "--docker_registry=" + registry, "--docker_store_dir=" + store}, extra...)
}

// TestImageTasks runs command tasks in a Docker image on the mezzo
// containerizer, with each provisioner backend: the image's entrypoint,
// env, working directory and user apply, the host's root is out of
// sight, the sandbox is at /mnt/mesos/sandbox, two tasks share the
// unpacked layers, no mount or rootfs outlives a task, and a missing
// image fails the task naming it.
func TestImageTasks(t *testing.T) {
	needRoot(t)
	reg := buildProbeImage(t)
	if _, err := os.Stat("/etc/hostname"); err != nil {
		t.Fatalf("the host has no /etc/hostname to hide: %v", err)
	}
	for _, backend := range []string{"overlay", "copy"} {
		t.Run(backend, func(t *testing.T) {
			work := t.TempDir()
			store := filepath.Join(work, "store")
			c := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024",
				imageFlags(reg, store, "--image_provisioner_backend="+backend)...)
			execute := func(t *testing.T, id, task string) string {
				t.Helper()
				out, _ := run(t, time.Minute, bin.mezzo, "execute", "--master="+c.master, "--task="+taskJSON(id, "cpus:0.1;mem:64", task))
				return out
			}
			sandboxOf := func(t *testing.T, id string) string {
				t.Helper()
				var dirs []string
				for _, d := range sandboxFiles(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", "*", "executors", id, "runs", "*")) {
					if filepath.Base(d) != "latest" {
						dirs = append(dirs, d)
					}
				}
				if len(dirs) != 1 {
					t.Fatalf("sandboxes of %s: %v", id, dirs)
				}
				return dirs[0]
			}
			layersDir := filepath.Join(store, "layers")

			// The image's entrypoint and cmd, env (the task's own
			// winning), working directory and user.
			out := execute(t, "entry", imageTask(probeRef,
				`{"shell":false,"environment":{"variables":[{"name":"SHARED_VAR","value":"task"}]}}`))
			if !strings.Contains(out, "Received status update TASK_FINISHED for task 'entry'") {
				t.Fatalf("want TASK_FINISHED:\n%s", out)
			}
			stdout, _ := os.ReadFile(filepath.Join(sandboxOf(t, "entry"), "stdout"))
			for _, want := range []string{`args=["entry" "default-cmd"]`, "cwd=/work", "uid=1000 gid=1000",
				"env IMAGE_VAR=from-image", "env SHARED_VAR=task", "env PATH=/bin", "env MESOS_SANDBOX=/mnt/mesos/sandbox",
				"env USER=probe", "marker=mezzo-test-image", "exists /etc/hostname=false", "exists /mnt/mesos/sandbox=true",
				"exists /dev/null=true"} {
				if !strings.Contains(string(stdout), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			ents, _ := os.ReadDir(layersDir)
			if len(ents) != probeImage.layers {
				t.Fatalf("%d layers unpacked for an image of %d", len(ents), probeImage.layers)
			}
			inodes := layerInodes(t, layersDir)

			// Arguments replace the image's cmd; the task writes into
			// its sandbox, which it owns as the image's user.
			out = execute(t, "args", imageTask(probeRef, `{"shell":false,"arguments":["write","/mnt/mesos/sandbox/out"]}`))
			if !strings.Contains(out, "Received status update TASK_FINISHED for task 'args'") {
				t.Fatalf("want TASK_FINISHED:\n%s", out)
			}
			sb := sandboxOf(t, "args")
			stdout, _ = os.ReadFile(filepath.Join(sb, "stdout"))
			if !strings.Contains(string(stdout), `args=["entry" "write" "/mnt/mesos/sandbox/out"]`) {
				t.Errorf("arguments: stdout:\n%s", stdout)
			}
			if b, err := os.ReadFile(filepath.Join(sb, "out")); err != nil || string(b) != "written in the image\n" {
				t.Errorf("the file written in the sandbox: %q, %v", b, err)
			}
			// The second task of the image reused the unpacked layers.
			if again := layerInodes(t, layersDir); again != inodes {
				t.Errorf("layers changed by the second task:\n%s\nthen\n%s", inodes, again)
			}

			// A shell command needs a shell in the image: this one has none.
			out = execute(t, "shell", imageTask(probeRef, `{"value":"echo hi"}`))
			if !strings.Contains(out, "TASK_FAILED") || !strings.Contains(out, "/bin/sh") {
				t.Errorf("a shell command in an image without /bin/sh: want TASK_FAILED naming /bin/sh:\n%s", out)
			}

			// The same image from an OCI layout.
			out = execute(t, "oci", imageTask(ociRef, `{"shell":false,"arguments":["from-oci"]}`))
			if !strings.Contains(out, "Received status update TASK_FINISHED for task 'oci'") {
				t.Errorf("OCI layout image: want TASK_FINISHED:\n%s", out)
			}

			// A missing image fails the launch, naming it.
			out = execute(t, "missing", imageTask("mezzo-e2e-no-such-image:1", `{"shell":false}`))
			for _, want := range []string{"TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", "mezzo-e2e-no-such-image:1"} {
				if !strings.Contains(out, want) {
					t.Errorf("missing image: want %q in:\n%s", want, out)
				}
			}

			// Nothing of the containers' root file systems is left.
			waitFor(t, 10*time.Second, "the containers' rootfs removed", func() error {
				ents, _ := os.ReadDir(filepath.Join(c.work, "agent0", "provisioner", "containers"))
				if len(ents) > 0 {
					return fmt.Errorf("left: %v", ents)
				}
				return nil
			})
			mi, _ := os.ReadFile("/proc/self/mountinfo")
			for _, line := range strings.Split(string(mi), "\n") {
				if strings.Contains(line, c.work) {
					t.Errorf("a mount under the work directory is left: %s", line)
				}
			}
		})
	}
}

// TestImageTaskAcrossAgentRestart restarts the agent under a running
// task in an image of a checkpointing framework: the re-adopted
// container keeps its root file system (its overlay lives in the
// container's mount namespace), what a previous run left for containers
// that are gone is removed at start, and the task's root is removed
// once it ends.
func TestImageTaskAcrossAgentRestart(t *testing.T) {
	needRoot(t)
	reg := buildProbeImage(t)
	work := t.TempDir()
	c := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024", imageFlags(reg, filepath.Join(work, "store"))...)
	kept := start(t, "execute-kept", "execute", "--master="+c.master, "--checkpoint",
		"--task="+taskJSON("kept", "cpus:0.1;mem:64", imageTask(probeRef, `{"shell":false,"arguments":["waitfile","/mnt/mesos/sandbox/go"]}`)))
	waitFor(t, 30*time.Second, "the task running", func() error {
		if !strings.Contains(kept.out.String(), "TASK_RUNNING") {
			return errors.New("not yet")
		}
		return nil
	})
	containers := filepath.Join(c.work, "agent0", "provisioner", "containers")
	live, err := os.ReadDir(containers)
	if err != nil || len(live) != 1 {
		t.Fatalf("provisioned containers: %v, %v", live, err)
	}
	// What a previous run left for a container that is gone.
	orphan := filepath.Join(containers, "orphan-of-a-previous-run")
	if err := os.MkdirAll(filepath.Join(orphan, "rootfs", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	agent := c.agents[0]
	if err := syscall.Kill(agent.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-agent.done
	restarted := start(t, "agent0-restarted", agent.cmd.Args[1:]...)
	waitFor(t, 30*time.Second, "the executor re-subscribed", func() error {
		if out := restarted.out.String(); !strings.Contains(out, `msg="executor subscribed"`) || !strings.Contains(out, "recovered=true") {
			return errors.New("not yet")
		}
		return nil
	})
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the orphan's rootfs directory is left after the restart: %v", err)
	}
	if _, err := os.Stat(filepath.Join(containers, live[0].Name())); err != nil {
		t.Fatalf("the re-adopted container lost its rootfs: %v", err)
	}
	dirs := sandboxFiles(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", "*", "executors", "kept", "runs", live[0].Name()))
	if len(dirs) != 1 {
		t.Fatalf("sandbox of kept: %v", dirs)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kept.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the task did not end:\n%s", kept.out.String())
	}
	if !strings.Contains(kept.out.String(), "Received status update TASK_FINISHED for task 'kept'") {
		t.Fatalf("want TASK_FINISHED:\n%s", kept.out.String())
	}
	stdout, _ := os.ReadFile(filepath.Join(dirs[0], "stdout"))
	if !strings.Contains(string(stdout), "marker=mezzo-test-image") {
		t.Errorf("the task did not run in the image:\n%s", stdout)
	}
	waitFor(t, 10*time.Second, "the ended container's rootfs removed", func() error {
		if ents, _ := os.ReadDir(containers); len(ents) > 0 {
			return fmt.Errorf("left: %v", ents)
		}
		return nil
	})
}

// TestImageLaunchFailures checks that an image that cannot be pulled —
// a corrupt archive, an unreachable registry — fails its task at launch
// (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED) with a message naming
// the image and the cause, and leaves nothing in the layer store or the
// provisioner's directory.
func TestImageLaunchFailures(t *testing.T) {
	needRoot(t)
	src := buildProbeImage(t)
	corrupt := t.TempDir()
	corruptArchive(t, filepath.Join(src, probeRef+".tar"), filepath.Join(corrupt, "mezzo-e2e-corrupt:1.tar"))
	for _, c := range []struct {
		name, registry, image string
		want                  []string
	}{
		{"corrupt", corrupt, "mezzo-e2e-corrupt:1", []string{"mezzo-e2e-corrupt:1", "corrupt"}},
		{"unreachable", "http://127.0.0.1:1", "team/app:1", []string{"team/app:1", "127.0.0.1:1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			store := filepath.Join(work, "store")
			cl := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024", imageFlags(c.registry, store)...)
			began := time.Now()
			out, _ := run(t, time.Minute, bin.mezzo, "execute", "--master="+cl.master,
				"--task="+taskJSON("bad", "cpus:0.1;mem:64", imageTask(c.image, `{"shell":false}`)))
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "message:") {
					t.Log(strings.TrimSpace(line))
				}
			}
			for _, want := range append([]string{"TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED"}, c.want...) {
				if !strings.Contains(out, want) {
					t.Errorf("want %q in:\n%s", want, out)
				}
			}
			if d := time.Since(began); d > 30*time.Second {
				t.Errorf("the launch took %v to fail", d)
			}
			for _, d := range []string{filepath.Join(store, "layers"), filepath.Join(store, "staging"), filepath.Join(store, "images"),
				filepath.Join(cl.work, "agent0", "provisioner", "containers")} {
				if ents, _ := os.ReadDir(d); len(ents) > 0 {
					t.Errorf("%s holds %d entries after the failed launch", d, len(ents))
				}
			}
		})
	}
}

// corruptArchive copies a docker-save archive with a byte in the middle
// of each layer flipped.
func corruptArchive(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(in)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, "layer.tar") && len(b) > 0 {
			b[len(b)/2] ^= 0xff
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// layerInodes describes the unpacked layers by name and inode, to see
// whether they were unpacked again.
func layerInodes(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%d\n", e.Name(), st.Sys().(*syscall.Stat_t).Ino)
	}
	return b.String()
}

// BenchmarkLaunchImageTasks measures ACCEPT→TASK_RUNNING of command
// tasks in a Docker image on the mezzo containerizer (overlay backend),
// one task at a time: "cold", each task's image new to the layer store
// (an image of its own: the test image's program plus a file naming
// it, one 2.6 MB layer, unpacked at launch); "warm", every task of one
// image already in the store; "host", the same tasks without an image
// (/bin/true of the host), for comparison. The framework checkpoints,
// so that every task has a `mezzo executor` process, as a task in an
// image always has:
//
//	go test ./e2e -run '^$' -bench LaunchImageTasks -benchtime 1x
func BenchmarkLaunchImageTasks(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: mounts and namespaces")
	}
	buildProbeImage(b)
	const n = 30
	reg := b.TempDir()
	for i := 0; i < n; i++ {
		writeBenchImage(b, reg, fmt.Sprintf("cold-%d", i))
	}
	writeBenchImage(b, reg, "warm")
	port := freePort(b)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	work := b.TempDir()
	local := start(b, "local", append([]string{"local", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--work_dir=" + filepath.Join(work, "local"), "--agents=1", "--resources=cpus:8;mem:8192"},
		imageFlags(reg, filepath.Join(work, "store"))...)...)
	deadline := time.Now().Add(20 * time.Second)
	for httpOK("http://"+master+"/health") != nil {
		if time.Now().After(deadline) {
			b.Fatal("mezzo local did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var cold, warm, host []string
	for i := 0; i < n; i++ {
		cold = append(cold, fmt.Sprintf("cold-%d", i))
		warm = append(warm, "warm")
		host = append(host, "")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The cold images are new to the store only once.
		if i == 0 {
			c := imageLaunchRun(b, master, cold)
			b.ReportMetric(percentileMs(c, 0.50), "cold-p50-ms")
			b.ReportMetric(percentileMs(c, 0.99), "cold-p99-ms")
			// What the agent logged of each pull (reading the archive,
			// unpacking and checking the layer).
			pulls := logDurations(b, local.out.String(), `msg="image pulled"`)
			if len(pulls) != n {
				b.Fatalf("the agent logged %d pulls for %d cold images", len(pulls), n)
			}
			b.ReportMetric(percentileMs(pulls, 0.50), "cold-pull-p50-ms")
		}
		imageLaunchRun(b, master, warm[:1]) // the store has it from now on
		w := imageLaunchRun(b, master, warm)
		b.ReportMetric(percentileMs(w, 0.50), "warm-p50-ms")
		b.ReportMetric(percentileMs(w, 0.99), "warm-p99-ms")
		h := imageLaunchRun(b, master, host)
		b.ReportMetric(percentileMs(h, 0.50), "host-p50-ms")
		b.ReportMetric(percentileMs(h, 0.99), "host-p99-ms")
	}
}

// logDurations returns the duration= values of the log lines holding
// msg.
func logDurations(b *testing.B, log, msg string) []time.Duration {
	var out []time.Duration
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		_, v, ok := strings.Cut(line, " duration=")
		if !ok {
			continue
		}
		v, _, _ = strings.Cut(v, " ")
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, d)
	}
	return out
}

// writeBenchImage writes an image of one layer — the probe program and
// /name holding name — as <reg>/<name>.tar.
func writeBenchImage(b *testing.B, reg, imageName string) {
	probe, err := os.ReadFile(probeImage.probe)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
		mode int64
	}{{"bin/probe", probe, 0o755}, {"name", []byte(imageName), 0o644}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write(f.body)
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		b.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err == nil {
		img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/probe"}, Env: []string{"PATH=/bin"}})
	}
	var tag name.Tag
	if err == nil {
		tag, err = name.NewTag(imageName + ":latest")
	}
	if err == nil {
		err = tarball.WriteToFile(filepath.Join(reg, imageName+".tar"), tag, img)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// imageLaunchRun launches one task per image, in order, each once the
// previous one ended ("" for a task without an image, running the
// host's /bin/true), and returns each one's ACCEPT→TASK_RUNNING.
func imageLaunchRun(b *testing.B, master string, images []string) []time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client := scheduler.New(scheduler.Config{
		Master:    master,
		Format:    codec.Protobuf,
		Framework: &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("image-launch-bench"), Checkpoint: proto.Bool(true)},
	})
	var (
		next, finished int
		inflight       bool
		accepted       time.Time
		latencies      []time.Duration
		failed         []string
	)
	err := client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
		switch ev.GetType() {
		case schedpb.Event_OFFERS:
			for _, o := range ev.GetOffers().GetOffers() {
				var ops []*mesos.Offer_Operation
				if !inflight && next < len(images) {
					id := fmt.Sprintf("img-%d", next)
					task := &mesos.TaskInfo{
						Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: o.GetAgentId(),
						Command:   &mesos.CommandInfo{Shell: proto.Bool(false)},
						Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)},
					}
					if images[next] == "" {
						task.Command.Value, task.Command.Arguments = proto.String("/bin/true"), []string{"/bin/true"}
					} else {
						task.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Mesos: &mesos.ContainerInfo_MesosInfo{
							Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String(images[next])}}}}
					}
					ops = append(ops, &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(),
						Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{task}}})
					next++
					inflight = true
					accepted = time.Now()
				}
				if err := client.Accept(ctx, []*mesos.OfferID{o.GetId()}, ops, &mesos.Filters{RefuseSeconds: proto.Float64(0)}); err != nil {
					return err
				}
			}
		case schedpb.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			if st.GetState() == mesos.TaskState_TASK_RUNNING {
				latencies = append(latencies, time.Since(accepted))
			}
			if err := client.Acknowledge(ctx, st); err != nil {
				return err
			}
			if scheduler.IsTerminal(st.GetState()) {
				inflight = false
				finished++
				if st.GetState() != mesos.TaskState_TASK_FINISHED {
					failed = append(failed, st.GetTaskId().GetValue()+": "+st.GetState().String()+": "+st.GetMessage())
				}
				if finished == len(images) {
					_ = client.Teardown(ctx)
					return scheduler.ErrDone
				}
				return client.Revive(ctx)
			}
		case schedpb.Event_ERROR:
			return fmt.Errorf("master error: %s", ev.GetError().GetMessage())
		}
		return nil
	})
	if err != nil {
		b.Fatalf("after %d of %d tasks: %v", finished, len(images), err)
	}
	if len(failed) > 0 {
		b.Fatalf("tasks did not finish: %s", strings.Join(failed, "; "))
	}
	if len(latencies) != len(images) {
		b.Fatalf("saw TASK_RUNNING for %d of %d tasks", len(latencies), len(images))
	}
	return latencies
}
