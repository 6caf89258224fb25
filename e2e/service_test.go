package e2e

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/frameworks/service"
)

// redisCluster is a master with fast agent-loss detection and agents on
// their own loopback addresses (127.0.0.2, ...), each offering the
// documents' ports: 19998 and 29998-30000.
type redisCluster struct {
	master string
	agents []*proc
	ips    []string
}

func startRedisCluster(t *testing.T, n int) *redisCluster {
	t.Helper()
	for _, b := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is needed (scripts/deps.sh installs Debian's redis-server)", b)
		}
	}
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	mport := freePort(t)
	c := &redisCluster{master: fmt.Sprintf("127.0.0.1:%d", mport)}
	start(t, "master", "master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", mport),
		"--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms",
		"--agent_ping_timeout=1secs", "--max_agent_ping_timeouts=2")
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + c.master + "/health") })
	for i := 0; i < n; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i+2)
		c.ips = append(c.ips, ip)
		c.agents = append(c.agents, start(t, "agent-"+ip, "agent", "--master="+c.master, "--ip="+ip, fmt.Sprintf("--hostname=agent%d", i),
			fmt.Sprintf("--port=%d", freePort(t)), "--work_dir="+filepath.Join(work, "agent-"+ip),
			"--resources=cpus:2;mem:1024;disk:1024;ports:[19998-19998,29998-30000]"))
	}
	t.Cleanup(func() { killRedis(c.ips) })
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

