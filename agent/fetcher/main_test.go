package fetcher

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain bounds the fuzzer's minimization of each input to 10 s
// unless -test.fuzzminimizetime is given. Each run of the extraction
// targets writes files (about a millisecond), and the fuzzer minimizes
// every new input by trying to remove each subset of its bytes
// (quadratic in its length): with the default minute per input, a run
// that keeps finding inputs spends most of its time minimizing, with no
// executions meanwhile.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.fuzzminimizetime" })
	if !given {
		if err := flag.Set("test.fuzzminimizetime", "10s"); err != nil {
			fmt.Fprintln(os.Stderr, "setting -test.fuzzminimizetime:", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
