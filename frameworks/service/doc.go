// Package service is Mezzo's service framework: it deploys a long-running
// service of several roles (say a storage master and its workers) from a
// spec file, keeps it running, and changes it on request. `mezzo service
// run SPEC` runs it in the foreground; `status`, `scale`, `update` and
// `stop` talk to it through its HTTP API (see api.go).
//
// A Spec (YAML or JSON) lists roles; each has a number of instances,
// resources, fixed, ranged or dynamic ports, a command, environment, URIs
// or a LOCAL home, configuration files, placement constraints, a health
// check and the roles it depends on. Commands, environment values, files
// and health commands are text/template templates filled per instance
// (see Context): a worker's config names its master's host and port.
//
//	roles run in deploy order        a role launches once every role in
//	                                 its depends_on is healthy
//	   spec ──▶ instances ──▶ offers ──▶ LAUNCH ──▶ TASK_RUNNING, healthy
//	              ▲                                      │
//	              └── failed: restart after a backoff ◀──┤
//	              └── agent lost: replace elsewhere  ◀───┘
//
// An instance is a slot (role, index) whose task is relaunched as needed;
// the task id is <service>.<role>.<index>.<generation>. When a rendering
// changes (a new spec, or a peer moved to another host), the role's
// instances restart one at a time, each only while the rest of the role
// is healthy (rolling). When no offer fits a role, the framework logs and
// reports why (e.g. "no agent offers port 19998").
//
// The Scheduler owns all state on the goroutine of Run; scheduler events,
// API requests and a one-second tick reach it through channels. It
// persists the framework id and the instances in <state_dir>/state.json
// after each change; a restarted `run` subscribes with that framework id
// (the failover timeout is a week), reconciles the tasks it knew, and
// keeps those still running instead of launching them again. Its log goes
// to <state_dir>/logs/framework.out.
//
// The scheduler's decisions depend only on the events it is given and on
// Config.Now; the calls it makes go through a small interface of the
// scheduler API. Its scenario tests (testdata/*.txt) drive it with
// scripted offers and status updates on a fake clock and compare the calls
// and log lines it produces.
package service
