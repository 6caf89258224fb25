package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	readClients = flag.Int("read_clients", 50, "clients BenchmarkLaunchUnderReads runs, each polling /master/state and /metrics/snapshot in a loop")
	readPause   = flag.Duration("read_pause", 0, "pause of each BenchmarkLaunchUnderReads client between two reads")
	readPaths   = flag.String("read_paths", "/master/state,/metrics/snapshot", "comma-separated paths each BenchmarkLaunchUnderReads client reads in turn")
	readTasks   = flag.Int("read_launch_tasks", 0, "tasks BenchmarkLaunchUnderReads launches while the clients read (default: -launch_tasks)")
)

// BenchmarkLaunchUnderReads runs BenchmarkLaunchTrueTasks' launch twice on
// one `mezzo local`: alone, then while -read_clients clients poll
// /master/state and /metrics/snapshot in turn, as fast as they are
// answered (loopback only; the clients stop when the launch ends). It
// reports, for each run, the launch rate and the latency of the
// scheduler's calls (ACCEPT, ACKNOWLEDGE), plus the readers' rate and
// latency, and the loaded run's launch rate as a share of the unloaded
// one's (-read_launch_tasks keeps the loaded run short where reads slow
// launches down a lot):
//
//	go test ./e2e -run '^$' -bench LaunchUnderReads -benchtime 1x -launch_tasks=200
func BenchmarkLaunchUnderReads(b *testing.B) {
	master := *launchMaster
	if master == "" {
		master, _ = startLocal(b)
	}
	b.ResetTimer()
	var alone, loaded []launchResult
	var reads []readResult
	for i := 0; i < b.N; i++ {
		alone = append(alone, launchRun(b, master, *launchTasks))
		ctx, cancel := context.WithCancel(context.Background())
		readers := startReaders(ctx, master, *readClients, *readPause)
		n := *launchTasks
		if *readTasks > 0 {
			n = *readTasks
		}
		loaded = append(loaded, launchRun(b, master, n))
		cancel()
		r := readers()
		if r.errors > 0 {
			b.Fatalf("%d of %d reads failed, first: %v", r.errors, r.reads+r.errors, r.firstErr)
		}
		if r.reads == 0 && *readClients > 0 {
			b.Fatal("no read answered during the launch")
		}
		reads = append(reads, r)
	}
	b.StopTimer()
	field := func(rs []launchResult, f func(launchResult) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return mean(xs)
	}
	rate := func(r launchResult) float64 { return r.rate }
	callP50 := func(r launchResult) float64 { return r.callP50 }
	callP99 := func(r launchResult) float64 { return r.callP99 }
	b.ReportMetric(field(alone, rate), "tasks/s-alone")
	b.ReportMetric(field(alone, callP50), "p50-call-ms-alone")
	b.ReportMetric(field(alone, callP99), "p99-call-ms-alone")
	b.ReportMetric(field(loaded, rate), "tasks/s-reads")
	b.ReportMetric(field(loaded, callP50), "p50-call-ms-reads")
	b.ReportMetric(field(loaded, callP99), "p99-call-ms-reads")
	b.ReportMetric(100*field(loaded, rate)/field(alone, rate), "%-rate-kept")
	var perSec, p50, p99 []float64
	for _, r := range reads {
		perSec = append(perSec, r.perSec)
		p50 = append(p50, r.p50)
		p99 = append(p99, r.p99)
	}
	b.ReportMetric(mean(perSec), "reads/s")
	b.ReportMetric(mean(p50), "p50-read-ms")
	b.ReportMetric(mean(p99), "p99-read-ms")
}

// readResult is what the polling clients saw.
type readResult struct {
	reads, errors int
	firstErr      error
	perSec        float64
	p50, p99      float64 // ms
}

// startReaders starts n clients that read /master/state and
// /metrics/snapshot of master in turn, pausing pause between reads, until
// ctx ends. The returned function waits for them and sums up.
func startReaders(ctx context.Context, master string, n int, pause time.Duration) func() readResult {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	var (
		mu        sync.Mutex
		res       readResult
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	start := time.Now()
	paths := strings.Split(*readPaths, ",")
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; ctx.Err() == nil; j++ {
				url := "http://" + master + paths[j%len(paths)]
				t0 := time.Now()
				err := readOnce(ctx, client, url)
				d := time.Since(t0)
				mu.Lock()
				switch {
				case ctx.Err() != nil: // cut short by the end of the run
				case err != nil:
					res.errors++
					if res.firstErr == nil {
						res.firstErr = err
					}
				default:
					res.reads++
					latencies = append(latencies, d)
				}
				mu.Unlock()
				if pause > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
			}
		}()
	}
	return func() readResult {
		wg.Wait()
		client.CloseIdleConnections()
		res.perSec = float64(res.reads) / time.Since(start).Seconds()
		res.p50, res.p99 = percentileMs(latencies, 0.50), percentileMs(latencies, 0.99)
		return res
	}
}

// readOnce GETs url and reads the whole body; an error unless 200.
func readOnce(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
