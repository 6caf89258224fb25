package agent

import (
	"strings"
	"testing"
)

// --hostname_lookup=false advertises the --ip address as the hostname, and
// needs one; --max_completed_executors_per_framework must not be negative.
func TestHostnameLookupAndHistoryFlags(t *testing.T) {
	base := func() Config {
		cfg := Defaults()
		cfg.Master, cfg.WorkDir = "127.0.0.1:5050", t.TempDir()
		return cfg
	}
	cfg := base()
	cfg.HostnameLookup, cfg.IP = false, "127.0.0.1"
	if err := cfg.validate(); err != nil || cfg.Hostname != "127.0.0.1" {
		t.Errorf("--hostname_lookup=false --ip=127.0.0.1: hostname %q, %v", cfg.Hostname, err)
	}
	cfg = base()
	cfg.HostnameLookup, cfg.IP, cfg.Hostname = false, "127.0.0.1", "named"
	if err := cfg.validate(); err != nil || cfg.Hostname != "named" {
		t.Errorf("--hostname wins: %q, %v", cfg.Hostname, err)
	}
	cfg = base()
	cfg.HostnameLookup = false
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "--hostname_lookup=false needs --ip") {
		t.Errorf("--hostname_lookup=false without --ip: %v", err)
	}
	cfg = base()
	cfg.MaxCompletedExecutorsPerFramework = -1
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "--max_completed_executors_per_framework=-1") {
		t.Errorf("negative history: %v", err)
	}
}
