package master

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// benchAgentSink and benchFwSink drop what the master sends.
type benchAgentSink struct{}

func (benchAgentSink) Send(*agentproto.AgentEvent) {}
func (benchAgentSink) Close()                      {}

type benchFwSink struct{}

func (benchFwSink) Send(*schedpb.Event) {}
func (benchFwSink) Close()              {}

// BenchmarkRegistrationsOnDisk registers b.N new agents, from 64
// concurrent callers as HTTP handlers would, against a master whose
// registry is a bbolt file (fsync'd) in a temporary directory; meanwhile a
// subscribed framework makes REVIVE calls one after the other, which write
// nothing. It reports registrations per second and the REVIVE calls'
// latency (median and 99th percentile): what a slow registry costs the
// calls that do not use it.
func BenchmarkRegistrationsOnDisk(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP = "master.bench", "127.0.0.1"
	cfg.Registry, cfg.WorkDir = "replicated_log", b.TempDir()
	m, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	var fwID string
	if err := m.do(func(c *core) {
		fwID = c.subscribe(benchFwSink{}, "bench-fw", &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			User: proto.String("bench"), Name: proto.String("bench")}})
	}); err != nil || fwID == "" {
		b.Fatalf("subscribe: %q %v", fwID, err)
	}
	revive := &schedpb.Call{FrameworkId: frameworkID(fwID), Type: schedpb.Call_REVIVE.Enum()}

	const callers = 64
	var next atomic.Int64
	var failed atomic.Int64
	stop := make(chan struct{})
	probeDone := make(chan []time.Duration)
	b.ResetTimer()
	start := time.Now()
	go func() {
		var lat []time.Duration
		for {
			select {
			case <-stop:
				probeDone <- lat
				return
			default:
			}
			t0 := time.Now()
			var callErr error
			if err := m.do(func(c *core) { callErr = c.schedulerCall(revive, "bench-fw", true) }); err != nil || callErr != nil {
				b.Errorf("REVIVE: %v %v", err, callErr)
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < callers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				reg := &agentproto.AgentCall_Register{
					AgentInfo: &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("agent-%d", i)), Resources: []*mesos.Resource{{
						Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(4)}}}},
					Endpoint: proto.String(fmt.Sprintf("10.0.%d.%d:5051", i/250, i%250+1)),
					Version:  proto.String("1.11.1"),
				}
				var regErr error
				if err := m.do(func(c *core) { _, regErr = c.registerAgent(benchAgentSink{}, fmt.Sprint("s", i), reg) }); err != nil {
					failed.Add(1)
					continue
				}
				if awaitReply(regErr) != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	lat := <-probeDone
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d registrations failed", failed.Load())
	}
	var agents int
	if err := m.do(func(c *core) { agents = len(c.agents) }); err != nil || agents != b.N {
		b.Fatalf("master has %d agents after %d registrations (%v)", agents, b.N, err)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "registrations/s")
	b.ReportMetric(pct(0.5), "revive-p50-ms")
	b.ReportMetric(pct(0.99), "revive-p99-ms")
}
