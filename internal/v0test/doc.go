// Package v0test is test support for Mesos' libprocess ("v0") driver
// protocol: a reader of the sessions recorded from Mesos 1.11.1
// (testdata/, described by testdata/README.md), a minimal scheduler
// driver built on package internal/libprocess that speaks to a master as
// libmesos' MesosSchedulerDriver does (Scheduler), and a minimal executor
// driver that speaks to an agent as MesosExecutorDriver does (Executor).
package v0test
