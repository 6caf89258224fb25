package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/auth"
	"github.com/mezzo-project/mezzo/internal/v0test"
)

// authCluster is a master and agent with every authentication flag on.
type authCluster struct {
	master, agent string
	key           []byte
	badAgent      *proc
}

// Principals of the authentication tests.
const (
	alicePW = "alice-secret"
	bobPW   = "bob-secret"
	agentPW = "agent-secret"
)

func startAuthCluster(t *testing.T) *authCluster {
	t.Helper()
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	creds := filepath.Join(work, "credentials.json")
	agentCred := filepath.Join(work, "agent-credential")
	keyFile := filepath.Join(work, "jwt-key")
	files := map[string]string{
		creds: fmt.Sprintf(`{"credentials":[{"principal":"alice","secret":%q},{"principal":"bob","secret":%q},{"principal":"agent","secret":%q}]}`,
			alicePW, bobPW, agentPW),
		agentCred: "agent " + agentPW + "\n",
		keyFile:   "e2e-executor-token-key-0123456789",
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &authCluster{master: fmt.Sprintf("127.0.0.1:%d", freePort(t)), key: []byte(files[keyFile])}
	start(t, "master", "master", "--ip=127.0.0.1", "--port="+strings.Split(c.master, ":")[1],
		"--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms",
		"--authenticate_frameworks", "--authenticate_agents", "--authenticate_http_readonly", "--authenticate_http_readwrite",
		"--authenticate_http_frameworks", "--http_framework_authenticators=basic", "--credentials="+creds)
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + c.master + "/health") })

	// An agent without --credential, then one with it.
	c.badAgent = start(t, "agent-without-credential", "agent", "--master="+c.master, "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", freePort(t)), "--work_dir="+filepath.Join(work, "bad-agent"), "--resources=cpus:1;mem:256")
	c.agent = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "agent", "agent", "--master="+c.master, "--ip=127.0.0.1", "--port="+strings.Split(c.agent, ":")[1],
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]",
		"--credential="+agentCred, "--builtin_executors=process",
		"--authenticate_http_executors", "--jwt_secret_key="+keyFile,
		"--authenticate_http_readonly", "--http_credentials="+creds)
	waitFor(t, 30*time.Second, "the agent with a credential registered", func() error {
		var st struct {
			Activated float64 `json:"activated_slaves"`
		}
		if err := getJSONAs("http://"+c.master+"/master/state", "alice", alicePW, &st); err != nil {
			return err
		}
		if st.Activated != 1 {
			return fmt.Errorf("%v agents active", st.Activated)
		}
		return nil
	})
	return c
}

