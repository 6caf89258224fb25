package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (scripts/deps.sh installs it).
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed (scripts/deps.sh installs Debian's chromium): the web UI tests drive a real browser")
	return ""
}

// browser starts a headless chromium for the test and returns a chromedp
// context on one of its tabs; the browser is closed when the test ends.
func browser(t testing.TB, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(width, height),
		// Exact heap figures and gc() for the benchmarks.
		chromedp.Flag("enable-precise-memory-info", true),
		chromedp.Flag("js-flags", "--expose-gc"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// textOf reads an element's text in the page; "" when it is not there.
func textOf(ctx context.Context, selector string) (string, error) {
	js := fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "")`, selector)
	return chromedp.Run(ctx, chromedp.Evaluate[string](js))
}

// waitText polls the page until selector's text satisfies ok.
func waitText(t *testing.T, ctx context.Context, limit time.Duration, selector, what string, ok func(string) bool) {
	t.Helper()
	waitFor(t, limit, what, func() error {
		s, err := textOf(ctx, selector)
		if err != nil {
			return err
		}
		if !ok(s) {
			return fmt.Errorf("%s reads %q", selector, s)
		}
		return nil
	})
}

func equals(want string) func(string) bool { return func(s string) bool { return s == want } }

// screenshot saves a full-page PNG (quality 100 makes PNG, less JPEG) of the page under $MEZZO_UI_SCREENSHOTS
// (unset: nothing is saved), for docs/screenshots.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("MEZZO_UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWebUI drives the master's web UI in headless chromium against real
// master and agent processes. The page is loaded once (later moves are
// hash changes in the same document), so what it shows of later changes
// came by events: the overview counts the tasks `mezzo execute` ran, the
// tasks page filters them, a task's page lists its states, its log viewer
// shows a line the task printed after the page opened (read through the
// master's files proxy) and then stderr; the agents, frameworks, roles and
// maintenance pages show what was set; the theme toggle and "/" work; when
// the agent running a task is stopped the overview counts it unreachable
// and the task's log viewer says why it cannot read; when the master stops
// the page says it cannot be reached.
func TestWebUI(t *testing.T) {
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	master := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Missed pings mark a stopped agent unreachable in about 2 s.
	mproc := start(t, "master", "master", "--ip=127.0.0.1", "--port="+strings.Split(master, ":")[1],
		"--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms",
		"--agent_ping_timeout=1secs", "--max_agent_ping_timeouts=2")
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + master + "/health") })
	var agents []*proc
	for i := range 2 {
		agents = append(agents, start(t, fmt.Sprintf("agent%d", i), "agent", "--master="+master, "--ip=127.0.0.1",
			fmt.Sprintf("--port=%d", freePort(t)), "--work_dir="+filepath.Join(work, fmt.Sprintf("agent%d", i)),
			"--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]", fmt.Sprintf("--attributes=rack:r%d", i)))
	}
	ctx := browser(t, 1280, 900)
	base := "http://" + master + "/"

	// The UI opens before any task, so all it shows later came by events.
	if err := chromedp.Do(ctx, chromedp.Navigate(base)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 30*time.Second, `[data-stat="agents-active"] b`, "two active agents on the overview", equals("2"))

	out, code := run(t, 60*time.Second, bin.mezzo, "execute", "--master="+master, "--name=hello", "--resources=cpus:0.1;mem:32",
		"--command=echo hello from the web UI test")
	if code != 0 {
		t.Fatalf("mezzo execute hello: exit %d\n%s", code, out)
	}
	gate := filepath.Join(work, "go")
	start(t, "execute-follow", "execute", "--master="+master, "--name=follow", "--resources=cpus:0.1;mem:32",
		"--command=echo waiting; while [ ! -e "+gate+" ]; do sleep 0.1; done; echo LINE-AFTER-PAGE-OPENED; echo on-stderr >&2; sleep 300")
	waitText(t, ctx, 30*time.Second, `[data-stat="tasks-finished"] b`, "one finished task on the overview", equals("1"))
	waitText(t, ctx, 30*time.Second, `[data-stat="tasks-running"] b`, "one running task on the overview", equals("1"))
	screenshot(t, ctx, "overview")

	// The tasks page lists both, and filters by state.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/tasks?state=TASK_FINISHED")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, "main tbody", "the finished task alone in the filtered tasks table", func(s string) bool {
		return strings.Contains(s, "hello") && !strings.Contains(s, "follow")
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/tasks")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, "main tbody", "both tasks in the tasks table", func(s string) bool {
		return strings.Contains(s, "hello") && strings.Contains(s, "follow")
	})
	screenshot(t, ctx, "tasks")

	// A finished task's page: its states in order.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/tasks/hello")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, `ol.status-list`, "hello's states on its page", func(s string) bool {
		i, j := strings.Index(s, "RUNNING"), strings.Index(s, "FINISHED")
		return i >= 0 && j > i
	})

	// The running task's page: its log viewer follows stdout.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/tasks/follow")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, `ol.status-list`, "follow's RUNNING state", func(s string) bool { return strings.Contains(s, "RUNNING") })
	waitText(t, ctx, 20*time.Second, `pre.log`, "the line the task printed before the page opened", func(s string) bool {
		return strings.Contains(s, "waiting")
	})
	if s, _ := textOf(ctx, "pre.log"); strings.Contains(s, "LINE-AFTER-PAGE-OPENED") {
		t.Fatalf("the log shows the line before the task printed it: %q", s)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, `pre.log`, "the line printed after the page opened, in the log viewer", func(s string) bool {
		return strings.Contains(s, "LINE-AFTER-PAGE-OPENED")
	})
	waitText(t, ctx, 10*time.Second, `main table[aria-label="Sandbox files"]`, "the sandbox listing", func(s string) bool {
		return strings.Contains(s, "stdout") && strings.Contains(s, "stderr")
	})
	screenshot(t, ctx, "task")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.tabs button:nth-child(2)`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, `pre.log`, "stderr in the log viewer", func(s string) bool { return strings.Contains(s, "on-stderr") })

	// A role with a weight and quota, and a maintenance window, to show.
	for _, call := range []string{
		`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"analytics","weight":2.5}]}}`,
		`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"analytics","guarantees":{"cpus":{"value":1}},"limits":{"cpus":{"value":3}}}]}}`,
		`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"hostname":"rack7-node3","ip":"10.0.0.7"}],
			"unavailability":{"start":{"nanoseconds":4102444800000000000},"duration":{"nanoseconds":7200000000000}}}]}}}`,
	} {
		operatorOK(t, master, call)
	}
	for _, page := range []struct{ name, shows string }{
		{"agents", "rack:r1"}, {"frameworks", "mezzo-execute instance"}, {"roles", "cpus:3"}, {"maintenance", "rack7-node3"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/"+page.name)); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, 10*time.Second, "main", "the "+page.name+" page showing "+page.shows, func(s string) bool { return strings.Contains(s, page.shows) })
		if s, _ := textOf(ctx, "main .notice.error"); s != "" {
			t.Fatalf("the %s page shows an error: %s", page.name, s)
		}
		screenshot(t, ctx, page.name)
	}

	// The running task's framework and agent have pages of their own.
	var running struct {
		GetTasks struct {
			Tasks []struct {
				FrameworkID struct{ Value string } `json:"framework_id"`
				AgentID     struct{ Value string } `json:"agent_id"`
			} `json:"tasks"`
		} `json:"get_tasks"`
	}
	operatorJSON(t, master, `{"type":"GET_TASKS"}`, &running)
	if len(running.GetTasks.Tasks) != 1 {
		t.Fatalf("%d running tasks, want 1", len(running.GetTasks.Tasks))
	}
	fw, ag := running.GetTasks.Tasks[0].FrameworkID.Value, running.GetTasks.Tasks[0].AgentID.Value
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/frameworks/"+fw)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, "main", "the framework's page with its task, share and offers", func(s string) bool {
		return strings.Contains(s, "follow") && strings.Contains(s, "Dominant share") && !strings.Contains(s, "Loading offers")
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/agents/"+ag)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, "main", "the agent's page with its executor and task", func(s string) bool {
		return strings.Contains(s, "follow") && strings.Contains(s, "0.1 of 2 used") && strings.Contains(s, "rack:r")
	})
	// The executor's measured usage, read through the master.
	waitFor(t, 20*time.Second, "the executor's memory and CPU used on the agent's page", func() error {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const sec = [...document.querySelectorAll("main section")].find((s) => s.querySelector("h2")?.textContent === "Executors");
			const cells = sec ? [...sec.querySelectorAll("tbody tr:first-child td")] : [];
			return cells.slice(-2).map((c) => c.textContent).join("|");
		})()`))
		if err != nil {
			return err
		}
		cpu, mem, _ := strings.Cut(got, "|")
		if cpu == "" || cpu == "–" || mem == "" || mem == "–" {
			return fmt.Errorf("CPU and memory used read %q", got)
		}
		return nil
	})
	screenshot(t, ctx, "agent")

	// The theme toggle overrides the system's (light in headless chromium),
	// and "/" goes to the search box.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/tasks"), chromedp.Click(chromedp.CSS("#theme"))); err != nil {
		t.Fatal(err)
	}
	if theme, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.dataset.theme || ""`)); err != nil || theme != "dark" {
		t.Fatalf("theme after the toggle: %q %v, want dark", theme, err)
	}
	waitText(t, ctx, 10*time.Second, "main tbody", "the tasks table", func(s string) bool { return strings.Contains(s, "follow") })
	screenshot(t, ctx, "tasks-dark")
	if err := chromedp.Do(ctx, chromedp.KeyEvent("/")); err != nil {
		t.Fatal(err)
	}
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement.hasAttribute("data-search")`)); err != nil || !focused {
		t.Fatalf("after \"/\" the search box has no focus (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#theme"))); err != nil {
		t.Fatal(err)
	}

	// Stop the agent that runs `follow`: the overview, open since before,
	// shows one agent active and one unreachable; the task's log viewer
	// says its agent cannot be reached.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, `[data-stat="agents-active"] b`, "two active agents", equals("2"))
	var tasks struct {
		GetTasks struct {
			Tasks []struct {
				AgentID struct{ Value string } `json:"agent_id"`
			} `json:"tasks"`
		} `json:"get_tasks"`
	}
	operatorJSON(t, master, `{"type":"GET_TASKS"}`, &tasks)
	var ags struct {
		GetAgents struct {
			Agents []struct {
				Info struct {
					ID   struct{ Value string } `json:"id"`
					Port int                    `json:"port"`
				} `json:"agent_info"`
			} `json:"agents"`
		} `json:"get_agents"`
	}
	operatorJSON(t, master, `{"type":"GET_AGENTS"}`, &ags)
	if len(tasks.GetTasks.Tasks) != 1 {
		t.Fatalf("%d running tasks, want 1", len(tasks.GetTasks.Tasks))
	}
	victim := -1
	for i, a := range agents {
		for _, x := range ags.GetAgents.Agents {
			if x.Info.ID.Value == tasks.GetTasks.Tasks[0].AgentID.Value && slicesContainsPort(a.cmd.Args, x.Info.Port) {
				victim = i
			}
		}
	}
	if victim < 0 {
		t.Fatal(errors.New("found no agent running the task"))
	}
	agents[victim].stop()
	waitText(t, ctx, 20*time.Second, `[data-stat="agents-active"] b`, "one active agent after the other stopped", equals("1"))
	waitText(t, ctx, 10*time.Second, `[data-stat="agents-unreachable"] b`, "one unreachable agent", equals("1"))
	waitText(t, ctx, 10*time.Second, `ul.feed`, "the agent's removal in the event feed", func(s string) bool { return strings.Contains(s, "AGENT_REMOVED") })
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/tasks/follow")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, `main .notice.error`, "the log viewer's error for an unreachable agent", func(s string) bool {
		return strings.Contains(s, "agent")
	})
	screenshot(t, ctx, "task-agent-gone")

	// The master goes away: the page says so.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"#/")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 10*time.Second, `#conn`, "the live indicator", equals("live"))
	mproc.stop()
	waitText(t, ctx, 10*time.Second, `#banner`, "the banner saying the master cannot be reached", func(s string) bool {
		return strings.Contains(s, "cannot be reached")
	})
}

