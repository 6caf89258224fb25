// Package batch is Mezzo's batch framework: it runs a job of N tasks made
// from one command template, to completion. `mezzo job run SPEC` runs it in
// the foreground and prints its progress; `status`, `logs` and `kill`
// reach it through its HTTP API and its state directory.
//
// A Spec (YAML or JSON) gives the number of tasks, the command (a
// text/template filled per task with {{.Index}}, {{.Tasks}} and the named
// {{.Inputs}}), the URIs that ship code and data into each sandbox (also
// templates, marked cache: true by default so that the agent's fetcher
// cache downloads each once and reuses it for every task), each task's
// resources, the maximum parallelism, how often
// a failed task is retried and with what backoff, and a deadline.
//
//	pending ──▶ LAUNCH (many tasks per offer) ──▶ running ──▶ finished
//	   ▲                                             │
//	   └──── failed or lost: retry after a backoff ◀─┤ (until retries run out)
//	                                                 └──▶ failed
//
// Each offer is packed with as many pending tasks as its resources and the
// parallelism allow, in one ACCEPT, so a job of thousands of tasks launches
// as fast as offers come. The task id is <job>.<run>.<index>.<attempt>,
// where <run> is a random id of this run of the job. When
// every task is finished or has failed for good, or the deadline passes, or
// a kill request comes, the framework is torn down (the master kills what
// still runs) and the Summary (exit codes, durations, tasks per second) is
// printed and written to <state_dir>/summary.json, which `status` shows
// once the job has ended.
//
// The Job owns all its state on the goroutine of Run; scheduler events,
// API requests and a ticker reach it through channels.
package batch
