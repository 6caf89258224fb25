package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/recordio"
)

// rawScheduler is a framework that speaks the scheduler API with nothing
// but net/http and JSON, the way a framework written from Mesos'
// documentation does.
type rawScheduler struct {
	t        *testing.T
	master   string
	streamID string
	fwID     string
	events   chan map[string]any
	body     io.Closer
}

func subscribeRaw(t *testing.T, master string, frameworkInfo string) *rawScheduler {
	t.Helper()
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":` + frameworkInfo + `}}`
	req, _ := http.NewRequest("POST", "http://"+master+"/api/v1/scheduler", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE: %s %s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("stream Content-Type %q", ct)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" || resp.ContentLength != -1 {
		t.Errorf("stream is not chunked: %v %d", resp.TransferEncoding, resp.ContentLength)
	}
	s := &rawScheduler{t: t, master: master, streamID: resp.Header.Get("Mesos-Stream-Id"), events: make(chan map[string]any, 100), body: resp.Body}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(s.streamID) {
		t.Errorf("Mesos-Stream-Id %q is not a UUID", s.streamID)
	}
	go func() {
		defer close(s.events)
		r := recordio.NewReader(bufio.NewReader(resp.Body), 0)
		for {
			rec, err := r.Read()
			if err != nil {
				return
			}
			if bytes.HasSuffix(rec, []byte("\n")) {
				t.Errorf("JSON record ends with a newline: %q", rec)
			}
			var ev map[string]any
			if err := json.Unmarshal(rec, &ev); err != nil {
				t.Errorf("event is not JSON: %v: %q", err, rec)
				return
			}
			s.events <- ev
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next event that is not a HEARTBEAT (or fails).
func (s *rawScheduler) next(want string) map[string]any {
	s.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("stream closed while waiting for %s", want)
			}
			if ev["type"] == "HEARTBEAT" {
				continue
			}
			if want != "" && ev["type"] != want {
				s.t.Fatalf("got %s event, want %s: %v", ev["type"], want, ev)
			}
			return ev
		case <-timeout:
			s.t.Fatalf("no %s event within 30s", want)
		}
	}
}

// call posts a call and returns the status code and body.
func (s *rawScheduler) call(body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.master+"/api/v1/scheduler", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Mesos-Stream-Id", s.streamID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *rawScheduler) mustCall(body string) {
	s.t.Helper()
	if code, msg := s.call(body); code != http.StatusAccepted {
		s.t.Fatalf("call %s: %d %s", body, code, msg)
	}
}