// getJSONAs is getJSON with HTTP Basic credentials.
func getJSONAs(url, principal, secret string, v any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(principal, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func TestAuthnClusterRefusesForgedIdentities(t *testing.T) {
	c := startAuthCluster(t)
	base := "http://" + c.master

	t.Run("agent without credential", func(t *testing.T) {
		waitFor(t, 20*time.Second, "the master to refuse the agent without a credential", func() error {
			if !strings.Contains(c.badAgent.out.String(), "401 Unauthorized: the master authenticates agents (--authenticate_agents): start the agent with --credential") {
				return fmt.Errorf("agent output has no 401 yet")
			}
			return nil
		})
		var slaves struct {
			Slaves []struct {
				Port float64 `json:"port"`
			} `json:"slaves"`
		}
		if err := getJSONAs(base+"/master/slaves", "alice", alicePW, &slaves); err != nil {
			t.Fatal(err)
		}
		if len(slaves.Slaves) != 1 {
			t.Fatalf("%d agents registered, want only the one with a credential", len(slaves.Slaves))
		}
	})

	t.Run("curl reads state with Basic credentials", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Fatal("curl, the third-party HTTP Basic client of this test, is not installed")
		}
		out, code := run(t, 20*time.Second, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base+"/master/state")
		if code != 0 || out != "401" {
			t.Fatalf("curl without credentials: %q (exit %d), want 401", out, code)
		}
		out, code = run(t, 20*time.Second, "curl", "-s", "-f", "-u", "alice:"+alicePW, base+"/master/state")
		if code != 0 || !strings.Contains(out, `"activated_slaves":1`) {
			t.Fatalf("curl -u alice: exit %d: %.300s", code, out)
		}
	})

	t.Run("cli", func(t *testing.T) {
		out, code := run(t, 30*time.Second, bin.mezzo, "agents", "--master="+c.master)
		if code == 0 || !strings.Contains(out, "401") || !strings.Contains(out, "--principal") {
			t.Fatalf("mezzo agents without credentials: exit %d:\n%s", code, out)
		}
		out, code = run(t, 30*time.Second, bin.mezzo, "agents", "--master="+c.master, "--principal=alice", "--secret="+alicePW)
		if code != 0 || !strings.Contains(out, "127.0.0.1") {
			t.Fatalf("mezzo agents with credentials: exit %d:\n%s", code, out)
		}
	})

	t.Run("frameworks", func(t *testing.T) {
		out, code := run(t, 30*time.Second, bin.mezzo, "execute", "--master="+c.master, "--name=anon",
			"--command=true", "--resources=cpus:0.1;mem:32")
		if code == 0 || !strings.Contains(out, "401") {
			t.Fatalf("unauthenticated mezzo execute: exit %d:\n%s", code, out)
		}
		out, code = run(t, time.Minute, bin.mezzo, "execute", "--master="+c.master, "--name=authed",
			"--command=echo ran", "--resources=cpus:0.1;mem:32", "--principal=alice", "--secret="+alicePW)
		if code != 0 || !strings.Contains(out, "TASK_FINISHED") {
			t.Fatalf("mezzo execute as alice: exit %d:\n%s", code, out)
		}
	})

	t.Run("stolen framework id", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sub := func(principal, secret, id, infoPrincipal string) (*http.Response, map[string]any) {
			info := map[string]any{"user": "root", "name": "victim", "principal": infoPrincipal, "failover_timeout": 600}
			call := map[string]any{"type": "SUBSCRIBE", "subscribe": map[string]any{"framework_info": info}}
			if id != "" {
				info["id"] = map[string]any{"value": id}
				call["framework_id"] = map[string]any{"value": id}
			}
			body, _ := json.Marshal(call)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/scheduler", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			req.SetBasicAuth(principal, secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			if resp.StatusCode != 200 {
				return resp, nil
			}
			// The first RecordIO record: "<length>\n<event>".
			r := bufio.NewReader(resp.Body)
			var n int
			if _, err := fmt.Fscanf(r, "%d\n", &n); err != nil {
				t.Fatal(err)
			}
			rec := make([]byte, n)
			if _, err := io.ReadFull(r, rec); err != nil {
				t.Fatal(err)
			}
			ev := map[string]any{}
			if err := json.Unmarshal(rec, &ev); err != nil {
				t.Fatal(err)
			}
			return resp, ev
		}
		_, ev := sub("alice", alicePW, "", "alice")
		id, _ := ev["subscribed"].(map[string]any)["framework_id"].(map[string]any)["value"].(string)
		if id == "" {
			t.Fatalf("alice's SUBSCRIBE: %v", ev)
		}
		// bob, a valid principal, claims alice's framework id: as himself
		// (the principal would change) and as alice (not his principal).
		resp, ev := sub("bob", bobPW, id, "bob")
		if resp.StatusCode != 200 || ev["type"] != "ERROR" || !strings.Contains(fmt.Sprint(ev["error"]), "Changing framework's principal is not allowed") {
			t.Fatalf("bob failing over to alice's framework as bob: %d %v", resp.StatusCode, ev)
		}
		resp, _ = sub("bob", bobPW, id, "alice")
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "Authenticated principal 'bob' does not match principal 'alice'") {
			t.Fatalf("bob failing over to alice's framework as alice: %d %s", resp.StatusCode, b)
		}
		// alice's framework still runs under her subscription.
		var fws struct {
			Frameworks []struct {
				ID        string `json:"id"`
				Principal string `json:"principal"`
				Active    bool   `json:"active"`
			} `json:"frameworks"`
		}
		if err := getJSONAs(base+"/master/frameworks", "alice", alicePW, &fws); err != nil {
			t.Fatal(err)
		}
		for _, f := range fws.Frameworks {
			if f.ID == id && (!f.Active || f.Principal != "alice") {
				t.Fatalf("alice's framework after the attempts: %+v", f)
			}
		}
	})

	t.Run("master forwards credentials to the agent", func(t *testing.T) {
		// The agent's /monitor/statistics needs credentials
		// (--authenticate_http_readonly); the master's proxy of it passes
		// the operator's on.
		var slaves struct {
			Slaves []struct {
				ID string `json:"id"`
			} `json:"slaves"`
		}
		if err := getJSONAs(base+"/master/slaves", "alice", alicePW, &slaves); err != nil || len(slaves.Slaves) != 1 {
			t.Fatalf("slaves %v: %v", slaves, err)
		}
		var stats []any
		if err := getJSONAs(base+"/monitor/statistics?agent_id="+slaves.Slaves[0].ID, "alice", alicePW, &stats); err != nil {
			t.Fatalf("the agent's statistics through the master: %v", err)
		}
		if err := httpOK("http://" + c.agent + "/monitor/statistics"); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("the agent's statistics without credentials: %v", err)
		}
	})

	t.Run("driver frameworks (CRAM-MD5)", func(t *testing.T) {
		driver := func(id string) *v0test.Scheduler {
			s, err := v0test.NewScheduler(c.master, id)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			return s
		}
		info := func(principal string) *mesos.FrameworkInfo {
			return &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("driver"), Principal: proto.String(principal)}
		}
		errorOf := func(s *v0test.Scheduler) string {
			t.Helper()
			r, err := s.Await(10*time.Second, func(r v0test.Received) bool {
				return r.Name == "mesos.internal.FrameworkErrorMessage" || r.Name == "mesos.internal.FrameworkRegisteredMessage"
			})
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := r.Msg.(*messages.FrameworkErrorMessage); ok {
				return m.GetMessage()
			}
			return ""
		}
		anon := driver("scheduler-anon")
		if err := anon.Subscribe(info("alice")); err != nil {
			t.Fatal(err)
		}
		if msg := errorOf(anon); !strings.Contains(msg, "is not authenticated") {
			t.Fatalf("unauthenticated driver: %q", msg)
		}
		if err := driver("scheduler-wrong").Authenticate("alice", "not-her-secret", 10*time.Second); err == nil ||
			!strings.Contains(err.Error(), "AuthenticationFailedMessage") {
			t.Fatalf("wrong secret: %v", err)
		}
		bob := driver("scheduler-bob")
		if err := bob.Authenticate("bob", bobPW, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := bob.Subscribe(info("alice")); err != nil {
			t.Fatal(err)
		}
		if msg := errorOf(bob); !strings.Contains(msg, "does not match authenticated principal 'bob'") {
			t.Fatalf("bob registering as alice: %q", msg)
		}
		alice := driver("scheduler-alice")
		if err := alice.Authenticate("alice", alicePW, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := alice.Subscribe(info("alice")); err != nil {
			t.Fatal(err)
		}
		if msg := errorOf(alice); msg != "" || alice.FrameworkID() == "" {
			t.Fatalf("alice's authenticated driver: error %q, framework id %q", msg, alice.FrameworkID())
		}
	})

	t.Run("executor tokens", func(t *testing.T) {
		// Two executors run side by side, each a process holding its own
		// token (the task would not run if the executor could not
		// subscribe with it).
		var cmds []*exec.Cmd
		for _, name := range []string{"one", "two"} {
			cmd := exec.Command(bin.mezzo, "execute", "--master="+c.master, "--name="+name, "--command=sleep 60",
				"--resources=cpus:0.1;mem:32", "--principal=alice", "--secret="+alicePW)
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		t.Cleanup(func() {
			for _, cmd := range cmds {
				_ = cmd.Process.Signal(os.Interrupt)
				_ = cmd.Wait()
			}
		})
		type container struct {
			FrameworkID string `json:"framework_id"`
			ExecutorID  string `json:"executor_id"`
			ContainerID string `json:"container_id"`
		}
		var running map[string]container
		waitFor(t, 45*time.Second, "both tasks running", func() error {
			var cs []container
			if err := getJSONAs("http://"+c.agent+"/containers", "alice", alicePW, &cs); err != nil {
				return err
			}
			running = map[string]container{}
			for _, ct := range cs {
				running[ct.ExecutorID] = ct
			}
			var tasks struct {
				Tasks []struct {
					Name  string `json:"name"`
					State string `json:"state"`
				} `json:"tasks"`
			}
			if err := getJSONAs("http://"+c.master+"/master/tasks", "alice", alicePW, &tasks); err != nil {
				return err
			}
			n := 0
			for _, tk := range tasks.Tasks {
				if (tk.Name == "one" || tk.Name == "two") && tk.State == "TASK_RUNNING" {
					n++
				}
			}
			if n != 2 || len(running) < 2 {
				return fmt.Errorf("%d tasks running, %d containers", n, len(running))
			}
			return nil
		})
		one, two := running["one"], running["two"]
		if one.ContainerID == "" || two.ContainerID == "" {
			t.Fatalf("containers: %+v", running)
		}
		// Executor two's identity in a token signed with the agent's key,
		// as the agent gave it to executor two.
		twoToken, err := auth.IssueExecutorToken(c.key, auth.ExecutorClaims{FrameworkID: two.FrameworkID, ExecutorID: two.ExecutorID, ContainerID: two.ContainerID})
		if err != nil {
			t.Fatal(err)
		}
		update := func(token string) (int, string) {
			uuid := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
			body := fmt.Sprintf(`{"type":"UPDATE","framework_id":{"value":%q},"executor_id":{"value":%q},
				"update":{"status":{"task_id":{"value":"one"},"state":"TASK_FAILED","source":"SOURCE_EXECUTOR","uuid":%q,"message":"forged"}}}`,
				one.FrameworkID, one.ExecutorID, uuid)
			req, _ := http.NewRequest(http.MethodPost, "http://"+c.agent+"/api/v1/executor", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("WWW-Authenticate") + " " + string(b)
		}
		if code, msg := update(""); code != 401 || !strings.Contains(msg, `Bearer realm="mesos-agent-executor"`) {
			t.Fatalf("an update without a token: %d %s", code, msg)
		}
		if code, msg := update(twoToken); code != 403 {
			t.Fatalf("executor two's token on executor one's update: %d %s", code, msg)
		}
		// Task one is still running: the forged TASK_FAILED went nowhere.
		var tasks struct {
			Tasks []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"tasks"`
		}
		if err := getJSONAs("http://"+c.master+"/master/tasks", "alice", alicePW, &tasks); err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks.Tasks {
			if tk.Name == "one" && tk.State != "TASK_RUNNING" {
				t.Fatalf("task one is %s after a forged update", tk.State)
			}
		}
	})
}
