package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var fetchTasks = flag.Int("fetcher_tasks", 20, "tasks TestFetcherCache runs with the same cached URI")

// toolArchive is a .tar.gz holding tool/run.sh, which prints its marker.
func toolArchive(t *testing.T) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	script := "#!/bin/sh\necho tool-ran-ok\n"
	for _, h := range []*tar.Header{
		{Name: "tool/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tool/run.sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(script))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Write([]byte(script))
	tw.Close()
	var gb bytes.Buffer
	zw := gzip.NewWriter(&gb)
	zw.Write(tb.Bytes())
	zw.Close()
	return gb.Bytes()
}

// TestFetcherCache runs `mezzo local` and a job of many tasks whose
// command comes in one cached archive, served by a test HTTP server: it
// is downloaded once, every task finishes, the sandboxes hold the
// fetcher's log, and the agent's metrics show the cache. A task whose
// URI answers 404 fails with REASON_CONTAINER_LAUNCH_FAILED and a
// message naming the URI; so do a corrupt archive, a stalled server and
// an unreachable one. After a restart of `mezzo local` the cache still
// holds the archive.
func TestFetcherCache(t *testing.T) {
	archive := toolArchive(t)
	var downloads, missing atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tool.tar.gz":
		case "/corrupt.tar.gz":
			w.Write([]byte("not a gzip stream"))
			return
		case "/stalled.tar.gz":
			// Headers and a few bytes, then nothing.
			w.Header().Set("Content-Length", "100000")
			w.Write([]byte("\x1f\x8b"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		default:
			missing.Add(1)
			http.NotFound(w, r)
			return
		}
		downloads.Add(1)
		// Slow enough that the tasks launched together find the
		// download under way and wait for it.
		time.Sleep(200 * time.Millisecond)
		w.Header().Set("Content-Length", fmt.Sprint(len(archive)))
		w.Write(archive)
	}))
	defer srv.Close()

	n := *fetchTasks
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	work := filepath.Join(t.TempDir(), "local")
	localArgs := []string{"local", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--agents=1",
		"--work_dir=" + work, "--allocation_interval=100ms", "--fetcher_stall_timeout=1secs",
		fmt.Sprintf("--resources=cpus:%d;mem:%d;disk:1024", n/10+2, 32*n+256)}
	local := start(t, "local", localArgs...)
	agentAddr := waitLocal(t, master, local)

	dir := t.TempDir()
	spec := writeJobSpec(t, dir, fmt.Sprintf(`name: fetched
tasks: %d
parallelism: %d
cpus: 0.1
mem: 32
uris:
  - uri: %s/tool.tar.gz
command: sh tool/run.sh
state_dir: %s
`, n, n, srv.URL, filepath.Join(dir, "state")))
	began := time.Now()
	out, code := run(t, 3*time.Minute, bin.mezzo, "job", "run", spec, "--master="+master, "--quiet")
	took := time.Since(began)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d finished", n)) {
		t.Fatalf("job run exited %d, want 0 with %d tasks finished:\n%s", code, n, out)
	}
	if got := downloads.Load(); got != 1 {
		t.Fatalf("%d downloads of the cached URI for %d tasks, want 1", got, n)
	}
	t.Logf("%d tasks sharing one cached URI: %d download, job run took %v", n, downloads.Load(), took)

	// Every sandbox has the fetcher's log before the task's output.
	logs := sandboxFiles(filepath.Join(work, "agent0", "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "stderr"))
	if len(logs) != n {
		t.Fatalf("%d sandboxes with a stderr, want %d", len(logs), n)
	}
	fromCache := 0
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		log := string(b)
		for _, want := range []string{"Fetching URI '" + srv.URL + "/tool.tar.gz'", "Fetched '" + srv.URL + "/tool.tar.gz' to '", "Extracted '"} {
			if !strings.Contains(log, want) {
				t.Fatalf("%s lacks %q:\n%s", p, want, log)
			}
		}
		if strings.Contains(log, "from cache") {
			fromCache++
		}
	}
	if fromCache < n-1 {
		t.Errorf("%d of %d sandbox logs say their URI came from the cache, want at least %d", fromCache, n, n-1)
	}

	var metrics map[string]float64
	if err := getJSON("http://"+agentAddr+"/metrics/snapshot", &metrics); err != nil {
		t.Fatal(err)
	}
	if got := metrics["containerizer/fetcher/cache_size_total_bytes"]; got != 2<<30 {
		t.Errorf("cache_size_total_bytes %v, want 2GB (the default --fetcher_cache_size)", got)
	}
	if got := metrics["containerizer/fetcher/cache_size_used_bytes"]; got != float64(len(archive)) {
		t.Errorf("cache_size_used_bytes %v, want the archive's %d bytes", got, len(archive))
	}
	if got := metrics["containerizer/fetcher/task_fetches_succeeded"]; got != float64(n) {
		t.Errorf("task_fetches_succeeded %v, want %d", got, n)
	}

	// URIs that cannot be fetched: each task fails with
	// REASON_CONTAINER_LAUNCH_FAILED and a message naming the URI and the
	// cause, and leaves nothing but the fetcher's log in its sandbox.
	dead := fmt.Sprintf("http://127.0.0.1:%d/gone.tar.gz", freePort(t))
	for _, tc := range []struct {
		id, uri string
		want    []string
	}{
		{"fetch-404", srv.URL + "/missing.tar.gz", []string{"404"}},
		{"fetch-corrupt", srv.URL + "/corrupt.tar.gz", []string{"extract"}},
		{"fetch-stalled", srv.URL + "/stalled.tar.gz", []string{"download stalled", "1secs", "--fetcher_stall_timeout"}},
		{"fetch-unreachable", dead, []string{"connection refused", "attempt 4 of 4"}},
	} {
		task := taskJSON(tc.id, "cpus:0.1;mem:32", fmt.Sprintf(`"command":{"value":"true","uris":[{"value":%q,"cache":true}]}`, tc.uri))
		out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+master, "--task="+task, "--content_type=json")
		if code == 0 {
			t.Fatalf("%s: mezzo execute exited 0 for a task whose URI cannot be fetched:\n%s", tc.id, out)
		}
		for _, want := range append([]string{"TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", "Failed to fetch '" + tc.uri + "'"}, tc.want...) {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.id, want, out)
			}
		}
		runs := sandboxFiles(filepath.Join(work, "agent0", "slaves", "*", "frameworks", "*", "executors", tc.id, "runs", "*", "*"))
		if len(runs) == 0 {
			t.Errorf("%s: no sandbox with the fetcher's log", tc.id)
		}
		for _, p := range runs {
			if filepath.Base(p) != "stderr" {
				t.Errorf("%s: the failed fetch left %s", tc.id, p)
			}
		}
	}
	if got := missing.Load(); got != 1 {
		t.Errorf("%d requests for the missing URI, want 1 (a 404 is not retried)", got)
	}
	if err := getJSON("http://"+agentAddr+"/metrics/snapshot", &metrics); err != nil {
		t.Fatal(err)
	}
	if got := metrics["containerizer/fetcher/task_fetches_failed"]; got != 4 {
		t.Errorf("task_fetches_failed %v, want 4", got)
	}
	if got := metrics["containerizer/fetcher/cache_size_used_bytes"]; got != float64(len(archive)) {
		t.Errorf("cache_size_used_bytes %v after a failed download, want %d", got, len(archive))
	}
	if junk, _ := filepath.Glob(filepath.Join(work, "agent0", "fetch", ".partial", "*")); len(junk) != 0 {
		t.Errorf("partial downloads left in the cache: %v", junk)
	}

	// The cache survives a restart of the agent: a new job's tasks find
	// the archive there.
	local.stop()
	local = start(t, "local-restarted", localArgs...)
	agentAddr = waitLocal(t, master, local)
	if err := getJSON("http://"+agentAddr+"/metrics/snapshot", &metrics); err != nil {
		t.Fatal(err)
	}
	if got := metrics["containerizer/fetcher/cache_size_used_bytes"]; got != float64(len(archive)) {
		t.Errorf("cache_size_used_bytes %v after the restart, want %d (re-indexed)", got, len(archive))
	}
	spec = writeJobSpec(t, dir, fmt.Sprintf(`name: fetched-again
tasks: 3
cpus: 0.1
mem: 32
uris:
  - uri: %s/tool.tar.gz
command: sh tool/run.sh
state_dir: %s
`, srv.URL, filepath.Join(dir, "state2")))
	out, code = run(t, 2*time.Minute, bin.mezzo, "job", "run", spec, "--master="+master, "--quiet")
	if code != 0 || !strings.Contains(out, "3 finished") {
		t.Fatalf("job run after the restart exited %d, want 0 with 3 tasks finished:\n%s", code, out)
	}
	if got := downloads.Load(); got != 1 {
		t.Errorf("%d downloads after the restart, want still 1", got)
	}
}

// waitLocal waits for `mezzo local` to serve and returns its agent's
// address.
func waitLocal(t *testing.T, master string, local *proc) string {
	t.Helper()
	waitFor(t, 20*time.Second, "mezzo local", func() error { return httpOK("http://" + master + "/health") })
	var addr string
	waitFor(t, 20*time.Second, "the agent's address", func() error {
		m := regexp.MustCompile(`agent 0 at (\S+),`).FindStringSubmatch(local.out.String())
		if m == nil {
			return fmt.Errorf("not printed yet")
		}
		addr = m[1]
		return nil
	})
	return addr
}
