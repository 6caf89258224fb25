package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries built once for all tests.
var bin struct {
	dir       string
	mezzo     string
	framework string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mezzo-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.dir = dir
	// Executors running as another user (--switch_user) run the binary.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.mezzo = filepath.Join(dir, "mezzo")
	bin.framework = filepath.Join(dir, "test-framework")
	for _, b := range [][2]string{{bin.mezzo, "../cmd/mezzo"}, {bin.framework, "../examples/test-framework"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[1], err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a mezzo process started by a test; it is killed (with its
// process group) when the test ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	args = ownCgroupsRoot(args)
	for _, a := range args {
		if root, ok := strings.CutPrefix(a, "--cgroups_root=mezzo-e2e-"); ok {
			// After the agent stopped (cleanups run last first).
			t.Cleanup(func() { removeCgroups("mezzo-e2e-" + root) })
		}
	}
	p := &proc{name: name, cmd: exec.Command(bin.mezzo, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("---- output of %s ----\n%s", name, p.out.String())
		}
	})
	return p
}

// ownCgroupsRoot gives an agent started by a test a cgroups root of its
// own, named by its work directory (so that it stays the same across a
// restart): agents sharing one would destroy each other's containers as
// orphans, and tests run side by side.
func ownCgroupsRoot(args []string) []string {
	if len(args) == 0 || args[0] != "agent" {
		return args
	}
	work := ""
	for _, a := range args {
		if strings.HasPrefix(a, "--cgroups_root=") {
			return args
		}
		if v, ok := strings.CutPrefix(a, "--work_dir="); ok {
			work = v
		}
	}
	sum := sha256.Sum256([]byte(work))
	return append(append([]string(nil), args...), fmt.Sprintf("--cgroups_root=mezzo-e2e-%x", sum[:6]))
}

// removeCgroups removes what is left of an agent's cgroups root, once
// empty, from every hierarchy under /sys/fs/cgroup (best effort: a
// container still running keeps its cgroup and the root).
func removeCgroups(root string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", root))
	if d := filepath.Join("/sys/fs/cgroup", root); dirExists(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		subs, _ := os.ReadDir(d)
		for _, e := range subs {
			if e.IsDir() {
				os.Remove(filepath.Join(d, e.Name()))
			}
		}
		os.Remove(d)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// stop sends SIGTERM, then SIGKILL to the process group after 10 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// cluster is a master and its agents, each a separate process.
type cluster struct {
	master string // host:port
	work   string
	agents []*proc
}

// startCluster starts a master and n agents on loopback and waits until the
// master reports every agent registered.
func startCluster(t *testing.T, n int, agentResources string) *cluster {
	t.Helper()
	return startClusterWith(t, n, agentResources)
}

// startClusterWith is startCluster with extra flags for every agent.
func startClusterWith(t *testing.T, n int, agentResources string, agentFlags ...string) *cluster {
	t.Helper()
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	mport := freePort(t)
	c := &cluster{master: fmt.Sprintf("127.0.0.1:%d", mport), work: work}
	start(t, "master", "master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", mport),
		"--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms")
	waitFor(t, 20*time.Second, "master health", func() error {
		return httpOK("http://" + c.master + "/health")
	})
	for i := 0; i < n; i++ {
		args := []string{"agent", "--master=" + c.master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
			"--work_dir=" + filepath.Join(work, fmt.Sprintf("agent%d", i))}
		if agentResources != "" {
			args = append(args, "--resources="+agentResources)
		}
		args = append(args, agentFlags...)
		c.agents = append(c.agents, start(t, fmt.Sprintf("agent%d", i), args...))
	}
	waitFor(t, 30*time.Second, "agents registered", func() error {
		var st struct {
			Activated float64 `json:"activated_slaves"`
		}
		if err := getJSON("http://"+c.master+"/master/state", &st); err != nil {
			return err
		}
		if int(st.Activated) != n {
			return fmt.Errorf("%v of %d agents active", st.Activated, n)
		}
		return nil
	})
	return c
}

func httpOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitFor polls cond until it returns nil or the deadline passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	delay := 10 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(delay)
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
}

// run runs a command to completion with a time limit and returns its
// combined output and exit code.
func run(t *testing.T, limit time.Duration, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\n%s", name, strings.Join(args, " "), limit, out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), code
}

// sandboxFiles globs pattern and drops the paths through the "latest"
// symlink that Mesos' sandbox layout keeps beside each run.
func sandboxFiles(pattern string) []string {
	all, _ := filepath.Glob(pattern)
	var out []string
	for _, p := range all {
		if !strings.Contains(p, string(filepath.Separator)+"latest"+string(filepath.Separator)) {
			out = append(out, p)
		}
	}
	return out
}
