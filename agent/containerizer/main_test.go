package containerizer

import (
	"os"
	"testing"

	"github.com/mezzo-project/mezzo/agent/launcher"
)

// TestMain lets the test binary serve as the launch helper: a Mezzo with
// MezzoConfig.Helper set to it starts `<test binary> launch`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "launch" {
		os.Exit(launcher.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}
