package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestExecuteHealthChecks runs tasks with Mesos health checks through
// `mezzo execute --task`, with both ways of running the built-in
// executor: a passing check reports the task healthy and lets it finish;
// one that keeps failing gets the task killed, reported unhealthy.
func TestExecuteHealthChecks(t *testing.T) {
	for _, mode := range builtinModes {
		t.Run(mode, func(t *testing.T) {
			c := startClusterWith(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]", "--builtin_executors="+mode)
			task := func(id, cmd, check string) string {
				return `{"name":"` + id + `","task_id":{"value":"` + id + `"},"agent_id":{"value":""},` +
					`"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}],` +
					`"command":{"value":"` + cmd + `"},` +
					`"health_check":{"type":"COMMAND","command":{"value":"` + check + `"},` +
					`"delay_seconds":0,"interval_seconds":0.2,"timeout_seconds":5,"grace_period_seconds":0,"consecutive_failures":2}}`
			}
			out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+c.master, "--task="+task("healthy", "sleep 2", "true"))
			if code != 0 || !strings.Contains(out, "healthy?: true") || !strings.Contains(out, "TASK_FINISHED") ||
				!strings.Contains(out, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED") {
				t.Errorf("passing health check: exit %d:\n%s", code, out)
			}
			out, code = run(t, time.Minute, bin.mezzo, "execute", "--master="+c.master, "--task="+task("sick", "sleep 60", "false"))
			if code == 0 || !strings.Contains(out, "healthy?: false") || !strings.Contains(out, "TASK_KILLED") {
				t.Errorf("failing health check: exit %d:\n%s", code, out)
			}
			if strings.Contains(out, "TASK_FINISHED") {
				t.Errorf("the unhealthy task was not killed:\n%s", out)
			}
		})
	}
}
