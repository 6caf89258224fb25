package containerizer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// needRoot skips a test that needs root: namespaces, mounts, users.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: namespaces, mounts and user switches")
	}
}

// linuxMezzo is a Mezzo with the Linux isolators names and the test
// binary as its launch helper.
func linuxMezzo(t *testing.T, names string, opts LinuxOptions) *Mezzo {
	t.Helper()
	needRoot(t)
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	isolators, err := NewLinuxIsolators(strings.Split(names, ","), opts)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return NewMezzo(MezzoConfig{Isolators: isolators, Helper: exe})
}

// mesosContainer is a MESOS ContainerInfo.
func mesosContainer() *mesos.ContainerInfo {
	return &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()}
}

var containerSeq int

// launchIn launches cmd in the sandbox dir and returns the container id.
func launchIn(t *testing.T, m *Mezzo, dir string, cfg Config) (*mesos.ContainerID, error) {
	t.Helper()
	containerSeq++
	id := &mesos.ContainerID{Value: proto.String(fmt.Sprintf("%s-%d", t.Name(), containerSeq))}
	cfg.Directory = dir
	_, err := m.Launch(context.Background(), id, cfg)
	if err == nil {
		t.Cleanup(func() {
			m.Destroy(context.Background(), id)
			m.Wait(context.Background(), id)
		})
	}
	return id, err
}

// runIn launches cfg in a new sandbox (dir when not empty), waits for
// its end and returns how it ended and its stdout.
func runIn(t *testing.T, m *Mezzo, dir string, cfg Config) (Termination, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	id, err := launchIn(t, m, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	term, err := m.Wait(waitCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	if term.Describe() != "exited with status 0" {
		errOut, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		t.Logf("%s; stderr: %s", term.Describe(), errOut)
	}
	return term, string(out)
}

func TestLinuxPidNamespace(t *testing.T) {
	m := linuxMezzo(t, "filesystem/linux,namespaces/pid", LinuxOptions{})
	host := exec.Command("sleep", "300")
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { host.Process.Kill(); host.Wait() }()
	cmd := fmt.Sprintf(`ls /proc | grep -c '^[0-9]'; if kill -0 %d 2>/dev/null; then echo signalled; else echo refused; fi; exit 7`, host.Process.Pid)
	term, out := runIn(t, m, "", Config{Command: shell(cmd), ContainerInfo: mesosContainer()})
	if term.Describe() != "exited with status 7" {
		t.Errorf("termination %q, want exited with status 7 as without the helper", term.Describe())
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("stdout %q", out)
	}
	if n, _ := strconv.Atoi(f[0]); n < 1 || n > 4 {
		t.Errorf("the container sees %s processes in /proc, want only its own", f[0])
	}
	if f[1] != "refused" {
		t.Errorf("kill -0 of the host's pid %d: %s", host.Process.Pid, f[1])
	}
	// share_pid_namespace keeps the agent's.
	ci := mesosContainer()
	ci.LinuxInfo = &mesos.LinuxInfo{SharePidNamespace: proto.Bool(true)}
	_, out = runIn(t, m, "", Config{Command: shell(fmt.Sprintf("kill -0 %d && echo signalled", host.Process.Pid)), ContainerInfo: ci})
	if out != "signalled\n" {
		t.Errorf("sharing the agent's pid namespace: %q", out)
	}
}

func TestLinuxDestroyKillsTheNamespace(t *testing.T) {
	m := linuxMezzo(t, "filesystem/linux,namespaces/pid", LinuxOptions{})
	dir := t.TempDir()
	id, err := launchIn(t, m, dir, Config{Command: shell(`setsid sleep 300 & sleep 300 & touch ready; wait`), ContainerInfo: mesosContainer()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.GetExecutorPid()))
	if err != nil {
		t.Fatal(err)
	}
	members := func() int {
		n := 0
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if l, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && l == ns {
				if b, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
					n++
				}
			}
		}
		return n
	}
	waitUntil(t, "the container's processes", func() bool {
		_, err := os.Stat(filepath.Join(dir, "ready"))
		return err == nil && members() >= 4
	})
	if err := m.Destroy(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	term, err := m.Wait(waitCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if term.Describe() != "terminated with signal Killed" {
		t.Errorf("termination %q", term.Describe())
	}
	waitUntil(t, "every process of the container to die", func() bool { return members() == 0 })
}

// waitUntil polls cond until it holds or 10 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// volume is a ContainerInfo volume.
func hostVolume(host, container string, mode mesos.Volume_Mode) *mesos.Volume {
	return &mesos.Volume{ContainerPath: proto.String(container), Mode: mode.Enum(),
		Source: &mesos.Volume_Source{Type: mesos.Volume_Source_HOST_PATH.Enum(), HostPath: &mesos.Volume_Source_HostPath{Path: proto.String(host)}}}
}

func TestLinuxHostPathVolumes(t *testing.T) {
	m := linuxMezzo(t, "filesystem/linux,volume/host_path", LinuxOptions{})
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "in"), []byte("hello\n"), 0o644)
	over := t.TempDir() // an absolute container path, hidden by the volume inside
	os.WriteFile(filepath.Join(over, "host-only"), nil, 0o644)
	ci := mesosContainer()
	ci.Volumes = []*mesos.Volume{
		hostVolume(data, "ro", mesos.Volume_RO),
		hostVolume(data, "sub/rw", mesos.Volume_RW),
		{ContainerPath: proto.String(over), Mode: mesos.Volume_RW.Enum(), HostPath: proto.String(data)}, // legacy field
	}
	cmd := `cat ro/in; if (echo x > ro/new) 2>/dev/null; then echo ro-writable; fi; echo rw > sub/rw/new && cat ` + over + `/new; ls ` + over
	term, out := runIn(t, m, "", Config{Command: shell(cmd), ContainerInfo: ci})
	if want := "hello\nrw\nin\nnew\n"; out != want || term.Describe() != "exited with status 0" {
		t.Errorf("stdout %q (%s), want %q", out, term.Describe(), want)
	}
	if _, err := os.Stat(filepath.Join(over, "new")); err == nil {
		t.Errorf("the volume over %s shows on the host", over)
	}
	// A missing host path, or a missing absolute mount point, is refused.
	for _, v := range []*mesos.Volume{
		hostVolume(filepath.Join(data, "missing"), "x", mesos.Volume_RW),
		hostVolume(data, filepath.Join(data, "missing"), mesos.Volume_RW),
	} {
		ci := mesosContainer()
		ci.Volumes = []*mesos.Volume{v}
		_, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci})
		if err == nil || !strings.Contains(err.Error(), "does not exist") && !strings.Contains(err.Error(), "must exist") {
			t.Errorf("volume %v: %v", v, err)
		}
	}
	// Without volume/sandbox_path, a SANDBOX_PATH volume is refused.
	ci = mesosContainer()
	ci.Volumes = []*mesos.Volume{{ContainerPath: proto.String("/tmp"), Mode: mesos.Volume_RW.Enum(), HostPath: proto.String("tmp")}}
	if _, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci}); err == nil ||
		!strings.Contains(err.Error(), "SANDBOX_PATH volumes need the volume/sandbox_path isolator") {
		t.Errorf("sandbox path volume: %v", err)
	}
}

