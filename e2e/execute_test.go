package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTestFrameworkRunsFiveTasks(t *testing.T) {
	c := startCluster(t, 2, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]")
	out, code := run(t, 2*time.Minute, bin.framework, c.master)
	if code != 0 {
		t.Fatalf("test-framework exited %d:\n%s", code, out)
	}
	if n := strings.Count(out, "TASK_FINISHED"); n != 5 {
		t.Fatalf("%d tasks finished, want 5:\n%s", n, out)
	}
}

func TestExecuteReportsExitCode(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]")
	cases := []struct {
		name, command string
		json          bool
		code          int
		want          []string
	}{
		{"ok", "echo hello; echo oops >&2", false, 0, []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}},
		{"fails", "exit 3", true, 3, []string{"TASK_RUNNING", "TASK_FAILED", "Command exited with status 3", "REASON_COMMAND_EXECUTOR_FAILED"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"execute", "--master=" + c.master, "--name=" + tc.name, "--command=" + tc.command,
				"--resources=cpus:0.1;mem:32"}
			if tc.json {
				args = append(args, "--content_type=json")
			}
			out, code := run(t, time.Minute, bin.mezzo, args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestExecuteFetchesURIAndWritesSandbox(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]")
	src := filepath.Join(t.TempDir(), "greeting.txt")
	if err := os.WriteFile(src, []byte("fetched hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+c.master, "--name=fetch",
		"--command=cat greeting.txt && test -n \"$MESOS_SANDBOX\" && test \"$PWD\" = \"$MESOS_SANDBOX\"",
		"--resources=cpus:0.1;mem:32", "--uri="+src)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// The task's stdout is in its sandbox, in Mesos' layout.
	matches := sandboxFiles(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", "*", "executors", "fetch", "runs", "*", "stdout"))
	if len(matches) != 1 {
		t.Fatalf("sandbox stdout files: %v", matches)
	}
	b, _ := os.ReadFile(matches[0])
	if !strings.Contains(string(b), "fetched hello") {
		t.Fatalf("stdout %q", b)
	}
}

// noIsolation runs an agent without cgroups or namespaces, as one that
// is not root does, for tests of what a task's process ids tell (in a
// PID namespace they are not the host's).
const noIsolation = "--isolation=posix/cpu,posix/mem"

// builtinModes are the two places the built-in executors of a framework
// that does not checkpoint can run: inside the agent (the default) and
// as `mezzo executor` processes.
var builtinModes = []string{"auto", "process"}

func TestExecuteKillAfterLeavesNoProcess(t *testing.T) {
	for _, mode := range builtinModes {
		t.Run(mode, func(t *testing.T) {
			// Without isolation: process groups and sessions alone must
			// find everything (TestIsolation checks the kill in cgroups
			// and PID namespaces, where the task's pids are not ours).
			c := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]", "--builtin_executors="+mode, noIsolation)
			pidFile := filepath.Join(t.TempDir(), "pids")
			// The task starts a child in a process group of its own
			// (job control) and one in its own: all must be gone.
			cmd := fmt.Sprintf("set -m; sleep 300 & echo $! > %s; set +m; sleep 301 & echo $! >> %s; echo $$ >> %s; wait",
				pidFile, pidFile, pidFile)
			out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+c.master, "--name=sleeper",
				"--command="+cmd, "--resources=cpus:0.1;mem:32", "--kill_after=2secs")
			if code == 0 || !strings.Contains(out, "TASK_KILLED") {
				t.Fatalf("exit %d, want TASK_KILLED:\n%s", code, out)
			}
			waitGone(t, pidFile)
		})
	}
}

// waitGone waits until no process listed in pidFile (whitespace-separated
// pids) is alive.
func waitGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		waitFor(t, 10*time.Second, "process "+f+" gone", func() error {
			if alive(pid) {
				return fmt.Errorf("pid %d still alive", pid)
			}
			return nil
		})
	}
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z ")
}

