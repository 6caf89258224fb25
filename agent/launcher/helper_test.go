package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher/helper"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// needRoot skips a test that needs root (namespaces, mounts, users).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: namespaces, mounts and user switches")
	}
}

// helperBinary is the launch helper of these tests: the test binary (TestMain).
func helperBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// sandboxFor returns a new directory that u owns and can reach (t.TempDir
// is inside a directory only root may enter); it is removed when the test
// ends.
func sandboxFor(t *testing.T, u *User) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mezzo-launcher-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shell is a shell command.
func shell(cmd string) *mesos.CommandInfo { return &mesos.CommandInfo{Value: proto.String(cmd)} }

// startIsolated starts cmd in dir through the helper with iso (Helper
// filled in) and destroys it when the test ends.
func startIsolated(t *testing.T, dir, cmd string, iso Isolation, isolate func(int) error) (*Process, error) {
	t.Helper()
	iso.Helper = helperBinary(t)
	p, err := Start(Spec{Command: shell(cmd), Dir: dir, NewSession: true, Isolation: &iso, Isolate: isolate})
	if err == nil {
		t.Cleanup(func() { p.Destroy(); <-p.Done() })
	}
	return p, err
}

// run starts cmd like startIsolated, waits for it and returns its stdout
// and wait status.
func run(t *testing.T, cmd string, iso Isolation) (string, syscall.WaitStatus) {
	t.Helper()
	dir := t.TempDir()
	if iso.User != nil {
		dir = sandboxFor(t, iso.User)
	}
	p, err := startIsolated(t, dir, cmd, iso, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("%q did not end", cmd)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	if ws := p.Status(); !ws.Exited() || ws.ExitStatus() != 0 {
		errOut, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		t.Logf("%q %s; stderr: %s", cmd, DescribeStatus(ws), errOut)
	}
	return string(out), p.Status()
}

const pidMount = unix.CLONE_NEWPID | unix.CLONE_NEWNS

func TestHelperPidNamespaceSeesOnlyItsOwn(t *testing.T) {
	needRoot(t)
	host, err := Start(Spec{Command: shell("exec sleep 300"), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { host.Kill() }()
	cmd := fmt.Sprintf(`ls /proc | grep -c '^[0-9]'; if kill -0 %d 2>/dev/null; then echo signalled; else echo refused; fi`, host.Pid())
	out, ws := run(t, cmd, Isolation{Namespaces: pidMount})
	lines := strings.Fields(out)
	if len(lines) != 2 || ws != 0 {
		t.Fatalf("output %q, %s", out, DescribeStatus(ws))
	}
	if n, _ := strconv.Atoi(lines[0]); n < 1 || n > 4 {
		t.Errorf("the container sees %s processes in /proc, want only its own (init, the shell, ls, grep)", lines[0])
	}
	if lines[1] != "refused" {
		t.Errorf("kill -0 of the host's pid %d inside the namespace: %s", host.Pid(), lines[1])
	}
	// The host's /proc is untouched.
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", host.Pid())); err != nil {
		t.Errorf("host /proc after the container's: %v", err)
	}
}

// The command gets the request's environment, none of the helper's own
// (its marker, GOMAXPROCS), with or without a pid namespace.
func TestHelperEnvironmentNotPassedOn(t *testing.T) {
	needRoot(t)
	for _, iso := range []Isolation{{}, {Namespaces: pidMount}} {
		dir := t.TempDir()
		p, err := Start(Spec{Command: shell("env"), Dir: dir, NewSession: true, Env: map[string]string{"ONLY": "this"},
			Isolation: &Isolation{Helper: helperBinary(t), Namespaces: iso.Namespaces}})
		if err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		out, err := os.ReadFile(filepath.Join(dir, "stdout"))
		if err != nil {
			t.Fatal(err)
		}
		env := string(out)
		if !strings.Contains(env, "ONLY=this") {
			t.Errorf("namespaces %#x: the request's environment is missing: %q", iso.Namespaces, env)
		}
		for _, kv := range helper.Environ {
			if name, _, _ := strings.Cut(kv, "="); strings.Contains(env, name+"=") {
				t.Errorf("namespaces %#x: the command got the helper's %s: %q", iso.Namespaces, name, env)
			}
		}
	}
}

func TestHelperStatusAsWithoutHelper(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		iso  Isolation
	}{
		{"plain", Isolation{}},
		{"mount namespace", Isolation{Namespaces: unix.CLONE_NEWNS}},
		{"pid namespace", Isolation{Namespaces: pidMount}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for cmd, want := range map[string]string{
				"exit 7":        "exited with status 7",
				"kill -KILL $$": "terminated with signal Killed",
				"kill -TERM $$": "terminated with signal Terminated",
				"true":          "exited with status 0",
			} {
				iso := tc.iso
				if _, ws := run(t, cmd, iso); DescribeStatus(ws) != want {
					t.Errorf("%q: %s, want %s", cmd, DescribeStatus(ws), want)
				}
			}
		})
	}
}

