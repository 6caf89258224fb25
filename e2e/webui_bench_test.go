package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

var (
	uiAgents = flag.Int("ui_agents", 1000, "simulated agents BenchmarkWebUI registers")
	uiTasks  = flag.Int("ui_tasks", 10000, "running tasks BenchmarkWebUI's agents report, spread evenly")
	uiPage   = flag.String("ui_page", "", "page BenchmarkWebUI opens (\"\" the overview, \"tasks\" the tasks page)")
)

// BenchmarkWebUI opens the web UI of a real `mezzo master` process to
// which -ui_agents simulated agents have registered over the agent API,
// reporting -ui_tasks running tasks of ten frameworks between them (as
// agents report their tasks to a restarted master). It measures, in
// headless chromium, the page's first contentful paint and the time until
// it shows the state of the event stream ("mezzo-live"), the JS heap after
// a garbage collection, and how long one search of the tasks page takes
// (filter, draw, next frame). Setup is outside the timer; each iteration
// loads the page afresh.
//
//	go test ./e2e -run '^$' -bench WebUI -benchtime 3x
//	go test ./e2e -run '^$' -bench WebUI -benchtime 1x -ui_tasks=100000 -ui_page=tasks
func BenchmarkWebUI(b *testing.B) {
	master := startScaleMaster(b)
	registerSimulatedAgents(b, master, *uiAgents, *uiTasks)
	ctx := browser(b, 1280, 900)
	url := "http://" + master + "/#/" + *uiPage
	b.ResetTimer()
	var paint, live, subscribe, subscribed, heap, search float64
	for i := 0; i < b.N; i++ {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(url)); err != nil {
			b.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`new Promise((resolve) => {
			const check = () => {
				const l = performance.getEntriesByName("mezzo-live")[0];
				const p = performance.getEntriesByName("first-contentful-paint")[0];
				const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? -1;
				if (l && p) resolve([p.startTime, l.startTime, at("mezzo-subscribe"), at("mezzo-subscribed")]); else setTimeout(check, 20);
			};
			check();
		})`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		paint += got[0]
		live += got[1]
		subscribe += got[2]
		subscribed += got[3]
		// The page shows every task the agents reported.
		want := fmt.Sprintf("%d", *uiTasks)
		if *uiPage == "tasks" {
			want = fmt.Sprintf("%s of %s tasks", commas(*uiTasks), commas(*uiTasks))
		}
		sel := `[data-stat="tasks-running"] b`
		if *uiPage == "tasks" {
			sel = "main .filters .pageinfo"
		}
		deadline := time.Now().Add(time.Minute)
		for {
			s, err := textOf(ctx, sel)
			if err != nil {
				b.Fatal(err)
			}
			if strings.ReplaceAll(s, ",", "") == strings.ReplaceAll(want, ",", "") {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s reads %q, want %q", sel, s, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		mem, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(gc(), performance.memory.usedJSHeapSize)`))
		if err != nil {
			b.Fatal(err)
		}
		heap += mem
		if *uiPage == "tasks" {
			ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`new Promise((resolve) => {
				const q = document.querySelector("main [data-search]");
				const t0 = performance.now();
				q.value = "t-7-";
				q.dispatchEvent(new Event("input"));
				requestAnimationFrame(() => resolve(performance.now() - t0));
			})`, chromedp.EvalAwaitPromise))
			if err != nil {
				b.Fatal(err)
			}
			search += ms
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(paint/n, "ms-first-paint")
	b.ReportMetric(live/n, "ms-to-live")
	b.ReportMetric(subscribe/n, "ms-to-subscribe")
	b.ReportMetric(subscribed/n, "ms-to-subscribed")
	b.ReportMetric(heap/n/1e6, "MB-js-heap")
	if *uiPage == "tasks" {
		b.ReportMetric(search/n, "ms-search")
	}
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// startScaleMaster starts a master whose simulated agents are not marked
// unreachable for not answering its pings during the benchmark.
func startScaleMaster(b *testing.B) string {
	work := b.TempDir()
	port := freePort(b)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	start(b, "master", "master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir="+filepath.Join(work, "master"),
		"--agent_ping_timeout=1mins", "--max_agent_ping_timeouts=30", "--registry=in_memory")
	deadline := time.Now().Add(20 * time.Second)
	for httpOK("http://"+master+"/health") != nil {
		if time.Now().After(deadline) {
			b.Fatal("the master did not answer /health")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return master
}

// registerSimulatedAgents registers n agents with the master over its agent
// API, each reporting its share of tasks running tasks, and keeps their
// streams open (read and discarded) until the benchmark ends.
func registerSimulatedAgents(b *testing.B, master string, n, tasks int) {
	b.Helper()
	var frameworks []*mesos.FrameworkInfo
	for f := range 10 {
		frameworks = append(frameworks, &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String(fmt.Sprintf("sim-%d", f)),
			Id: &mesos.FrameworkID{Value: proto.String(fmt.Sprintf("SIM-%04d", f))}, Checkpoint: proto.Bool(true)})
	}
	scalar := func(name string, v float64) *mesos.Resource {
		return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	}
	agentRes := []*mesos.Resource{scalar("cpus", 64), scalar("mem", 256*1024), scalar("disk", 1024*1024)}
	taskRes := []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 64)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := range n {
		id := fmt.Sprintf("SIM-S%d", i)
		reg := &agentproto.AgentCall_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("sim-%04d", i)), Port: proto.Int32(5051),
				Id: &mesos.AgentID{Value: proto.String(id)}, Resources: agentRes,
				Attributes: []*mesos.Attribute{{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String(fmt.Sprintf("r%d", i%20))}}}},
			Endpoint:   proto.String(fmt.Sprintf("127.0.%d.%d:5051", i/250, i%250+1)),
			Version:    proto.String("1.11.1"),
			Frameworks: frameworks,
		}
		for j := i; j < tasks; j += n {
			fw := frameworks[j%len(frameworks)]
			tid := &mesos.TaskID{Value: proto.String(fmt.Sprintf("t-%d-%d", i, j))}
			reg.Tasks = append(reg.Tasks, &mesos.Task{Name: proto.String(fmt.Sprintf("task-%d", j)), TaskId: tid, FrameworkId: fw.Id,
				AgentId: reg.AgentInfo.Id, State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: taskRes,
				Statuses: []*mesos.TaskStatus{{TaskId: tid, State: mesos.TaskState_TASK_RUNNING.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
					Timestamp: proto.Float64(float64(time.Now().Unix()))}}})
		}
		body, err := proto.Marshal(&agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: reg})
		if err != nil {
			b.Fatal(err)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+master+"/master/api/v1/agent", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-protobuf")
			req.Header.Set("Accept", "application/x-protobuf")
			resp, err := client.Do(req)
			<-sem
			if err != nil {
				errs <- fmt.Errorf("register %s: %w", id, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				msg, _ := io.ReadAll(resp.Body)
				errs <- fmt.Errorf("register %s: %s %s", id, resp.Status, msg)
				return
			}
			errs <- nil
			io.Copy(io.Discard, resp.Body)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	// Every task is in the master's books before the page opens.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var m map[string]float64
		if err := getJSON("http://"+master+"/metrics/snapshot", &m); err == nil && int(m["master/tasks_running"]) == tasks && int(m["master/slaves_active"]) == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the master did not count %d agents and %d running tasks", n, tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
