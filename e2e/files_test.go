package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
)

// masterFiles asks a master's /files endpoints.
type masterFiles struct {
	t      *testing.T
	master string // host:port
}

// get is GET /files/<op>?<query>: status and body.
func (m masterFiles) get(op string, query ...string) (int, string) {
	m.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		q.Set(query[i], query[i+1])
	}
	resp, err := http.Get("http://" + m.master + "/files/" + op + "?" + q.Encode())
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// browse lists path: the entries' paths, or an error.
func (m masterFiles) browse(path string) ([]string, error) {
	status, body := m.get("browse", "path", path)
	if status != http.StatusOK {
		return nil, fmt.Errorf("browse %s: %d %q", path, status, body)
	}
	var listing []struct{ Path string }
	if err := json.Unmarshal([]byte(body), &listing); err != nil {
		return nil, fmt.Errorf("browse %s: %v", path, err)
	}
	var out []string
	for _, e := range listing {
		out = append(out, e.Path)
	}
	return out, nil
}

// read reads path from offset to its end (at most one chunk).
func (m masterFiles) read(path string, offset int) (string, int, error) {
	status, body := m.get("read", "path", path, "offset", fmt.Sprint(offset))
	if status != http.StatusOK {
		return "", 0, fmt.Errorf("read %s: %d %q", path, status, body)
	}
	var d struct {
		Data   string `json:"data"`
		Offset int    `json:"offset"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return "", 0, fmt.Errorf("read %s: %v", path, err)
	}
	return d.Data, d.Offset, nil
}

// TestFilesThroughMaster: on `mezzo local --log_dir`, a task's stdout,
// its sandbox, the master's log and the agent's log are read through the
// master alone, in /files and the operator API; unknown agents and paths
// that climb out are refused.
func TestFilesThroughMaster(t *testing.T) {
	logDir := t.TempDir()
	_, master := startLocalCluster(t, 1, "--log_dir="+logDir)
	line := fmt.Sprintf("hello through the master %d", time.Now().UnixNano())
	out, code := run(t, time.Minute, bin.mezzo, "execute", "--master="+master, "--name=files-e2e",
		"--command=echo '"+line+"'", "--resources=cpus:0.1;mem:32")
	if code != 0 {
		t.Fatalf("execute exited %d:\n%s", code, out)
	}

	// The task, from the master's state: where its sandbox is.
	type taskDoc struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		FrameworkID string `json:"framework_id"`
		AgentID     string `json:"slave_id"`
		ExecutorID  string `json:"executor_id"`
	}
	var state struct {
		Frameworks []struct {
			Tasks     []taskDoc `json:"tasks"`
			Completed []taskDoc `json:"completed_tasks"`
		} `json:"completed_frameworks"`
	}
	var task taskDoc
	waitFor(t, 10*time.Second, "the task among the completed ones", func() error {
		if err := getJSON("http://"+master+"/master/state", &state); err != nil {
			return err
		}
		for _, f := range state.Frameworks {
			for _, tk := range append(f.Tasks, f.Completed...) {
				if tk.Name == "files-e2e" {
					task = tk
					return nil
				}
			}
		}
		return fmt.Errorf("not yet: %+v", state)
	})
	// A command task's executor is named after the task.
	executor := task.ExecutorID
	if executor == "" {
		executor = task.ID
	}
	agent := "/agents/" + task.AgentID
	sandbox := agent + "/frameworks/" + task.FrameworkID + "/executors/" + executor + "/runs/latest"
	m := masterFiles{t: t, master: master}

	data, _, err := m.read(sandbox+"/stdout", 0)
	if err != nil || !strings.Contains(data, line) {
		t.Fatalf("the task's stdout through the master: %q, %v", data, err)
	}

	// A browser walks from / to the sandbox.
	for _, step := range []struct{ dir, entry string }{
		{"/", "/agents"},
		{"/", "/master"},
		{"/master", "/master/log"},
		{"/agents", agent},
		{agent, agent + "/frameworks"},
		{agent, agent + "/slave"},
		{agent + "/frameworks", agent + "/frameworks/" + task.FrameworkID},
		{agent + "/frameworks/" + task.FrameworkID + "/executors", agent + "/frameworks/" + task.FrameworkID + "/executors/" + executor},
		{strings.TrimSuffix(sandbox, "/latest"), sandbox},
		{sandbox, sandbox + "/stdout"},
		{sandbox, sandbox + "/stderr"},
		{agent + "/slave", agent + "/slave/log"},
	} {
		entries, err := m.browse(step.dir)
		if err != nil || !slices.Contains(entries, step.entry) {
			t.Errorf("browse %s: %q (%v), want %s among them", step.dir, entries, err, step.entry)
		}
	}

	// The logs: the master's (mezzo local's own log) and the agent's.
	if data, _, err := m.read("/master/log", 0); err != nil || !strings.Contains(data, "component=master") {
		t.Errorf("/master/log: %.200q, %v", data, err)
	}
	if data, _, err := m.read(agent+"/slave/log", 0); err != nil || !strings.Contains(data, "registered with master") {
		t.Errorf("the agent's log: %.200q, %v", data, err)
	}
	if status, body := m.get("download", "path", sandbox+"/stdout"); status != http.StatusOK || !strings.Contains(body, line) {
		t.Errorf("download stdout: %d %q", status, body)
	}

	// The operator API, JSON and protobuf.
	for _, f := range []codec.Format{codec.JSON, codec.Protobuf} {
		call := &masterpb.Call{Type: masterpb.Call_READ_FILE.Enum(), ReadFile: &masterpb.Call_ReadFile{Path: proto.String(sandbox + "/stdout"), Offset: proto.Uint64(0)}}
		resp := filesOperatorCall(t, master, f, call)
		if !strings.Contains(string(resp.GetReadFile().GetData()), line) {
			t.Errorf("READ_FILE in %v: %q", f, resp.GetReadFile().GetData())
		}
		call = &masterpb.Call{Type: masterpb.Call_LIST_FILES.Enum(), ListFiles: &masterpb.Call_ListFiles{Path: proto.String(sandbox)}}
		var paths []string
		for _, fi := range filesOperatorCall(t, master, f, call).GetListFiles().GetFileInfos() {
			paths = append(paths, fi.GetPath())
		}
		if !slices.Contains(paths, sandbox+"/stdout") {
			t.Errorf("LIST_FILES in %v: %q", f, paths)
		}
	}

	// Refusals.
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/agents/no-such-agent/slave/log", 404, "'no-such-agent'"},
		{sandbox + "/../../../../../../etc/passwd", 400, "'..'"},
		{agent + "/etc/passwd", 404, ""},
	} {
		if status, body := m.get("read", "path", tc.path, "offset", "0"); status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("read %s: %d %q, want %d with %q", tc.path, status, body, tc.status, tc.want)
		}
	}
}

// filesOperatorCall posts call to the master's operator API in format f and
// decodes the 200 answer.
func filesOperatorCall(t *testing.T, master string, f codec.Format, call *masterpb.Call) *masterpb.Response {
	t.Helper()
	body, err := codec.Marshal(f, call)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+master+"/api/v1", bytes.NewReader(body))
	req.Header.Set("Content-Type", f.MediaType())
	req.Header.Set("Accept", f.MediaType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := &masterpb.Response{}
	if resp.StatusCode != http.StatusOK || codec.Unmarshal(f, b, out) != nil {
		t.Fatalf("%v in %v: %s %q", call.GetType(), f, resp.Status, b)
	}
	return out
}
