package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

var (
	launchTasks      = flag.Int("launch_tasks", 1000, "tasks BenchmarkLaunchTrueTasks launches per iteration")
	launchWindow     = flag.Int("launch_window", 4, "most tasks BenchmarkLaunchTrueTasks keeps between ACCEPT and TASK_RUNNING")
	launchWorkDir    = flag.String("launch_work_dir", "", "parent directory of the work_dir of the mezzo local that BenchmarkLaunchTrueTasks starts (default: the test's temporary directory)")
	launchCheckpoint = flag.Bool("launch_checkpoint", false, "BenchmarkLaunchTrueTasks subscribes with checkpoint=true (a mezzo executor process per task, updates journaled and fsynced)")
	launchMaster     = flag.String("launch_master", "", "run BenchmarkLaunchTrueTasks against this running master (host:port) instead of starting mezzo local")
	launchDocker     = flag.Bool("launch_docker", false, "BenchmarkLaunchTrueTasks runs each task in a Docker container (the e2e test image, network HOST) through --containerizers=docker,mesos")
	launchIsolation  = flag.String("launch_isolation", "", "--isolation of the mezzo local BenchmarkLaunchTrueTasks starts (default: the agent's, cgroups and PID namespaces as root)")
)

// BenchmarkLaunchTrueTasks launches -launch_tasks short command tasks
// (/bin/true) through `mezzo local` with one agent and reports the launch
// rate and the latency from ACCEPT to TASK_RUNNING. Like a framework
// with a steady stream of work, it keeps at most -launch_window tasks
// between ACCEPT and TASK_RUNNING (holding offers meanwhile), so the
// latency measured is a launch's, not the queue's of a 1,000-task burst:
//
//	go test ./e2e -run '^$' -bench LaunchTrueTasks -benchtime 1x
func BenchmarkLaunchTrueTasks(b *testing.B) {
	master, localPID := *launchMaster, 0
	if master == "" {
		master, localPID = startLocal(b)
	}
	b.ResetTimer()
	var rates, p50s, p99s, callP50s, callP99s []float64
	var localCPU, taskCPU, frameworkCPU time.Duration
	for i := 0; i < b.N; i++ {
		local0, tasks0 := processCPU(b, localPID)
		self0 := selfCPU(b)
		res := launchRun(b, master, *launchTasks)
		local1, tasks1 := processCPU(b, localPID)
		localCPU += local1 - local0
		taskCPU += tasks1 - tasks0
		frameworkCPU += selfCPU(b) - self0
		rates = append(rates, res.rate)
		p50s = append(p50s, res.p50)
		p99s = append(p99s, res.p99)
		callP50s = append(callP50s, res.callP50)
		callP99s = append(callP99s, res.callP99)
	}
	b.StopTimer()
	b.ReportMetric(mean(rates), "tasks/s")
	b.ReportMetric(mean(p50s), "p50-accept-to-running-ms")
	b.ReportMetric(mean(p99s), "p99-accept-to-running-ms")
	b.ReportMetric(mean(callP50s), "p50-call-ms")
	b.ReportMetric(mean(callP99s), "p99-call-ms")
	tasks := float64(b.N * *launchTasks)
	if localPID != 0 {
		b.ReportMetric(float64(localCPU)/float64(time.Millisecond)/tasks, "local-cpu-ms/task")
		b.ReportMetric(float64(taskCPU)/float64(time.Millisecond)/tasks, "task-cpu-ms/task")
	}
	b.ReportMetric(float64(frameworkCPU)/float64(time.Millisecond)/tasks, "framework-cpu-ms/task")
}

// processCPU returns the user and system CPU time the process pid has
// used so far, its own threads' and apart that of the children it has
// waited for (the tasks: their launch helpers and commands), from
// /proc/<pid>/stat; 0 for pid 0.
func processCPU(b *testing.B, pid int) (own, children time.Duration) {
	if pid == 0 {
		return 0, 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("CPU of mezzo local: %v", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime, stime, cutime and cstime are fields 14 to 17, the 12th to
	// 15th after it.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		b.Fatalf("CPU of mezzo local: short /proc/%d/stat: %q", pid, s)
	}
	var ticks [4]int64
	for i, f := range fields[11:15] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatalf("CPU of mezzo local: /proc/%d/stat: %v", pid, err)
		}
		ticks[i] = v
	}
	// Linux reports these in USER_HZ, 100 per second on every
	// architecture Go supports.
	tick := time.Second / 100
	return time.Duration(ticks[0]+ticks[1]) * tick, time.Duration(ticks[2]+ticks[3]) * tick
}

