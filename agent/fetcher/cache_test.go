package fetcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// testLog routes a fetcher's log to t.Log.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newFetcher returns a Fetcher for cfg whose log goes to t, closed when
// the test ends; retries wait only milliseconds.
func newFetcher(t testing.TB, cfg Config) *Fetcher {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// soon waits up to 10s for cond.
func soon(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counting serves files by path and counts the requests of each.
type counting struct {
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	// gate, when set, holds every answer until it is closed.
	gate chan struct{}
}

func newCounting(files map[string][]byte) *counting {
	return &counting{files: files, hits: map[string]int{}}
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.hits[r.URL.Path]++
	b, ok := c.files[r.URL.Path]
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.Write(b)
}

func (c *counting) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

func cached(value string) *mesos.CommandInfo_URI {
	return &mesos.CommandInfo_URI{Value: proto.String(value), Cache: proto.Bool(true)}
}

// sandboxFiles lists what a sandbox holds besides the fetcher's log.
func sandboxFiles(t testing.TB, sb string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(sb, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(sb, p)
		if rel != "." && rel != "stderr" {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// cacheEntries lists the URIs the cache directory holds, by user.
func cacheEntries(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	users, _ := os.ReadDir(dir)
	for _, u := range users {
		if !u.IsDir() || strings.HasPrefix(u.Name(), ".") {
			continue
		}
		items, _ := os.ReadDir(filepath.Join(dir, u.Name()))
		for _, it := range items {
			e, _, err := loadEntry(filepath.Join(dir, u.Name(), it.Name()), u.Name(), it.Name())
			if err != nil {
				t.Fatalf("bad entry %s/%s: %v", u.Name(), it.Name(), err)
			}
			out = append(out, u.Name()+":"+e.key.uri)
		}
	}
	sort.Strings(out)
	return out
}

func partials(t testing.TB, dir string) []string {
	t.Helper()
	items, err := os.ReadDir(filepath.Join(dir, partialDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Name())
	}
	return out
}

// Many fetches of one cached URI at once make one download; every
// sandbox gets the archive's content (and not the archive, as from
// Mesos' cache).
func TestCacheOneDownloadForConcurrentFetches(t *testing.T) {
	archive := gz(t, tarBytes(t, []tarEntry{{name: "app/", dir: true}, {name: "app/run.sh", body: "echo ok"}}))
	srv := newCounting(map[string][]byte{"/app.tar.gz": archive})
	srv.gate = make(chan struct{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	f := newFetcher(t, Config{CacheDir: dir, CacheSize: 1 << 20})
	const n = 20
	u := cached(hs.URL + "/app.tar.gz")
	sandboxes := make([]string, n)
	errs := make(chan error, n)
	for i := range sandboxes {
		sandboxes[i] = t.TempDir()
		go func() { errs <- f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sandboxes[i], "alice") }()
	}
	// Every fetch waits on the one download before the server answers.
	soon(t, "all fetches to wait for the download", func() bool {
		f.cache.mu.Lock()
		defer f.cache.mu.Unlock()
		e := f.cache.entries[cacheKey{user: "alice", uri: u.GetValue()}]
		return e != nil && e.refs == n
	})
	close(srv.gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.count("/app.tar.gz"); got != 1 {
		t.Fatalf("%d downloads, want 1", got)
	}
	for _, sb := range sandboxes {
		if got := strings.Join(sandboxFiles(t, sb), ","); got != "app,app/run.sh" {
			t.Fatalf("sandbox holds %s", got)
		}
	}
	log := readFile(t, filepath.Join(sandboxes[0], "stderr"))
	for _, want := range []string{"Fetching URI '" + u.GetValue() + "'", "Fetched '" + u.GetValue() + "' to '" + sandboxes[0] + "'"} {
		if !strings.Contains(log, want) {
			t.Errorf("sandbox log lacks %q:\n%s", want, log)
		}
	}
	// One more, later: from the cache.
	sb := t.TempDir()
	if err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := srv.count("/app.tar.gz"); got != 1 {
		t.Fatalf("%d downloads, want 1", got)
	}
	if log := readFile(t, filepath.Join(sb, "stderr")); !strings.Contains(log, "from cache") {
		t.Errorf("sandbox log does not say the URI came from the cache:\n%s", log)
	}
	if total, used := f.CacheSize(); total != 1<<20 || used != uint64(len(archive)) {
		t.Errorf("cache size %d/%d, want %d/%d", used, total, len(archive), 1<<20)
	}
	if got := cacheEntries(t, dir); len(got) != 1 || got[0] != "alice:"+u.GetValue() {
		t.Errorf("cache holds %v", got)
	}
}

// The cache is per user: the same URI for two users is two entries.
func TestCachePerUser(t *testing.T) {
	srv := newCounting(map[string][]byte{"/tool": []byte("#!/bin/sh\n")})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	f := newFetcher(t, Config{CacheDir: dir, CacheSize: 1 << 20})
	u := cached(hs.URL + "/tool")
	u.Executable = proto.Bool(true)
	for _, user := range []string{"alice", "bob", "alice"} {
		sb := t.TempDir()
		if err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, user); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(filepath.Join(sb, "tool")); err != nil || st.Mode().Perm() != 0o755 {
			t.Fatalf("tool not executable: %v %v", st, err)
		}
	}
	if got := srv.count("/tool"); got != 2 {
		t.Fatalf("%d downloads, want 2 (one per user)", got)
	}
	want := []string{"alice:" + u.GetValue(), "bob:" + u.GetValue()}
	if got := cacheEntries(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cache holds %v, want %v", got, want)
	}
}

// A fetch that gives up waiting does not fail the others waiting for the
// same download, even the one that started it.
func TestCacheFirstFetchCancelled(t *testing.T) {
	srv := newCounting(map[string][]byte{"/f.txt": []byte("content")})
	srv.gate = make(chan struct{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	f := newFetcher(t, Config{CacheDir: t.TempDir(), CacheSize: 1 << 20})
	u := cached(hs.URL + "/f.txt")
	key := cacheKey{user: "alice", uri: u.GetValue()}
	refs := func(n int) func() bool {
		return func() bool {
			f.cache.mu.Lock()
			defer f.cache.mu.Unlock()
			e := f.cache.entries[key]
			return e != nil && e.refs == n
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- f.Fetch(ctx, []*mesos.CommandInfo_URI{u}, t.TempDir(), "alice") }()
	soon(t, "the first fetch to start the download", refs(1))
	second := make(chan error, 1)
	sb := t.TempDir()
	go func() { second <- f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, "alice") }()
	soon(t, "the second fetch to wait", refs(2))
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first fetch: %v, want context.Canceled", err)
	}
	close(srv.gate)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(sb, "f.txt")); got != "content" {
		t.Fatalf("got %q", got)
	}
}

// A server that stops sending fails the fetch after the stall timeout,
// naming the URI and the stall, without retrying, and leaves nothing.
func TestStallTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers bool // the server sends headers and part of the body first
		cache   bool
	}{
		{"after headers", true, false},
		{"before headers", false, false},
		{"through the cache", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			release := make(chan struct{})
			defer close(release)
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tc.headers {
					w.Header().Set("Content-Length", "1000")
					w.Write([]byte("partial"))
					w.(http.Flusher).Flush()
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			defer hs.Close()
			dir := t.TempDir()
			f := newFetcher(t, Config{CacheDir: dir, CacheSize: 1 << 20, StallTimeout: 300 * time.Millisecond})
			u := uri(hs.URL + "/big.bin")
			u.Cache = proto.Bool(tc.cache)
			sb := t.TempDir()
			start := time.Now()
			err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, "")
			took := time.Since(start)
			if !errors.Is(err, ErrStalled) {
				t.Fatalf("err %v, want ErrStalled", err)
			}
			if !strings.Contains(err.Error(), u.GetValue()) || !strings.Contains(err.Error(), "--fetcher_stall_timeout") {
				t.Errorf("error %q does not name the URI and the stall timeout", err)
			}
			if took < 300*time.Millisecond || took > 5*time.Second {
				t.Errorf("failed after %s, want about the stall timeout", took)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("%d requests: a stall is not retried", n)
			}
			if got := sandboxFiles(t, sb); len(got) != 0 {
				t.Errorf("sandbox holds %v after the failure", got)
			}
			if log := readFile(t, filepath.Join(sb, "stderr")); !strings.Contains(log, "Failed to fetch '"+u.GetValue()+"'") {
				t.Errorf("sandbox log lacks the failure:\n%s", log)
			}
			if got := partials(t, dir); len(got) != 0 {
				t.Errorf("partial downloads left: %v", got)
			}
			if _, used := f.CacheSize(); used != 0 {
				t.Errorf("cache uses %d bytes after a failed download", used)
			}
		})
	}
}

// 4xx fails at once; 5xx and connection errors are retried, a few
// times.
func TestRetries(t *testing.T) {
	var mu sync.Mutex
	answers := map[string][]int{} // path -> status per attempt (then 200)
	hits := map[string]int{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := hits[r.URL.Path]
		hits[r.URL.Path]++
		seq := answers[r.URL.Path]
		mu.Unlock()
		if i < len(seq) {
			w.WriteHeader(seq[i])
			return
		}
		w.Write([]byte("body"))
	}))
	defer hs.Close()
	answers["/missing"] = []int{404, 404, 404, 404}
	answers["/forbidden"] = []int{403}
	answers["/flaky"] = []int{503}
	answers["/down"] = []int{502, 503, 500, 504, 500}
	f := newFetcher(t, Config{})
	fetch := func(path string) (string, error) {
		sb := t.TempDir()
		err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{uri(hs.URL + path)}, sb, "")
		return readFile(t, filepath.Join(sb, "stderr")), err
	}
	count := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return hits[path]
	}

	if _, err := fetch("/missing"); err == nil || !strings.Contains(err.Error(), "404") || count("/missing") != 1 {
		t.Errorf("404: err %v after %d requests, want a failure naming 404 after 1", err, count("/missing"))
	}
	if _, err := fetch("/forbidden"); err == nil || count("/forbidden") != 1 {
		t.Errorf("403: err %v after %d requests, want a failure after 1", err, count("/forbidden"))
	}
	log, err := fetch("/flaky")
	if err != nil || count("/flaky") != 2 {
		t.Errorf("503 then 200: err %v after %d requests, want success after 2", err, count("/flaky"))
	}
	if !strings.Contains(log, "Attempt 1 of 4") {
		t.Errorf("sandbox log does not show the retry:\n%s", log)
	}
	if _, err := fetch("/down"); err == nil || !strings.Contains(err.Error(), "attempt 4 of 4") || count("/down") != DefaultAttempts {
		t.Errorf("5xx: err %v after %d requests, want a failure after %d", err, count("/down"), DefaultAttempts)
	}

	// Nothing listens: connection refused, retried, then the fetch fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sb := t.TempDir()
	dead := "http://" + addr + "/x.tgz"
	err = f.Fetch(context.Background(), []*mesos.CommandInfo_URI{uri(dead)}, sb, "")
	if err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("unreachable: %v", err)
	}
	if got := sandboxFiles(t, sb); len(got) != 0 {
		t.Errorf("sandbox holds %v after the failure", got)
	}
}