func TestLinuxSandboxPathVolumes(t *testing.T) {
	m := linuxMezzo(t, "filesystem/linux,volume/sandbox_path", LinuxOptions{})
	over := t.TempDir()
	dir := t.TempDir()
	ci := mesosContainer()
	ci.Volumes = []*mesos.Volume{{ContainerPath: proto.String(over), Mode: mesos.Volume_RW.Enum(),
		Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SANDBOX_PATH.Enum(),
			SandboxPath: &mesos.Volume_Source_SandboxPath{Type: mesos.Volume_Source_SandboxPath_SELF.Enum(), Path: proto.String("scratch")}}}}
	term, _ := runIn(t, m, dir, Config{Command: shell("echo hi > " + over + "/f"), ContainerInfo: ci})
	if term.Describe() != "exited with status 0" {
		t.Fatal(term.Describe())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "scratch", "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("the sandbox's scratch/f: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(over, "f")); err == nil {
		t.Errorf("the write went to the host's %s", over)
	}
	// A relative container path is inside the sandbox: a read-only view
	// of another of its directories.
	ci = mesosContainer()
	ci.Volumes = []*mesos.Volume{{ContainerPath: proto.String("view"), Mode: mesos.Volume_RO.Enum(), HostPath: proto.String("scratch")}}
	term, _ = runIn(t, m, dir, Config{Command: shell("grep -q hi view/f && ! touch view/g"), ContainerInfo: ci})
	if term.Describe() != "exited with status 0" {
		t.Errorf("relative read-only sandbox path volume: %s", term.Describe())
	}
	for want, v := range map[string]*mesos.Volume{
		"only work for nested containers": {ContainerPath: proto.String("x"), Mode: mesos.Volume_RW.Enum(),
			Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SANDBOX_PATH.Enum(),
				SandboxPath: &mesos.Volume_Source_SandboxPath{Type: mesos.Volume_Source_SandboxPath_PARENT.Enum(), Path: proto.String("p")}}},
		"leaves the sandbox": {ContainerPath: proto.String(over), Mode: mesos.Volume_RW.Enum(), HostPath: proto.String("../y")},
	} {
		ci := mesosContainer()
		ci.Volumes = []*mesos.Volume{v}
		if _, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", v, err, want)
		}
	}
}

