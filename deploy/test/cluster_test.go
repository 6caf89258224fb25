package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cluster is the multi-host cluster of TestCluster and what drives it.
type cluster struct {
	t       *testing.T
	zk      []*host
	masters []*host
	agents  []*host
	conf    string // the scripts' configuration directory
	scripts string // deploy/scripts
	zkURL   string // the ZooKeeper URL by address, for this machine
}

// script runs one of the cluster scripts and returns its output.
func (c *cluster) script(name string, args ...string) (string, error) {
	return command(5*time.Minute, []string{"MEZZO_CONF_DIR=" + c.conf}, filepath.Join(c.scripts, name), args...)
}

func (c *cluster) mustScript(name string, args ...string) string {
	c.t.Helper()
	out, err := c.script(name, args...)
	c.t.Logf("%s:\n%s", name, out)
	if err != nil {
		c.t.Fatalf("%v", err)
	}
	return out
}

type masterState struct {
	Slaves []struct {
		ID       string `json:"id"`
		Hostname string `json:"hostname"`
		Active   bool   `json:"active"`
	} `json:"slaves"`
	Frameworks []struct {
		Tasks []struct {
			ID      string `json:"id"`
			State   string `json:"state"`
			SlaveID string `json:"slave_id"`
		} `json:"tasks"`
	} `json:"frameworks"`
}

// state reads /master/state through any master that answers (a standby
// redirects to the leader).
func (c *cluster) state() (*masterState, error) {
	var last error
	for _, m := range c.masters {
		var st masterState
		if err := getJSON("http://"+m.ip+":5050/master/state", &st); err != nil {
			last = err
			continue
		}
		return &st, nil
	}
	return nil, last
}

// leader is the master whose /metrics/snapshot says it is elected.
func (c *cluster) leader() (*host, error) {
	for _, m := range c.masters {
		var snap map[string]float64
		if getJSON("http://"+m.ip+":5050/metrics/snapshot", &snap) == nil && snap["master/elected"] == 1 {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no master is elected")
}

// running returns the RUNNING tasks by id with their agents, failing
// unless want of them run on want distinct agents, all active.
func (c *cluster) running(want int) (map[string]string, error) {
	st, err := c.state()
	if err != nil {
		return nil, err
	}
	active := 0
	for _, s := range st.Slaves {
		if s.Active {
			active++
		}
	}
	tasks := map[string]string{}
	agents := map[string]bool{}
	for _, f := range st.Frameworks {
		for _, tk := range f.Tasks {
			if tk.State == "TASK_RUNNING" {
				tasks[tk.ID] = tk.SlaveID
				agents[tk.SlaveID] = true
			}
		}
	}
	if active != len(c.agents) || len(tasks) != want || len(agents) != want {
		return nil, fmt.Errorf("%d active agents, %d running tasks on %d agents; want %d agents, %d tasks on as many", active, len(tasks), len(agents), len(c.agents), want)
	}
	return tasks, nil
}

// execute starts `mezzo execute` on this machine: a framework with one
// long task, checkpointed so that it survives its agent's restart.
func (c *cluster) execute(bin, name string) {
	c.t.Helper()
	cmd := exec.Command(bin, "execute", "--master="+c.zkURL, "--name="+name, "--command=sleep 1000",
		"--resources=cpus:1;mem:32", "--checkpoint")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("mezzo execute: %v", err)
	}
	c.t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if c.t.Failed() {
			c.t.Logf("---- mezzo execute %s ----\n%s", name, out.String())
		}
	})
}

// sleepers returns the pids of the tasks' processes on every agent host.
func (c *cluster) sleepers() (string, error) {
	var all []string
	for _, a := range c.agents {
		out, err := a.exec(30*time.Second, "pgrep -x sleep | sort | tr '\\n' ' '")
		if err != nil {
			return "", fmt.Errorf("%s: %v: %s", a.hostname, err, out)
		}
		all = append(all, a.hostname+": "+strings.TrimSpace(out))
	}
	sort.Strings(all)
	return strings.Join(all, "; "), nil
}

