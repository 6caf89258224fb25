package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCustomExecutorFetchedByURI runs the executor recorded against Mesos
// 1.11.1 (a Python program written for Mesos' v1 executor API) unchanged:
// `mezzo execute --task` launches a task with a CUSTOM ExecutorInfo whose
// command fetches the script by URI; the executor subscribes, answers the
// LAUNCH with TASK_RUNNING and TASK_FINISHED, and exits.
func TestCustomExecutorFetchedByURI(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed to run the recorded Mesos executor (make deps installs it)")
	}
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]")
	script, err := filepath.Abs("../agent/testdata/sample_executor.py")
	if err != nil {
		t.Fatal(err)
	}
	// The script is fetched as executor.py, the name the recording used.
	task := fmt.Sprintf(`{"name":"custom","task_id":{"value":"custom-1"},"agent_id":{"value":""},
	  "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}],
	  "executor":{"type":"CUSTOM","executor_id":{"value":"cap-exec"},
	    "command":{"value":"python3 executor.py","uris":[{"value":%q,"output_file":"executor.py","extract":false}]},
	    "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}]}}`, script)
	out, code := run(t, 90*time.Second, bin.mezzo, "execute", "--master="+c.master, "--task="+task, "--content_type=json")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"TASK_RUNNING", "TASK_FINISHED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	// The executor saved its environment in the sandbox: the variables
	// Mesos gives executors are there.
	envs := sandboxFiles(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", "*", "executors", "cap-exec", "runs", "*", "executor-env.txt"))
	if len(envs) != 1 {
		t.Fatalf("executor-env.txt: %v", envs)
	}
	env, _ := os.ReadFile(envs[0])
	for _, name := range []string{"MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID", "MESOS_SANDBOX",
		"MESOS_DIRECTORY", "MESOS_SLAVE_PID", "MESOS_SLAVE_ID", "MESOS_CHECKPOINT", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"} {
		if !strings.Contains(string(env), name+"=") {
			t.Errorf("executor environment lacks %s", name)
		}
	}
}