// recorded returns the events recorded from Mesos 1.11.1 in the same
// session.
func recorded(t *testing.T) []map[string]any {
	b, err := os.ReadFile("testdata/mesos-1.11-scheduler_events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// findRecorded returns the recorded event with the given type and, for
// updates, state.
func findRecorded(t *testing.T, evs []map[string]any, typ, state string) map[string]any {
	for _, ev := range evs {
		if ev["type"] != typ {
			continue
		}
		if state != "" && dig(ev, "update", "status", "state") != state {
			continue
		}
		return ev
	}
	t.Fatalf("no recorded %s %s", typ, state)
	return nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// paths lists the key paths of a JSON value, arrays collapsed to "[]".
func paths(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			p := prefix + "." + k
			out[p] = true
			paths(sub, p, out)
		}
	case []any:
		for _, sub := range x {
			paths(sub, prefix+"[]", out)
		}
	}
}

// sameShape fails the test when got lacks a key path that Mesos sent, or
// has one Mesos did not send.
func sameShape(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	g, w := map[string]bool{}, map[string]bool{}
	paths(got, "", g)
	paths(want, "", w)
	var missing, extra []string
	for p := range w {
		if !g[p] {
			missing = append(missing, p)
		}
	}
	for p := range g {
		if !w[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: shape differs from Mesos 1.11.1\n missing: %v\n extra:   %v\n got: %v", what, missing, extra, got)
	}
}

// TestSchedulerSessionMatchesMesos replays the session recorded from Mesos
// 1.11.1 (subscribe, launch, acknowledge, a launch on an unknown offer,
// reconciliation, teardown) against Mezzo and compares every event's
// shape, states, sources and reasons with the recording.
func TestSchedulerSessionMatchesMesos(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-32000]")
	rec := recorded(t)
	s := subscribeRaw(t, c.master, `{"user":"root","name":"capture","checkpoint":true,"capabilities":[{"type":"PARTITION_AWARE"}]}`)

	sub := s.next("SUBSCRIBED")
	sameShape(t, "SUBSCRIBED", sub, findRecorded(t, rec, "SUBSCRIBED", ""))
	if dig(sub, "subscribed", "heartbeat_interval_seconds") != 15.0 {
		t.Errorf("heartbeat interval %v", dig(sub, "subscribed", "heartbeat_interval_seconds"))
	}
	s.fwID = dig(sub, "subscribed", "framework_id", "value").(string)

	offers := s.next("OFFERS")
	sameShape(t, "OFFERS", offers, findRecorded(t, rec, "OFFERS", ""))
	offer := dig(offers, "offers", "offers").([]any)[0].(map[string]any)
	offerID := dig(offer, "id", "value").(string)
	agentID := dig(offer, "agent_id", "value").(string)

	// A call without the stream id is refused.
	req, _ := http.NewRequest("POST", "http://"+c.master+"/api/v1/scheduler",
		strings.NewReader(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"REVIVE"}`, s.fwID)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("call without Mesos-Stream-Id: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	envFile := "task-env.txt"
	s.mustCall(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"ACCEPT","accept":{"offer_ids":[{"value":%q}],
	  "operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"cap-task","task_id":{"value":"cap-task-1"},
	  "agent_id":{"value":%q},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},"role":"*"},
	  {"name":"mem","type":"SCALAR","scalar":{"value":32},"role":"*"}],
	  "command":{"value":"env > %s; echo to-stdout; echo to-stderr >&2; sleep 1"}}]}}]}}`, s.fwID, offerID, agentID, envFile))

	for _, state := range []string{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"} {
		var up map[string]any
		for {
			up = s.next("")
			if up["type"] == "UPDATE" {
				break
			}
		}
		st := dig(up, "update", "status").(map[string]any)
		if st["state"] != state {
			t.Fatalf("got %v, want %s: %v", st["state"], state, up)
		}
		sameShape(t, state, up, findRecorded(t, rec, "UPDATE", state))
		if st["source"] != "SOURCE_EXECUTOR" || dig(st, "executor_id", "value") != "cap-task-1" {
			t.Errorf("%s: source %v executor %v", state, st["source"], st["executor_id"])
		}
		if state == "TASK_FINISHED" && st["message"] != "Command exited with status 0" {
			t.Errorf("finished message %q", st["message"])
		}
		uuid, _ := base64.StdEncoding.DecodeString(st["uuid"].(string))
		if len(uuid) != 16 {
			t.Errorf("uuid %v", st["uuid"])
		}
		s.mustCall(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":%q},"task_id":{"value":"cap-task-1"},"uuid":%q}}`,
			s.fwID, agentID, st["uuid"]))
	}

	// A launch on an offer that does not exist.
	s.mustCall(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"ACCEPT","accept":{"offer_ids":[{"value":"no-such-offer"}],
	  "operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"bad","task_id":{"value":"cap-bad"},"agent_id":{"value":%q},
	  "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}],"command":{"value":"true"}}]}}]}}`, s.fwID, agentID))
	dropped := s.waitUpdate("cap-bad")
	sameShape(t, "TASK_DROPPED", dropped, findRecorded(t, rec, "UPDATE", "TASK_DROPPED"))
	if st := dig(dropped, "update", "status").(map[string]any); st["state"] != "TASK_DROPPED" ||
		st["reason"] != "REASON_INVALID_OFFERS" || st["source"] != "SOURCE_MASTER" {
		t.Errorf("invalid offer: %v", st)
	}

	// Reconciliation of a finished, acknowledged task and of one that never existed.
	s.mustCall(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"cap-task-1"}},{"task_id":{"value":"never-existed"}}]}}`, s.fwID))
	for _, id := range []string{"cap-task-1", "never-existed"} {
		up := s.waitUpdate(id)
		st := dig(up, "update", "status").(map[string]any)
		if st["state"] != "TASK_UNKNOWN" || st["reason"] != "REASON_RECONCILIATION" || st["source"] != "SOURCE_MASTER" || st["uuid"] != nil {
			t.Errorf("reconcile %s: %v", id, st)
		}
		sameShape(t, "reconcile "+id, up, findRecorded(t, rec, "UPDATE", "TASK_UNKNOWN"))
	}

	// The task's environment holds every variable Mesos gives a task.
	matches := sandboxFiles(filepath.Join(c.work, "agent0", "slaves", "*", "frameworks", s.fwID, "executors", "cap-task-1", "runs", "*", envFile))
	if len(matches) != 1 {
		t.Fatalf("task env file: %v", matches)
	}
	got, _ := os.ReadFile(matches[0])
	want, _ := os.ReadFile("testdata/mesos-1.11-task-env.txt")
	for _, line := range strings.Split(string(want), "\n") {
		name, _, _ := strings.Cut(line, "=")
		if !strings.HasPrefix(name, "MESOS_") && name != "LIBPROCESS_PORT" {
			continue
		}
		if !regexp.MustCompile(`(?m)^` + name + `=`).Match(got) {
			t.Errorf("task environment lacks %s", name)
		}
	}

	s.mustCall(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"TEARDOWN"}`, s.fwID))
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return // the master closed the stream
			}
		case <-deadline:
			t.Fatal("stream still open 20s after TEARDOWN")
		}
	}
}

