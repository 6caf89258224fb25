package legacy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// /monitor/statistics writes what the isolators measured under Mesos'
// names, and leaves out what Mesos 1.11's ResourceStatistics lacks.
func TestStatisticsOf(t *testing.T) {
	s := &mesos.ResourceStatistics{
		Timestamp:         proto.Float64(12.5),
		CpusNrPeriods:     proto.Uint32(7),
		MemLimitBytes:     proto.Uint64(64 << 20),
		Processes:         proto.Uint32(3),
		MemKmemUsageBytes: proto.Uint64(4096),
		BlkioStatistics:   &mesos.CgroupInfo_Blkio_Statistics{},
	}
	doc, err := legacy.StatisticsOf(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{`"cpus_nr_periods":7`, `"mem_limit_bytes":67108864`, `"processes":3`, `"timestamp":12.5`, `"blkio_statistics":{}`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s: no %s", got, want)
		}
	}
	if strings.Contains(got, "mem_kmem") {
		t.Errorf("%s: writes mem_kmem_usage_bytes, which Mesos 1.11 lacks", got)
	}
}