// persistentVolume is a disk resource with a persistent volume.
func persistentVolume(role, id, path string, mode mesos.Volume_Mode) *mesos.Resource {
	r := scalar("disk", 8)
	r.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(role)}}
	r.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume: &mesos.Volume{ContainerPath: proto.String(path), Mode: mode.Enum()}}
	return r
}

func TestLinuxPersistentVolumes(t *testing.T) {
	work := t.TempDir()
	m := linuxMezzo(t, "filesystem/linux", LinuxOptions{WorkDir: work})
	roDir := filepath.Join(work, "volumes", "roles", "eng ads", "ro-1")
	os.MkdirAll(roDir, 0o755)
	os.WriteFile(filepath.Join(roDir, "in"), []byte("kept\n"), 0o644)
	sandbox := t.TempDir()
	// The agent links read-write volumes into the sandbox: the mount goes
	// through the link.
	rwDir := filepath.Join(work, "volumes", "roles", "eng", "rw-1")
	os.MkdirAll(rwDir, 0o755)
	if err := os.Symlink(rwDir, filepath.Join(sandbox, "data")); err != nil {
		t.Fatal(err)
	}
	cmd := `cat ro/in; if (echo x > ro/new) 2>/dev/null; then echo ro-writable; fi; echo w > data/new && echo rw-ok`
	term, out := runIn(t, m, sandbox, Config{Command: shell(cmd), ContainerInfo: mesosContainer(), Resources: []*mesos.Resource{
		scalar("cpus", 1),
		persistentVolume("eng/ads", "ro-1", "ro", mesos.Volume_RO),
		persistentVolume("eng", "rw-1", "data", mesos.Volume_RW),
	}})
	if out != "kept\nrw-ok\n" || term.Describe() != "exited with status 0" {
		t.Errorf("stdout %q (%s)", out, term.Describe())
	}
	if b, _ := os.ReadFile(filepath.Join(rwDir, "new")); string(b) != "w\n" {
		t.Errorf("the read-write volume holds %q", b)
	}
}

func TestLinuxRlimits(t *testing.T) {
	m := linuxMezzo(t, "posix/rlimits", LinuxOptions{})
	rl := func(typ mesos.RLimitInfo_RLimit_Type, soft, hard *uint64) *mesos.RLimitInfo_RLimit {
		return &mesos.RLimitInfo_RLimit{Type: typ.Enum(), Soft: soft, Hard: hard}
	}
	ci := mesosContainer()
	ci.RlimitInfo = &mesos.RLimitInfo{Rlimits: []*mesos.RLimitInfo_RLimit{
		rl(mesos.RLimitInfo_RLimit_RLMT_NOFILE, proto.Uint64(321), proto.Uint64(654)),
		rl(mesos.RLimitInfo_RLimit_RLMT_CORE, nil, nil),
	}}
	_, out := runIn(t, m, "", Config{Command: shell("ulimit -n; ulimit -Hn; ulimit -c"), ContainerInfo: ci})
	if out != "321\n654\nunlimited\n" {
		t.Errorf("ulimit shows %q", out)
	}
	for want, r := range map[string]*mesos.RLimitInfo_RLimit{
		"rlimit RLMT_STACK: the soft limit 9 exceeds the hard limit 8": rl(mesos.RLimitInfo_RLimit_RLMT_STACK, proto.Uint64(9), proto.Uint64(8)),
		"rlimit RLMT_AS: set both soft and hard":                       rl(mesos.RLimitInfo_RLimit_RLMT_AS, proto.Uint64(9), nil),
		"rlimit type UNKNOWN is not supported":                         rl(mesos.RLimitInfo_RLimit_UNKNOWN, nil, nil),
	} {
		ci := mesosContainer()
		ci.RlimitInfo = &mesos.RLimitInfo{Rlimits: []*mesos.RLimitInfo_RLimit{r}}
		if _, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", r, err, want)
		}
	}
}

// capEff returns a capability line of /proc/self/status output.
func capLine(t *testing.T, status, name string) uint64 {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no %s in %q", name, status)
	return 0
}

