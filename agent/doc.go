// Package agent is Mezzo's agent: it registers with the master, runs
// executors as real processes in Mesos' sandbox layout, serves Mesos' v1
// executor API, and carries task status updates reliably to the master.
//
// # Shape
//
//	master ──(agentproto stream: REGISTERED, RUN_TASK, KILL_TASK, ACKNOWLEDGE, PING, ...)──▶ masterLink ─┐
//	master ◀──(POSTs: STATUS_UPDATE, EXECUTOR_EXITED, FRAMEWORK_MESSAGE, PONG)──────────── sender ◀─┐    │
//	                                                                                                 │    ▼
//	executors ──POST /api/v1/executor──▶ HTTP handlers ──do()──▶ state goroutine (frameworks, executors,
//	executors ◀──RecordIO event stream── execConn queue ◀─────── tasks, update streams, timers)
//	                                                               │ launch goroutines: fetch URIs, start, wait
//
// All state lives in one goroutine (Agent.loop). Everything else — HTTP
// handlers, the master link, process waiters, timers (from the injected
// Clock) — hands it closures (post / do) and never touches state itself.
// Outgoing traffic leaves through unbounded queues, so the state goroutine
// never blocks on a slow master or executor.
//
// # Executors
//
// A RUN_TASK with a command task runs the built-in command executor
// (`mezzo executor`, executor id = task id); one with an ExecutorInfo runs
// that executor (later tasks with the same executor id join it); a task
// group runs under the default executor (`mezzo executor --default`).
// Before launch the agent fetches CommandInfo.uris into the sandbox
// <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>
// (runs/latest links to it; task-group tasks get tasks/<task_id>). The
// process starts in a new session (its own process group), cwd = sandbox,
// stdout/stderr to files there, with exactly Mesos' executor environment.
// An executor must SUBSCRIBE within --executor_registration_timeout;
// queued tasks are delivered then. SHUTDOWN_EXECUTOR / SHUTDOWN_FRAMEWORK
// send SHUTDOWN and kill the whole session after the grace period; when an
// executor ends, everything in its session is killed and its unfinished
// tasks get TASK_FAILED (REASON_EXECUTOR_TERMINATED, or the reason the
// agent ended it) from the agent.
//
// # Status updates
//
// Each task has an ordered stream of updates. Only the head goes to the
// master (with the task's latest state); it is resent every 10 s, doubling
// to 10 min, until ACKNOWLEDGE; then the executor gets ACKNOWLEDGED and the
// next update goes. After a lost master connection the agent re-registers
// (random backoff, doubling from --registration_backoff_factor) reporting
// its frameworks, executors and tasks, and resends every head.
//
// Not implemented yet: checkpointing and agent recovery, the agent's
// operator API and /state, /files, executor HEARTBEAT events, the fetcher
// cache, containerizers beyond plain processes.
package agent
