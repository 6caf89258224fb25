package resources

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestAgentResourcesFor(t *testing.T) {
	host := HostInfo{CPUs: 8, MemTotal: 16 * gib, DiskTotal: 100 * gib}
	tests := []struct {
		name, flag, role string
		host             HostInfo
		want             string
	}{
		{"all detected", "", "*", host, "cpus:8;disk:97280;mem:15360;ports:[31000-32000]"},
		{"flag replaces", "cpus:2;mem:512", "*", host, "cpus:2;disk:97280;mem:512;ports:[31000-32000]"},
		{"zero counts as given", "cpus:0;ports:[]", "*", host, "disk:97280;mem:15360"},
		{"custom resources pass through", "gpus:2;bugs:{a}", "*", host, "bugs:{a};cpus:8;disk:97280;gpus:2;mem:15360;ports:[31000-32000]"},
		{"reserved in flag counts", "cpus(web):2", "*", host, "cpus(web):2;disk:97280;mem:15360;ports:[31000-32000]"},
		{"default role", "mem(*):100", "web", host, "cpus(web):8;disk(web):97280;mem:100;ports(web):[31000-32000]"},
		{"small machine halves", "", "*", HostInfo{CPUs: 1, MemTotal: gib, DiskTotal: 8 * gib}, "cpus:1;disk:4096;mem:512;ports:[31000-32000]"},
		{"thresholds", "", "*", HostInfo{CPUs: 1, MemTotal: 2 * gib, DiskTotal: 10 * gib}, "cpus:1;disk:5120;mem:1024;ports:[31000-32000]"},
		{"MB are truncated", "", "*", HostInfo{CPUs: 1, MemTotal: 2*gib + mib - 1, DiskTotal: 10*gib + mib - 1}, "cpus:1;disk:5120;mem:1024;ports:[31000-32000]"},
		{"fallbacks", "", "*", HostInfo{}, "cpus:1;disk:10240;mem:1024;ports:[31000-32000]"},
		{"JSON flag", `[{"name":"cpus","type":"SCALAR","scalar":{"value":3}}]`, "*", host, "cpus:3;disk:97280;mem:15360;ports:[31000-32000]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AgentResourcesFor(tt.host, tt.flag, tt.role)
			if err != nil {
				t.Fatal(err)
			}
			if Format(got) != tt.want {
				t.Errorf("got  %s\nwant %s", Format(got), tt.want)
			}
		})
	}
	if _, err := AgentResourcesFor(host, "cpus:x", "*"); err == nil {
		t.Errorf("bad flag accepted")
	}
	if got := DefaultAgentResources(host, "web"); Format(got) != "cpus(web):8;disk(web):97280;mem(web):15360;ports(web):[31000-32000]" {
		t.Errorf("DefaultAgentResources = %s", Format(got))
	}
}

func TestDetectHost(t *testing.T) {
	dir := t.TempDir()
	host, err := DetectHost(dir)
	if runtime.GOOS != "linux" {
		t.Skipf("detection is partial outside Linux: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if host.CPUs < 1 || host.MemTotal < mib || host.DiskTotal < mib {
		t.Errorf("DetectHost = %+v", host)
	}
	got, err := AgentResources("", dir, "*")
	if err != nil || got.ScalarOf("cpus") != ScalarFromInt(int64(host.CPUs)) || got.ScalarOf("mem") == 0 || got.ScalarOf("disk") == 0 {
		t.Errorf("AgentResources = %v, %v", got, err)
	}
}

// TestDetectHostMissingWorkDir: a work directory that does not exist yet
// (an agent's first start with --work_dir=/var/lib/mezzo) is sized by the
// file system it will be created on, not left to the 10 GiB fallback.
func TestDetectHostMissingWorkDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("disk detection is Linux only")
	}
	dir := t.TempDir()
	want, err := DetectHost(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, missing := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "a", "b", "c")} {
		got, err := DetectHost(missing)
		if err != nil {
			t.Fatalf("DetectHost(%s): %v", missing, err)
		}
		if got.DiskTotal == 0 || got.DiskTotal != want.DiskTotal {
			t.Errorf("DetectHost(%s).DiskTotal = %d, want %d (its parent's file system)", missing, got.DiskTotal, want.DiskTotal)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("detection created %s (%v)", missing, err)
		}
	}
	// A relative path is resolved against the working directory.
	t.Chdir(dir)
	if got, err := DetectHost(filepath.Join("x", "y")); err != nil || got.DiskTotal != want.DiskTotal {
		t.Errorf("DetectHost(x/y) = %+v, %v", got, err)
	}
}

func TestParseHostFiles(t *testing.T) {
	cpus := []struct {
		in   string
		want int
	}{{"0-7\n", 8}, {"0", 1}, {"0,2-3,8-11", 7}, {"0-3,2-5", 6}}
	for _, tt := range cpus {
		if got, err := parseOnlineCPUs(tt.in); err != nil || got != tt.want {
			t.Errorf("parseOnlineCPUs(%q) = %d, %v", tt.in, got, err)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "1,,2", "0-99999999"} {
		if _, err := parseOnlineCPUs(bad); err == nil {
			t.Errorf("parseOnlineCPUs(%q) succeeded", bad)
		}
	}
	mem, err := parseMemTotal("MemFree:  10 kB\nMemTotal:       16318460 kB\n")
	if err != nil || mem != 16318460*1024 {
		t.Errorf("parseMemTotal = %d, %v", mem, err)
	}
	for _, bad := range []string{"", "MemTotal: 10 MB", "MemTotal: x kB"} {
		if _, err := parseMemTotal(bad); err == nil {
			t.Errorf("parseMemTotal(%q) succeeded", bad)
		}
	}
}

func TestParseFlag(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text")
	jsonFile := filepath.Join(dir, "json")
	if err := os.WriteFile(text, []byte("cpus:2;mem:64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jsonFile, []byte(` [{"name":"mem","type":"SCALAR","scalar":{"value":64}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"cpus:2", "cpus:2"},
		{"file://" + text, "cpus:2;mem:64"},
		{"file://" + jsonFile, "mem:64"},
		{`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5}]}}]`, "ports:[1-5]"},
	}
	for _, tt := range tests {
		got, err := ParseFlag(tt.in, "*")
		if err != nil || Format(got) != tt.want {
			t.Errorf("ParseFlag(%q) = %v, %v; want %s", tt.in, Format(got), err, tt.want)
		}
	}
	if _, err := ParseFlag("file://"+filepath.Join(dir, "missing"), "*"); err == nil {
		t.Errorf("missing file accepted")
	}
}
