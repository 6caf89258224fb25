// Package master is Mezzo's master: it admits frameworks and agents,
// offers agents' resources to frameworks, launches their tasks on agents,
// and relays task status between them, speaking Mesos' v1 scheduler API to
// frameworks and Mezzo's agent protocol (internal/agentproto) to agents.
//
// # Shape
//
//	HTTP handlers (http.go)                     one goroutine per request
//	   | decode, validate, negotiate; calls: m.do(fn) runs fn on the loop
//	   | and waits; reads: m.read() takes a published snapshot
//	   v
//	Master.loop (master.go)                     the one goroutine that owns
//	   | events, timers (core.nextDeadline),    the core
//	   | allocation after each event, then a
//	   | snapshot when readers wait for one
//	   v
//	core (core*.go)                             frameworks, agents, offers,
//	   | sends events into outboxes             tasks; the allocator
//	   v
//	outbox (stream.go) -> the request goroutine of each open stream writes
//	                      its events as RecordIO records
//
// Registry writes are effects (writes.go): the core asks for them with
// a continuation and goes on; the loop hands each batch to a writer
// goroutine that commits it in one registry transaction, and gives the
// outcome back to the core, which then runs the continuations in order.
// What depends on a write (the in-memory change, the reply, the events)
// happens in its continuation; HTTP handlers wait for it.
//
// Reads never queue on the core (snapshot.go): the documents, metrics
// and operator queries are answered from an immutable copy of the core's
// books that the loop publishes after an iteration when a reader waits
// for one, at most one per iteration and paced, so readers cannot slow
// the calls the core serves. A read sees every call answered before it
// began.
//
// The core is a state machine with no goroutines and no I/O: time comes
// from an injected Clock, its timers are deadlines that tick() fires, and
// events leave through sinks (eventSink for frameworks, agentSink for
// agents) that never block. Tests drive it directly with a fake clock and
// recording sinks; the Master drives it with the system clock and HTTP
// streams.
//
// # Frameworks
//
// SUBSCRIBE opens a framework's stream (first event SUBSCRIBED, HEARTBEAT
// every 15 s); every other call needs the stream's Mesos-Stream-Id. A
// framework that subscribes again with its id gets a new stream; the old
// one receives ERROR "Framework failed over" and closes. A framework whose
// stream closes is disconnected: its offers are discarded and it is removed
// (tasks killed) when its failover_timeout elapses, at once when that is 0.
//
// Schedulers linked against libmesos' driver speak the libprocess
// protocol instead (v0.go, internal/libprocess): their POSTs to
// /master/<message name> make the same core calls, and a v0Sink takes
// the place of the stream, sending the driver's messages to its address.
// Offers name each agent's pid, and agents learn each driver's pid
// (RUN_TASK, UPDATE_FRAMEWORK), so that framework messages go between
// drivers and agents directly, as in Mesos.
//
// # Back-pressure
//
// A stream's outbox (stream.go) holds at most 64 MiB for a framework or
// an agent; the core keeps far below that. Answers that may be large
// (RECONCILE, explicit or implicit, and RECONCILE_OPERATIONS) are paced
// (pacing.go): the core sends them while the stream's backlog is under
// 1,024 events and continues when the stream reports it drained, each
// update computed from the state at the time it is sent. A framework
// whose stream holds 4,096 events is offered nothing until it drains;
// HEARTBEATs and retries of a status update not yet written are
// coalesced; an agent gets no PING while its stream is still writing.
// A client that stops reading is found by the 30 s write timeout: its
// stream ends, a disconnection like any other. A stream that does pass
// its bound is cut; a framework cut so keeps its tasks for at least
// 5 minutes whatever its failover timeout, to subscribe again and
// reconcile.
//
// # Agents
//
// An agent REGISTERs on /master/api/v1/agent and keeps the response open as
// its event stream; it gets an id "<masterId>-S<n>" (or keeps the one it
// registers with). The master pings it every --agent_ping_timeout; after
// --max_agent_ping_timeouts unanswered pings, or when its stream stays
// closed that long, the agent is marked unreachable: its offers are
// rescinded, its tasks become TASK_UNREACHABLE (TASK_LOST for frameworks
// without PARTITION_AWARE) and every framework gets a FAILURE event. An
// agent that comes back gets its reported tasks back; those it no longer
// has end TASK_GONE. A framework keeps at most
// --max_unreachable_tasks_per_framework unreachable tasks. After a
// restart with quota, offers wait until --allocator_agent_recovery_factor
// of the registry's agents are back, or --allocator_recovery_timeout.
//
// # Offers and tasks
//
// The allocator (package master/allocator) decides who is offered what; the
// core turns its decisions into offers "<masterId>-O<n>" and rescinds them
// when their agent goes away or --offer_timeout passes. ACCEPT is validated
// with Mesos' rules (validation.go); valid tasks go TASK_STAGING and to the
// agent as RUN_TASK, invalid ones are answered with TASK_ERROR,
// TASK_DROPPED or TASK_LOST updates that say what is wrong. Status updates
// from agents update the master's view of each task (so /master/state is
// current) and go to the framework; its ACKNOWLEDGE goes back to the agent,
// and an acknowledged terminal task moves to the completed tasks.
//
// # Roles, quota, reservations and volumes
//
// The allocator (master/allocator, README.md there) is hierarchical DRF
// over weighted roles with quota. ACCEPT applies RESERVE, UNRESERVE,
// CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME to the offered resources
// (core_ops.go); the operator API (POST /api/v1, operator.go) answers
// GET_ROLES, GET_WEIGHTS, UPDATE_WEIGHTS, GET_QUOTA, UPDATE_QUOTA,
// RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES,
// DESTROY_VOLUMES, GROW_VOLUME, SHRINK_VOLUME, GET_HEALTH,
// GET_VERSION, GET_FLAGS, GET_MASTER and GET_METRICS with Mesos' status
// codes; /roles and /metrics/snapshot are the JSON views. Weights and
// quotas are records of the registry, as agents and frameworks are. Mesos' older
// form-based endpoints /reserve, /unreserve, /create-volumes,
// /destroy-volumes, /weights and /quota (with the deprecated SET_QUOTA
// and REMOVE_QUOTA calls) share the same operations (legacy_ops.go).
//
// # Views of the cluster
//
// /master/state (state.go) and /master/state-summary, /master/slaves,
// /master/frameworks and /master/tasks (state_endpoints.go, with Mesos'
// query parameters) are Mesos' JSON documents; the operator API's
// GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS and GET_TASKS
// (operator_state.go) are the same state as v1 messages. TEARDOWN and
// POST /master/teardown remove a framework as its scheduler's TEARDOWN
// does. The operator API's SUBSCRIBE (operator_stream.go) streams the
// changes: SUBSCRIBED with GET_STATE's answer, then TASK_ADDED,
// TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED, FRAMEWORK_ADDED,
// FRAMEWORK_UPDATED and FRAMEWORK_REMOVED in the order the master made
// them, and HEARTBEAT every 15 s.
//
// # Files and logs
//
// /files/browse, /files/read, /files/download and /files/debug (also
// under /master/files/) and the operator API's LIST_FILES and READ_FILE
// (files.go) serve the master's own log as /master/log (Config.LogFile,
// from --log_dir) and, beyond Mesos, every registered agent's files as
// /agents/<agent id>/<path on the agent>, forwarded to that agent. A
// task's sandbox is
//
//	/agents/<agent id>/frameworks/<framework id>/executors/<executor id>/runs/latest
//
// with the task id as executor id for a command task (its executor is
// named after it), and .../runs/latest/tasks/<task id> for a task of a
// task group; the agent's log is /agents/<agent id>/slave/log. The
// directories above these are listed from the master's books so that a
// browser can walk from "/". The file endpoints themselves are the
// agent's (internal/files).
//
// # Metrics
//
// metrics.go: /metrics/snapshot and GET_METRICS report Mesos 1.11's master
// and allocator metrics under Mesos' names (master/tasks_running,
// master/frameworks/<name>/<id>/calls/accept, allocator/mesos/... ), gauges
// computed from a published snapshot of the core's state and counters the core
// increments where the event happens; its top comment lists what is left
// out and why, and Mezzo's additions.
//
// # Maintenance
//
// maintenance.go: UPDATE_MAINTENANCE_SCHEDULE (and POST
// /maintenance/schedule) puts machines, by hostname and/or IP, in windows
// with an unavailability; they are DRAINING: offers of their agents carry
// Offer.unavailability and every framework running something there gets
// INVERSE_OFFERS, answered with ACCEPT_/DECLINE_INVERSE_OFFERS (reported
// by GET_MAINTENANCE_STATUS, /maintenance/status) and rescinded when the
// window changes. START_MAINTENANCE (/machine/down) takes DRAINING
// machines DOWN: their agents are removed, their tasks end
// TASK_GONE_BY_OPERATOR (or TASK_LOST), and they may not register while
// DOWN; STOP_MAINTENANCE (/machine/up) brings them UP and out of the
// schedule. Per agent: DEACTIVATE_AGENT / REACTIVATE_AGENT stop and resume
// its offers; DRAIN_AGENT deactivates it, kills its tasks with the grace
// period capped at max_grace_period (without grace once it has passed;
// updates carry REASON_AGENT_DRAINING), then marks it DRAINED, or gone
// with mark_gone. The schedule, DOWN machines and the agents' holds are in
// the registry and survive a restart; inverse offers and their answers do
// not (frameworks are asked again).
//
// Several masters (--zk): `mezzo master` contends for leadership in
// ZooKeeper (package detector) and serves a Standby — the endpoints a
// non-leading Mesos master serves, redirecting the APIs to the leader —
// until it is elected; then it runs a Master with the elected Info and the
// ZooKeeper registry (registry.ZooKeeper), whose Leadership reports the
// leader. A Master with Leadership nil leads alone.
//
// Offer constraints (Call.Subscribe and Call.UpdateFramework's
// offer_constraints) are compiled by package master/constraints into a
// filter the allocator asks, once per agent and role, whether an agent may
// be offered to the framework; UPDATE_FRAMEWORK rescinds outstanding
// offers the new constraints exclude. Reservations and persistent volumes
// survive an agent's re-registration: the agent reports its checkpointed
// total, which the master takes when it matches the agent's flags.
//
// Authorization (--acls, authz.go, authz_views.go): the core asks the
// immutable local authorizer (package internal/acl) about frameworks'
// calls, by FrameworkInfo.principal; the HTTP handlers about operators'
// calls, by the principal in the request's context, answering 403; the
// documents, query answers and operator event streams are filtered per
// principal after they are built, and memoized per snapshot and
// principal.
package master