// userSandbox is a sandbox the user can enter, removed when the test ends.
func userSandbox(t *testing.T, user string) string {
	t.Helper()
	u, err := launcher.LookupUser(user)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "mezzo-linux-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLinuxCapabilities(t *testing.T) {
	caps := func(cs ...mesos.CapabilityInfo_Capability) *mesos.CapabilityInfo {
		return &mesos.CapabilityInfo{Capabilities: cs}
	}
	m := linuxMezzo(t, "linux/capabilities", LinuxOptions{
		EffectiveCapabilities: caps(mesos.CapabilityInfo_NET_RAW),
		BoundingCapabilities:  caps(mesos.CapabilityInfo_NET_RAW, mesos.CapabilityInfo_NET_BIND_SERVICE, mesos.CapabilityInfo_CHOWN),
	})
	bit := func(cs ...int) uint64 {
		var m uint64
		for _, c := range cs {
			m |= 1 << c
		}
		return m
	}
	// The container's own effective set, as nobody.
	ci := mesosContainer()
	ci.LinuxInfo = &mesos.LinuxInfo{EffectiveCapabilities: caps(mesos.CapabilityInfo_NET_BIND_SERVICE, mesos.CapabilityInfo_CHOWN)}
	_, out := runIn(t, m, userSandbox(t, "nobody"), Config{Command: shell("cat /proc/self/status"), ContainerInfo: ci, User: "nobody"})
	if got, want := capLine(t, out, "CapEff"), bit(unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN); got != want {
		t.Errorf("CapEff %x, want %x", got, want)
	}
	if got, want := capLine(t, out, "CapBnd"), bit(unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN, unix.CAP_NET_RAW); got != want {
		t.Errorf("CapBnd %x, want %x (--bounding_capabilities)", got, want)
	}
	// The agent's defaults when the container asks for nothing.
	_, out = runIn(t, m, userSandbox(t, "nobody"), Config{Command: shell("cat /proc/self/status"), ContainerInfo: mesosContainer(), User: "nobody"})
	if got, want := capLine(t, out, "CapEff"), bit(unix.CAP_NET_RAW); got != want {
		t.Errorf("CapEff %x, want %x (--effective_capabilities)", got, want)
	}
	// Outside the agent's bounding set.
	ci = mesosContainer()
	ci.LinuxInfo = &mesos.LinuxInfo{BoundingCapabilities: caps(mesos.CapabilityInfo_SYS_ADMIN)}
	if _, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci}); err == nil || !strings.Contains(err.Error(), "SYS_ADMIN") {
		t.Errorf("bounding SYS_ADMIN: %v", err)
	}
	if _, err := NewLinuxIsolators([]string{"linux/capabilities"}, LinuxOptions{EffectiveCapabilities: caps(mesos.CapabilityInfo_SYS_ADMIN), BoundingCapabilities: caps()}); err == nil {
		t.Error("--effective_capabilities outside --bounding_capabilities was accepted")
	}
}

func TestLinuxRunAsUser(t *testing.T) {
	m := linuxMezzo(t, "filesystem/linux,namespaces/pid", LinuxOptions{})
	_, out := runIn(t, m, userSandbox(t, "nobody"), Config{Command: shell("id -u"), ContainerInfo: mesosContainer(), User: "nobody"})
	if out != "65534\n" {
		t.Errorf("as nobody: id -u printed %q", out)
	}
	// A user of its own, with a supplementary group.
	name := fmt.Sprintf("mzt%d", rand.IntN(1e6))
	if out, err := exec.Command("useradd", "-M", "-s", "/bin/sh", "-G", "nogroup", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u, err := launcher.LookupUser(name)
	if err != nil {
		t.Fatal(err)
	}
	_, out = runIn(t, m, userSandbox(t, name), Config{Command: shell(`id -u; id -G; echo "$USER"`), ContainerInfo: mesosContainer(), User: name})
	if want := fmt.Sprintf("%d\n%d 65534\n%s\n", u.UID, u.GID, name); out != want {
		t.Errorf("as %s: %q, want %q", name, out, want)
	}
	// An unknown user fails the launch.
	_, err = launchIn(t, m, t.TempDir(), Config{Command: shell("true"), User: "no-such-user-here"})
	if err == nil || err.Error() != `user "no-such-user-here" does not exist` {
		t.Errorf("unknown user: %v", err)
	}
	if ids, _ := m.Containers(context.Background()); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
}

func TestLinuxIPCNamespace(t *testing.T) {
	m := linuxMezzo(t, "filesystem/linux,namespaces/ipc", LinuxOptions{DefaultShmSize: 16})
	hostIPC, _ := os.Readlink("/proc/self/ns/ipc")
	name := fmt.Sprintf("mezzo-test-%d", rand.IntN(1e9))
	defer os.Remove("/dev/shm/" + name)
	cmd := `readlink /proc/self/ns/ipc; touch /dev/shm/` + name + `; df -m /dev/shm | tail -1 | awk '{print $2}'`
	for _, tc := range []struct {
		mode               *mesos.LinuxInfo_IpcMode
		ownIPC, privateShm bool
	}{
		{nil, true, false},
		{mesos.LinuxInfo_PRIVATE.Enum(), true, true},
		{mesos.LinuxInfo_SHARE_PARENT.Enum(), false, false},
	} {
		ci := mesosContainer()
		ci.LinuxInfo = &mesos.LinuxInfo{IpcMode: tc.mode}
		_, out := runIn(t, m, "", Config{Command: shell(cmd), ContainerInfo: ci})
		f := strings.Fields(out)
		if len(f) != 2 {
			t.Fatalf("ipc_mode %v: stdout %q", tc.mode, out)
		}
		if own := f[0] != hostIPC; own != tc.ownIPC {
			t.Errorf("ipc_mode %v: own IPC namespace %v, want %v", tc.mode, own, tc.ownIPC)
		}
		_, err := os.Stat("/dev/shm/" + name)
		if private := errors.Is(err, os.ErrNotExist); private != tc.privateShm {
			t.Errorf("ipc_mode %v: private /dev/shm %v, want %v", tc.mode, private, tc.privateShm)
		}
		if tc.privateShm && f[1] != "16" {
			t.Errorf("private /dev/shm of %s MB, want 16 (DefaultShmSize)", f[1])
		}
		os.Remove("/dev/shm/" + name)
	}
	ci := mesosContainer()
	ci.LinuxInfo = &mesos.LinuxInfo{ShmSize: proto.Uint32(8)}
	if _, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci}); err == nil || !strings.Contains(err.Error(), "ipc_mode=PRIVATE") {
		t.Errorf("shm_size without PRIVATE: %v", err)
	}
}

