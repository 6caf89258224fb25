// Package executor holds Mezzo's built-in executors, which the agent runs
// as `mezzo executor` (the command executor) and `mezzo executor
// --default` (the default executor for task groups). Both speak Mesos' v1
// executor API over HTTP to the agent named by MESOS_AGENT_ENDPOINT, in
// JSON or protobuf, so they behave like Mesos' mesos-executor and
// mesos-default-executor:
//
//   - SUBSCRIBE, then for each task: TASK_STARTING, the task's process (in
//     its own process group, environment = the executor's own MESOS_*
//     environment + MESOS_ALLOCATION_ROLE + CommandInfo.environment),
//     TASK_RUNNING, and a terminal update when it ends: TASK_FINISHED on
//     exit 0, TASK_FAILED "Command exited with status N" / "Command
//     terminated with signal X" (REASON_COMMAND_EXECUTOR_FAILED), or
//     TASK_KILLED after a kill;
//   - KILL sends SIGTERM to the task's process group and SIGKILL after the
//     kill policy's grace period (KILL's own policy, else the task's, else
//     the executor shutdown grace period); TASK_KILLING first when the
//     framework has the TASK_KILLING_STATE capability;
//   - SHUTDOWN kills every task the same way, within the agent's shutdown
//     grace period;
//   - every update is kept until the agent's ACKNOWLEDGED; the executor
//     exits once its tasks are terminal and acknowledged (or after
//     AckTimeout); when the framework checkpoints, it survives the agent's
//     death and re-subscribes to the restarted agent with its
//     unacknowledged tasks and updates (in the order it sent them), waiting
//     a jittered, doubling backoff from 100 ms up to
//     MESOS_SUBSCRIPTION_BACKOFF_MAX between attempts and giving up after
//     MESOS_RECOVERY_TIMEOUT; otherwise it exits when the agent goes;
//   - in default mode, the tasks of a LAUNCH_GROUP run side by side, each in
//     its sandbox <sandbox>/tasks/<task_id>, and a task that fails or is
//     killed makes the executor kill the rest of its group.
//
// Both executors run a task's health check (TaskInfo.health_check) and
// check (TaskInfo.check) as Mesos' built-in executors do, once the task
// runs: first after delay_seconds, then interval_seconds after each
// attempt ends, each attempt bounded by timeout_seconds (0: unbounded).
// A COMMAND check runs like the task (sh -c for a shell command, in its
// own process group, the task's sandbox as working directory, the task's
// environment plus the check command's own, its output appended to the
// task's stderr) and is SIGKILLed with anything it started when it ends
// or times out; HTTP sends GET <scheme>://127.0.0.1:<port><path> (::1
// for IPv6 health checks; https without verifying the certificate;
// redirects followed); TCP opens a connection to 127.0.0.1:<port>. A
// health check passes on exit code 0, a status code in [200, 400) or a
// connection; a failure before the first success and within
// grace_period_seconds is ignored. The first success, the first success
// after failures and every counted failure send TASK_RUNNING with
// healthy set and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED; after
// consecutive_failures failures in a row the task is killed as a KILL
// without a kill policy would kill it (TASK_KILLING for capable
// frameworks), and its terminal update — and those of its task group —
// carries healthy=false. A check is never interpreted: every update of
// a task with a check carries check_status, empty (the type's result
// present but unset) until there is a result; each change of the result
// (an attempt that timed out counts as the empty result) sends
// TASK_RUNNING with the new check_status and
// REASON_TASK_CHECK_STATUS_UPDATED. Check and health updates copy the
// task's previous update, so each keeps what the other last reported.
// Checking stops, and its goroutines and processes are gone, as soon as
// the task is being killed or has ended. The master rejects invalid
// checks (TASK_ERROR), so the executor only logs one it cannot run.
//
// `mezzo executor --docker` is Mezzo's mesos-docker-executor, which the
// Docker containerizer (package agent/containerizer/docker) starts for a
// command task whose ContainerInfo has type DOCKER: the same command
// executor, whose task is a Docker container (package agent/docker)
// instead of a process (Config.RunTask). Signals reach the container's
// main process through the engine; a kill without a kill policy uses
// --stop_timeout (the agent's --docker_stop_timeout) as its grace
// period; COMMAND checks run inside the container and HTTP and TCP
// checks connect to it (Container); a task whose container cannot be
// created or started (its image cannot be had, the engine does not
// answer) ends TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED.
//
// Run is the entry point; Env reads the environment, Client is a small v1
// executor API client that other Go executors can use too. The agent also
// runs these executors inside itself for frameworks that do not
// checkpoint, giving Run its own Transport instead of HTTP.
package executor
