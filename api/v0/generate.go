// Package v0 holds Mezzo's copy of the wire types of Mesos' libprocess
// ("v0") driver protocol: the internal messages that MesosSchedulerDriver
// and MesosExecutorDriver exchange with the master and the agent
// (package messages, Mesos' mesos.internal.*), and the scheduler Call the
// scheduler driver sends (package scheduler, mesos.scheduler.Call).
//
// The .proto definitions under proto/ are written for Mezzo with Mesos'
// names and numbers. They reuse the mesos.v1 types of api/v1 for
// FrameworkInfo, Offer, TaskInfo, TaskStatus and the rest: Mesos' v0 and
// v1 mesos.proto give those the same field numbers and types (SlaveID and
// AgentID included), so their bytes are the same. The transport is
// package internal/libprocess.
//
// Regenerate the Go code after editing a .proto file with
//
//	go generate ./api/v0/
//
// which needs protoc on PATH, as api/v1 does.
package v0

//go:generate sh -c "protoc -I proto -I ../v1/proto --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=../.. --go_opt=module=github.com/mezzo-project/mezzo $(cd proto && find mesos -name '*.proto' | sort)"
