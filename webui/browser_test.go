package webui

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// inBrowser serves the UI on loopback, opens it in headless chromium (the
// one scripts/deps.sh installs) and returns a function that evaluates an
// async JavaScript function body on that page and decodes its result
// into out. The page's own start-up runs too; with no master behind the
// server it only shows that it cannot connect.
func inBrowser(t *testing.T) func(js string, out any) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("chromium is not installed (scripts/deps.sh installs Debian's chromium): the UI's modules are tested in a real browser")
	}
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("open the UI in chromium: %v", err)
	}
	return func(js string, out any) {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("(async () => JSON.stringify(await (async () => {"+js+"})()))()", chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluate: %v\n%s", err, js)
		}
		if err := json.Unmarshal([]byte(s), out); err != nil {
			t.Fatalf("decode %q: %v", s, err)
		}
	}
}

// TestRecordIOReaderSplitsAnywhere feeds the stream reader a RecordIO
// stream cut at every byte, including inside a header and inside a
// multi-byte character, and in one piece.
func TestRecordIOReaderSplitsAnywhere(t *testing.T) {
	eval := inBrowser(t)
	var got []string
	eval(`
		const { RecordIOReader } = await import("/ui/api.js");
		const records = ["{\"type\":\"HEARTBEAT\"}", "", "{\"m\":\"déjà vu ✓\"}", "x".repeat(1234)];
		const enc = new TextEncoder();
		const bytes = [];
		for (const r of records) { const b = enc.encode(r); bytes.push(...enc.encode(b.length + "\n"), ...b); }
		const all = Uint8Array.from(bytes);
		const out = [];
		for (let cut = 0; cut <= all.length; cut += 1) {
			const rd = new RecordIOReader();
			const got = [...rd.push(all.subarray(0, cut)), ...rd.push(all.subarray(cut))];
			if (JSON.stringify(got) !== JSON.stringify(records)) return ["cut " + cut + ": " + JSON.stringify(got)];
		}
		const rd = new RecordIOReader();
		for (const b of all) out.push(...rd.push(Uint8Array.of(b)));
		if (JSON.stringify(out) !== JSON.stringify(records)) return ["byte by byte: " + JSON.stringify(out)];
		try { new RecordIOReader().push(enc.encode("12x\n")); return ["a bad header was accepted"]; } catch (e) { return [e.message]; }
	`, &got)
	if len(got) != 1 || got[0] != `bad RecordIO header "12x"` {
		t.Fatalf("got %q", got)
	}
}

