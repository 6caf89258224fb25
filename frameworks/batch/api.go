package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The HTTP API of a running job (`mezzo job run`), on the address in
// <state_dir>/api.addr:
//
//	GET  /v1/status        the Status document (JSON)
//	GET  /v1/task?index=N  one Task (JSON)
//	POST /v1/kill          kill the job: its tasks are killed, `run` ends
//
// Errors are JSON {"error": "..."} with status 400, 404 or 405.

// Status is the state of a job, while it runs and at its end.
type Status struct {
	Job         string `json:"job"`
	FrameworkID string `json:"framework_id,omitempty"`
	API         string `json:"api,omitempty"`
	// Master is the master the job runs on, as given to run.
	Master string `json:"master"`
	// State is running, succeeded, failed, killed or deadline; Reason
	// says why it ended.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Tasks counts the job's tasks; the others count them by state.
	Tasks    int `json:"tasks"`
	Waiting  int `json:"waiting"`
	Running  int `json:"running"` // launched or running
	Finished int `json:"finished"`
	Failed   int `json:"failed"`
	Killed   int `json:"killed"`
	// Retries counts the attempts that failed and were run again.
	Retries int `json:"retries"`
	// Elapsed is the seconds since the job started (until it ended).
	Elapsed float64 `json:"elapsed_seconds"`
	// TasksPerSecond is the ended tasks per second of Elapsed.
	TasksPerSecond float64 `json:"tasks_per_second"`
	// Outcomes counts the tasks by how their latest attempt ended
	// ("exit 0", "exit 3", "signal killed", "TASK_LOST", "killed", ...).
	Outcomes map[string]int `json:"outcomes"`
	// Durations are of the ended tasks' latest attempts, launch to end.
	Durations Durations `json:"durations"`
	// FailedTasks lists the tasks that failed for good (at most 100).
	FailedTasks []*Task `json:"failed_tasks,omitempty"`
}

// Durations summarizes task durations in seconds.
type Durations struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

func (j *Job) status() *Status {
	st := &Status{Job: j.spec.Name, FrameworkID: j.fwID, API: j.apiAddr, Master: j.cfg.Master, State: j.state, Reason: j.reason,
		Tasks: len(j.tasks), Retries: j.retries, Outcomes: map[string]int{}}
	end := time.Now()
	if !j.ended.IsZero() {
		end = j.ended
	}
	if !j.started.IsZero() {
		st.Elapsed = round3(end.Sub(j.started).Seconds())
	}
	var secs []float64
	for _, t := range j.tasks {
		switch t.State {
		case StateWaiting:
			st.Waiting++
		case StateLaunched, StateRunning:
			st.Running++
		case StateFinished:
			st.Finished++
		case StateFailed:
			st.Failed++
			if len(st.FailedTasks) < 100 {
				c := *t
				st.FailedTasks = append(st.FailedTasks, &c)
			}
		case StateKilled:
			st.Killed++
		}
		if t.terminal() {
			st.Outcomes[t.Outcome]++
			if t.Seconds > 0 {
				secs = append(secs, t.Seconds)
			}
		}
	}
	if st.Elapsed > 0 {
		st.TasksPerSecond = round3(float64(st.Finished+st.Failed+st.Killed) / st.Elapsed)
	}
	if len(secs) > 0 {
		sort.Float64s(secs)
		sum := 0.0
		for _, s := range secs {
			sum += s
		}
		pick := func(q float64) float64 { return round3(secs[int(math.Ceil(q*float64(len(secs))))-1]) }
		st.Durations = Durations{Min: round3(secs[0]), Median: pick(0.5), P95: pick(0.95),
			Max: round3(secs[len(secs)-1]), Mean: round3(sum / float64(len(secs)))}
	}
	return st
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// ProgressLine words a status in one line.
func ProgressLine(st *Status) string {
	return fmt.Sprintf("%d/%d done: %d finished, %d failed, %d killed; %d running, %d waiting; %d retries",
		st.Finished+st.Failed+st.Killed, st.Tasks, st.Finished, st.Failed, st.Killed, st.Running, st.Waiting, st.Retries)
}

// WriteSummary prints the summary of a job: its end, exit codes and
// durations.
func WriteSummary(w io.Writer, st *Status) {
	fmt.Fprintf(w, "job %s %s", st.Job, st.State)
	if st.Reason != "" {
		fmt.Fprintf(w, " (%s)", st.Reason)
	}
	fmt.Fprintf(w, " after %.1fs: %d tasks, %d finished, %d failed, %d killed, %d retries, %.1f tasks/s\n",
		st.Elapsed, st.Tasks, st.Finished, st.Failed, st.Killed, st.Retries, st.TasksPerSecond)
	keys := make([]string, 0, len(st.Outcomes))
	for k := range st.Outcomes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return outcomeLess(keys[a], keys[b]) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, st.Outcomes[k]))
	}
	fmt.Fprintf(w, "outcomes: %s\n", strings.Join(parts, ", "))
	d := st.Durations
	fmt.Fprintf(w, "durations (launch to end): min %.3fs, median %.3fs, p95 %.3fs, max %.3fs, mean %.3fs\n",
		d.Min, d.Median, d.P95, d.Max, d.Mean)
	for _, t := range st.FailedTasks {
		fmt.Fprintf(w, "failed: task %d (%s) after %d attempts: %s\n", t.Index, t.TaskID, t.Attempts, t.Outcome)
	}
}

