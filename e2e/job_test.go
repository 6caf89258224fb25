package e2e

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/frameworks/batch"
)

// writeJobSpec writes a job spec into dir and returns its path.
func writeJobSpec(t *testing.T, dir, text string) string {
	t.Helper()
	file := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// maxConcurrent reads the "start"/"end" lines the tasks appended to the
// files in dir and returns the most tasks that were running at once.
func maxConcurrent(t *testing.T, dir string) (int, int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.span"))
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			kind, at, ok := strings.Cut(line, " ")
			n, err := strconv.ParseInt(at, 10, 64)
			if !ok || err != nil {
				t.Fatalf("%s: bad line %q", f, line)
			}
			d := 1
			if kind == "end" {
				d = -1
			}
			edges = append(edges, edge{n, d})
		}
	}
	// At equal times an end comes before a start.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak, len(files)
}

// TestJobRetriesParallelismLogs runs a job of 200 tasks on 3 agents: its
// script comes by URI from an HTTP server, index 7 fails on its first
// attempt and is retried, index 13 always fails and runs out of retries,
// and no more than the parallelism ever run at once.
func TestJobRetriesParallelismLogs(t *testing.T) {
	c := startCluster(t, 3, "cpus:4;mem:2048;disk:1024")
	dir := t.TempDir()
	spans := filepath.Join(dir, "spans")
	if err := os.Mkdir(spans, 0o777); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n" +
		"echo \"start $(date +%s%N)\" >> \"$SPANS/$MEZZO_JOB_INDEX.$MEZZO_JOB_ATTEMPT.span\"\n" +
		"echo \"task $1 of $2, attempt $MEZZO_JOB_ATTEMPT\"\n" +
		"sleep 0.05\n" +
		"echo \"end $(date +%s%N)\" >> \"$SPANS/$MEZZO_JOB_INDEX.$MEZZO_JOB_ATTEMPT.span\"\n" +
		"[ \"$1\" = 7 ] && [ \"$MEZZO_JOB_ATTEMPT\" = 1 ] && { echo 'first attempt of 7 fails' >&2; exit 3; }\n" +
		"[ \"$1\" = 13 ] && exit 5\n" +
		"exit 0\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, script)
	}))
	defer srv.Close()
	spec := writeJobSpec(t, dir, fmt.Sprintf(`name: squares
tasks: 200
parallelism: 12
cpus: 0.05
mem: 8
retries: 2
backoff: 200ms
inputs:
  label: squares
uris:
  - uri: %s/work.sh
    executable: true
env:
  SPANS: %s
command: ./work.sh {{.Index}} {{.Inputs.label}}
state_dir: %s
`, srv.URL, spans, filepath.Join(dir, "state")))

	start := time.Now()
	out, code := run(t, 3*time.Minute, bin.mezzo, "job", "run", spec, "--master="+c.master, "--quiet")
	took := time.Since(start)
	if code != 1 {
		t.Fatalf("job run exited %d, want 1 (task 13 fails for good):\n%s", code, out)
	}
	for _, want := range []string{"job squares failed (1 of 200 tasks failed)", "199 finished, 1 failed", "3 retries",
		"exit 0: 199", "exit 5: 1", "failed: task 13 ", "durations (launch to end): min"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "/200 done:") {
		t.Errorf("no progress line in the output:\n%s", out)
	}
	peak, attempts := maxConcurrent(t, spans)
	if attempts != 203 {
		t.Errorf("%d attempts ran, want 203 (200 tasks, 1 retry of 7, 2 of 13)", attempts)
	}
	if peak > 12 || peak < 2 {
		t.Errorf("at most %d tasks ran at once, want 2..12 (parallelism 12)", peak)
	}
	t.Logf("200 tasks in %v, peak %d running at once", took, peak)

	out, code = run(t, 20*time.Second, bin.mezzo, "job", "status", spec, "--json")
	if code != 0 {
		t.Fatalf("job status exited %d:\n%s", code, out)
	}
	for _, want := range []string{`"state": "failed"`, `"finished": 199`, `"exit 5": 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, code = run(t, 20*time.Second, bin.mezzo, "job", "logs", spec, "7")
	if code != 0 || !strings.Contains(out, "task 7 of squares, attempt 2") {
		t.Errorf("job logs 7 exited %d, want the second attempt's stdout:\n%s", code, out)
	}
	out, code = run(t, 20*time.Second, bin.mezzo, "job", "logs", spec, "200")
	if code != 2 || !strings.Contains(out, "index 200: the job has tasks 0..199") {
		t.Errorf("job logs 200 exited %d, want 2 and the valid range:\n%s", code, out)
	}
}

// TestJobKillAndDeadline kills a running job with `mezzo job kill`, and
// lets another one run out of its deadline: both end, with their tasks
// killed on the agents.
func TestJobKillAndDeadline(t *testing.T) {
	c := startCluster(t, 2, "cpus:4;mem:2048;disk:1024")
	dir := t.TempDir()
	spec := writeJobSpec(t, dir, fmt.Sprintf(`name: sleepers
tasks: 500
parallelism: 8
cpus: 0.1
mem: 8
command: sleep {{if lt .Index 8}}0.2{{else}}60{{end}}
state_dir: %s
`, filepath.Join(dir, "state")))
	p := start(t, "job", "job", "run", spec, "--master="+c.master)
	api := func() (*batch.Status, error) {
		var st batch.Status
		cl, err := batch.NewClient(filepath.Join(dir, "state"))
		if err != nil {
			return nil, err
		}
		return &st, cl.Do(t.Context(), "/v1/status", nil, &st)
	}
	waitFor(t, 60*time.Second, "8 tasks finished and 8 running", func() error {
		st, err := api()
		if err != nil {
			return err
		}
		if st.Finished < 8 || st.Running != 8 {
			return fmt.Errorf("%s", batch.ProgressLine(st))
		}
		return nil
	})
	out, code := run(t, 20*time.Second, bin.mezzo, "job", "status", spec)
	if code != 0 || !strings.Contains(out, "job sleepers running") {
		t.Errorf("job status exited %d:\n%s", code, out)
	}
	out, code = run(t, 20*time.Second, bin.mezzo, "job", "kill", spec)
	if code != 0 || !strings.Contains(out, "job sleepers killed") {
		t.Fatalf("job kill exited %d:\n%s", code, out)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("job run did not end after kill")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("killed job run exited %d, want 1", code)
	}
	if !strings.Contains(p.out.String(), "job sleepers killed (killed by request)") {
		t.Errorf("run did not print the summary of a killed job:\n%s", p.out.String())
	}
	waitFor(t, 30*time.Second, "no task running on the cluster", func() error {
		var st struct {
			Frameworks []struct {
				Tasks []any `json:"tasks"`
			} `json:"frameworks"`
		}
		if err := getJSON("http://"+c.master+"/master/state", &st); err != nil {
			return err
		}
		for _, f := range st.Frameworks {
			if len(f.Tasks) > 0 {
				return fmt.Errorf("%d tasks still live", len(f.Tasks))
			}
		}
		return nil
	})

	dspec := writeJobSpec(t, dir, fmt.Sprintf(`name: late
tasks: 4
command: sleep 60
deadline: 2s
state_dir: %s
`, filepath.Join(dir, "late")))
	start := time.Now()
	out, code = run(t, time.Minute, bin.mezzo, "job", "run", dspec, "--master="+c.master, "--quiet")
	if code != 1 || !strings.Contains(out, "job late deadline (deadline of 2s passed)") || !strings.Contains(out, "4 killed") {
		t.Fatalf("job with a deadline exited %d after %v:\n%s", code, time.Since(start), out)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("job with a 2s deadline took %v", took)
	}
}

var (
	jobBench    = flag.Int("job_bench_tasks", 0, "run TestJobThroughput with this many /bin/true tasks (0: skip)")
	jobBenchPar = flag.Int("job_bench_parallelism", 64, "the parallelism of TestJobThroughput's job")
)

// TestJobThroughput measures a job of -job_bench_tasks /bin/true tasks on 4
// agents (docs/benchmarks.md): go test ./e2e -run TestJobThroughput
// -job_bench_tasks=10000.
func TestJobThroughput(t *testing.T) {
	n := *jobBench
	if n == 0 {
		t.Skip("set -job_bench_tasks=N to run")
	}
	c := startCluster(t, 4, "cpus:8;mem:8192;disk:4096")
	dir := t.TempDir()
	spec := writeJobSpec(t, dir, fmt.Sprintf(`name: trues
tasks: %d
parallelism: %d
cpus: 0.01
mem: 4
command: /bin/true
state_dir: %s
`, n, *jobBenchPar, filepath.Join(dir, "state")))
	start := time.Now()
	out, code := run(t, 30*time.Minute, bin.mezzo, "job", "run", spec, "--master="+c.master, "--quiet")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("job run exited %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("%d /bin/true tasks on 4 agents, parallelism %d: %v, %.1f tasks/s\n%s", n, *jobBenchPar, took, float64(n)/took.Seconds(),
		strings.Join(lines[max(0, len(lines)-3):], "\n"))
}
