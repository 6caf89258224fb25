package master

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mezzoagent "github.com/mezzo-project/mezzo/agent"
	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"google.golang.org/protobuf/proto"
)

// filesCluster is a master with a log file and one real agent (its own
// log file too) registered with it, both on loopback, and a sandbox made
// by hand in the agent's work directory.
type filesCluster struct {
	master   string // http://host:port
	agentID  string
	agent    *mezzoagent.Agent
	sandbox  string // the virtual run path under the master: /agents/<id>/frameworks/F1/executors/E1/runs/latest
	agentLog string
}

func startFilesCluster(t *testing.T) *filesCluster {
	t.Helper()
	dir := t.TempDir()
	masterLog := filepath.Join(dir, "mezzo-master.log")
	if err := os.WriteFile(masterLog, []byte("master line 1\nmaster line 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Hostname = "localhost"
	cfg.IP = "127.0.0.1"
	cfg.Registry = "in_memory"
	cfg.LogFile = masterLog
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { m.Serve(ln); close(served) }()
	t.Cleanup(func() { m.Close(); <-served })
	c := &filesCluster{master: "http://" + ln.Addr().String(), agentLog: filepath.Join(dir, "mezzo-agent.log")}
	if err := os.WriteFile(c.agentLog, []byte("agent line\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	acfg := mezzoagent.Defaults()
	acfg.Master = ln.Addr().String()
	acfg.IP = "127.0.0.1"
	acfg.Port = 0
	acfg.WorkDir = filepath.Join(dir, "agent")
	acfg.Hostname = "localhost"
	acfg.Resources = "cpus:1;mem:256;disk:256;ports:[31000-31010]"
	acfg.RegistrationBackoffFactor = 20 * time.Millisecond
	acfg.LogFile = c.agentLog
	a, err := mezzoagent.New(acfg, slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() { a.Serve(aln); close(agentDone) }()
	t.Cleanup(func() { a.Close(); <-agentDone })
	c.agent = a
	eventually(t, 10*time.Second, "the agent registered", func() bool { return a.ID() != "" })
	c.agentID = a.ID()

	// A sandbox as the agent lays it out: .../runs/<run> and latest.
	runs := filepath.Join(acfg.WorkDir, "slaves", c.agentID, "frameworks", "F1", "executors", "E1", "runs")
	run := filepath.Join(runs, "R1")
	if err := os.MkdirAll(filepath.Join(run, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"stdout": "hello from the task\n", "stderr": "", "sub/x.txt": "x"} {
		if err := os.WriteFile(filepath.Join(run, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("R1", filepath.Join(runs, "latest")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(run, "escape")); err != nil {
		t.Fatal(err)
	}
	c.sandbox = "/agents/" + c.agentID + "/frameworks/F1/executors/E1/runs/latest"
	return c
}

// get is GET <master><endpoint>?<query>: status, body and headers.
func (c *filesCluster) get(t *testing.T, endpoint string, query ...string) (int, string, http.Header) {
	t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		q.Set(query[i], query[i+1])
	}
	resp, err := http.Get(c.master + endpoint + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// browse lists path through the master: the entries' paths.
func (c *filesCluster) browse(t *testing.T, path string) []string {
	t.Helper()
	status, body, _ := c.get(t, "/files/browse", "path", path)
	if status != http.StatusOK {
		t.Fatalf("browse %s: %d %q", path, status, body)
	}
	var listing legacy.FileListing
	if err := json.Unmarshal([]byte(body), &listing); err != nil {
		t.Fatalf("browse %s: %v: %s", path, err, body)
	}
	var out []string
	for _, e := range listing {
		out = append(out, e.Path)
	}
	return out
}

// read reads path through the master's /files/read.
func (c *filesCluster) read(t *testing.T, path string, query ...string) legacy.FileData {
	t.Helper()
	status, body, _ := c.get(t, "/files/read", append([]string{"path", path}, query...)...)
	if status != http.StatusOK {
		t.Fatalf("read %s: %d %q", path, status, body)
	}
	var d legacy.FileData
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("read %s: %v: %s", path, err, body)
	}
	return d
}

// operator posts call to the master's operator API in format f.
func (c *filesCluster) operator(t *testing.T, call *masterpb.Call, f codec.Format) (int, []byte) {
	t.Helper()
	body, err := codec.Marshal(f, call)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, c.master+"/api/v1", bytes.NewReader(body))
	req.Header.Set("Content-Type", f.MediaType())
	req.Header.Set("Accept", f.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestFilesThroughMaster(t *testing.T) {
	c := startFilesCluster(t)
	id := c.agentID

	t.Run("walk", func(t *testing.T) {
		if got, want := c.browse(t, "/"), []string{"/agents", "/master"}; !slices.Equal(got, want) {
			t.Errorf("browse /: %q, want %q", got, want)
		}
		if got, want := c.browse(t, "/master"), []string{"/master/log"}; !slices.Equal(got, want) {
			t.Errorf("browse /master: %q, want %q", got, want)
		}
		if got, want := c.browse(t, "/agents/"), []string{"/agents/" + id}; !slices.Equal(got, want) {
			t.Errorf("browse /agents: %q, want %q", got, want)
		}
		if got, want := c.browse(t, "/agents/"+id), []string{"/agents/" + id + "/frameworks", "/agents/" + id + "/slave"}; !slices.Equal(got, want) {
			t.Errorf("browse /agents/<id>: %q, want %q", got, want)
		}
		if got, want := c.browse(t, "/agents/"+id+"/slave"), []string{"/agents/" + id + "/slave/log"}; !slices.Equal(got, want) {
			t.Errorf("browse /agents/<id>/slave: %q, want %q", got, want)
		}
		want := []string{c.sandbox + "/escape", c.sandbox + "/stderr", c.sandbox + "/stdout", c.sandbox + "/sub"}
		if got := c.browse(t, c.sandbox); !slices.Equal(got, want) {
			t.Errorf("browse the sandbox: %q, want %q", got, want)
		}
		// /etc/passwd through the symlink is listed (stat'ed) but not served.
		if got, want := c.browse(t, c.sandbox+"/sub/"), []string{c.sandbox + "/sub/x.txt"}; !slices.Equal(got, want) {
			t.Errorf("browse sub: %q, want %q", got, want)
		}
	})

	t.Run("read", func(t *testing.T) {
		if d := c.read(t, c.sandbox+"/stdout", "offset", "0"); d.Data != "hello from the task\n" || d.Offset != 0 {
			t.Errorf("stdout: %+v", d)
		}
		if d := c.read(t, c.sandbox+"/stdout", "offset", "6", "length", "4"); d.Data != "from" || d.Offset != 6 {
			t.Errorf("stdout from 6 for 4: %+v", d)
		}
		if d := c.read(t, c.sandbox+"/stdout"); d.Data != "" || d.Offset != int64(len("hello from the task\n")) {
			t.Errorf("stdout size: %+v", d)
		}
		if d := c.read(t, "/master/log", "offset", "0"); d.Data != "master line 1\nmaster line 2\n" {
			t.Errorf("/master/log: %+v", d)
		}
		if d := c.read(t, "/agents/"+id+"/slave/log", "offset", "0"); d.Data != "agent line\n" {
			t.Errorf("the agent's log: %+v", d)
		}
		status, body, h := c.get(t, "/files/download", "path", c.sandbox+"/stdout")
		if status != http.StatusOK || body != "hello from the task\n" || !strings.Contains(h.Get("Content-Disposition"), "filename=stdout") {
			t.Errorf("download stdout: %d %q %v", status, body, h)
		}
		status, body, _ = c.get(t, "/master/files/download", "path", "/master/log")
		if status != http.StatusOK || !strings.HasPrefix(body, "master line 1") {
			t.Errorf("download /master/log under /master/files: %d %q", status, body)
		}
	})

	t.Run("statistics", func(t *testing.T) {
		status, body, _ := c.get(t, "/monitor/statistics", "agent_id", id)
		var stats []map[string]any
		if status != http.StatusOK || json.Unmarshal([]byte(body), &stats) != nil {
			t.Errorf("the agent's /monitor/statistics through the master: %d %q", status, body)
		}
		if status, body, _ := c.get(t, "/master/monitor/statistics", "agent_id", "nope"); status != http.StatusNotFound || !strings.Contains(body, "nope") {
			t.Errorf("unknown agent: %d %q", status, body)
		}
		if status, _, _ := c.get(t, "/monitor/statistics"); status != http.StatusBadRequest {
			t.Errorf("no agent_id: %d", status)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			endpoint string
			query    []string
			status   int
			body     string // a part of the body, "" for any
		}{
			{"/files/read", []string{"path", "/agents/nosuch/slave/log"}, 404, "'nosuch' is not registered"},
			{"/files/browse", []string{"path", "/agents/nosuch"}, 404, "'nosuch' is not registered"},
			{"/files/download", []string{"path", "/agents/nosuch/x"}, 404, "'nosuch' is not registered"},
			{"/files/read", []string{"path", c.sandbox + "/../../../../../../../../etc/passwd", "offset", "0"}, 400, "'..'"},
			{"/files/browse", []string{"path", "/agents/" + id + "/frameworks/F1/executors/E1/runs/latest/.."}, 400, "'..'"},
			{"/files/browse", []string{"path", "/agents/../etc"}, 400, "'..'"},
			{"/files/read", []string{"path", c.sandbox + "/escape", "offset", "0"}, 400, "inaccessible"},
			{"/files/download", []string{"path", c.sandbox + "/escape"}, 400, "inaccessible"},
			{"/files/read", []string{"path", c.sandbox + "/nothing"}, 404, ""},
			{"/files/read", []string{"path", "/agents/" + id + "/etc/passwd"}, 404, ""},
			{"/files/read", []string{"path", c.sandbox + "/stdout", "offset", "-2"}, 400, "Negative offset"},
			{"/files/read", []string{"path", c.sandbox + "/stdout", "length", "ten"}, 400, "Failed to parse length"},
			{"/files/read", []string{}, 400, "Expecting 'path=value'"},
			{"/files/browse", []string{"path", "relative"}, 400, "absolute"},
			{"/files/read", []string{"path", "/master", "offset", "0"}, 400, "directory"},
			{"/files/read", []string{"path", "/elsewhere"}, 404, ""},
			{"/files/read", []string{"path", c.sandbox + "/sub"}, 400, "directory"},
		} {
			status, body, _ := c.get(t, tc.endpoint, tc.query...)
			if status != tc.status || !strings.Contains(body, tc.body) {
				t.Errorf("%s %q: %d %q, want %d with %q", tc.endpoint, tc.query, status, body, tc.status, tc.body)
			}
		}
	})

	t.Run("debug", func(t *testing.T) {
		status, body, _ := c.get(t, "/files/debug")
		var doc map[string]string
		if status != http.StatusOK || json.Unmarshal([]byte(body), &doc) != nil {
			t.Fatalf("/files/debug: %d %q", status, body)
		}
		if doc["/master/log"] == "" || !strings.HasPrefix(doc["/agents/"+id], "http://127.0.0.1:") {
			t.Errorf("/files/debug: %v", doc)
		}
	})

	t.Run("operator", func(t *testing.T) {
		for _, f := range []codec.Format{codec.JSON, codec.Protobuf} {
			list := &masterpb.Call{Type: masterpb.Call_LIST_FILES.Enum(), ListFiles: &masterpb.Call_ListFiles{Path: proto.String(c.sandbox)}}
			status, b := c.operator(t, list, f)
			resp := &masterpb.Response{}
			if status != http.StatusOK || codec.Unmarshal(f, b, resp) != nil {
				t.Fatalf("%v LIST_FILES: %d %q", f, status, b)
			}
			var paths []string
			for _, fi := range resp.GetListFiles().GetFileInfos() {
				paths = append(paths, fi.GetPath())
			}
			if !slices.Contains(paths, c.sandbox+"/stdout") || resp.GetType() != masterpb.Response_LIST_FILES {
				t.Errorf("%v LIST_FILES: %v %q", f, resp.GetType(), paths)
			}
			for _, tc := range []struct {
				path   string
				offset uint64
				data   string
				size   uint64
			}{
				{c.sandbox + "/stdout", 6, "from the task\n", 20},
				{"/master/log", 0, "master line 1\nmaster line 2\n", 28},
				{"/agents/" + id + "/slave/log", 0, "agent line\n", 11},
			} {
				read := &masterpb.Call{Type: masterpb.Call_READ_FILE.Enum(), ReadFile: &masterpb.Call_ReadFile{Path: proto.String(tc.path), Offset: proto.Uint64(tc.offset)}}
				status, b = c.operator(t, read, f)
				resp = &masterpb.Response{}
				if status != http.StatusOK || codec.Unmarshal(f, b, resp) != nil {
					t.Fatalf("%v READ_FILE %s: %d %q", f, tc.path, status, b)
				}
				if got := resp.GetReadFile(); string(got.GetData()) != tc.data || got.GetSize() != tc.size {
					t.Errorf("%v READ_FILE %s: %q size %d, want %q size %d", f, tc.path, got.GetData(), got.GetSize(), tc.data, tc.size)
				}
			}
			for _, tc := range []struct {
				path   string
				status int
			}{
				{"/agents/nosuch/slave/log", 404},
				{c.sandbox + "/escape", 400},
				{c.sandbox + "/../../x", 400},
				{"/agents/" + id + "/nothing", 404},
			} {
				read := &masterpb.Call{Type: masterpb.Call_READ_FILE.Enum(), ReadFile: &masterpb.Call_ReadFile{Path: proto.String(tc.path), Offset: proto.Uint64(0)}}
				if status, b := c.operator(t, read, f); status != tc.status {
					t.Errorf("%v READ_FILE %s: %d %q, want %d", f, tc.path, status, b, tc.status)
				}
				list := &masterpb.Call{Type: masterpb.Call_LIST_FILES.Enum(), ListFiles: &masterpb.Call_ListFiles{Path: proto.String(tc.path)}}
				if status, b := c.operator(t, list, f); status != tc.status {
					t.Errorf("%v LIST_FILES %s: %d %q, want %d", f, tc.path, status, b, tc.status)
				}
			}
		}
	})

	t.Run("unreachable agent", func(t *testing.T) {
		// The agent stops; the master keeps it registered for a while.
		c.agent.Close()
		status, body, _ := c.get(t, "/files/read", "path", c.sandbox+"/stdout", "offset", "0")
		if status != http.StatusServiceUnavailable || !strings.Contains(body, fmt.Sprintf("Agent '%s'", id)) || !strings.Contains(body, "cannot be reached") {
			t.Errorf("read from a stopped agent: %d %q, want 503 naming it", status, body)
		}
	})
}

// TestFilesMasterLogWithoutLogDir: without a log file /master/log is a
// 404 that names --log_dir, and /master lists nothing.
func TestFilesMasterLogWithoutLogDir(t *testing.T) {
	_, srv := testMaster(t)
	resp, err := http.Get(srv.URL + "/files/read?path=/master/log&offset=0")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "--log_dir") {
		t.Errorf("/master/log: %d %q, want 404 naming --log_dir", resp.StatusCode, b)
	}
	resp, err = http.Get(srv.URL + "/files/browse?path=/master")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "[]" {
		t.Errorf("browse /master: %d %q, want []", resp.StatusCode, b)
	}
}
