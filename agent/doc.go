// Package agent is Mezzo's agent: it registers with the master, runs
// executors as real processes in Mesos' sandbox layout, serves Mesos' v1
// executor API, and carries task status updates reliably to the master.
// It also serves Mesos' agent documents: /state, /flags and
// /monitor/statistics (also under /slave(1)/; executors' CPU and memory
// usage, as their containerizer measures it, monitor.go), /metrics/snapshot with the names of
// Mesos' agent metrics (metrics.go), and the sandbox files through
// /files/browse, /files/read, /files/download and /files/debug
// (files.go, over internal/files), with the agent's own log as /slave/log
// when it writes one (Config.LogFile, from --log_dir). POST /api/v1 (also /slave(1)/api/v1) is Mesos' v1 agent
// operator API (operator.go): its GET_* calls answer from the same state,
// metrics and usage as these documents, LIST_FILES and READ_FILE from the
// same sandbox paths, SET_LOGGING_LEVEL raises the verbosity for a while;
// the container and resource-provider calls answer 501.
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
// The state code starts no goroutine of its own, and nothing it must
// wait for: it goes through a driver (driver.go) to post a closure to the
// state loop, have a checkpoint batch committed, run a launch (fetch and
// containerizer Launch, then wait for the container's end), watch an
// adopted container and send a call to the master; timers come from the
// Clock. The production driver does these on goroutines, over HTTP and
// on the disk. The simulation (sim_test.go) gives New a driver of its own
// that makes each an event of one queue on simulated time, so the same
// state code runs deterministically from a seed, crashes included.
//
// # Executors
//
// A RUN_TASK with a command task runs the built-in command executor
// (`mezzo executor`, executor id = task id); one with an ExecutorInfo runs
// that executor (later tasks with the same executor id join it); a task
// group runs under the default executor (`mezzo executor --default`).
// Before launch the agent fetches CommandInfo.uris into the sandbox
// <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>
// (runs/latest links to it; task-group tasks get tasks/<task_id>) with
// package fetcher (URIs with cache=true through the fetcher cache in
// --fetcher_cache_dir, <work_dir>/fetch by default; its progress goes to
// the sandbox's stderr; a failed fetch fails the tasks with
// REASON_CONTAINER_LAUNCH_FAILED and a message naming the URI), then
// has its containerizer launch the executor (see Containerizers): a
// process in a new session (its own process group), cwd = sandbox,
// stdout/stderr to files there, with exactly Mesos' executor environment.
// An executor must SUBSCRIBE within --executor_registration_timeout;
// queued tasks are delivered then. SHUTDOWN_EXECUTOR / SHUTDOWN_FRAMEWORK
// send SHUTDOWN and kill the whole session after the grace period; when an
// executor ends, everything in its session is killed and its unfinished
// tasks get TASK_FAILED (REASON_EXECUTOR_TERMINATED, or the reason the
// agent ended it) from the agent.
//
// With --builtin_executors=auto (the default) the command and default
// executors of frameworks that do not checkpoint run inside the agent
// instead (the Builtin containerizer; inline.go): the executor package's
// code on a goroutine, calling executorCall and reading its
// subscription's queue where an HTTP executor would POST and read a
// stream, so every rule above holds for them too. Their tasks are the
// agent's children, each in a session of its own, and die with the
// agent — as such tasks do in Mesos, whose restarted agent kills
// executors it has no checkpoint of.
//
// # Driver-based executors
//
// Executors linked with libmesos' MesosExecutorDriver speak libprocess
// (v0.go, over internal/libprocess): they POST RegisterExecutorMessage,
// StatusUpdateMessage and the rest to /slave(1)/<message> on the agent's
// port (MESOS_SLAVE_PID), and the agent answers with POSTs of its own to
// the executor's address. Such an executor is subscribed through the same
// state code as an HTTP one; a goroutine per subscription turns its
// events into the driver's messages and queues them on a libprocess
// Sender, which never blocks the state goroutine. Its updates are
// acknowledged to it once durable (as Mesos' agent does), its messages
// go straight to the scheduler driver's pid when the framework has one
// (RUN_TASK's framework_pid, UPDATE_FRAMEWORK), and its pid is
// checkpointed (pids/libprocess.pid) so that a restarted agent sends it
// ReconnectExecutorMessage. Scheduler drivers send framework messages
// straight to the agent too (FrameworkToExecutorMessage).
//
// # Containerizers
//
// The agent's state code runs executors only through a
// containerizer.Containerizer (package containerizer, after Mesos'
// containerizer.hpp): Launch (on the launch goroutine, after the fetch),
// Wait (on that goroutine, which then posts executorTerminated), Destroy
// (SHUTDOWN's grace period over, registration timeouts, Close), Update
// (when what an executor and its live tasks hold grows, and before it
// is measured), Usage and Status (/monitor/statistics, /containers,
// GET_CONTAINERS; measured off the state goroutine from one reading of
// /proc) and Recover (New, before anything else). The agent's
// containerizer is a Composing one: with --builtin_executors=auto the
// Builtin containerizer first (it accepts only the built-in executors of
// frameworks that do not checkpoint), then those --containerizers names
// in order — "mesos", the Mezzo containerizer: a process per executor
// in a session of its own (package launcher), with the isolators of
// --isolation (filesystem/posix; posix/cpu and posix/mem measure, none
// enforces). When an executor ends, its containerizer kills the rest of
// its session before Wait reports the end. Config.Containerizer replaces
// all of it, e.g. with a fake that runs no process
// (containerizer/fake). Persistent volumes (below) are linked by the
// agent, which alone knows which task-group task holds which volume.
//
// # What the agent refuses
//
// Mezzo's only containerizer is the equivalent of Mesos' "mesos" one with
// its POSIX isolators (--containerizers=mesos; --isolation accepts
// posix/cpu, posix/mem, posix/disk and filesystem/posix, none of which
// enforces anything; "docker" adds package containerizer/docker, other
// names make New fail): executors
// are plain processes in the agent's own namespaces. A RUN_TASK whose executor (when it is to be created) or
// tasks ask for more is refused before anything is created or launched:
// each task gets TASK_FAILED from the agent (SOURCE_AGENT,
// REASON_CONTAINER_LAUNCH_FAILED) with a message naming what is not
// supported. Refused: DOCKER containers without "docker" in
// --containerizers, container images
// (ContainerInfo.mesos.image), every ContainerInfo volume (HOST_PATH,
// SANDBOX_PATH, SECRET, DOCKER_VOLUME, CSI_VOLUME, image; Mesos'
// filesystem/posix refuses them too), ContainerInfo.hostname, named
// (CNI) networks and port mappings, linux_info asking for restricted
// capabilities, a private PID or IPC namespace, shm_size, a seccomp
// profile or separate cgroups, rlimit_info, tty_info, and TaskInfo.limits
// for cpus or mem. Accepted and ignored, as they change nothing here: a
// MESOS ContainerInfo without image, network_infos without a name or port
// mappings (the host network), share_pid_namespace=true, ipc_mode
// SHARE_PARENT, an unconfined seccomp profile, share_cgroups=true.
//
// # Persistent volumes
//
// Disk resources of a RUN_TASK's tasks (and of a new executor) that carry
// disk.persistence.id are persistent volumes. Their data lives in Mesos'
// layout, <work_dir>/volumes/roles/<role>/<persistence_id> (the role of
// the most refined reservation, each "/" of a hierarchical role written
// as a space), created when first used. Before the executor starts (or,
// for a running executor, before the task is delivered) the volume is
// linked at <sandbox>/<disk.volume.container_path> — the executor's
// sandbox, or a task-group task's own tasks/<task_id>. As in Mesos'
// filesystem/posix isolator the link is a symlink: without a mount
// namespace, a bind mount would live in the host's mount table and need
// unmounting on every exit path, crash and recovery, for no gain in
// isolation. A symlink cannot make a volume read-only, so mode RO is
// refused rather than silently granted write access. container_path must
// be relative and stay inside the sandbox (absolute or ".." paths are
// refused; nested relative paths get their parent directories, made
// through an os.Root so that a symlink already in the sandbox cannot
// redirect them); volumes on PATH or MOUNT disks are refused. The data
// outlives tasks, executors and agent restarts: nothing removes it
// (sandbox garbage collection deletes the links, not their targets) until
// the volume is destroyed: when the master's new total for the agent
// (after DESTROY) no longer holds a volume, the agent deletes its data
// once the new total is checkpointed, unless a running executor still
// uses it (then it is kept and a warning logged). Links stay in their
// sandbox after the task using them ends (an executor that keeps running
// keeps access).
//
// # Status updates
//
// Each task has an ordered stream of updates (updateStream, a pure core
// in statusupdate.go). Only the head goes to the master (with the task's
// latest state, so the master's view is current while older updates
// wait); it is resent 10 s after it was sent, then 20 s, doubling to
// 10 min, until ACKNOWLEDGE; then the executor gets ACKNOWLEDGED and the
// next update goes. One timer on the injected Clock serves the earliest
// retry of all streams. After a lost master connection the agent
// re-registers (random backoff, doubling from
// --registration_backoff_factor) reporting its frameworks, executors and
// tasks, and resends every head.
//
// # Checkpointing and recovery
//
// For frameworks with checkpoint=true the agent writes its state under
// <work_dir>/meta in Mesos' layout (package checkpoint): agent, framework
// and executor info, each executor run's pid, its tasks, and every status
// update and acknowledgement, journaled (fsync) before it takes effect —
// an executor's UPDATE is durable before the agent answers 202, an update
// is durable before it goes to the master, an acknowledgement before the
// executor hears of it. The state goroutine does not write: it hands its
// writes, with what waits for them, to a checkpointer goroutine, which
// commits everything pending as one batch (one round of fsyncs) and
// reports back (checkpointer.go). A failed commit stops the agent
// (ErrCheckpoint) as it aborts Mesos' agent; a restarted agent recovers
// what is durable.
//
// New recovers before anything else runs. With --recover=reconnect (the
// default) it checks that the agent's info is unchanged (else
// ErrIncompatible: remove meta/slaves/latest to start under a new id),
// rebuilds frameworks, executors, tasks and update streams, and has the
// containerizer adopt each live executor by pid (a pidfd: it is no
// longer the agent's child, so its exit is watched, not waited for) and
// kill what else runs in its sandboxes. The adopted executors
// re-subscribe on their own (MESOS_RECOVERY_TIMEOUT,
// MESOS_SUBSCRIPTION_BACKOFF_MAX); those gone have their tasks failed
// (REASON_EXECUTOR_TERMINATED), those that do not re-subscribe within
// --executor_reregistration_timeout are killed (TASK_GONE, or TASK_LOST
// for frameworks that are not partition-aware,
// REASON_EXECUTOR_REREGISTRATION_TIMEOUT). The agent registers — with
// its old id, reporting what it recovered — as soon as every recovered
// executor re-subscribed or the timeout passed (Mesos always waits the
// full timeout), then resends the unacknowledged updates.
// --recover=cleanup kills the recovered executors, removes
// meta/slaves/latest and makes Serve return. Detach (what `mezzo agent`
// does on SIGTERM) stops the agent but leaves checkpointing frameworks'
// executors running; Close kills every executor.
//
// # Sandbox garbage collection
//
// As in Mesos, the directories of what is over are deleted after
// --gc_delay (gc.go): an executor run's sandbox and meta run directory
// (with the executor's directories) once the agent forgets the executor,
// a framework's sandbox and meta directories once it forgets the
// framework, and what recovery finds complete or superseded. Every
// --disk_watch_interval the agent measures the file system of --work_dir
// and deletes what is older than gc_delay × max(0, 1 − gc_disk_headroom −
// usage). A framework or executor id that comes back keeps its
// directories; nothing a live executor uses is deleted. A directory is
// renamed into <work_dir>/.gc on the state goroutine and deleted there
// by a goroutine of its own, never following a symlink.
//
// Not implemented yet: --reconfiguration_policy=additive, the operator
// API's container and resource-provider calls, container images,
// and nested containers.
package agent