func TestHelperSignalReachesCommand(t *testing.T) {
	needRoot(t)
	for name, ns := range map[string]uintptr{"no namespace": 0, "pid namespace": pidMount} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := startIsolated(t, dir, `trap 'echo got TERM; exit 3' TERM; touch ready; while :; do sleep 0.01; done`,
				Isolation{Namespaces: ns}, func(int) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "the trap", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if got := DescribeStatus(p.Status()); got != "exited with status 3" {
				t.Errorf("after SIGTERM: %s, want exited with status 3", got)
			}
			if out, _ := os.ReadFile(filepath.Join(dir, "stdout")); string(out) != "got TERM\n" {
				t.Errorf("stdout %q: the signal must arrive exactly once", out)
			}
		})
	}
}

func TestHelperDestroyEndsNamespace(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	// The background sleeper leaves the command's process group and
	// session: only the namespace's end reaches it.
	p, err := startIsolated(t, dir, `setsid sleep 300 & sleep 300 & echo ready > ready; wait`, Isolation{Namespaces: pidMount}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the command", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	var members func() []int
	members = func() []int {
		var out []int
		for _, pid := range pids() {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && l == ns && !zombie(pid) {
				out = append(out, pid)
			}
		}
		return out
	}
	eventually(t, "both sleepers", func() bool { return len(members()) >= 4 })
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if got := DescribeStatus(p.Status()); got != "terminated with signal Killed" {
		t.Errorf("status %s", got)
	}
	eventually(t, "every process of the namespace to die", func() bool { return len(members()) == 0 })
}

// Destroy of a pid namespace's init, which skips the search of its
// session, still ends every process of the session, those in process
// groups of their own included, and of the namespace.
func TestHelperDestroyEndsSessionInNamespace(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p, err := startIsolated(t, dir, `(set -m; sleep 300 & wait) & setsid sleep 300 & sleep 300 & echo ready > ready; wait`,
		Isolation{Namespaces: pidMount}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the command", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
	sid := p.Pid()
	session := func() []int {
		var out []int
		for _, pid := range pids() {
			if s, err := unix.Getsid(pid); err == nil && s == sid && !zombie(pid) {
				out = append(out, pid)
			}
		}
		return out
	}
	eventually(t, "the session's sleepers", func() bool { return len(session()) >= 5 })
	p.Destroy()
	<-p.Done()
	if got := session(); len(got) != 0 {
		t.Errorf("processes of the session left once the init was reaped: %v", got)
	}
}

func TestHelperInitReapsOrphans(t *testing.T) {
	needRoot(t)
	// Each subshell's sleeper is orphaned at once and ends soon after:
	// the helper, init of the namespace, must reap them all.
	cmd := `for i in 1 2 3 4 5; do (sleep 0.01 &); done; sleep 0.5; grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l`
	out, ws := run(t, cmd, Isolation{Namespaces: pidMount})
	if ws != 0 || strings.TrimSpace(out) != "0" {
		t.Errorf("zombies left in the namespace: %q (%s)", out, DescribeStatus(ws))
	}
}

func TestHelperIsolateBeforeCommand(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	var got int
	p, err := startIsolated(t, dir, `cat isolated`, Isolation{Namespaces: pidMount}, func(pid int) error {
		got = pid
		return os.WriteFile(filepath.Join(dir, "isolated"), []byte(strconv.Itoa(pid)), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != p.Pid() {
		t.Errorf("Isolate got pid %d, the process is %d", got, p.Pid())
	}
	if ws := p.Status(); ws != 0 {
		t.Errorf("the command did not find what Isolate wrote: %s", DescribeStatus(ws))
	}

	// An Isolate error fails Start and kills the helper.
	boom := errors.New("no cgroup for you")
	var pid int
	_, err = startIsolated(t, t.TempDir(), `touch ran`, Isolation{}, func(p int) error { pid = p; return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Start: %v, want the Isolate error", err)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("helper %d still exists after Isolate failed", pid)
	}
}

func TestHelperSetupErrors(t *testing.T) {
	needRoot(t)
	missing := filepath.Join(t.TempDir(), "data")
	target := filepath.Join(t.TempDir(), "x")
	for _, tc := range []struct {
		name string
		cmd  *mesos.CommandInfo
		iso  Isolation
		want string
	}{
		{"missing mount source", shell("true"), Isolation{Namespaces: unix.CLONE_NEWNS, Mounts: []Mount{{Source: missing, Target: target}}},
			fmt.Sprintf("mount %s on %s: no such file or directory", missing, target)},
		{"unknown capability", shell("true"), Isolation{Capabilities: &Capabilities{Bounding: []string{"CAP_FLY"}}},
			`unknown capability "CAP_FLY"`},
		{"command not found", &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("no-such-binary")}, Isolation{Namespaces: pidMount},
			`executable "no-such-binary" not found in PATH`},
		{"bad rlimit", shell("true"), Isolation{Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 10, Hard: 5}}},
			"set rlimit RLMT_NOFILE (soft 10, hard 5): invalid argument"},
		{"mounts without a mount namespace", shell("true"), Isolation{Mounts: []Mount{{Source: "/", Target: target}}},
			"mounts need a mount namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iso := tc.iso
			iso.Helper = helperBinary(t)
			p, err := Start(Spec{Command: tc.cmd, Dir: t.TempDir(), NewSession: true, Isolation: &iso})
			if err == nil {
				p.Kill()
				t.Fatalf("started; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("%s was created on the host", target)
	}
}

func TestHelperMounts(t *testing.T) {
	needRoot(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "in"), []byte("hello"), 0o644)
	sandbox := t.TempDir()
	ro := filepath.Join(sandbox, "ro")
	rw := filepath.Join(sandbox, "deep", "rw")
	shm := filepath.Base(sandbox)
	cmd := `cat ro/in; if (echo x > ro/new) 2>/dev/null; then echo ro-writable; fi; echo y > deep/rw/new && echo rw-ok; ` +
		`touch /dev/shm/` + shm + ` && ls /dev/shm`
	iso := Isolation{Helper: helperBinary(t), Namespaces: unix.CLONE_NEWNS | unix.CLONE_NEWIPC, Mounts: []Mount{
		{Source: src, Target: ro, ReadOnly: true},
		{Source: src, Target: rw},
		{Type: "tmpfs", Source: "tmpfs", Target: "/dev/shm", Data: "mode=1777"},
	}}
	p, err := Start(Spec{Command: shell(cmd), Dir: sandbox, Isolation: &iso})
	if err != nil {
		t.Fatal(err)
	}
	p.Status()
	out, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
	if want := "hellorw-ok\n" + shm + "\n"; string(out) != want {
		errOut, _ := os.ReadFile(filepath.Join(sandbox, "stderr"))
		t.Errorf("stdout %q, want %q (stderr %s)", out, want, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(src, "new")); err != nil || string(b) != "y\n" {
		t.Errorf("the read-write mount's write: %q, %v", b, err)
	}
	// Nothing of it is left on the host.
	if _, err := os.Stat("/dev/shm/" + shm); err == nil {
		os.Remove("/dev/shm/" + shm)
		t.Errorf("the container's /dev/shm is the host's")
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), sandbox) {
		t.Errorf("a container mount shows on the host")
	}
}

func TestHelperRlimits(t *testing.T) {
	needRoot(t)
	out, _ := run(t, `ulimit -n; ulimit -Hn; ulimit -c`, Isolation{Rlimits: []Rlimit{
		{Resource: unix.RLIMIT_NOFILE, Soft: 512, Hard: 1024},
		{Resource: unix.RLIMIT_CORE, Soft: RlimInfinity, Hard: RlimInfinity},
	}})
	if out != "512\n1024\nunlimited\n" {
		t.Errorf("ulimit shows %q", out)
	}
}

// capMask is the bit mask of capability numbers.
func capMask(cs ...int) uint64 {
	var m uint64
	for _, c := range cs {
		m |= 1 << c
	}
	return m
}

// capLine returns a /proc/<pid>/status capability line's mask.
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

func TestHelperCapabilities(t *testing.T) {
	needRoot(t)
	nobody, err := LookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	want := capMask(unix.CAP_NET_RAW, unix.CAP_NET_BIND_SERVICE)
	caps := &Capabilities{Bounding: []string{"CAP_NET_RAW", "NET_BIND_SERVICE", "CAP_CHOWN"}, Effective: []string{"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"}}
	for name, u := range map[string]*User{"root": nil, "nobody": nobody} {
		t.Run(name, func(t *testing.T) {
			out, ws := run(t, `cat /proc/self/status`, Isolation{Capabilities: caps, User: u})
			if ws != 0 {
				t.Fatal(DescribeStatus(ws))
			}
			if got := capLine(t, out, "CapBnd"); got != want|capMask(unix.CAP_CHOWN) {
				t.Errorf("CapBnd %x, want %x", got, want|capMask(unix.CAP_CHOWN))
			}
			if u != nil {
				// As root the command regains its bounding set on exec.
				if got := capLine(t, out, "CapEff"); got != want {
					t.Errorf("CapEff %x, want %x", got, want)
				}
			}
		})
	}
	// Dropping everything.
	out, _ := run(t, `cat /proc/self/status`, Isolation{Capabilities: &Capabilities{Effective: []string{}}})
	for _, line := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if got := capLine(t, out, line); got != 0 {
			t.Errorf("%s %x, want none", line, got)
		}
	}
}

func TestHelperUser(t *testing.T) {
	needRoot(t)
	nobody, err := LookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	if nobody.UID != 65534 {
		t.Errorf("nobody's uid %d", nobody.UID)
	}
	dir := sandboxFor(t, nobody)
	for name, ns := range map[string]uintptr{"exec": 0, "init": pidMount} {
		t.Run(name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, "stdout"))
			p, err := startIsolated(t, dir, `id -u; id -g; echo "$HOME $USER"; pwd`, Isolation{User: nobody, Namespaces: ns}, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.Status()
			out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
			want := fmt.Sprintf("65534\n%d\n%s nobody\n%s\n", nobody.GID, nobody.Home, dir)
			if string(out) != want {
				t.Errorf("stdout %q, want %q", out, want)
			}
		})
	}
	if _, err := LookupUser("no-such-user-here"); !errors.Is(err, ErrUnknownUser) || err.Error() != `user "no-such-user-here" does not exist` {
		t.Errorf("unknown user: %v", err)
	}
	if u, err := LookupUser("0"); err != nil || u.Name != "root" {
		t.Errorf("uid 0: %+v, %v", u, err)
	}
}

// BenchmarkStart measures Start until the command has run (`true`, to
// its end) without the helper, through it, and through it with a pid
// and mount namespace.
func BenchmarkStart(b *testing.B) {
	needRoot(b)
	dir := b.TempDir()
	for _, bc := range []struct {
		name string
		iso  *Isolation
	}{
		{"direct", nil},
		{"helper", &Isolation{Helper: helperBinary(b)}},
		{"helper-mount-ns", &Isolation{Helper: helperBinary(b), Namespaces: unix.CLONE_NEWNS}},
		{"helper-pid-ns", &Isolation{Helper: helperBinary(b), Namespaces: pidMount}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cmd := &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/true")}
			for b.Loop() {
				s := Spec{Command: cmd, Dir: dir, NewSession: true, Isolation: bc.iso}
				if bc.iso != nil {
					s.Isolate = func(int) error { return nil }
				}
				p, err := Start(s)
				if err != nil {
					b.Fatal(err)
				}
				if ws := p.Status(); ws != 0 {
					b.Fatalf("true: %s", DescribeStatus(ws))
				}
			}
		})
	}
}