// TestModelFollowsEvents loads the model from a SUBSCRIBED event and
// applies the events the master sends, checking the counts and the
// resources in use the pages show after each.
func TestModelFollowsEvents(t *testing.T) {
	eval := inBrowser(t)
	var got map[string]any
	eval(`
		const { Model } = await import("/ui/model.js");
		const res = (c, m) => [{name: "cpus", type: "SCALAR", scalar: {value: c}}, {name: "mem", type: "SCALAR", scalar: {value: m}}];
		const agent = (id, host) => ({agent_info: {id: {value: id}, hostname: host, port: 5051, resources: res(4, 4096),
			attributes: [{name: "rack", type: "TEXT", text: {value: "r1"}}]}, active: true, total_resources: res(4, 4096)});
		const task = (id, fw, ag, state) => ({task_id: {value: id}, name: id, framework_id: {value: fw}, agent_id: {value: ag}, state,
			resources: res(1, 100), statuses: [{task_id: {value: id}, state, timestamp: 1}]});
		const m = new Model();
		// A copy: the model changes its objects in place.
		const snap = () => JSON.parse(JSON.stringify({ byState: Object.fromEntries(Object.entries(m.byState).filter(([, n]) => n)), agents: m.agentCounts(),
			usedA1: m.usedOn("A1"), usedF1: m.used.get("F1"), tasks: m.tasks.size, feed: m.feed.length,
			frameworks: [...m.frameworks.values()].map((f) => f.name + (f.completed ? ":completed" : ":" + (f.active ? "active" : "inactive"))) }));
		const out = {};
		m.apply({type: "SUBSCRIBED", subscribed: {get_state: {
			get_agents: {agents: [agent("A1", "h1"), agent("A2", "h2")]},
			get_frameworks: {frameworks: [{framework_info: {id: {value: "F1"}, name: "f1", user: "u"}, active: true, connected: true}]},
			get_tasks: {tasks: [task("t1", "F1", "A1", "TASK_RUNNING")], completed_tasks: [task("t0", "F1", "A2", "TASK_FINISHED")]},
		}}});
		out.loaded = snap();
		m.apply({type: "TASK_ADDED", task_added: {task: task("t2", "F1", "A1", "TASK_STAGING")}});
		out.added = snap();
		m.apply({type: "TASK_UPDATED", task_updated: {framework_id: {value: "F1"}, state: "TASK_FAILED",
			status: {task_id: {value: "t1"}, state: "TASK_FAILED", reason: "REASON_COMMAND_EXECUTOR_FAILED", message: "exit 1", timestamp: 2}}});
		out.updated = snap();
		out.t1 = m.findTask("F1", "t1").statuses.map((s) => s.state + (s.reason ? "/" + s.reason : ""));
		out.byID = m.findTask(undefined, "t2")?.state;
		m.apply({type: "AGENT_REMOVED", agent_removed: {agent_id: {value: "A2"}}});
		m.apply({type: "FRAMEWORK_REMOVED", framework_removed: {framework_info: {id: {value: "F1"}}}});
		m.apply({type: "FRAMEWORK_ADDED", framework_added: {framework: {framework_info: {id: {value: "F2"}, name: "f2", user: "u"}, active: true, connected: true}}});
		out.removed = snap();
		// GET_AGENTS tells what no event does: A1 is deactivated; A2 stays removed.
		m.refreshAgents({agents: [{...agent("A1", "h1"), deactivated: true}, agent("A2", "h2")]});
		out.refreshed = m.agentCounts();
		out.totals = m.totals();
		return out;
	`, &got)
	want := map[string]any{
		"loaded": map[string]any{"byState": map[string]any{"TASK_RUNNING": 1.0, "TASK_FINISHED": 1.0}, "agents": map[string]any{"active": 2.0, "inactive": 0.0, "draining": 0.0, "removed": 0.0},
			"usedA1": map[string]any{"cpus": 1.0, "mem": 100.0, "disk": 0.0, "gpus": 0.0}, "usedF1": map[string]any{"cpus": 1.0, "mem": 100.0, "disk": 0.0, "gpus": 0.0},
			"tasks": 2.0, "feed": 1.0, "frameworks": []any{"f1:active"}},
		"added": map[string]any{"byState": map[string]any{"TASK_RUNNING": 1.0, "TASK_FINISHED": 1.0, "TASK_STAGING": 1.0}, "agents": map[string]any{"active": 2.0, "inactive": 0.0, "draining": 0.0, "removed": 0.0},
			"usedA1": map[string]any{"cpus": 2.0, "mem": 200.0, "disk": 0.0, "gpus": 0.0}, "usedF1": map[string]any{"cpus": 2.0, "mem": 200.0, "disk": 0.0, "gpus": 0.0},
			"tasks": 3.0, "feed": 2.0, "frameworks": []any{"f1:active"}},
		"updated": map[string]any{"byState": map[string]any{"TASK_FAILED": 1.0, "TASK_FINISHED": 1.0, "TASK_STAGING": 1.0}, "agents": map[string]any{"active": 2.0, "inactive": 0.0, "draining": 0.0, "removed": 0.0},
			"usedA1": map[string]any{"cpus": 1.0, "mem": 100.0, "disk": 0.0, "gpus": 0.0}, "usedF1": map[string]any{"cpus": 1.0, "mem": 100.0, "disk": 0.0, "gpus": 0.0},
			"tasks": 3.0, "feed": 3.0, "frameworks": []any{"f1:active"}},
		"t1":   []any{"TASK_RUNNING", "TASK_FAILED/REASON_COMMAND_EXECUTOR_FAILED"},
		"byID": "TASK_STAGING",
		"removed": map[string]any{"byState": map[string]any{"TASK_FAILED": 1.0, "TASK_FINISHED": 1.0, "TASK_STAGING": 1.0}, "agents": map[string]any{"active": 1.0, "inactive": 0.0, "draining": 0.0, "removed": 1.0},
			"usedA1": map[string]any{"cpus": 1.0, "mem": 100.0, "disk": 0.0, "gpus": 0.0}, "usedF1": map[string]any{"cpus": 1.0, "mem": 100.0, "disk": 0.0, "gpus": 0.0},
			"tasks": 3.0, "feed": 6.0, "frameworks": []any{"f1:completed", "f2:active"}},
		"refreshed": map[string]any{"active": 0.0, "inactive": 0.0, "draining": 1.0, "removed": 1.0},
		"totals": map[string]any{"total": map[string]any{"cpus": 4.0, "mem": 4096.0, "disk": 0.0, "gpus": 0.0},
			"used": map[string]any{"cpus": 1.0, "mem": 100.0, "disk": 0.0, "gpus": 0.0}, "offered": map[string]any{"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}},
	}
	for k, w := range want {
		gj, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s:\n got %s\nwant %s", k, gj, wj)
		}
	}
}
