module github.com/mezzo-project/mezzo

go 1.26.8

tool google.golang.org/protobuf/cmd/protoc-gen-go

require (
	go.etcd.io/bbolt v1.5.0
	google.golang.org/protobuf v1.36.12
)

require golang.org/x/sys v0.45.0