func (s *rawScheduler) waitUpdate(taskID string) map[string]any {
	s.t.Helper()
	for {
		ev := s.next("")
		if ev["type"] == "UPDATE" && dig(ev, "update", "status", "task_id", "value") == taskID {
			return ev
		}
	}
}

// TestSchedulerEndpointStatusCodes checks Mesos' answers to bad calls.
func TestSchedulerEndpointStatusCodes(t *testing.T) {
	c := startCluster(t, 1, "cpus:1;mem:256;disk:256;ports:[31000-31010]")
	url := "http://" + c.master + "/api/v1/scheduler"
	post := func(ctype, accept, streamID, body string) (int, string) {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if streamID != "" {
			req.Header.Set("Mesos-Stream-Id", streamID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(b)
	}
	s := subscribeRaw(t, c.master, `{"user":"root","name":"codes"}`)
	fw := dig(s.next("SUBSCRIBED"), "subscribed", "framework_id", "value").(string)
	cases := []struct {
		name, ctype, accept, stream, body string
		want                              int
	}{
		{"no content type", "", "", s.streamID, `{}`, 400},
		{"unsupported content type", "text/plain", "", s.streamID, `{}`, 415},
		{"malformed JSON", "application/json", "", s.streamID, `{"type":`, 400},
		{"subscribe not acceptable", "application/json", "text/html", "", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`, 406},
		{"unknown call", "application/json", "", s.streamID, fmt.Sprintf(`{"type":"UNKNOWN","framework_id":{"value":%q}}`, fw), 501},
		{"no stream id", "application/json", "", "", fmt.Sprintf(`{"type":"REVIVE","framework_id":{"value":%q}}`, fw), 400},
		{"wrong stream id", "application/json", "", "3c0b0a53-1111-2222-3333-444455556666", fmt.Sprintf(`{"type":"REVIVE","framework_id":{"value":%q}}`, fw), 400},
		{"unknown framework", "application/json", "", s.streamID, `{"type":"REVIVE","framework_id":{"value":"nope"}}`, 400},
		{"no framework id", "application/json", "", s.streamID, `{"type":"REVIVE"}`, 400},
		{"ok", "application/json", "", s.streamID, fmt.Sprintf(`{"type":"REVIVE","framework_id":{"value":%q}}`, fw), 202},
	}
	for _, tc := range cases {
		if got, body := post(tc.ctype, tc.accept, tc.stream, tc.body); got != tc.want {
			t.Errorf("%s: got %d (%s), want %d", tc.name, got, body, tc.want)
		}
	}
	req, _ := http.NewRequest("GET", url, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %v %v", resp, err)
	}
}
