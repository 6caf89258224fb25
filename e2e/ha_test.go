package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/internal/zktest"
)

// haCluster is three masters electing their leader in a real ZooKeeper
// ensemble, and agents following the leader.
type haCluster struct {
	zk      *zktest.Ensemble
	url     string
	masters []*proc
	// history holds every master process started, restarted ones too,
	// for the split-brain check.
	history []*proc
	addrs   []string
	agents  []*proc
	// proxies[i] stand between master i and each ZooKeeper server, when
	// the test cuts masters off.
	proxies [][]*partitionProxy
}

// startHACluster starts three masters (session timeout 2 s) and the
// agents; with proxied, each master reaches ZooKeeper through proxies
// the test can cut.
func startHACluster(t *testing.T, agents int, proxied bool) *haCluster {
	t.Helper()
	c := &haCluster{zk: zktest.Start(t, 3)}
	c.url = "zk://" + c.zk.Connect() + "/mezzo"
	work := t.TempDir()
	for i := range 3 {
		url := c.url
		if proxied {
			var ps []*partitionProxy
			var addrs []string
			for _, s := range c.zk.Servers() {
				p := newPartitionProxy(t, s)
				ps = append(ps, p)
				addrs = append(addrs, p.Addr())
			}
			c.proxies = append(c.proxies, ps)
			url = "zk://" + strings.Join(addrs, ",") + "/mezzo"
		}
		port := freePort(t)
		c.addrs = append(c.addrs, fmt.Sprintf("127.0.0.1:%d", port))
		c.masters = append(c.masters, start(t, fmt.Sprintf("master%d", i), "master", "--ip=127.0.0.1",
			fmt.Sprintf("--port=%d", port), "--work_dir="+filepath.Join(work, fmt.Sprintf("master%d", i)),
			"--zk="+url, "--quorum=2", "--zk_session_timeout=2secs", "--allocation_interval=100ms",
			// Debug logs record every offer sent and task launched.
			"--logging_level=DEBUG"))
		c.history = append(c.history, c.masters[i])
	}
	c.waitLeader(t, -1)
	for i := range agents {
		c.agents = append(c.agents, start(t, fmt.Sprintf("agent%d", i), "agent", "--master="+c.url, "--ip=127.0.0.1",
			fmt.Sprintf("--port=%d", freePort(t)), "--work_dir="+filepath.Join(work, fmt.Sprintf("agent%d", i)),
			"--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]"))
	}
	c.waitAgents(t, agents, time.Minute)
	return c
}

// leader returns the index of the master that says it is elected, -1
// when none does; it fails when two do.
func (c *haCluster) leader(t *testing.T) int {
	t.Helper()
	leader := -1
	for i, a := range c.addrs {
		var m map[string]float64
		if getJSON("http://"+a+"/metrics/snapshot", &m) != nil || m["master/elected"] != 1 {
			continue
		}
		if leader >= 0 {
			t.Fatalf("masters %d and %d both say they lead", leader, i)
		}
		leader = i
	}
	return leader
}

// waitLeader waits until a master other than not leads and returns it.
func (c *haCluster) waitLeader(t *testing.T, not int) int {
	t.Helper()
	l := -1
	waitFor(t, 30*time.Second, "a leading master", func() error {
		if l = c.leader(t); l < 0 || l == not {
			return fmt.Errorf("no new leader yet")
		}
		return nil
	})
	return l
}

// waitAgents waits until the leader has n active agents.
func (c *haCluster) waitAgents(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	waitFor(t, limit, fmt.Sprintf("%d agents registered with the leader", n), func() error {
		l := c.leader(t)
		if l < 0 {
			return fmt.Errorf("no leader")
		}
		var st struct {
			Activated float64 `json:"activated_slaves"`
		}
		if err := getJSON("http://"+c.addrs[l]+"/master/state", &st); err != nil {
			return err
		}
		if int(st.Activated) != n {
			return fmt.Errorf("%v of %d agents active", st.Activated, n)
		}
		return nil
	})
}

// TestMasterFailover kills the leading master of three under a running
// task: a standby is elected, the agents and the framework move to it on
// their own, the task keeps running without being reported lost, and
// new tasks run.
func TestMasterFailover(t *testing.T) {
	c := startHACluster(t, 2, false)
	first := c.leader(t)

	// A standby sends clients to the leader.
	standby := (first + 1) % 3
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("http://" + c.addrs[standby] + "/master/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasSuffix(loc, c.addrs[first][strings.LastIndex(c.addrs[first], ":"):]) {
		t.Fatalf("standby's /master/redirect: %d %q, want 307 to %s", resp.StatusCode, loc, c.addrs[first])
	}
	out, code := run(t, 30*time.Second, bin.mezzo, "resolve", c.url)
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), c.addrs[first][strings.LastIndex(c.addrs[first], ":"):]) {
		t.Fatalf("mezzo resolve: %d %q, want the leader %s", code, out, c.addrs[first])
	}

	// The CLI finds the leader through ZooKeeper.
	out, code = run(t, 30*time.Second, bin.mezzo, "agents", "--master="+c.url)
	if code != 0 || strings.Count(out, " active ") != 2 {
		t.Fatalf("mezzo agents --master=%s: exit %d\n%s", c.url, code, out)
	}

	long := c.startLongTask(t, "long")
	churn := c.keepLaunching(t)
	// Let the churn run on the first leader for a moment.
	time.Sleep(2 * time.Second)

	killed := time.Now()
	if err := syscall.Kill(c.masters[first].cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next := c.waitLeader(t, first)
	elected := time.Since(killed)
	c.waitAgents(t, 2, time.Minute)
	reregistered := time.Since(killed)
	c.checkAfterFailover(t, long, "long")
	finished, failed := churn()
	terms := c.checkNoSplitBrain(t)
	requireTerms(t, terms, c.masters[first].name)
	offering := readMastership(t, c.masters[next]).offers
	if len(offering) == 0 {
		t.Fatalf("the new leader sent no offers")
	}
	t.Logf("leader killed: new leader after %v, sending offers after %v, both agents re-registered after %v (session timeout 2s); %d short tasks finished and %d runs failed across the failover",
		elected, offering[0].Sub(killed), reregistered, finished, failed)
}