// TestTasksOfNonCheckpointingFrameworkDieWithAgent: a task run by the
// command executor inside the agent does not outlive the agent, and what
// it started is killed when the agent comes back.
func TestTasksOfNonCheckpointingFrameworkDieWithAgent(t *testing.T) {
	// Without isolation (TestIsolationAcrossAgentRestart has it).
	c := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]", noIsolation)
	dir := t.TempDir()
	shellPid, childPid := filepath.Join(dir, "shell"), filepath.Join(dir, "child")
	exe := start(t, "execute", "execute", "--master="+c.master, "--name=orphan",
		"--command=sleep 300 & echo $! > "+childPid+"; echo $$ > "+shellPid+"; wait", "--resources=cpus:0.1;mem:32")
	var shell, child int
	waitFor(t, 30*time.Second, "the task's pids", func() error {
		shell, _ = readPidFile(shellPid)
		child, _ = readPidFile(childPid)
		if shell == 0 || child == 0 || !strings.Contains(exe.out.String(), "TASK_RUNNING") {
			return fmt.Errorf("task not running yet")
		}
		return nil
	})
	agent := c.agents[0]
	if err := syscall.Kill(agent.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-agent.done
	waitFor(t, 10*time.Second, "the task to die with the agent", func() error {
		if alive(shell) {
			return fmt.Errorf("pid %d still alive", shell)
		}
		return nil
	})
	if !alive(child) {
		t.Fatalf("the task's child %d died with the task; the restart below would check nothing", child)
	}
	start(t, "agent0-restarted", agent.cmd.Args[1:]...)
	waitFor(t, 20*time.Second, "the restarted agent to kill what the task left", func() error {
		if alive(child) {
			return fmt.Errorf("pid %d still alive", child)
		}
		return nil
	})
}

func TestExecuteTaskGroup(t *testing.T) {
	for _, mode := range builtinModes {
		t.Run(mode, func(t *testing.T) { testExecuteTaskGroup(t, mode) })
	}
}

func testExecuteTaskGroup(t *testing.T, mode string) {
	c := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]", "--builtin_executors="+mode)
	group := `{"tasks":[
	  {"name":"g1","task_id":{"value":"g1"},"agent_id":{"value":""},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}],"command":{"value":"echo one"}},
	  {"name":"g2","task_id":{"value":"g2"},"agent_id":{"value":""},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}],"command":{"value":"echo two"}}]}`
	out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+c.master, "--task_group="+group)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.Count(out, "TASK_FINISHED") != 2 {
		t.Fatalf("want two TASK_FINISHED:\n%s", out)
	}
}

// TestLocalRestartKeepsCheckpointedTask SIGKILLs `mezzo local` under a
// running task of a checkpointing framework and starts it again on the
// same work directory: the agent comes back on its port, the task's
// executor subscribes again, and `mezzo execute`, which re-subscribes to
// the restarted master, reports the task finished.
func TestLocalRestartKeepsCheckpointedTask(t *testing.T) {
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"local", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--work_dir=" + filepath.Join(t.TempDir(), "local"), "--agents=1",
		"--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]"}
	local := start(t, "local", args...)
	waitFor(t, 20*time.Second, "mezzo local", func() error { return httpOK("http://" + master + "/health") })
	exe := start(t, "execute", "execute", "--master="+master, "--name=survivor", "--command=sleep 3",
		"--resources=cpus:0.1;mem:32", "--checkpoint")
	waitFor(t, 30*time.Second, "TASK_RUNNING", func() error {
		if !strings.Contains(exe.out.String(), "TASK_RUNNING") {
			return fmt.Errorf("not running yet")
		}
		return nil
	})
	syscall.Kill(local.cmd.Process.Pid, syscall.SIGKILL)
	<-local.done
	start(t, "local-restarted", args...)
	select {
	case <-exe.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("mezzo execute did not end:\n%s", exe.out.String())
	}
	if exe.err != nil || !strings.Contains(exe.out.String(), "TASK_FINISHED") {
		t.Fatalf("mezzo execute: %v\n%s", exe.err, exe.out.String())
	}
}
