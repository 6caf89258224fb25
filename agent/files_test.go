package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/legacy"
	agentpb "github.com/mezzo-project/mezzo/api/v1/agent"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/internal/files"
)

// filesClient asks one agent's /files endpoints over real HTTP.
type filesClient struct {
	t    *testing.T
	base string // http://ip:port
}

// filesAnswer is one response, read whole.
type filesAnswer struct {
	status int
	header http.Header
	body   string
}

// get requests endpoint ("/files/read", ...) with the query given as
// name, value pairs.
func (c filesClient) get(endpoint string, query ...string) filesAnswer {
	return c.do(http.MethodGet, endpoint, query...)
}

// do requests endpoint with method and the query given as name, value
// pairs.
func (c filesClient) do(method, endpoint string, query ...string) filesAnswer {
	c.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		q.Add(query[i], query[i+1])
	}
	u := c.base + endpoint
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return filesAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// expect checks an answer's status and exact body.
func (ans filesAnswer) expect(t *testing.T, what string, status int, body string) {
	t.Helper()
	if ans.status != status || ans.body != body {
		t.Errorf("%s: got %d %q, want %d %q", what, ans.status, ans.body, status, body)
	}
}

// readDoc is the exact /files/read document for data at offset.
func readDoc(data string, offset int) string {
	b, err := legacy.Marshal(legacy.FileData{Data: data, Offset: int64(offset)})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// filesFixture is an agent whose executor "files" of framework F1 ran a
// command task that left known files in its sandbox. The master does not
// acknowledge status updates, so the agent keeps the executor.
type filesFixture struct {
	a       *Agent
	c       filesClient
	sandbox string // the run directory, as the agent made it
	real    string // sandbox with symlinks resolved
	virtual string // /frameworks/F1/executors/files/runs/latest
	latest  string // <work_dir>/slaves/M1-S0/frameworks/F1/executors/files/runs/latest
	secret  string // a file outside the work directory
	big     string // big.txt's content, larger than one read
}

// What the fixture's sandbox holds.
const (
	filesData      = "012345678901234567890123456789" // data.txt
	filesPage      = "<p>hello</p>\n"                 // page.html
	filesDataMTime = 1700000000
	filesSubMTime  = 1700000100
)

// newFilesFixture starts an agent, runs the task and sets the modes and
// times of its files.
func newFilesFixture(t *testing.T) *filesFixture {
	t.Helper()
	m := newFakeMaster(t)
	m.mu.Lock()
	m.autoAck = false
	m.mu.Unlock()
	a := startAgent(t, m, nil)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("top secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := strings.Join([]string{
		`printf 'hello stdout\n'`,
		`printf 'hello stderr\n' >&2`,
		`printf '` + filesData + `' > data.txt`,
		`mkdir sub`,
		`printf abc > sub/f.txt`,
		`ln -s ` + secret + ` escape`,
		`ln -s .. up`,
		`ln -s missing dangling`,
		`: > done`,
	}, " && ")
	m.send(runTask(frameworkInfo("F1", false), nil, commandTask("files", script), nil))
	// The command executor waits for the master's acknowledgement of the
	// terminal update, which never comes: it stays.
	var sandbox string
	waitFor(t, 10*time.Second, "the task to finish", func() error {
		latest := filepath.Join(a.cfg.WorkDir, "slaves", a.ID(), "frameworks", "F1", "executors", "files", "runs", "latest")
		dir, err := os.Readlink(latest)
		if err != nil {
			return err
		}
		sandbox = dir
		_, err = os.Stat(filepath.Join(sandbox, "done"))
		return err
	})
	// "done" is written before the command exits: wait until the agent
	// knows the task finished (its update stays unacknowledged).
	oc := newOperatorClient(t, a)
	waitFor(t, 10*time.Second, "the agent to know the task finished", func() error {
		got := operatorTasks(oc.do(simpleCall(agentpb.Call_GET_TASKS), codec.JSON).GetGetTasks())
		if !slices.Contains(got["terminated"], "files:TASK_FINISHED") {
			return fmt.Errorf("tasks %v", got)
		}
		return nil
	})
	if err := os.Remove(filepath.Join(sandbox, "done")); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(sandbox, "data.txt"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(sandbox, "sub"), 0o751); err != nil {
		t.Fatal(err)
	}
	for name, secs := range map[string]int64{"data.txt": filesDataMTime, "sub": filesSubMTime} {
		mt := time.Unix(secs, 0)
		if err := os.Chtimes(filepath.Join(sandbox, name), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	var big strings.Builder
	for i := 0; big.Len() < 100000; i++ {
		big.WriteString(strconv.Itoa(i) + "\n")
	}
	if err := os.WriteFile(filepath.Join(sandbox, "big.txt"), []byte(big.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "page.html"), []byte(filesPage), 0o644); err != nil {
		t.Fatal(err)
	}
	return &filesFixture{
		a:       a,
		c:       filesClient{t: t, base: "http://" + a.Endpoint()},
		sandbox: sandbox,
		real:    real,
		virtual: "/frameworks/F1/executors/files/runs/latest",
		latest:  filepath.Join(a.cfg.WorkDir, "slaves", "M1-S0", "frameworks", "F1", "executors", "files", "runs", "latest"),
		secret:  secret,
		big:     big.String(),
	}
}

// TestFilesEndpoints asks /files/browse, /files/read, /files/download
// and /files/debug about a real sandbox, and checks each answer exactly.
func TestFilesEndpoints(t *testing.T) {
	f := newFilesFixture(t)
	c := f.c
	t.Run("browse", func(t *testing.T) { testFilesBrowse(t, f) })
	t.Run("read", func(t *testing.T) { testFilesRead(t, f) })
	t.Run("download", func(t *testing.T) { testFilesDownload(t, f) })
	t.Run("debug", func(t *testing.T) {
		ans := c.get("/files/debug")
		want, _ := json.Marshal(map[string]string{
			f.virtual: f.real,
			f.latest:  f.real,
			f.sandbox: f.real,
		})
		ans.expect(t, "debug", 200, string(want))
	})
	t.Run("bad requests", func(t *testing.T) { testFilesBadRequests(t, f) })
	t.Run("escapes", func(t *testing.T) { testFilesEscapes(t, f) })
}

// testFilesBrowse lists the sandbox under each of its names.
func testFilesBrowse(t *testing.T, f *filesFixture) {
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	subInfo, err := os.Stat(filepath.Join(f.sandbox, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	// The same directory under each of its three names; entries are named
	// after the path as requested (a trailing slash is dropped).
	for _, dir := range []string{f.virtual, f.virtual + "/", f.latest, f.sandbox, f.real} {
		ans := f.c.get("/files/browse", "path", dir)
		if ans.status != 200 || ans.header.Get("Content-Type") != "application/json" {
			t.Fatalf("browse %s: %d %s %q", dir, ans.status, ans.header.Get("Content-Type"), ans.body)
		}
		var listing legacy.FileListing
		if err := json.Unmarshal([]byte(ans.body), &listing); err != nil {
			t.Fatalf("browse %s: %v in %q", dir, err, ans.body)
		}
		base := strings.TrimSuffix(dir, "/")
		var paths []string
		byName := map[string]legacy.FileInfo{}
		for _, fi := range listing {
			paths = append(paths, fi.Path)
			byName[strings.TrimPrefix(fi.Path, base+"/")] = fi
		}
		// Sorted by name; the dangling link is left out; links are
		// described by what they point to within the sandbox, and as
		// links when they lead outside it (nothing of the target shown).
		var want []string
		for _, n := range []string{"big.txt", "data.txt", "escape", "page.html", "stderr", "stdout", "sub", "up"} {
			want = append(want, base+"/"+n)
		}
		if !slices.Equal(paths, want) {
			t.Fatalf("browse %s: paths\n got %q\nwant %q", dir, paths, want)
		}
		if got, want := byName["data.txt"], (legacy.FileInfo{GID: g.Name, Mode: "-rw-r-----", MTime: filesDataMTime,
			NLink: 1, Path: base + "/data.txt", Size: uint64(len(filesData)), UID: u.Username}); got != want {
			t.Errorf("browse %s: data.txt\n got %+v\nwant %+v", dir, got, want)
		}
		if got, want := byName["sub"], (legacy.FileInfo{GID: g.Name, Mode: "drwxr-x--x", MTime: filesSubMTime,
			NLink: 2, Path: base + "/sub", Size: uint64(subInfo.Size()), UID: u.Username}); got != want {
			t.Errorf("browse %s: sub\n got %+v\nwant %+v", dir, got, want)
		}
		if got := byName["escape"]; got.Mode[0] != 'l' || got.Size == uint64(len("top secret\n")) {
			t.Errorf("browse %s: escape %+v, want the link's own metadata", dir, got)
		}
		if got := byName["up"]; got.Mode[0] != 'l' {
			t.Errorf("browse %s: up %+v, want the link's own metadata", dir, got)
		}
		if !strings.Contains(ans.body, `"mtime":1700000000.0,`) {
			t.Errorf("browse %s: mtime not written as Mesos writes it: %s", dir, ans.body)
		}
	}
	f.c.get("/files/browse", "path", f.virtual+"/sub").expect(t, "browse sub", 200,
		fmt.Sprintf(`[{"gid":%q,"mode":"-rw-r--r--","mtime":%d.0,"nlink":1,"path":"%s/sub/f.txt","size":3,"uid":%q}]`,
			g.Name, fileMTime(t, filepath.Join(f.sandbox, "sub", "f.txt")), f.virtual, u.Username))
	// A file lists nothing, as in Mesos.
	f.c.get("/files/browse", "path", f.virtual+"/data.txt").expect(t, "browse a file", 200, "[]")
	// JSONP, and the endpoint with a trailing slash.
	ans := f.c.get("/files/browse/", "path", f.virtual+"/sub", "jsonp", "cb")
	if ans.status != 200 || ans.header.Get("Content-Type") != "text/javascript" ||
		!strings.HasPrefix(ans.body, `cb([{"gid":`) || !strings.HasSuffix(ans.body, `"}]);`) {
		t.Errorf("browse with jsonp: %d %s %q", ans.status, ans.header.Get("Content-Type"), ans.body)
	}
}

// fileMTime is a file's modification time in seconds.
func fileMTime(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime().Unix()
}

// testFilesRead reads with offset and length variants.
func testFilesRead(t *testing.T, f *filesFixture) {
	data := f.virtual + "/data.txt"
	n := len(filesData)
	for _, tc := range []struct {
		query []string
		want  string
	}{
		// No offset, or -1: the size, no data (whatever the length).
		{nil, readDoc("", n)},
		{[]string{"offset", "-1"}, readDoc("", n)},
		{[]string{"offset", "-1", "length", "5"}, readDoc("", n)},
		{[]string{"length", "5"}, readDoc("", n)},
		// From an offset: to the end, or length bytes.
		{[]string{"offset", "0"}, readDoc(filesData, 0)},
		{[]string{"offset", "0", "length", "-1"}, readDoc(filesData, 0)},
		{[]string{"offset", "10", "length", "5"}, readDoc("01234", 10)},
		{[]string{"offset", "0x14", "length", "3"}, readDoc("012", 20)},
		{[]string{"offset", "25", "length", "100"}, readDoc("56789", 25)},
		{[]string{"offset", "3", "length", "0"}, readDoc("", 3)},
		// At or past the end: no data, at the offset asked.
		{[]string{"offset", strconv.Itoa(n)}, readDoc("", n)},
		{[]string{"offset", "1000", "length", "4"}, readDoc("", 1000)},
	} {
		ans := f.c.get("/files/read", append([]string{"path", data}, tc.query...)...)
		ans.expect(t, fmt.Sprintf("read %v", tc.query), 200, tc.want)
		if ct := ans.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("read %v: Content-Type %q", tc.query, ct)
		}
	}
	// The same file under its other names, and through a ".." that stays
	// in the sandbox.
	for _, p := range []string{f.latest + "/data.txt", f.sandbox + "/data.txt", f.real + "/data.txt", f.virtual + "/sub/../data.txt", "file://" + data} {
		f.c.get("/files/read", "path", p, "offset", "10", "length", "2").expect(t, "read "+p, 200, readDoc("01", 10))
	}
	// The task's stdout and stderr.
	f.c.get("/files/read", "path", f.virtual+"/stdout", "offset", "0").expect(t, "read stdout", 200, readDoc("hello stdout\n", 0))
	stderr, err := os.ReadFile(filepath.Join(f.sandbox, "stderr"))
	if err != nil || !strings.Contains(string(stderr), "hello stderr\n") {
		t.Fatalf("stderr on disk: %q %v", stderr, err)
	}
	f.c.get("/files/read", "path", f.virtual+"/stderr", "offset", "0").expect(t, "read stderr", 200, readDoc(string(stderr), 0))
	// One read returns at most 16 pages.
	page16 := 16 * os.Getpagesize()
	f.c.get("/files/read", "path", f.virtual+"/big.txt", "offset", "0").expect(t, "read big.txt", 200, readDoc(f.big[:page16], 0))
	f.c.get("/files/read", "path", f.virtual+"/big.txt", "offset", "7", "length", strconv.Itoa(10*page16)).
		expect(t, "read big.txt with a long length", 200, readDoc(f.big[7:7+page16], 7))
	tail := len(f.big) - 10
	f.c.get("/files/read", "path", f.virtual+"/big.txt", "offset", strconv.Itoa(tail)).expect(t, "read big.txt's end", 200, readDoc(f.big[tail:], tail))
	f.c.get("/files/read", "path", f.virtual+"/big.txt").expect(t, "big.txt's size", 200, readDoc("", len(f.big)))
	// Any method, as Mesos; JSONP.
	f.c.do(http.MethodPost, "/files/read", "path", data, "offset", "0", "length", "4").expect(t, "POST read", 200, readDoc("0123", 0))
	ans := f.c.get("/files/read", "path", data, "offset", "2", "length", "2", "jsonp", "show")
	ans.expect(t, "read with jsonp", 200, "show("+readDoc("23", 2)+");")
	if ct := ans.header.Get("Content-Type"); ct != "text/javascript" {
		t.Errorf("read with jsonp: Content-Type %q", ct)
	}
}

// testFilesDownload downloads files and checks their headers.
func testFilesDownload(t *testing.T, f *filesFixture) {
	for _, tc := range []struct {
		path, body, ctype, name string
	}{
		{f.virtual + "/page.html", filesPage, "text/html", "page.html"},
		{f.sandbox + "/stdout", "hello stdout\n", "application/octet-stream", "stdout"},
		{f.virtual + "/big.txt", f.big, files.MediaType("big.txt"), "big.txt"},
	} {
		ans := f.c.get("/files/download", "path", tc.path)
		if ans.status != 200 || ans.body != tc.body {
			t.Errorf("download %s: %d, %d bytes, want 200, %d bytes", tc.path, ans.status, len(ans.body), len(tc.body))
		}
		if got := ans.header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("download %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got, want := ans.header.Get("Content-Disposition"), "attachment; filename="+tc.name; got != want {
			t.Errorf("download %s: Content-Disposition %q, want %q", tc.path, got, want)
		}
		if got, want := ans.header.Get("Content-Length"), strconv.Itoa(len(tc.body)); got != want {
			t.Errorf("download %s: Content-Length %q, want %q", tc.path, got, want)
		}
	}
}

// testFilesBadRequests sends malformed parameters and unserved paths.
func testFilesBadRequests(t *testing.T, f *filesFixture) {
	const noPath = "Expecting 'path=value' in query.\n"
	for _, ep := range []string{"/files/browse", "/files/read", "/files/download"} {
		f.c.get(ep).expect(t, ep+" without path", 400, noPath)
		f.c.get(ep, "path", "").expect(t, ep+" with an empty path", 400, noPath)
	}
	data := f.virtual + "/data.txt"
	for _, tc := range []struct {
		query []string
		want  string
	}{
		{[]string{"path", data, "offset", "abc"}, "Failed to parse offset: Failed to convert 'abc' to number.\n"},
		{[]string{"path", data, "offset", ""}, "Failed to parse offset: Failed to convert '' to number.\n"},
		{[]string{"path", data, "offset", "-2"}, "Negative offset provided: -2.\n"},
		{[]string{"path", data, "offset", "99999999999999999999"}, "Failed to parse offset: Failed to convert '99999999999999999999' to number.\n"},
		{[]string{"path", data, "offset", "0", "length", "1.5"}, "Failed to parse length: Failed to convert '1.5' to number.\n"},
		{[]string{"path", data, "offset", "0", "length", "-7"}, "Negative length provided: -7.\n"},
		// Parameters are checked before the path is looked up.
		{[]string{"path", "/nowhere", "offset", "x"}, "Failed to parse offset: Failed to convert 'x' to number.\n"},
		// Directories cannot be read.
		{[]string{"path", f.virtual + "/sub", "offset", "0"}, "Cannot read a directory.\n"},
		{[]string{"path", f.virtual}, "Cannot read a directory.\n"},
		{[]string{"path", f.sandbox + "/"}, "Cannot read a directory.\n"},
	} {
		f.c.get("/files/read", tc.query...).expect(t, fmt.Sprintf("read %q", tc.query), 400, tc.want)
	}
	f.c.get("/files/download", "path", f.virtual+"/sub").expect(t, "download a directory", 400, "Cannot download a directory.\n")
	// Paths that are not served, or do not exist: 404 with no body.
	slaves := filepath.Join(f.a.cfg.WorkDir, "slaves")
	for _, p := range []string{
		f.virtual + "/nope",
		f.virtual + "/dangling",
		f.virtual + "/stdout/below-a-file",
		"/frameworks/F1/executors/nope/runs/latest",
		"/frameworks/F1/executors/files/runs/other",
		"/frameworks/F1/executors/files/runs",
		"/frameworks/../executors/files/runs/latest",
		"frameworks/F1/executors/files/runs/latest",
		"/etc/passwd",
		"/",
		f.a.cfg.WorkDir,
		slaves,
		filepath.Join(slaves, "M1-S0", "frameworks", "F1", "executors", "files", "runs"),
		filepath.Join(slaves, "M1-S0", "frameworks", "F1", "executors", "files", "runs", "no-such-run"),
		// A ".." above the run directory is no run directory.
		slaves + "/../slaves/M1-S0/frameworks/F1/executors/files/runs/latest",
	} {
		for _, ep := range []string{"/files/browse", "/files/read", "/files/download"} {
			f.c.get(ep, "path", p, "offset", "0").expect(t, ep+" "+p, 404, "")
		}
	}
}

// testFilesEscapes tries to leave the sandbox.
func testFilesEscapes(t *testing.T, f *filesFixture) {
	// Out of the sandbox through a symlink the task made, or "..": 400,
	// as Mesos answers a path that leaves its attached directory.
	ups := strings.Repeat("/..", 20)
	// A run directory that is itself a link out of the work directory.
	runs := filepath.Dir(f.sandbox)
	if err := os.Symlink(filepath.Dir(f.secret), filepath.Join(runs, "evil")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		runs + "/evil",
		runs + "/evil/secret",
		f.virtual + "/escape",
		f.virtual + "/up",
		f.virtual + "/up/latest/../../..",
		f.virtual + "/..",
		f.virtual + ups + f.secret,
		f.virtual + ups + "/etc/passwd",
		f.sandbox + "/escape",
		f.sandbox + "/..",
		f.latest + ups + "/etc/passwd",
		f.real + "/up",
	} {
		want := "'" + p + "' is inaccessible.\n"
		f.c.get("/files/browse", "path", p).expect(t, "browse "+p, 400, want)
		f.c.get("/files/read", "path", p, "offset", "0").expect(t, "read "+p, 400, want)
		f.c.get("/files/download", "path", p).expect(t, "download "+p, 400, want)
	}
}

// TestFilesAgentLog: with a log file (--log_dir) the agent serves it as
// /slave/log, lists it under /slave and names it in /files/debug.
func TestFilesAgentLog(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "mezzo-agent.log")
	if err := os.WriteFile(logFile, []byte("agent log line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, newFakeMaster(t), func(c *Config) { c.LogFile = logFile })
	c := filesClient{t: t, base: "http://" + a.Endpoint()}
	c.get("/files/read", "path", "/slave/log", "offset", "0").expect(t, "read /slave/log", 200, `{"data":"agent log line\n","offset":0}`)
	c.get("/files/download", "path", "/slave/log").expect(t, "download /slave/log", 200, "agent log line\n")
	ans := c.get("/files/browse", "path", "/slave")
	var listing legacy.FileListing
	if ans.status != 200 || json.Unmarshal([]byte(ans.body), &listing) != nil || len(listing) != 1 ||
		listing[0].Path != "/slave/log" || listing[0].Size != 15 || listing[0].Mode != "-rw-r--r--" {
		t.Errorf("browse /slave: %d %q", ans.status, ans.body)
	}
	c.get("/files/read", "path", "/slave", "offset", "0").expect(t, "read /slave", 400, "Cannot read a directory.\n")
	c.get("/files/read", "path", "/slave/log/x").expect(t, "below /slave/log", 404, "")
	if ans := c.get("/files/debug"); !strings.Contains(ans.body, `"/slave/log":"`+logFile+`"`) {
		t.Errorf("/files/debug: %q", ans.body)
	}
}

// TestFilesNoAgentLog: without a log file /slave/log is a 404 that names
// --log_dir, and /slave is not served.
func TestFilesNoAgentLog(t *testing.T) {
	b := startAgent(t, newFakeMaster(t), nil)
	c := filesClient{t: t, base: "http://" + b.Endpoint()}
	if ans := c.get("/files/read", "path", "/slave/log"); ans.status != 404 || !strings.Contains(ans.body, "--log_dir") {
		t.Errorf("/slave/log without a log file: %d %q, want 404 naming --log_dir", ans.status, ans.body)
	}
	c.get("/files/browse", "path", "/slave").expect(t, "browse /slave without a log file", 404, "")
}
