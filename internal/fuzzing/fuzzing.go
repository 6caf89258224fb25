// Package fuzzing holds what the repository's fuzz targets share: Main,
// a TestMain that keeps the fuzzer's minimization of new inputs short.
//
// Go's fuzzer minimizes every input that finds new coverage before it
// goes on, for up to -test.fuzzminimizetime (default one minute), by
// trying to remove every subset of its bytes: a number of executions
// quadratic in the input's length. For targets whose inputs are
// documents or archives of a few hundred bytes, each new input then
// costs up to a minute without a single new execution, and a short run
// spends most of its time there. Main bounds it to MinimizeTime unless
// the command line sets it.
package fuzzing

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// MinimizeTime is the default -test.fuzzminimizetime under Main.
const MinimizeTime = "2s"

// Main parses the test flags, sets -test.fuzzminimizetime to
// MinimizeTime unless it was given, and runs m; it does not return. Call
// it from a package's TestMain.
func Main(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.fuzzminimizetime" })
	if !given {
		if err := flag.Set("test.fuzzminimizetime", MinimizeTime); err != nil {
			fmt.Fprintln(os.Stderr, "setting -test.fuzzminimizetime:", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
