package helper

import "os"

// init runs the helper before most of the program is initialized: Go
// initializes packages in the order of their import paths, each once its
// imports are, and this package avoids those that wait behind every
// github.com package (path/filepath, os/exec), so the helper starts
// without the cost of the binary's other packages (protobuf
// registrations, flag tables). It still imports strings (directly and
// through encoding/json and golang.org/x/sys/unix), which sorts late:
// the helper runs after 86 of the binary's package initializers, and a
// start of the binary as the helper costs about 1.9 ms of CPU here
// against 1.4 ms had it run after the first 21 (GOMAXPROCS=1, static
// build, `perf stat` over 300 starts). Only a process started as the
// helper (argv[1] "launch" and EnvMarker set, which launcher.Start
// does) is taken.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "launch" && os.Getenv(EnvMarker) == "1" {
		os.Exit(Main(os.Args[2:]))
	}
}
