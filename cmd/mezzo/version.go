package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/mezzo-project/mezzo/internal/version"
)

func init() {
	register(command{
		name:    "version",
		summary: "print Mezzo's version and the Mesos API it speaks",
		run: func(args []string, stdout, stderr io.Writer) int {
			if len(args) > 0 && args[0] != "--help" && args[0] != "-h" {
				fmt.Fprintf(stderr, "mezzo version: takes no arguments, got %q\n", args[0])
				return 2
			}
			printVersion(stdout)
			return 0
		},
	})
}

// printVersion writes Mezzo's version, the Mesos API it speaks and the Go
// toolchain that built it.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "mezzo %s\n", version.Version)
	fmt.Fprintf(w, "Mesos API %s (compatible with Mesos %s)\n", version.APIVersion, version.MesosVersion)
	fmt.Fprintf(w, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
