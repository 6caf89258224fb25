package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/resources"
)

// startLocalCluster starts `mezzo local` with n agents on a free port, without
// --ip unless args name it, and waits until every agent is active. It
// returns the process and the master's address on loopback.
func startLocalCluster(t *testing.T, n int, args ...string) (*proc, string) {
	t.Helper()
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	all := append([]string{"local", fmt.Sprintf("--port=%d", port), fmt.Sprintf("--agents=%d", n),
		"--work_dir=" + filepath.Join(t.TempDir(), "local"), "--allocation_interval=100ms",
		"--resources=cpus:1;mem:512;disk:512", noIsolation}, args...)
	p := start(t, "local", all...)
	waitFor(t, 30*time.Second, "the local cluster's agents active", func() error {
		var st struct {
			Activated float64 `json:"activated_slaves"`
		}
		if err := getJSON("http://"+master+"/master/state", &st); err != nil {
			return err
		}
		if int(st.Activated) != n {
			return fmt.Errorf("%v of %d agents active", st.Activated, n)
		}
		return nil
	})
	return p, master
}

// agentLine is how `mezzo local` names an agent's address at start.
var agentLine = regexp.MustCompile(`agent (\d+) at ([0-9.]+):(\d+)`)

// nonLoopbackIP returns an IPv4 address of this machine that is not
// loopback, or "" when it has none.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// TestLocalListensOnLoopback: `mezzo local` without --ip (and without
// authentication) is reachable on 127.0.0.1 only, master and agents; it
// prints each agent's address, and with --log_dir each agent logs to a
// file of its own.
func TestLocalListensOnLoopback(t *testing.T) {
	logDir := t.TempDir()
	p, master := startLocalCluster(t, 2, "--log_dir="+logDir)
	var ports []string
	waitFor(t, 10*time.Second, "the agents' addresses printed", func() error {
		ms := agentLine.FindAllStringSubmatch(p.out.String(), -1)
		if len(ms) != 2 {
			return fmt.Errorf("%d agent lines", len(ms))
		}
		ports = nil
		for i, m := range ms {
			if m[1] != fmt.Sprint(i) || m[2] != "127.0.0.1" {
				return fmt.Errorf("line %q", m[0])
			}
			ports = append(ports, m[3])
		}
		return nil
	})
	for _, port := range ports {
		if err := httpOK("http://127.0.0.1:" + port + "/health"); err != nil {
			t.Errorf("agent at port %s: %v", port, err)
		}
	}
	if ip := nonLoopbackIP(t); ip == "" {
		t.Logf("no address beside loopback: the listening address is checked on loopback only")
	} else {
		_, mport, _ := net.SplitHostPort(master)
		for _, port := range append([]string{mport}, ports...) {
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), 2*time.Second); err == nil {
				c.Close()
				t.Errorf("port %s answers on %s: listening beyond loopback", port, ip)
			}
		}
	}
	for i := range 2 {
		b, err := os.ReadFile(filepath.Join(logDir, fmt.Sprintf("mezzo-local-agent%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), fmt.Sprintf("agent=%d", i)) || strings.Contains(string(b), fmt.Sprintf("agent=%d", 1-i)) {
			t.Errorf("agent %d's log file has not only its own lines:\n%s", i, b)
		}
	}
	if b, err := os.ReadFile(filepath.Join(logDir, "mezzo-local.log")); err != nil || !strings.Contains(string(b), "component=master") {
		t.Errorf("master log: %v\n%s", err, b)
	}
}

// TestLocalAgentMarkedGoneStopsAlone: an operator marking one agent of
// `mezzo local` gone stops that agent; the process, its master and the
// other agent run on.
func TestLocalAgentMarkedGoneStopsAlone(t *testing.T) {
	p, master := startLocalCluster(t, 2)
	var slaves struct {
		Slaves []struct {
			ID       string `json:"id"`
			Hostname string `json:"hostname"`
			Port     int    `json:"port"`
		} `json:"slaves"`
	}
	if err := getJSON("http://"+master+"/master/slaves", &slaves); err != nil || len(slaves.Slaves) != 2 {
		t.Fatalf("/master/slaves: %v %+v", err, slaves)
	}
	gone, kept := slaves.Slaves[0], slaves.Slaves[1]
	resp, err := http.Post("http://"+master+"/api/v1", "application/json",
		strings.NewReader(`{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"`+gone.ID+`"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("MARK_AGENT_GONE: %s %s", resp.Status, b)
	}
	// The gone agent stops: its port closes.
	waitFor(t, 20*time.Second, "the gone agent stopped", func() error {
		if err := httpOK(fmt.Sprintf("http://127.0.0.1:%d/health", gone.Port)); err == nil {
			return fmt.Errorf("agent %s still answers", gone.ID)
		}
		return nil
	})
	// Whatever ended the process would have run by now: the agent's
	// end is what used to end it.
	select {
	case <-p.done:
		t.Fatalf("mezzo local ended (%v) after one agent was marked gone", p.err)
	case <-time.After(2 * time.Second):
	}
	if !strings.Contains(p.out.String(), "agent stopped: the master refused it") {
		t.Errorf("no log line about the stopped agent")
	}
	if err := httpOK(fmt.Sprintf("http://127.0.0.1:%d/health", kept.Port)); err != nil {
		t.Errorf("the other agent: %v", err)
	}
	out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+master, "--name=after-gone",
		"--command=true", "--resources=cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") || !strings.Contains(out, kept.ID) {
		t.Errorf("a task on the remaining agent: exit %d\n%s", code, out)
	}
}

// TestExecuteAgainstNoMasterGivesUp: `mezzo execute` against an address
// where no master listens gives up after --subscribe_timeout with a
// non-zero exit, instead of trying for ever.
func TestExecuteAgainstNoMasterGivesUp(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	began := time.Now()
	out, code := run(t, 30*time.Second, bin.mezzo, "execute", "--master="+addr, "--name=nowhere",
		"--command=true", "--subscribe_timeout=2secs")
	if code != 1 || !strings.Contains(out, "--subscribe_timeout") || !strings.Contains(out, "connection refused") {
		t.Fatalf("exit %d, want 1 naming --subscribe_timeout:\n%s", code, out)
	}
	if strings.Contains(out, "subscription lost") {
		t.Errorf("reports a lost subscription that never was:\n%s", out)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

// TestExecuteInterruptKillsTaskAndFails: SIGINT to `mezzo execute` kills
// its task and exits 130 (128 + SIGINT, as a shell reports it), not 0.
func TestExecuteInterruptKillsTaskAndFails(t *testing.T) {
	_, master := startLocalCluster(t, 1)
	pidFile := filepath.Join(t.TempDir(), "pids")
	exe := start(t, "execute", "execute", "--master="+master, "--name=interrupted",
		"--command=echo $$ > "+pidFile+"; exec sleep 300", "--resources=cpus:0.1;mem:32")
	waitFor(t, 30*time.Second, "TASK_RUNNING", func() error {
		if _, err := os.Stat(pidFile); err != nil || !strings.Contains(exe.out.String(), "TASK_RUNNING") {
			return fmt.Errorf("not running yet")
		}
		return nil
	})
	if err := exe.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exe.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("mezzo execute did not end after SIGINT")
	}
	if code := exe.cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130\n%s", code, exe.out.String())
	}
	waitGone(t, pidFile)
}

// TestMasterBindFailureSaysNoStart: a master whose port is taken fails
// without first logging that it started.
func TestMasterBindFailureSaysNoStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, code := run(t, 30*time.Second, bin.mezzo, "master", "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", ln.Addr().(*net.TCPAddr).Port), "--work_dir="+t.TempDir())
	if code == 0 || !strings.Contains(out, "address already in use") {
		t.Fatalf("exit %d, want a bind failure:\n%s", code, out)
	}
	if strings.Contains(out, "master started") {
		t.Errorf("logged a start before failing to bind:\n%s", out)
	}
}

// TestExecuteLeavesNoUnknownExecutorWarning: a `mezzo execute` run (its
// command executor ends after the framework was torn down) leaves no
// "ignoring exit of an unknown executor" warning in the master's log.
func TestExecuteLeavesNoUnknownExecutorWarning(t *testing.T) {
	p, master := startLocalCluster(t, 1)
	out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+master, "--name=quiet",
		"--command=true", "--resources=cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	waitFor(t, 20*time.Second, "the executor's end logged", func() error {
		if !strings.Contains(p.out.String(), `msg="executor exited"`) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	// The master handles what the agent sends in its own time.
	time.Sleep(time.Second)
	if strings.Contains(p.out.String(), "unknown executor") {
		t.Errorf("warning about an unknown executor:\n%s", p.out.String())
	}
}

// TestAgentNewWorkDirOffersItsFileSystem: an agent whose --work_dir does
// not exist yet (a fresh machine's /var/lib/mezzo) offers the disk of the
// file system it creates the directory on, not the 10 GiB fallback.
func TestAgentNewWorkDirOffersItsFileSystem(t *testing.T) {
	c := startClusterWith(t, 1, "cpus:1;mem:512")
	want, err := resources.AgentResources("", c.work, "*")
	if err != nil {
		t.Fatal(err)
	}
	wantDisk := want.ScalarOf("disk").Float()
	if wantDisk == 10240 {
		t.Skip("this file system's detected disk equals the fallback: nothing to tell apart")
	}
	var slaves struct {
		Slaves []struct {
			Resources struct {
				Disk float64 `json:"disk"`
			} `json:"resources"`
		} `json:"slaves"`
	}
	if err := getJSON("http://"+c.master+"/master/slaves", &slaves); err != nil || len(slaves.Slaves) != 1 {
		t.Fatalf("/master/slaves: %v %+v", err, slaves)
	}
	if got := slaves.Slaves[0].Resources.Disk; got != wantDisk {
		t.Errorf("agent offers disk %v MB, want %v (its work directory's file system)", got, wantDisk)
	}
}
