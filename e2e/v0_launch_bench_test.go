package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/v0test"
)

// BenchmarkLaunchTrueTasksV0 is BenchmarkLaunchTrueTasks through the
// scheduler driver protocol: the v0 test driver subscribes with
// mesos.scheduler.Call, launches -launch_tasks /bin/true command tasks
// (at most -launch_window between ACCEPT and TASK_RUNNING) and
// acknowledges every update explicitly, on `mezzo local` with one agent
// (or -launch_master):
//
//	go test ./e2e -run '^$' -bench LaunchTrueTasksV0 -benchtime 1x
func BenchmarkLaunchTrueTasksV0(b *testing.B) {
	master := *launchMaster
	if master == "" {
		master, _ = startLocal(b)
	}
	b.ResetTimer()
	var rates, p50s, p99s []float64
	for i := 0; i < b.N; i++ {
		res := launchRunV0(b, master, *launchTasks, i)
		rates = append(rates, res.rate)
		p50s = append(p50s, res.p50)
		p99s = append(p99s, res.p99)
	}
	b.StopTimer()
	b.ReportMetric(mean(rates), "tasks/s")
	b.ReportMetric(mean(p50s), "p50-accept-to-running-ms")
	b.ReportMetric(mean(p99s), "p99-accept-to-running-ms")
}

func launchRunV0(b *testing.B, master string, n, run int) launchResult {
	s, err := v0test.NewScheduler(master, fmt.Sprintf("scheduler-bench-%d", run))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	info := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("launch-bench-v0"),
		Checkpoint: proto.Bool(*launchCheckpoint)}
	if err := s.Subscribe(info); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Await(20*time.Second, v0test.Named("FrameworkRegisteredMessage")); err != nil {
		b.Fatal(err)
	}
	cpus, mem := 0.01, 4.0
	var (
		held                         []*mesos.Offer
		launched, inflight, finished int
		accepted                     = map[string]time.Time{}
		latencies                    []time.Duration
		failed                       []string
		start                        time.Time
	)
	launch := func() {
		for len(held) > 0 && (inflight < *launchWindow || launched == n) {
			o := held[0]
			held = held[1:]
			var ocpus, omem float64
			for _, r := range o.GetResources() {
				switch r.GetName() {
				case "cpus":
					ocpus += r.GetScalar().GetValue()
				case "mem":
					omem += r.GetScalar().GetValue()
				}
			}
			var tasks []*mesos.TaskInfo
			for launched < n && inflight < *launchWindow && ocpus >= cpus-1e-9 && omem >= mem {
				id := fmt.Sprintf("t%d", launched)
				tasks = append(tasks, &mesos.TaskInfo{
					Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: o.GetAgentId(),
					Command: &mesos.CommandInfo{Value: proto.String("/bin/true"), Shell: proto.Bool(false),
						Arguments: []string{"/bin/true"}},
					Resources: []*mesos.Resource{benchScalar("cpus", cpus), benchScalar("mem", mem)},
				})
				launched++
				inflight++
				ocpus -= cpus
				omem -= mem
			}
			now := time.Now()
			if start.IsZero() {
				start = now
			}
			for _, t := range tasks {
				accepted[t.GetTaskId().GetValue()] = now
			}
			if err := s.Call(&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
				OfferIds:   []*mesos.OfferID{o.GetId()},
				Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
				Filters:    &mesos.Filters{RefuseSeconds: proto.Float64(0)}}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for finished < n {
		r, err := s.Next(60 * time.Second)
		if err != nil {
			b.Fatalf("after %d of %d tasks: %v", finished, n, err)
		}
		switch m := r.Msg.(type) {
		case *messages.ResourceOffersMessage:
			held = append(held, m.GetOffers()...)
			launch()
		case *messages.RescindResourceOfferMessage:
			for i, o := range held {
				if o.GetId().GetValue() == m.GetOfferId().GetValue() {
					held = append(held[:i], held[i+1:]...)
					break
				}
			}
		case *messages.StatusUpdateMessage:
			st := m.GetUpdate().GetStatus()
			id := st.GetTaskId().GetValue()
			if st.GetState() == mesos.TaskState_TASK_RUNNING {
				if t, ok := accepted[id]; ok {
					latencies = append(latencies, time.Since(t))
					delete(accepted, id)
					inflight--
				}
				launch()
			}
			if len(m.GetUpdate().GetUuid()) > 0 && m.GetPid() != "" {
				if err := s.Acknowledge(m); err != nil {
					b.Fatal(err)
				}
			}
			switch st.GetState() {
			case mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING:
			default:
				finished++
				if st.GetState() != mesos.TaskState_TASK_FINISHED {
					failed = append(failed, id+":"+st.GetState().String()+":"+st.GetMessage())
				}
			}
		case *messages.FrameworkErrorMessage:
			b.Fatalf("master error: %s", m.GetMessage())
		}
	}
	elapsed := time.Since(start)
	_ = s.Call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	if len(failed) > 0 {
		b.Fatalf("%d tasks did not finish: %s", len(failed), strings.Join(failed[:min(5, len(failed))], "; "))
	}
	if len(latencies) != n {
		b.Fatalf("saw TASK_RUNNING for %d of %d tasks", len(latencies), n)
	}
	return launchResult{rate: float64(n) / elapsed.Seconds(), p50: percentileMs(latencies, 0.50), p99: percentileMs(latencies, 0.99)}
}
