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
// Run is the entry point; Env reads the environment, Client is a small v1
// executor API client that other Go executors can use too. The agent also
// runs these executors inside itself for frameworks that do not
// checkpoint, giving Run its own Transport instead of HTTP.
package executor
