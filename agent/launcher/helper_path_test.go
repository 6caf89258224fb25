package launcher

import (
	"os"
	"testing"
)

// TestHelperPathOfRunningBinary: the running binary as its own helper is
// started through /proc/self/exe (the same version after an upgrade
// replaced the file); another helper from its path.
func TestHelperPathOfRunningBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Skipf("os.Executable: %v", err)
	}
	if got := helperPath(self); got != "/proc/self/exe" {
		t.Errorf("helperPath(%s) = %s, want /proc/self/exe", self, got)
	}
	if got := helperPath("/usr/local/bin/mezzo-other"); got != "/usr/local/bin/mezzo-other" {
		t.Errorf("helperPath of another binary = %s", got)
	}
}
