package launcher

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func TestStartEnvironmentAndStatus(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{
		Command: &mesos.CommandInfo{Value: proto.String(`echo "$FOO:$PATH:$HOME"; pwd; exit 7`)},
		Env:     map[string]string{"FOO": "bar"},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	ws := p.Status()
	if got := DescribeStatus(ws); got != "exited with status 7" {
		t.Errorf("status %q", got)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	if want := "bar:" + DefaultPath + ":\n" + dir + "\n"; string(out) != want {
		t.Errorf("stdout %q, want %q (nothing inherited, PATH defaulted, cwd = sandbox)", out, want)
	}
}

func TestArgvAndSignalledStatus(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{
		Command: &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/sh"), Arguments: []string{"sh", "-c", "kill -TERM $$"}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := DescribeStatus(p.Status()); got != "terminated with signal Terminated" {
		t.Errorf("status %q", got)
	}
	if _, err := Start(Spec{Command: &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("no-such-binary")}, Dir: dir}); err == nil ||
		!strings.Contains(err.Error(), "no-such-binary") {
		t.Errorf("missing binary: %v", err)
	}
}

func TestDestroyKillsSession(t *testing.T) {
	dir := t.TempDir()
	// The child moves to its own process group; Destroy still finds it by
	// session.
	p, err := Start(Spec{
		Command:    &mesos.CommandInfo{Value: proto.String(`set -m; sleep 300 & echo $! > pid; wait`)},
		Dir:        dir,
		NewSession: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var child int
	eventually(t, "the child's pid", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "pid"))
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return child > 0
	})
	p.Destroy()
	<-p.Done()
	// The orphaned child is reaped by init; it must not be running.
	eventually(t, "the child to die", func() bool {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		return err != nil || strings.Contains(string(st), ") Z ")
	})
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKillLeftovers(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	startIn := func(sandbox string) *Process {
		t.Helper()
		p, err := Start(Spec{
			Command: &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/sleep"),
				Arguments: []string{"sleep", "300"}},
			Env:        map[string]string{"MESOS_SANDBOX": sandbox},
			Dir:        t.TempDir(),
			NewSession: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Destroy)
		return p
	}
	leftover := startIn(filepath.Join(root, "slaves", "S0", "frameworks", "F", "executors", "e", "runs", "c"))
	kept := startIn(filepath.Join(root, "slaves", "S0", "frameworks", "F", "executors", "k", "runs", "c"))
	elsewhere := startIn(filepath.Join(other, "slaves", "x"))
	n := KillLeftovers(root, func(sid int) bool { return sid == kept.Pid() })
	if n != 1 {
		t.Errorf("signalled %d processes, want 1", n)
	}
	select {
	case <-leftover.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the leftover process is still running")
	}
	for _, p := range []*Process{kept, elsewhere} {
		select {
		case <-p.Done():
			t.Errorf("process %d was killed", p.Pid())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
