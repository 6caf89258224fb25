// Package v0test is test support for Mesos' libprocess ("v0") driver
// protocol: a reader of the sessions recorded from Mesos 1.11.1
// (testdata/, described by testdata/README.md) and a minimal scheduler
// driver built on package internal/libprocess that speaks to a master as
// libmesos' MesosSchedulerDriver does.
package v0test