func TestNewLinuxIsolators(t *testing.T) {
	for names, want := range map[string]string{
		"filesystem/linux,cgroups/fly":     `unknown isolator "cgroups/fly"`,
		"namespaces/pid":                   "the namespaces/pid isolator requires the filesystem/linux isolator",
		"volume/host_path,posix/rlimits":   "the volume/host_path isolator requires the filesystem/linux isolator",
		"posix/cpu,filesystem/linux":       "",
		"posix/rlimits,linux/capabilities": "",
	} {
		isos, err := NewLinuxIsolators(strings.Split(names, ","), LinuxOptions{WorkDir: "/w"})
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", names, err)
		case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
			t.Errorf("%s: %v, want %q", names, err, want)
		case want == "" && len(isos) != 1 && len(isos) != 2:
			t.Errorf("%s: %d isolators", names, len(isos))
		}
	}
	// Without a provisioner (--image_providers=docker) images are
	// refused, naming the flag.
	m := linuxMezzo(t, "filesystem/linux", LinuxOptions{})
	ci := mesosContainer()
	ci.Mesos = &mesos.ContainerInfo_MesosInfo{Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("busybox")}}}
	if _, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci}); err == nil || !strings.Contains(err.Error(), "need --image_providers=docker") {
		t.Errorf("image: %v", err)
	}
	// APPC images are refused by name.
	ci.Mesos.Image = &mesos.Image{Type: mesos.Image_APPC.Enum()}
	if _, err := launchIn(t, m, t.TempDir(), Config{Command: shell("true"), ContainerInfo: ci}); err == nil || !strings.Contains(err.Error(), "APPC is not supported") {
		t.Errorf("APPC image: %v", err)
	}
}

// recordingIsolator records the launch Prepare saw last.
type recordingIsolator struct {
	prepareOnly
	user **launcher.User
}

func (recordingIsolator) Name() string { return "test/record" }

func (r recordingIsolator) Prepare(_ context.Context, _ *mesos.ContainerID, _ *Config, launch *launcher.Isolation) error {
	*r.user = launch.User
	return nil
}

// The agent's own user needs no switch; another is resolved for the
// helper.
func TestLinuxUserOfTheAgent(t *testing.T) {
	needRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var seen *launcher.User
	m := NewMezzo(MezzoConfig{Isolators: []Isolator{recordingIsolator{user: &seen}}, Helper: exe})
	runIn(t, m, "", Config{Command: shell("true"), User: "root"})
	if seen != nil {
		t.Errorf("the agent's own user is switched to: %+v", seen)
	}
	runIn(t, m, userSandbox(t, "nobody"), Config{Command: shell("true"), User: "nobody"})
	if seen == nil || seen.UID != 65534 || seen.Name != "nobody" {
		t.Errorf("nobody resolved as %+v", seen)
	}
}