// A corrupt or truncated archive fails the fetch and leaves nothing: not
// in the sandbox, not in the cache (the next fetch downloads it again).
func TestCorruptArchive(t *testing.T) {
	good := gz(t, tarBytes(t, []tarEntry{{name: "a.txt", body: "A"}, {name: "d/", dir: true}, {name: "d/b.txt", body: strings.Repeat("B", 4096)}}))
	srv := newCounting(map[string][]byte{
		"/garbage.tar.gz":   []byte("this is not gzip"),
		"/truncated.tar.gz": good[:len(good)-40],
		"/bad.zip":          []byte("PK not really"),
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	f := newFetcher(t, Config{CacheDir: dir, CacheSize: 1 << 20})
	for _, path := range []string{"/garbage.tar.gz", "/truncated.tar.gz", "/bad.zip"} {
		for _, cache := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s cache=%v", path, cache), func(t *testing.T) {
				u := uri(hs.URL + path)
				u.Cache = proto.Bool(cache)
				before := srv.count(path)
				for range 2 {
					sb := t.TempDir()
					err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, "")
					if err == nil || !strings.Contains(err.Error(), u.GetValue()) || !strings.Contains(err.Error(), "extract") {
						t.Fatalf("err %v, want an extraction failure naming the URI", err)
					}
					if got := sandboxFiles(t, sb); len(got) != 0 {
						t.Fatalf("sandbox holds %v after the failure", got)
					}
				}
				if got := srv.count(path) - before; got != 2 {
					t.Errorf("%d downloads for 2 fetches, want 2 (a corrupt entry is not kept)", got)
				}
				if got := cacheEntries(t, dir); len(got) != 0 {
					t.Errorf("cache holds %v", got)
				}
				if _, used := f.CacheSize(); used != 0 {
					t.Errorf("cache uses %d bytes", used)
				}
			})
		}
	}
}

