package launcher

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as the launch helper: Start runs
// `<test binary> launch` for a Spec with an Isolation.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "launch" {
		os.Exit(Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}
