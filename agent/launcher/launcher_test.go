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