// A full cache evicts its least recently used entries; a file larger
// than the whole cache is fetched but not kept.
func TestCacheEviction(t *testing.T) {
	files := map[string][]byte{}
	for _, n := range []string{"a", "b", "c", "d"} {
		files["/"+n] = bytes.Repeat([]byte(n), 1000)
	}
	files["/huge"] = bytes.Repeat([]byte("h"), 5000)
	srv := newCounting(files)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	f := newFetcher(t, Config{CacheDir: dir, CacheSize: 3000})
	fetch := func(name string) {
		t.Helper()
		sb := t.TempDir()
		if err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{cached(hs.URL + "/" + name)}, sb, "alice"); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(sb, name)); got != string(files["/"+name]) {
			t.Fatalf("%s: wrong content (%d bytes)", name, len(got))
		}
	}
	holds := func(names ...string) {
		t.Helper()
		var want []string
		for _, n := range names {
			want = append(want, "alice:"+hs.URL+"/"+n)
		}
		sort.Strings(want)
		if got := cacheEntries(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cache holds %v, want %v", got, want)
		}
		if _, used := f.CacheSize(); used != uint64(1000*len(names)) {
			t.Fatalf("cache uses %d bytes, want %d", used, 1000*len(names))
		}
	}
	fetch("a")
	fetch("b")
	fetch("c")
	holds("a", "b", "c")
	fetch("a") // a is now the most recently used: b goes first
	fetch("d")
	holds("a", "c", "d")
	if srv.count("/a") != 1 {
		t.Fatalf("a downloaded %d times", srv.count("/a"))
	}
	fetch("huge")
	holds("a", "c", "d")
	if got := partials(t, dir); len(got) != 0 {
		t.Errorf("partial downloads left: %v", got)
	}
	fetch("b") // evicted: downloaded again, evicting c
	if srv.count("/b") != 2 {
		t.Fatalf("b downloaded %d times, want 2", srv.count("/b"))
	}
	holds("a", "b", "d")
}

