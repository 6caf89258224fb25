// Package v1 holds Mezzo's copy of the Mesos v1 wire contract: the .proto
// definitions under proto/ (written for Mezzo, with Mesos' field names and
// numbers), the Go code generated from them in the sub-packages mesos,
// scheduler, executor, master, agent, quota, maintenance and allocator, and
// the codecs that put those messages on the wire (package codec for Mesos'
// JSON mapping and protobuf, package recordio for stream framing, package
// httpapi for the shared HTTP edge).
//
// Regenerate the Go code after editing a .proto file with
//
//	go generate ./api/v1/
//
// which needs protoc on PATH (Debian's protobuf-compiler package, installed
// by `make deps`) and uses the protoc-gen-go version pinned in go.mod.
package v1

//go:generate sh -c "protoc -I proto --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=../.. --go_opt=module=github.com/mezzo-project/mezzo $(cd proto && find mesos mezzo -name '*.proto' | sort)"
