// Package cli is Mezzo's operator command line: the subcommands of the
// mezzo binary that look at and act on a running cluster (`mezzo agents`,
// `mezzo tasks`, `mezzo logs`, `mezzo top`, ...).
//
// It talks only to public APIs, as any other tool could:
//
//   - the master's v1 operator API (POST /api/v1, protobuf): GET_AGENTS,
//     GET_FRAMEWORKS, GET_TASKS, GET_STATE, TEARDOWN, and SUBSCRIBE for the
//     event stream (RecordIO);
//   - the master's /metrics/snapshot for cluster utilisation;
//   - sandbox files through the master's files proxy
//     (/files/{browse,read}?path=/agents/<agent>/frameworks/...); where the
//     master does not serve it (a Mesos master), the agent's own /files
//     endpoints at the address the master reports for it;
//   - the agents' /monitor/statistics for per-task usage (`mezzo top`).
//
// The master is found from --master, else $MEZZO_MASTER, else
// 127.0.0.1:5050: a host:port, or a zk:// or file:// URL resolved to the
// leader through package detector. Standby masters' 307 redirects are
// followed.
//
// With --principal and --secret (else $MEZZO_PRINCIPAL and $MEZZO_SECRET)
// every request carries HTTP Basic credentials, for masters and agents
// that authenticate their endpoints (docs/security.md); a 401 says so.
//
// Every command prints a human table by default and the API's own
// messages (Mesos' JSON mapping) with --json. An id argument may be any
// unique prefix of the id. Exit codes are stable for scripts:
//
//	0    success
//	1    the cluster could not be reached or refused the request
//	2    usage error: a bad flag, argument or value
//	3    not found: no task, framework, agent or file with that id or path
//	4    ambiguous: the id prefix matches more than one
//	130  interrupted (Ctrl-C)
//
// Main runs one command line; cmd/mezzo registers these commands beside its
// own (master, agent, local, ...), which the command tree lists for help
// and shell completion without parsing their flags.
package cli