// outcomeLess orders "exit N" by N, then the rest by name.
func outcomeLess(a, b string) bool {
	na, ea := strings.CutPrefix(a, "exit ")
	nb, eb := strings.CutPrefix(b, "exit ")
	if ea && eb {
		x, _ := strconv.Atoi(na)
		y, _ := strconv.Atoi(nb)
		return x < y
	}
	if ea != eb {
		return ea
	}
	return a < b
}

func writeJSON(file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

type apiRequest struct {
	fn    func(ctx context.Context) apiResponse
	reply chan apiResponse
}

type apiResponse struct {
	status int
	v      any
}

func (j *Job) apiHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(method, path string, fn func(r *http.Request) func(ctx context.Context) apiResponse) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method {
				reply(w, http.StatusMethodNotAllowed, map[string]string{"error": fmt.Sprintf("%s wants %s", path, method)})
				return
			}
			req := apiRequest{fn: fn(r), reply: make(chan apiResponse, 1)}
			select {
			case j.reqs <- req:
				resp := <-req.reply
				reply(w, resp.status, resp.v)
			case <-r.Context().Done():
			}
		})
	}
	route(http.MethodGet, "/v1/status", func(*http.Request) func(context.Context) apiResponse {
		return func(context.Context) apiResponse { return apiResponse{http.StatusOK, j.status()} }
	})
	route(http.MethodGet, "/v1/task", func(r *http.Request) func(context.Context) apiResponse {
		arg := r.URL.Query().Get("index")
		return func(context.Context) apiResponse {
			i, err := strconv.Atoi(arg)
			if err != nil || i < 0 || i >= len(j.tasks) {
				return apiResponse{http.StatusNotFound, map[string]string{
					"error": fmt.Sprintf("task index %q: want 0..%d", arg, len(j.tasks)-1)}}
			}
			c := *j.tasks[i]
			return apiResponse{http.StatusOK, &c}
		}
	})
	route(http.MethodPost, "/v1/kill", func(*http.Request) func(context.Context) apiResponse {
		return func(ctx context.Context) apiResponse {
			if j.state == "running" {
				j.end(ctx, "killed", "killed by request")
			}
			return apiResponse{http.StatusOK, j.status()}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such path: " + r.URL.Path})
	})
	return mux
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrNotRunning means the job's API is not there: the job is not running
// (its summary, if any, is in the state directory).
var ErrNotRunning = errors.New("job is not running")

// Client talks to the API of a running job.
type Client struct {
	addr string
	http *http.Client
}

// NewClient reads the API address of the job whose state is in stateDir.
func NewClient(stateDir string) (*Client, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, APIAddrFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (no %s in %s)", ErrNotRunning, APIAddrFile, stateDir)
		}
		return nil, fmt.Errorf("job API address: %w", err)
	}
	return &Client{addr: strings.TrimSpace(string(data)), http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Do sends a request to path (a POST when body is not nil) and decodes the
// JSON answer into out.
func (c *Client) Do(ctx context.Context, path string, body []byte, out any) error {
	method := http.MethodGet
	var rd io.Reader
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.addr+path, rd)
	if err != nil {
		return fmt.Errorf("job API %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: job API %s: %v", ErrNotRunning, c.addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("job API %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("job API %s: %s", path, e.Error)
		}
		return fmt.Errorf("job API %s: %s", path, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("job API %s: decode: %w", path, err)
	}
	return nil
}

// ReadSummary reads the Status a finished job left in stateDir.
func ReadSummary(stateDir string) (*Status, error) {
	var st Status
	if err := readJSON(filepath.Join(stateDir, SummaryFile), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// ReadTasks reads the tasks a finished job left in stateDir.
func ReadTasks(stateDir string) ([]*Task, error) {
	var ts []*Task
	if err := readJSON(filepath.Join(stateDir, TasksFile), &ts); err != nil {
		return nil, err
	}
	return ts, nil
}

func readJSON(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("job state: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("job state %s: %w", file, err)
	}
	return nil
}
