package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/internal/v0test"
)

// authzACLs are the ACLs of the authorization tests, for the user u the
// tests run as. Without authentication, HTTP requests are anonymous
// (ANY), and frameworks are the subjects of their calls by
// FrameworkInfo.principal:
//
//   - principal p may use role y only;
//   - principal p may run tasks as u only;
//   - anonymous operators see the frameworks of user u only, and tear
//     down none.
func authzACLs(u string) string {
	return `{
	"register_frameworks": [
		{"principals": {"values": ["p"]}, "roles": {"values": ["y"]}},
		{"principals": {"values": ["p"]}, "roles": {"type": "NONE"}}],
	"run_tasks": [
		{"principals": {"values": ["p"]}, "users": {"values": ["` + u + `"]}},
		{"principals": {"values": ["p"]}, "users": {"type": "NONE"}}],
	"view_frameworks": [
		{"principals": {"type": "ANY"}, "users": {"values": ["` + u + `"]}},
		{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
	"teardown_frameworks": [
		{"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}]
}`
}

// TestAuthorization runs a master and an agent with --acls and checks,
// from the binary, what Mesos' local authorizer would decide.
func TestAuthorization(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	acls := filepath.Join(work, "acls.json")
	write(t, acls, authzACLs(me.Username))

	// A malformed document stops the master, naming the problem.
	out, code := run(t, 20*time.Second, bin.mezzo, "master", "--ip=127.0.0.1", "--registry=in_memory",
		`--acls={"run_task": []}`)
	if code == 0 || !strings.Contains(out, `unknown ACL "run_task"`) {
		t.Fatalf("master with a misspelt ACL: exit %d\n%s", code, out)
	}

	mport := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", mport)
	start(t, "master", "master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", mport), "--registry=in_memory",
		"--allocation_interval=100ms", "--acls=file://"+acls)
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + master + "/health") })
	start(t, "agent", "agent", "--master="+master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:2;mem:512;disk:512", "--acls="+acls)
	waitFor(t, 30*time.Second, "agent registered", func() error {
		var st struct {
			Activated float64 `json:"activated_slaves"`
		}
		if err := getJSON("http://"+master+"/master/state", &st); err != nil {
			return err
		}
		if st.Activated != 1 {
			return fmt.Errorf("%v agents active", st.Activated)
		}
		return nil
	})

	t.Run("refused role", func(t *testing.T) {
		s := subscribeRaw(t, master, `{"user": "`+me.Username+`", "name": "x", "principal": "p", "role": "x"}`)
		ev := s.next("ERROR")
		if msg, _ := dig(ev, "error", "message").(string); !strings.Contains(msg, "may not use role 'x'") {
			t.Fatalf("ERROR: %v", ev)
		}
	})

	t.Run("refused role over the driver protocol", func(t *testing.T) {
		s, err := v0test.NewScheduler(master, "scheduler-authz")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Subscribe(&mesos.FrameworkInfo{User: proto.String(me.Username), Name: proto.String("v0"),
			Principal: proto.String("p"), Role: proto.String("x")}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Await(20*time.Second, v0test.Named("FrameworkErrorMessage"))
		if err != nil {
			t.Fatal(err)
		}
		if msg := r.Msg.(*messages.FrameworkErrorMessage).GetMessage(); !strings.Contains(msg, "may not use role 'x'") {
			t.Fatalf("FrameworkErrorMessage: %q", msg)
		}
	})

	// p's framework, in role y, as the test's user.
	p := subscribeRaw(t, master, `{"user": "`+me.Username+`", "name": "p-fw", "principal": "p", "role": "y"}`)
	pID, _ := dig(p.next("SUBSCRIBED"), "subscribed", "framework_id", "value").(string)

	t.Run("task as a refused user", func(t *testing.T) {
		offers := p.next("OFFERS")
		offer := dig(offers, "offers", "offers").([]any)[0].(map[string]any)
		offerID := dig(offer, "id", "value").(string)
		agentID := dig(offer, "agent_id", "value").(string)
		task := func(id, user string) string {
			cmd := `{"shell": true, "value": "true"}`
			if user != "" {
				cmd = `{"shell": true, "value": "true", "user": "` + user + `"}`
			}
			return `{"name": "` + id + `", "task_id": {"value": "` + id + `"}, "agent_id": {"value": "` + agentID + `"},
				"resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}, {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}],
				"command": ` + cmd + `}`
		}
		p.mustCall(`{"framework_id": {"value": "` + pID + `"}, "type": "ACCEPT", "accept": {"offer_ids": [{"value": "` + offerID + `"}],
			"operations": [{"type": "LAUNCH", "launch": {"task_infos": [` + task("as-nobody", "nobody") + `, ` + task("as-me", "") + `]}}]}}`)
		refused := p.waitUpdate("as-nobody")
		st := dig(refused, "update", "status").(map[string]any)
		if st["state"] != "TASK_ERROR" || st["reason"] != "REASON_TASK_UNAUTHORIZED" || !strings.Contains(fmt.Sprint(st["message"]), "under user 'nobody'") {
			t.Fatalf("task as nobody: %v", st)
		}
		allowed := p.waitUpdate("as-me")
		if s := dig(allowed, "update", "status", "state"); s == "TASK_ERROR" {
			t.Fatalf("task as %s: %v", me.Username, allowed)
		}
	})

	// A framework of another user, whom anonymous operators may not view.
	other := subscribeRaw(t, master, `{"user": "someone-else", "name": "other", "principal": "q"}`)
	otherID, _ := dig(other.next("SUBSCRIBED"), "subscribed", "framework_id", "value").(string)

	t.Run("views", func(t *testing.T) {
		var st struct {
			Frameworks []struct {
				ID string `json:"id"`
			} `json:"frameworks"`
		}
		if err := getJSON("http://"+master+"/master/state", &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Frameworks) != 1 || st.Frameworks[0].ID != pID {
			t.Errorf("/master/state lists %v, want only %s", st.Frameworks, pID)
		}
		code, body := postJSON(t, "http://"+master+"/api/v1", `{"type": "GET_STATE"}`)
		if code != http.StatusOK || !strings.Contains(body, pID) || strings.Contains(body, otherID) {
			t.Errorf("GET_STATE: %d, want %s and not %s: %s", code, pID, otherID, body)
		}
		// The agent's /state, by its own --acls.
		var agentState struct {
			Frameworks []struct {
				ID string `json:"id"`
			} `json:"frameworks"`
		}
		var slaves struct {
			Slaves []struct {
				PID string `json:"pid"`
			} `json:"slaves"`
		}
		if err := getJSON("http://"+master+"/master/slaves", &slaves); err != nil || len(slaves.Slaves) != 1 {
			t.Fatalf("slaves: %v %v", slaves, err)
		}
		agentAddr := slaves.Slaves[0].PID[strings.Index(slaves.Slaves[0].PID, "@")+1:]
		if err := getJSON("http://"+agentAddr+"/state", &agentState); err != nil {
			t.Fatal(err)
		}
		for _, f := range agentState.Frameworks {
			if f.ID != pID {
				t.Errorf("agent /state lists framework %s", f.ID)
			}
		}
	})

	t.Run("event stream", func(t *testing.T) {
		events := operatorEvents(t, master)
		sub := <-events
		if b, _ := json.Marshal(sub); sub["type"] != "SUBSCRIBED" || !strings.Contains(string(b), pID) || strings.Contains(string(b), otherID) {
			t.Fatalf("SUBSCRIBED: %s", b)
		}
		hidden := subscribeRaw(t, master, `{"user": "someone-else", "name": "hidden"}`)
		hidden.next("SUBSCRIBED")
		visible := subscribeRaw(t, master, `{"user": "`+me.Username+`", "name": "visible"}`)
		visible.next("SUBSCRIBED")
		timeout := time.After(20 * time.Second)
		for {
			select {
			case ev := <-events:
				switch ev["type"] {
				case "HEARTBEAT", "TASK_ADDED", "TASK_UPDATED":
					// p's tasks, which anonymous may view, may still be
					// changing.
					continue
				}
				if ev["type"] != "FRAMEWORK_ADDED" || dig(ev, "framework_added", "framework", "framework_info", "name") != "visible" {
					t.Fatalf("got %v, want FRAMEWORK_ADDED of the visible framework first", ev)
				}
				return
			case <-timeout:
				t.Fatal("no FRAMEWORK_ADDED within 20s")
			}
		}
	})

	t.Run("teardown refused", func(t *testing.T) {
		code, body := postJSON(t, "http://"+master+"/api/v1", `{"type": "TEARDOWN", "teardown": {"framework_id": {"value": "`+otherID+`"}}}`)
		if code != http.StatusForbidden {
			t.Errorf("TEARDOWN: %d %s", code, body)
		}
		resp, err := http.PostForm("http://"+master+"/master/teardown", url.Values{"frameworkId": {pID}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("/master/teardown: %s", resp.Status)
		}
	})
}

// postJSON posts a JSON body and returns the status and the answer.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// operatorEvents subscribes to the master's operator event stream and
// returns its events, in JSON, as they come.
func operatorEvents(t *testing.T, master string) <-chan map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+master+"/api/v1", strings.NewReader(`{"type": "SUBSCRIBE"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE: %s", resp.Status)
	}
	events := make(chan map[string]any, 100)
	go func() {
		defer close(events)
		r := recordio.NewReader(bufio.NewReader(resp.Body), 0)
		for {
			rec, err := r.Read()
			if err != nil {
				return
			}
			var ev map[string]any
			if json.Unmarshal(rec, &ev) != nil {
				return
			}
			events <- ev
		}
	}()
	return events
}