// selfCPU returns the user and system CPU time the benchmark's own
// process (the framework) has used so far.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startLocal starts `mezzo local` with one agent and returns the master's
// address and the process's id.
func startLocal(b *testing.B) (string, int) {
	port := freePort(b)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	parent := *launchWorkDir
	if parent == "" {
		parent = b.TempDir()
	} else {
		dir, err := os.MkdirTemp(parent, "launch-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		parent = dir
	}
	args := []string{"local", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--work_dir=" + filepath.Join(parent, "local"),
		"--agents=1", "--resources=cpus:32;mem:32768;disk:32768;ports:[31000-32000]"}
	if *launchIsolation != "" {
		args = append(args, "--isolation="+*launchIsolation)
	}
	if *launchDocker {
		requireDocker(b)
		args = append(args, "--containerizers=docker,mesos", "--docker_remove_delay=0secs")
		b.Cleanup(func() {
			out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=org.mezzo.work_dir="+filepath.Join(parent, "local")).Output()
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
			}
		})
	}
	p := start(b, "local", args...)
	deadline := time.Now().Add(20 * time.Second)
	for httpOK("http://"+master+"/health") != nil {
		if time.Now().After(deadline) {
			b.Fatal("mezzo local did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return master, p.cmd.Process.Pid
}

// launchResult is one launch run: tasks launched per second, the
// latency from ACCEPT to TASK_RUNNING, and the latency of the scheduler's
// calls (ACCEPT and ACKNOWLEDGE, from request to response), in ms.
type launchResult struct{ rate, p50, p99, callP50, callP99 float64 }

func launchRun(b *testing.B, master string, n int) launchResult {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var (
		mu        sync.Mutex
		launched  int
		finished  int
		failed    []string
		accepted  = map[string]time.Time{}
		latencies []time.Duration
		calls     []time.Duration // scheduler calls, request to response
		start     time.Time
	)
	// timed runs a scheduler call and notes how long it took.
	timed := func(call func() error) error {
		t0 := time.Now()
		err := call()
		mu.Lock()
		calls = append(calls, time.Since(t0))
		mu.Unlock()
		return err
	}
	client := scheduler.New(scheduler.Config{
		Master: master,
		Format: codec.Protobuf,
		Framework: &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("launch-bench"),
			Checkpoint: proto.Bool(*launchCheckpoint)},
	})
	cpus, mem := 0.01, 4.0
	// newTask is one task: /bin/true, or /task exit 0 in a Docker
	// container of the test image (-launch_docker).
	newTask := func(id string) *mesos.TaskInfo {
		return &mesos.TaskInfo{
			Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
			Command: &mesos.CommandInfo{Value: proto.String("/bin/true"), Shell: proto.Bool(false),
				Arguments: []string{"/bin/true"}},
			Resources: []*mesos.Resource{benchScalar("cpus", cpus), benchScalar("mem", mem)},
		}
	}
	if *launchDocker {
		image := testImage(b)
		newTask = func(id string) *mesos.TaskInfo {
			return dockerTask(id, image, "exit", "0")
		}
		cpus, mem = 0.1, 32
	}
	var held []*mesos.Offer // offers kept while the launch window is full
	inflight := 0           // tasks accepted but not yet running
	// launch uses held offers for as many tasks as the window allows.
	launch := func(ctx context.Context) error {
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
				task := newTask(id)
				task.AgentId = o.GetAgentId()
				tasks = append(tasks, task)
				launched++
				inflight++
				ocpus -= cpus
				omem -= mem
			}
			now := time.Now()
			mu.Lock()
			if start.IsZero() {
				start = now
			}
			for _, t := range tasks {
				accepted[t.GetTaskId().GetValue()] = now
			}
			mu.Unlock()
			var ops []*mesos.Offer_Operation
			if len(tasks) > 0 {
				ops = append(ops, &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(),
					Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}})
			}
			if err := timed(func() error {
				return client.Accept(ctx, []*mesos.OfferID{o.GetId()}, ops, &mesos.Filters{RefuseSeconds: proto.Float64(0)})
			}); err != nil {
				return err
			}
		}
		return nil
	}
	err := client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
		switch ev.GetType() {
		case schedpb.Event_OFFERS:
			held = append(held, ev.GetOffers().GetOffers()...)
			return launch(ctx)
		case schedpb.Event_RESCIND:
			for i, o := range held {
				if o.GetId().GetValue() == ev.GetRescind().GetOfferId().GetValue() {
					held = append(held[:i], held[i+1:]...)
					break
				}
			}
		case schedpb.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			id := st.GetTaskId().GetValue()
			if st.GetState() == mesos.TaskState_TASK_RUNNING {
				mu.Lock()
				if t, ok := accepted[id]; ok {
					latencies = append(latencies, time.Since(t))
					inflight--
				}
				mu.Unlock()
				if err := launch(ctx); err != nil {
					return err
				}
			}
			if err := timed(func() error { return client.Acknowledge(ctx, st) }); err != nil {
				return err
			}
			if scheduler.IsTerminal(st.GetState()) {
				finished++
				if st.GetState() != mesos.TaskState_TASK_FINISHED {
					failed = append(failed, id+":"+st.GetState().String()+":"+st.GetMessage())
				}
				if finished == n {
					_ = client.Teardown(ctx)
					return scheduler.ErrDone
				}
			}
		case schedpb.Event_ERROR:
			return fmt.Errorf("master error: %s", ev.GetError().GetMessage())
		}
		return nil
	})
	if err != nil {
		b.Fatalf("after %d of %d tasks: %v", finished, n, err)
	}
	if len(failed) > 0 {
		b.Fatalf("%d tasks did not finish: %s", len(failed), strings.Join(failed[:min(5, len(failed))], "; "))
	}
	elapsed := time.Since(start)
	if len(latencies) != n {
		b.Fatalf("saw TASK_RUNNING for %d of %d tasks", len(latencies), n)
	}
	return launchResult{rate: float64(n) / elapsed.Seconds(), p50: percentileMs(latencies, 0.50), p99: percentileMs(latencies, 0.99),
		callP50: percentileMs(calls, 0.50), callP99: percentileMs(calls, 0.99)}
}

// percentileMs returns the p-quantile (0..1) of ds in ms, nearest rank
// below; it sorts ds.
func percentileMs(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[int(p*float64(len(ds)-1))]) / float64(time.Millisecond)
}

func benchScalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}, Role: proto.String("*")}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