// TestCluster brings up three ZooKeeper servers, three masters and three
// agents as separate hosts, with the cluster scripts over ssh; runs a task
// on every agent; stops and starts the leading master's host and an
// agent's host; upgrades every agent, then every master, to a newer build
// while the tasks keep running; and stops the cluster, leaving nothing.
func TestCluster(t *testing.T) {
	need(t, "docker", "ssh", "scp", "ssh-keygen", "curl", "go")
	began := time.Now()
	ensureHostImage(t)
	run := runID(t)
	dir := t.TempDir()
	oldBin := buildMezzo(t, dir, "1.0.0-deploytest")
	newBin := buildMezzo(t, dir, "1.0.1-deploytest")

	// The hosts' image: the Debian root, the older build, this run's key.
	key := filepath.Join(dir, "id_ed25519")
	must(t, time.Minute, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	ctx := filepath.Join(dir, "image")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"authorized_keys": string(pub),
		"host-init":       "#!/bin/sh\n# A host: sshd, with keys of its own.\nmkdir -p /run/sshd && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e\n",
		"Dockerfile": "FROM " + HostImage + "\nCOPY mezzo /usr/bin/mezzo\nCOPY authorized_keys /root/.ssh/authorized_keys\n" +
			"COPY host-init /usr/local/sbin/host-init\nRUN chmod 755 /usr/local/sbin/host-init /usr/bin/mezzo && chmod 600 /root/.ssh/authorized_keys\n" +
			"CMD [\"/usr/local/sbin/host-init\"]\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(ctx, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(oldBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "mezzo"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	image := run + ":hosts"
	must(t, 5*time.Minute, "docker", "build", "-q", "-t", image, ctx)
	t.Cleanup(func() { command(time.Minute, nil, "docker", "rmi", "-f", image) })

	n := newNetwork(t, run)
	c := &cluster{t: t, conf: filepath.Join(dir, "conf"), scripts: filepath.Join(repoRoot(t), "deploy", "scripts")}
	var servers, zkAddrs []string
	for i := 1; i <= 3; i++ {
		servers = append(servers, fmt.Sprintf("server.%d=zk%d:2888:3888", i, i))
	}
	for i := 1; i <= 3; i++ {
		zk := fmt.Sprintf("mkdir -p /var/lib/zk && echo %d >/var/lib/zk/myid && printf '%%s\\n' tickTime=500 initLimit=20 syncLimit=10 dataDir=/var/lib/zk clientPort=2181 "+
			"admin.enableServer=false maxClientCnxns=0 quorumListenOnAllIPs=true %s >/tmp/zoo.cfg && "+
			"exec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dzookeeper.admin.enableServer=false "+
			"-cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar org.apache.zookeeper.server.quorum.QuorumPeerMain /tmp/zoo.cfg",
			i, strings.Join(servers, " "))
		h := startHost(t, run, n, fmt.Sprintf("zk%d", i), 10+i, image, "sh", "-c", zk)
		c.zk = append(c.zk, h)
		zkAddrs = append(zkAddrs, h.ip+":2181")
	}
	c.zkURL = "zk://" + strings.Join(zkAddrs, ",") + "/mezzo"
	var masters, agents []string
	for i := 1; i <= 3; i++ {
		m := startHost(t, run, n, fmt.Sprintf("m%d", i), 20+i, image)
		c.masters = append(c.masters, m)
		masters = append(masters, m.ip)
		a := startHost(t, run, n, fmt.Sprintf("a%d", i), 30+i, image)
		c.agents = append(c.agents, a)
		agents = append(agents, "root@"+a.ip)
	}

	// The scripts' configuration, as an operator writes it.
	zkByName := "zk://zk1:2181,zk2:2181,zk3:2181/mezzo"
	conf := map[string]string{
		"masters": "# the masters\n" + strings.Join(masters, "\n") + "\n",
		"agents":  strings.Join(agents, "\n") + "\n",
		"mezzo-deploy-env.sh": fmt.Sprintf("MEZZO_SSH_OPTS='-i %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5'\n"+
			"MEZZO_RUN_DIR=/run/mezzo\nMEZZO_HEALTH_TIMEOUT=60\n", key),
		"mezzo-master-env.sh": "MEZZO_ZK=" + zkByName + "\nMEZZO_QUORUM=2\nMEZZO_WORK_DIR=/var/lib/mezzo/master\nMEZZO_HOSTNAME_LOOKUP=false\n" +
			"MEZZO_ZK_SESSION_TIMEOUT=4secs\nMEZZO_ALLOCATION_INTERVAL=200ms\n",
		// No cgroups in these containers: the agents isolate nothing.
		"mezzo-agent-env.sh": "MEZZO_MASTER=" + zkByName + "\nMEZZO_WORK_DIR=/var/lib/mezzo/agent\n" +
			"MEZZO_ISOLATION=posix/cpu,posix/mem\nMEZZO_RESOURCES='cpus:1;mem:256;disk:1024'\n",
	}
	if err := os.MkdirAll(c.conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range conf {
		if err := os.WriteFile(filepath.Join(c.conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// sshd is up on every host.
	for _, h := range append(append([]*host{}, c.masters...), c.agents...) {
		waitFor(t, 30*time.Second, "sshd on "+h.hostname, func() error {
			out, err := h.exec(10*time.Second, "test -s /etc/ssh/ssh_host_ed25519_key.pub && pgrep -x sshd")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
	t.Logf("hosts up in %v", time.Since(began).Round(time.Second))

	// 1. Start: masters, then agents, each waited for.
	c.mustScript("mezzo-start-cluster")
	waitFor(t, 60*time.Second, "a leader and three active agents", func() error {
		if _, err := c.leader(); err != nil {
			return err
		}
		_, err := c.running(0)
		return err
	})
	// A framework from this machine, through ZooKeeper: a task on each agent.
	for i := 1; i <= 3; i++ {
		c.execute(oldBin, fmt.Sprintf("task%d", i))
	}
	waitFor(t, 60*time.Second, "a task running on every agent", func() error { _, err := c.running(3); return err })
	t.Logf("cluster up, tasks running, at %v", time.Since(began).Round(time.Second))

	// 2. The leading master's host stops: another master leads, the tasks
	// run on; the host comes back and its master is started again.
	lead, err := c.leader()
	if err != nil {
		t.Fatal(err)
	}
	must(t, time.Minute, "docker", "stop", "-t", "2", lead.name)
	waitFor(t, 60*time.Second, "a new leader", func() error {
		m, err := c.leader()
		if err == nil && m == lead {
			return fmt.Errorf("%s still leads", lead.hostname)
		}
		return err
	})
	must(t, time.Minute, "docker", "start", lead.name)
	waitFor(t, 30*time.Second, "sshd on "+lead.hostname, func() error {
		_, err := command(10*time.Second, nil, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "root@"+lead.ip, "true")
		return err
	})
	out := c.mustScript("mezzo-start-masters")
	if strings.Count(out, "master started") != 1 || strings.Count(out, "master running") != 2 {
		t.Errorf("mezzo-start-masters after %s came back: want one started and two left running:\n%s", lead.hostname, out)
	}
	waitFor(t, 30*time.Second, "tasks after the master's host came back", func() error { _, err := c.running(3); return err })

	// 3. An agent's host stops (its task with it) and comes back.
	victim := c.agents[0]
	must(t, time.Minute, "docker", "stop", "-t", "2", victim.name)
	must(t, time.Minute, "docker", "start", victim.name)
	waitFor(t, 30*time.Second, "sshd on "+victim.hostname, func() error {
		_, err := victim.exec(10*time.Second, "test -s /etc/ssh/ssh_host_ed25519_key.pub && pgrep -x sshd")
		return err
	})
	c.mustScript("mezzo-start-agents")
	waitFor(t, 90*time.Second, "three active agents and two tasks", func() error { _, err := c.running(2); return err })
	c.execute(oldBin, "task4")
	before, err := func() (map[string]string, error) {
		var tasks map[string]string
		var err error
		waitFor(t, 60*time.Second, "a task on every agent again", func() error { tasks, err = c.running(3); return err })
		return tasks, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	pids, err := c.sleepers()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("faults survived at %v; tasks %v, processes %s", time.Since(began).Round(time.Second), before, pids)

	// 4. Every agent upgraded, one at a time, its task kept.
	c.mustScript("mezzo-upgrade-agents", newBin)
	for _, a := range c.agents {
		out, err := a.exec(30*time.Second, "/usr/bin/mezzo version")
		if err != nil || !strings.Contains(out, "1.0.1-deploytest") {
			t.Errorf("%s runs %q (%v) after the upgrade, want 1.0.1-deploytest", a.hostname, out, err)
		}
		out, err = a.exec(30*time.Second, "tr '\\0' ' ' </proc/$(cat /run/mezzo/agent.pid)/cmdline; readlink /proc/$(cat /run/mezzo/agent.pid)/exe")
		if err != nil || strings.Contains(out, "(deleted)") {
			t.Errorf("%s: the running agent is not the new binary: %q %v", a.hostname, out, err)
		}
	}
	after, err := c.running(3)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tasks before the agents' upgrade %v, after %v", before, after)
	}
	if got, err := c.sleepers(); err != nil || got != pids {
		t.Errorf("task processes before the upgrade %s, after %s (%v)", pids, got, err)
	}
	t.Logf("agents upgraded at %v", time.Since(began).Round(time.Second))

	// 5. Every master upgraded, standbys first.
	c.mustScript("mezzo-upgrade-masters", newBin)
	for _, m := range c.masters {
		if out, err := m.exec(30*time.Second, "/usr/bin/mezzo version"); err != nil || !strings.Contains(out, "1.0.1-deploytest") {
			t.Errorf("%s runs %q (%v) after the upgrade", m.hostname, out, err)
		}
	}
	waitFor(t, 60*time.Second, "the tasks under the upgraded masters", func() error {
		now, err := c.running(3)
		if err == nil && fmt.Sprint(now) != fmt.Sprint(before) {
			return fmt.Errorf("tasks %v, want %v", now, before)
		}
		return err
	})
	t.Logf("masters upgraded at %v", time.Since(began).Round(time.Second))

	// 6. Stop: nothing of Mezzo's is left on any host.
	c.mustScript("mezzo-stop-cluster")
	for _, h := range append(append([]*host{}, c.masters...), c.agents...) {
		out, _ := h.exec(30*time.Second, "ps -eo pid,args | grep -E 'mezzo|sleep' | grep -v grep")
		if strings.TrimSpace(out) != "" {
			t.Errorf("%s: left running after mezzo-stop-cluster:\n%s", h.hostname, out)
		}
	}
	t.Logf("done in %v", time.Since(began).Round(time.Second))
}