// The cache survives a new Fetcher on its directory; partial downloads
// and incomplete entries found there are discarded, never served.
func TestCacheRestart(t *testing.T) {
	srv := newCounting(map[string][]byte{"/lib.jar": bytes.Repeat([]byte("j"), 2000), "/x": []byte("x")})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	u := cached(hs.URL + "/lib.jar")
	f1, err := New(Config{CacheDir: dir, CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := f1.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, t.TempDir(), "alice"); err != nil {
		t.Fatal(err)
	}
	// While f1 holds the directory, another Fetcher runs without a cache.
	other := newFetcher(t, Config{CacheDir: dir, CacheSize: 1 << 20})
	if total, _ := other.CacheSize(); total != 0 {
		t.Fatalf("a second Fetcher on the directory has a cache of %d bytes", total)
	}
	sb := t.TempDir()
	if err := other.Fetch(context.Background(), []*mesos.CommandInfo_URI{cached(hs.URL + "/x")}, sb, "alice"); err != nil {
		t.Fatal(err)
	}
	if log := readFile(t, filepath.Join(sb, "stderr")); !strings.Contains(log, "Not using the fetcher cache") || !strings.Contains(log, "in use by another agent") {
		t.Errorf("sandbox log does not say why the cache was not used:\n%s", log)
	}
	other.Close()
	f1.Close()

	// What a crash could leave: a partial download, an entry without its
	// metadata, an entry whose data is short, a metadata file naming
	// another entry.
	junk := filepath.Join(dir, partialDir, "download-123")
	os.MkdirAll(junk, 0o755)
	os.WriteFile(filepath.Join(junk, entryData), []byte("half"), 0o644)
	noMeta := filepath.Join(dir, "alice", cacheKey{"alice", hs.URL + "/x"}.hash())
	os.MkdirAll(noMeta, 0o755)
	os.WriteFile(filepath.Join(noMeta, entryData), []byte("x"), 0o644)
	short := filepath.Join(dir, "bob", cacheKey{"bob", hs.URL + "/lib.jar"}.hash())
	os.MkdirAll(short, 0o755)
	os.WriteFile(filepath.Join(short, entryData), []byte("jj"), 0o644)
	os.WriteFile(filepath.Join(short, entryMeta), []byte(`{"user":"bob","uri":"`+hs.URL+`/lib.jar","size":2000}`), 0o644)
	moved := filepath.Join(dir, "bob", "0123456789abcdef0123456789abcdef")
	os.MkdirAll(moved, 0o755)
	os.WriteFile(filepath.Join(moved, entryData), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(moved, entryMeta), []byte(`{"user":"bob","uri":"`+hs.URL+`/x","size":1}`), 0o644)

	f2 := newFetcher(t, Config{CacheDir: dir, CacheSize: 1 << 20})
	if _, used := f2.CacheSize(); used != 2000 {
		t.Fatalf("re-indexed cache uses %d bytes, want 2000", used)
	}
	if got := cacheEntries(t, dir); len(got) != 1 || got[0] != "alice:"+u.GetValue() {
		t.Fatalf("cache holds %v after the restart", got)
	}
	if got := partials(t, dir); len(got) != 0 {
		t.Fatalf("partial downloads kept: %v", got)
	}
	sb = t.TempDir()
	if err := f2.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, "alice"); err != nil {
		t.Fatal(err)
	}
	if srv.count("/lib.jar") != 1 {
		t.Fatalf("lib.jar downloaded %d times, want 1 (served from the cache after the restart)", srv.count("/lib.jar"))
	}
	if log := readFile(t, filepath.Join(sb, "stderr")); !strings.Contains(log, "from cache") {
		t.Errorf("sandbox log does not say the URI came from the cache:\n%s", log)
	}
	// bob's short entry was discarded: bob downloads his own.
	if err := f2.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, t.TempDir(), "bob"); err != nil {
		t.Fatal(err)
	}
	if srv.count("/lib.jar") != 2 {
		t.Fatalf("lib.jar downloaded %d times, want 2", srv.count("/lib.jar"))
	}
}

