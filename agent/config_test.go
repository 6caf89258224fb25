package agent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// The fetcher's flags: the cache sits in <work_dir>/fetch unless told
// otherwise, its size takes Mesos' Bytes syntax, and bad values are
// refused naming the flag.
func TestFetcherFlags(t *testing.T) {
	base := func() Config {
		cfg := Defaults()
		cfg.Master, cfg.WorkDir = "127.0.0.1:5050", t.TempDir()
		return cfg
	}
	cfg := base()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cfg.WorkDir, "fetch"); cfg.FetcherCacheDir != want || cfg.fetcherCacheBytes != 2<<30 || cfg.FetcherStallTimeout != time.Minute {
		t.Errorf("defaults: dir %q (want %q), size %d, stall %v", cfg.FetcherCacheDir, want, cfg.fetcherCacheBytes, cfg.FetcherStallTimeout)
	}
	if cfg.fetcherExtractBytes != 32<<30 || cfg.FetcherExtractMaxEntries != 1_000_000 {
		t.Errorf("extraction bounds by default: %d bytes, %d entries", cfg.fetcherExtractBytes, cfg.FetcherExtractMaxEntries)
	}
	cfg = base()
	cfg.FetcherCacheDir, cfg.FetcherCacheSize = "/var/cache/mezzo", "512MB"
	if err := cfg.validate(); err != nil || cfg.FetcherCacheDir != "/var/cache/mezzo" || cfg.fetcherCacheBytes != 512<<20 {
		t.Errorf("given: dir %q, size %d, %v", cfg.FetcherCacheDir, cfg.fetcherCacheBytes, err)
	}
	for _, tc := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.FetcherCacheSize = "2 gigs" }, "--fetcher_cache_size=2 gigs"},
		{func(c *Config) { c.FetcherStallTimeout = -time.Second }, "--fetcher_stall_timeout=-1secs"},
		{func(c *Config) { c.FetcherExtractMaxSize = "lots" }, "--fetcher_extract_max_size=lots"},
		{func(c *Config) { c.FetcherExtractMaxSize = "0B" }, "--fetcher_extract_max_size=0B"},
		{func(c *Config) { c.FetcherExtractMaxEntries = -1 }, "--fetcher_extract_max_entries=-1"},
	} {
		cfg := base()
		tc.set(&cfg)
		if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %q, got %v", tc.want, err)
		}
	}
}