// operatorOK posts a JSON operator call that answers 200 with no body.
func operatorOK(t *testing.T, base, body string) {
	t.Helper()
	resp, err := http.Post("http://"+base+"/api/v1", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %s %s", body, resp.Status, b)
	}
}

func slicesContainsPort(args []string, port int) bool {
	for _, a := range args {
		if a == fmt.Sprintf("--port=%d", port) {
			return true
		}
	}
	return false
}

// TestWebUIOnLocal opens the UI of `mezzo local`, as the README's quick
// start does, and finds its agents and a task run on it.
func TestWebUIOnLocal(t *testing.T) {
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "local", "local", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir="+filepath.Join(work, "local"),
		"--agents=2", "--resources=cpus:1;mem:512;disk:512")
	waitFor(t, 20*time.Second, "mezzo local health", func() error { return httpOK("http://" + master + "/health") })
	out, code := run(t, 60*time.Second, bin.mezzo, "execute", "--master="+master, "--name=on-local", "--resources=cpus:0.1;mem:32",
		"--command=echo hello")
	if code != 0 {
		t.Fatalf("mezzo execute: exit %d\n%s", code, out)
	}
	ctx := browser(t, 1280, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+master+"/")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 20*time.Second, `[data-stat="agents-active"] b`, "two active agents", equals("2"))
	waitText(t, ctx, 10*time.Second, `[data-stat="tasks-finished"] b`, "the finished task", equals("1"))
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+master+"/#/tasks/on-local")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 20*time.Second, `pre.log`, "the task's stdout", func(s string) bool { return strings.Contains(s, "hello") })
}
