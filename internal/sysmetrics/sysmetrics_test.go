package sysmetrics

import (
	"runtime"
	"testing"
)

func TestReadThisHost(t *testing.T) {
	m := Read()
	for _, name := range []string{"system/load_1min", "system/load_5min", "system/load_15min",
		"system/cpus_total", "system/mem_total_bytes", "system/mem_free_bytes"} {
		if _, ok := m[name]; !ok {
			t.Errorf("%s missing from %v", name, m)
		}
	}
	if m["system/cpus_total"] < 1 || m["system/cpus_total"] > float64(runtime.NumCPU()*4) {
		t.Errorf("cpus_total %v (Go sees %d)", m["system/cpus_total"], runtime.NumCPU())
	}
	if m["system/mem_free_bytes"] > m["system/mem_total_bytes"] || m["system/mem_total_bytes"] < 1<<20 {
		t.Errorf("memory: free %v of %v", m["system/mem_free_bytes"], m["system/mem_total_bytes"])
	}
}