// redisSpec returns the example spec with its state in dir, with the
// distribution replaced by home and uris when given, and without the
// replicas' one-per-host constraint when spread is false.
func redisSpec(t *testing.T, dir, home, uri string, spread bool) string {
	t.Helper()
	data, err := os.ReadFile("../examples/redis-service/redis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "state_dir: /tmp/mezzo-service/redis", "state_dir: "+filepath.Join(dir, "state"), 1)
	if home != "" {
		text = strings.Replace(text, "home: LOCAL:/usr", fmt.Sprintf("home: %s\nuris: [%q]", home, uri), 1)
	}
	if !spread {
		text = strings.Replace(text, "      - [hostname, UNIQUE]\n", "", 1)
		text = strings.Replace(text, "    constraints:\n", "", 1)
	}
	file := filepath.Join(dir, "redis.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// waitHealthy waits until every role of the service has all its instances
// healthy and returns the status.
func waitHealthy(t *testing.T, api *service.Client, limit time.Duration, what string, extra func(*service.Status) error) *service.Status {
	t.Helper()
	var st service.Status
	waitFor(t, limit, what, func() error {
		st = service.Status{}
		if err := api.Do(context.Background(), "/v1/status", nil, &st); err != nil {
			return err
		}
		for _, r := range st.Roles {
			if r.Healthy != r.Instances || len(r.Tasks) != r.Instances {
				return fmt.Errorf("role %s: %d/%d healthy (waiting: %q)", r.Name, r.Healthy, r.Instances, r.Waiting)
			}
		}
		if extra != nil {
			return extra(&st)
		}
		return nil
	})
	return &st
}

func role(st *service.Status, name string) service.RoleStatus {
	for _, r := range st.Roles {
		if r.Name == name {
			return r
		}
	}
	return service.RoleStatus{}
}

func addr(in *service.Instance) string {
	return net.JoinHostPort(in.Host, strconv.FormatUint(in.Ports["redis"], 10))
}

// resp sends one command in the Redis protocol (RESP) and returns the
// reply's first line and, for a bulk string, its payload.
func resp(address string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", address, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis %s: %s", address, line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis %s: unexpected reply %q", address, line)
}

// checkReplication writes key=value through the master and waits until
// every replica returns it and reports the master it follows.
func checkReplication(t *testing.T, st *service.Status, key, value string) {
	t.Helper()
	m := role(st, "master").Tasks[0]
	if _, err := resp(addr(m), "SET", key, value); err != nil {
		t.Fatalf("SET through the master %s: %v", addr(m), err)
	}
	for _, rep := range role(st, "replica").Tasks {
		waitFor(t, 20*time.Second, "replica "+addr(rep)+" has "+key, func() error {
			got, err := resp(addr(rep), "GET", key)
			if err != nil {
				return err
			}
			if got != value {
				return fmt.Errorf("GET %s = %q, want %q", key, got, value)
			}
			info, err := resp(addr(rep), "INFO", "replication")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "master_host:"+m.Host) || !strings.Contains(info, fmt.Sprintf("master_port:%d", m.Ports["redis"])) {
				return fmt.Errorf("replica follows another master:\n%s", info)
			}
			return nil
		})
	}
}

// killRedis kills what is left of the redis-server processes bound to the
// agents' addresses (a test that failed half way).
func killRedis(ips []string) {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, _ := os.ReadFile(f)
		cmd := string(b)
		for _, ip := range ips {
			if strings.Contains(cmd, "redis-server") && strings.Contains(cmd, ip+":") {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// redisPid returns the pid of the redis-server serving address.
func redisPid(t *testing.T, address string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "redis-server") && strings.Contains(cmd, address) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			return pid
		}
	}
	t.Fatalf("no redis-server process serves %s", address)
	return 0
}

func startService(t *testing.T, c *redisCluster, spec string) (*service.Client, *proc, time.Time) {
	t.Helper()
	began := time.Now()
	p := start(t, "service", "service", "run", spec, "--master="+c.master)
	s, err := service.ReadSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	var api *service.Client
	waitFor(t, 10*time.Second, "service API", func() error {
		var err error
		api, err = service.NewClient(s.StateDir)
		return err
	})
	return api, p, began
}

// TestServiceRedisLocal deploys the example Redis service from the local
// install on four agents (a replica per host), writes through the master and reads from every
// replica, kills a replica's process and sees it replaced, then stops the
// agent under the master and sees the master restarted on another agent
// with the replicas following it.
func TestServiceRedisLocal(t *testing.T) {
	c := startRedisCluster(t, 4)
	dir := t.TempDir()
	spec := redisSpec(t, dir, "", "", true)
	api, _, began := startService(t, c, spec)
	st := waitHealthy(t, api, 60*time.Second, "redis service healthy", nil)
	t.Logf("FIGURE: 1 master + 3 replicas healthy %v after `mezzo service run`", time.Since(began).Round(10*time.Millisecond))
	checkReplication(t, st, "greeting", "hello")

	// Kill a replica's process: its task fails and the instance is
	// launched again (a new generation of its task).
	victim := role(st, "replica").Tasks[1]
	pid := redisPid(t, addr(victim))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = waitHealthy(t, api, 40*time.Second, "replica replaced", func(st *service.Status) error {
		if got := role(st, "replica").Tasks[1]; got.Gen <= victim.Gen {
			return fmt.Errorf("replica 1 still at generation %d", got.Gen)
		}
		return nil
	})
	checkReplication(t, st, "after-replica-kill", "still here")

	// Stop the agent under the master (and the master's process with it,
	// as when its machine goes): the master is placed on another agent,
	// and the replicas, whose configuration names the master, restart
	// pointing at it.
	old := role(st, "master").Tasks[0]
	for i, ip := range c.ips {
		if ip == old.Host {
			syscall.Kill(-c.agents[i].cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	if pid := redisPid(t, addr(old)); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	st = waitHealthy(t, api, 60*time.Second, "master moved and replicas re-pointed", func(st *service.Status) error {
		m := role(st, "master").Tasks[0]
		if m.Host == old.Host {
			return fmt.Errorf("master still on %s", m.Host)
		}
		for _, rep := range role(st, "replica").Tasks {
			if rep.Host == old.Host {
				return fmt.Errorf("replica %d still on the lost agent", rep.Index)
			}
			info, err := resp(addr(rep), "INFO", "replication")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "master_host:"+m.Host) {
				return fmt.Errorf("replica %d does not follow %s yet", rep.Index, m.Host)
			}
		}
		return nil
	})
	checkReplication(t, st, "after-master-move", "moved")

	out, code := run(t, 20*time.Second, bin.mezzo, "service", "stop", spec)
	if code != 0 {
		t.Fatalf("service stop: exit %d\n%s", code, out)
	}
	log, err := os.ReadFile(filepath.Join(dir, "state", "logs", "framework.out"))
	if err != nil || !strings.Contains(string(log), "configuration changed; restarting the instance") {
		t.Errorf("framework.out lacks the rolling restart (err %v)", err)
	}
}

// TestServiceRedisTarball deploys the service from a tarball served over
// HTTP (holding the machine's redis-server and redis-cli), restarts the
// framework and checks that it re-attaches to the running tasks, and
// reports why a role waits when no agent offers its port, scales down,
// and rolls a configuration update out to the replicas.
func TestServiceRedisTarball(t *testing.T) {
	c := startRedisCluster(t, 2)
	dir := t.TempDir()
	tarball := filepath.Join(dir, "redis-dist.tar.gz")
	makeTarball(t, tarball, map[string]string{"redis-dist/bin/redis-server": "redis-server", "redis-dist/bin/redis-cli": "redis-cli"})
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	spec := redisSpec(t, dir, "redis-dist", srv.URL+"/redis-dist.tar.gz", false)
	api, fwProc, _ := startService(t, c, spec)
	st := waitHealthy(t, api, 60*time.Second, "redis service healthy", nil)
	checkReplication(t, st, "k", "from the tarball")
	if !strings.Contains(st.Roles[0].Tasks[0].TaskID, "redis.master.0.") {
		t.Errorf("task id %q", st.Roles[0].Tasks[0].TaskID)
	}

	// Restart the framework: the same framework re-attaches to the same
	// tasks (none relaunched).
	before := map[string]bool{}
	for _, r := range st.Roles {
		for _, in := range r.Tasks {
			before[in.TaskID] = true
		}
	}
	fw := st.FrameworkID
	fwProc.stop()
	api, _, _ = startService(t, c, spec)
	st = waitHealthy(t, api, 30*time.Second, "service re-attached", func(st *service.Status) error {
		if st.FrameworkID != fw {
			return fmt.Errorf("framework %s, want %s", st.FrameworkID, fw)
		}
		return nil
	})
	for _, r := range st.Roles {
		for _, in := range r.Tasks {
			if !before[in.TaskID] {
				t.Errorf("task %s was launched after the restart; want the old tasks kept", in.TaskID)
			}
		}
	}

	// Two agents offer six replica ports: a seventh replica waits, and
	// the service says why.
	out, code := run(t, 20*time.Second, bin.mezzo, "service", "scale", spec, "replica", "7")
	if code != 0 {
		t.Fatalf("scale: exit %d\n%s", code, out)
	}
	waitFor(t, 20*time.Second, "waiting reason", func() error {
		var s service.Status
		if err := api.Do(context.Background(), "/v1/status", nil, &s); err != nil {
			return err
		}
		if w := role(&s, "replica").Waiting; !strings.Contains(w, "no agent offers port 29998-30000") {
			return fmt.Errorf("replica waiting: %q", w)
		}
		return nil
	})
	out, _ = run(t, 20*time.Second, bin.mezzo, "service", "status", spec)
	if !strings.Contains(out, "waiting: no agent offers port 29998-30000") {
		t.Errorf("status does not say why the replica waits:\n%s", out)
	}
	out, code = run(t, 20*time.Second, bin.mezzo, "service", "scale", spec, "replica", "2")
	if code != 0 {
		t.Fatalf("scale down: exit %d\n%s", code, out)
	}
	waitHealthy(t, api, 30*time.Second, "scaled down to 2 replicas", func(st *service.Status) error {
		if n := len(role(st, "replica").Tasks); n != 2 {
			return fmt.Errorf("%d replicas", n)
		}
		return nil
	})

	// A rolling configuration update: the replicas get a memory limit and
	// restart one at a time with it.
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	updated := strings.Replace(string(data), "        replicaof", "        maxmemory 50mb\n        replicaof", 1)
	if err := os.WriteFile(spec, []byte(updated), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, 20*time.Second, bin.mezzo, "service", "update", spec)
	if code != 0 {
		t.Fatalf("update: exit %d\n%s", code, out)
	}
	waitHealthy(t, api, 40*time.Second, "replicas updated", func(st *service.Status) error {
		for _, rep := range role(st, "replica").Tasks {
			info, err := resp(addr(rep), "INFO", "memory")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "maxmemory:52428800") {
				return fmt.Errorf("replica %d runs without the new maxmemory", rep.Index)
			}
		}
		if m := role(st, "master").Tasks[0]; m.Gen != 1 {
			return fmt.Errorf("the master restarted (generation %d); its configuration did not change", m.Gen)
		}
		return nil
	})
	out, code = run(t, 20*time.Second, bin.mezzo, "service", "stop", spec)
	if code != 0 {
		t.Fatalf("service stop: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "state.json")); !os.IsNotExist(err) {
		t.Errorf("state.json after stop: %v", err)
	}
}

// makeTarball writes a .tar.gz holding the named files of the machine
// (looked up on PATH) under the given names.
func makeTarball(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, prog := range files {
		src, err := exec.LookPath(prog)
		if err != nil {
			t.Fatalf("%s is needed for the tarball: %v", prog, err)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}
