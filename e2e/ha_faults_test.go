package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitLongRunning starts a checkpointing framework's long task through
// the cluster's ZooKeeper URL and waits until it runs.
func (c *haCluster) startLongTask(t *testing.T, name string) *proc {
	t.Helper()
	p := start(t, "execute-"+name, "execute", "--master="+c.url, "--checkpoint", "--name="+name,
		"--command=sleep 600", "--resources=cpus:0.1;mem:32")
	waitFor(t, 30*time.Second, name+" running", func() error {
		if !strings.Contains(p.out.String(), "TASK_RUNNING") {
			return fmt.Errorf("not running yet")
		}
		return nil
	})
	return p
}

// checkAfterFailover checks that the long task is still running and was
// never reported otherwise, and that a new task runs.
func (c *haCluster) checkAfterFailover(t *testing.T, long *proc, name string) {
	t.Helper()
	waitFor(t, time.Minute, name+" known to the leader as running", func() error {
		l := c.leader(t)
		if l < 0 {
			return fmt.Errorf("no leader")
		}
		var st struct {
			Tasks []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"tasks"`
		}
		if err := getJSON("http://"+c.addrs[l]+"/master/tasks", &st); err != nil {
			return err
		}
		for _, tk := range st.Tasks {
			if tk.Name == name && tk.State == "TASK_RUNNING" {
				return nil
			}
		}
		return fmt.Errorf("tasks %v", st.Tasks)
	})
	for _, bad := range []string{"TASK_LOST", "TASK_FAILED", "TASK_KILLED", "TASK_GONE", "TASK_DROPPED"} {
		if strings.Contains(long.out.String(), bad) {
			t.Fatalf("%s was reported %s:\n%s", name, bad, long.out.String())
		}
	}
	// Nothing reported twice: the framework saw TASK_RUNNING once from its
	// executor (answers to its reconciliation after re-subscribing aside).
	running := 0
	for _, u := range strings.Split(long.out.String(), "Received status update ")[1:] {
		if strings.HasPrefix(u, "TASK_RUNNING") && !strings.Contains(u, "REASON_RECONCILIATION") {
			running++
		}
	}
	if running != 1 {
		t.Fatalf("%s: TASK_RUNNING delivered %d times:\n%s", name, running, long.out.String())
	}
	out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+c.url, "--name=after-"+name, "--command=true",
		"--resources=cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") {
		t.Fatalf("a task after the failover: exit %d\n%s", code, out)
	}
}

// restart starts master i again with its arguments, as its supervisor
// would after it exited.
func (c *haCluster) restart(t *testing.T, i int) {
	t.Helper()
	c.masters[i] = start(t, fmt.Sprintf("master%d-again", i), c.masters[i].cmd.Args[1:]...)
	c.history = append(c.history, c.masters[i])
}

// A leader cut off from ZooKeeper (not killed) stops leading at once and
// exits; another master leads, and the cluster goes on.
func TestMasterCutOffFromZooKeeper(t *testing.T) {
	c := startHACluster(t, 2, true)
	long := c.startLongTask(t, "long-cut")
	first := c.leader(t)
	churn := c.keepLaunching(t)
	time.Sleep(2 * time.Second)
	for _, p := range c.proxies[first] {
		p.Cut()
	}
	select {
	case <-c.masters[first].done:
	case <-time.After(30 * time.Second):
		t.Fatal("the cut-off leader is still running")
	}
	if out := c.masters[first].out.String(); !strings.Contains(out, "lost leadership") {
		t.Fatalf("the cut-off leader ended without saying it lost leadership:\n%s", out)
	}
	next := c.waitLeader(t, first)
	// No overlap: the old leader stopped before the next was elected.
	stopped := logTime(t, c.masters[first], "lost leadership")
	elected := logTime(t, c.masters[next], "elected leading master")
	if !stopped.Before(elected) {
		t.Fatalf("split brain: master %d stopped leading at %s, after master %d was elected at %s", first, stopped, next, elected)
	}
	t.Logf("the cut-off leader stopped %v before the next was elected", elected.Sub(stopped))
	c.waitAgents(t, 2, time.Minute)
	c.checkAfterFailover(t, long, "long-cut")
	finished, failed := churn()
	t.Logf("%d short tasks finished and %d runs failed across the failover", finished, failed)
	requireTerms(t, c.checkNoSplitBrain(t), c.masters[first].name)
}

// logTime returns the time of the first log line of p that contains
// what (the daemons' text logs start with time=<RFC 3339>).
func logTime(t *testing.T, p *proc, what string) time.Time {
	t.Helper()
	for _, line := range strings.Split(p.out.String(), "\n") {
		if !strings.Contains(line, what) || !strings.HasPrefix(line, "time=") {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("%s: bad time in %q: %v", p.name, line, err)
		}
		return tm
	}
	t.Fatalf("%s never logged %q:\n%s", p.name, what, p.out.String())
	return time.Time{}
}

// One ZooKeeper server of three killed changes nothing; the loss of the
// ensemble's quorum stops every master (no leader, nothing written), and
// when quorum is back the masters, restarted, elect a leader that knows
// the agents and the running task.
func TestZooKeeperServerAndQuorumLoss(t *testing.T) {
	c := startHACluster(t, 2, false)
	long := c.startLongTask(t, "long-quorum")
	first := c.leader(t)
	// A follower: killing ZooKeeper's leader starts an election among the
	// others, which may outlast the masters' 2 s sessions on a loaded
	// machine (the masters then rightly step down).
	down := c.zk.Follower()
	c.zk.Stop(down)
	out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+c.url, "--name=one-server-down", "--command=true",
		"--resources=cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") {
		t.Fatalf("a task with one ZooKeeper server down: exit %d\n%s", code, out)
	}
	if l := c.leader(t); l != first {
		t.Fatalf("leader %d, want %d still", l, first)
	}

	other := (down + 1) % 3
	c.zk.Stop(other)
	for i, m := range c.masters {
		select {
		case <-m.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("master %d still runs without a ZooKeeper quorum", i)
		}
	}
	c.zk.Restart(down)
	c.zk.Restart(other)
	for i := range c.masters {
		c.restart(t, i)
	}
	c.waitLeader(t, -1)
	c.waitAgents(t, 2, time.Minute)
	c.checkAfterFailover(t, long, "long-quorum")
	if err := syscall.Kill(long.cmd.Process.Pid, 0); err != nil {
		t.Fatalf("the framework process died: %v", err)
	}
}
