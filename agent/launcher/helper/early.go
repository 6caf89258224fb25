package helper

import "os"

// init runs the helper before most of the program is initialized: Go
// initializes packages in the order of their import paths, each once its
// imports are, and this package imports only packages that are
// initialized early — not strings (nor encoding/json and
// golang.org/x/sys/unix, which import it), not unicode (nor reflect,
// fmt and encoding/binary, which import it), not path/filepath or
// os/exec, which wait behind every github.com package — so the helper
// starts without the cost of the binary's other packages (compression
// tables, protobuf registrations, flag tables): it runs after 22 package
// initializers instead of 86 (TestHelperStartsEarly keeps the imports
// so). Only a process started as the helper (argv[1] "launch" and
// EnvMarker set, which launcher.Start does) is taken.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "launch" && os.Getenv(EnvMarker) == "1" {
		os.Exit(Main(os.Args[2:]))
	}
}