// A cache smaller than what is already on disk evicts at start.
func TestCacheShrunk(t *testing.T) {
	srv := newCounting(map[string][]byte{"/a": bytes.Repeat([]byte("a"), 1000), "/b": bytes.Repeat([]byte("b"), 1000)})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	f := newFetcher(t, Config{CacheDir: dir, CacheSize: 1 << 20})
	for _, n := range []string{"a", "b"} {
		if err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{cached(hs.URL + "/" + n)}, t.TempDir(), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	f = newFetcher(t, Config{CacheDir: dir, CacheSize: 1500})
	if got := cacheEntries(t, dir); len(got) != 1 || got[0] != "alice:"+hs.URL+"/b" {
		t.Fatalf("cache holds %v, want only the most recently used b", got)
	}
}

// An entry a fetch holds is never evicted: a file that cannot fit beside
// it is handed over without being kept, and cached once it can be.
func TestCacheEntriesInUseStay(t *testing.T) {
	srv := newCounting(map[string][]byte{"/a": bytes.Repeat([]byte("a"), 1000), "/b": bytes.Repeat([]byte("b"), 1000)})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	f := newFetcher(t, Config{CacheDir: dir, CacheSize: 1500})
	fetch := func(name string) string {
		t.Helper()
		sb := t.TempDir()
		if err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{cached(hs.URL + "/" + name)}, sb, "alice"); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(sb, name)); got != string(srv.files["/"+name]) {
			t.Fatalf("%s: wrong content", name)
		}
		return readFile(t, filepath.Join(sb, "stderr"))
	}
	fetch("a")
	// A fetch copying a out of the cache holds it.
	held, _, err := f.cache.acquire(cacheKey{user: "alice", uri: hs.URL + "/a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := fetch("b")
	if !strings.Contains(log, "not kept in the fetcher cache") {
		t.Errorf("sandbox log does not say b was not kept:\n%s", log)
	}
	if got := cacheEntries(t, dir); len(got) != 1 || got[0] != "alice:"+hs.URL+"/a" {
		t.Fatalf("cache holds %v, want only a", got)
	}
	if got := partials(t, dir); len(got) != 0 {
		t.Fatalf("partial downloads left: %v", got)
	}
	if _, used := f.CacheSize(); used != 1000 {
		t.Fatalf("cache uses %d bytes, want 1000", used)
	}
	f.cache.release(held)
	fetch("b")
	if got := cacheEntries(t, dir); len(got) != 1 || got[0] != "alice:"+hs.URL+"/b" {
		t.Fatalf("cache holds %v, want only b", got)
	}
	if srv.count("/b") != 2 {
		t.Fatalf("b downloaded %d times, want 2", srv.count("/b"))
	}
}
