package master

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/cli"
)

// BenchmarkCLITasks measures `mezzo tasks --all` against a master that
// learned 1,000 agents running 10,000 tasks, served over loopback HTTP:
// the GET_STATE call, decoding it, and writing the table (or --json).
//
//	go test ./master -run '^$' -bench CLITasks -benchtime 10x
func BenchmarkCLITasks(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "m", "127.0.0.1", "in_memory"
	cfg.AllocationInterval = time.Hour
	m, err := New(cfg, discardLogger)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.readLimit = &readLimiter{}
	var loadErr error
	if err := m.do(func(c *core) { loadErr = loadBenchCluster(c, 1000, 10) }); err != nil || loadErr != nil {
		b.Fatal(err, loadErr)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, format := range []string{"table", "json"} {
		b.Run(format, func(b *testing.B) {
			args := []string{"tasks", "--all", "--master=" + addr}
			if format == "json" {
				args = append(args, "--json")
			}
			var out, errOut bytes.Buffer
			for b.Loop() {
				out.Reset()
				if code := cli.Main(args, cli.Env{Stdout: &out, Stderr: &errOut}); code != 0 {
					b.Fatalf("exit %d: %s", code, errOut.String())
				}
			}
			// One framework_id per task in JSON; one state per row in the table.
			want := `"framework_id"`
			if format == "table" {
				want = "RUNNING"
			}
			if n := strings.Count(out.String(), want); n != 10000 {
				b.Fatalf("%d tasks printed, want 10,000", n)
			}
			b.ReportMetric(float64(out.Len()), "bytes-out")
		})
	}
}
