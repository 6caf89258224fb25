package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run the mezzo binary's commands against one live `mezzo
// local` (a master and two agents on loopback), as a user would.

var (
	binary string // the mezzo binary, built once
	master string // the local cluster's master, host:port
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mezzo-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "mezzo")
	build := exec.Command("go", "build", "-o", binary, "../cmd/mezzo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the mezzo binary: %v\n%s", err, out)
		return 1
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	master = l.Addr().String()
	_, port, _ := net.SplitHostPort(master)
	l.Close()
	var log bytes.Buffer
	local := exec.Command(binary, "local", "--ip=127.0.0.1", "--port="+port, "--agents=2",
		"--work_dir="+filepath.Join(dir, "local"), "--allocation_interval=100ms",
		"--resources=cpus:2;mem:1024;disk:1024", "--isolation=posix/cpu,posix/mem")
	local.Stdout, local.Stderr = &log, &log
	if err := local.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "starting mezzo local: %v\n", err)
		return 1
	}
	defer func() {
		_ = local.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = local.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = local.Process.Kill()
			<-done
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Active float64 `json:"activated_slaves"`
		}
		resp, err := http.Get("http://" + master + "/master/state")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		if st.Active == 2 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "mezzo local did not bring up two agents within 30s:\n%s", log.String())
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m.Run()
}

// mezzo runs the binary with args against the local cluster and returns
// its stdout, stderr and exit code.
func mezzo(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "MEZZO_MASTER="+master)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("mezzo %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errOut.String(), code
}

// mustMezzo runs the binary and fails the test unless it exits 0.
func mustMezzo(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := mezzo(t, args...)
	if code != 0 {
		t.Fatalf("mezzo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// background starts the binary with args and stops it (SIGTERM) at the
// end of the test.
func background(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "MEZZO_MASTER="+master)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return cmd, out, done
}

// eventually polls cond every 50ms until it returns nil or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runTask starts `mezzo execute` with a task named name running command,
// and waits until the task is in state (e.g. RUNNING).
func runTask(t *testing.T, name, command, state string) *syncBuffer {
	t.Helper()
	_, out, _ := background(t, "execute", "--name="+name, "--command="+command, "--resources=cpus:0.1;mem:32")
	eventually(t, 30*time.Second, "task "+name+" "+state, func() error {
		o, e, _ := mezzo(t, "tasks", "--all", "--json")
		var tasks []struct {
			ID    struct{ Value string } `json:"task_id"`
			State string                 `json:"state"`
		}
		if err := json.Unmarshal([]byte(o), &tasks); err != nil {
			return fmt.Errorf("tasks --json: %v: %s%s", err, o, e)
		}
		for _, x := range tasks {
			if x.ID.Value == name && x.State == "TASK_"+state {
				return nil
			}
		}
		return fmt.Errorf("not yet; execute says:\n%s", out.String())
	})
	return out
}

func TestListings(t *testing.T) {
	runTask(t, "list-sleeper", "echo listed; sleep 600", "RUNNING")

	agents := mustMezzo(t, "agents")
	if lines := strings.Split(strings.TrimSpace(agents), "\n"); len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "ID") || !strings.Contains(agents, "127.0.0.1:") || !strings.Contains(agents, "active") {
		t.Errorf("agents: want a header and two active agents:\n%s", agents)
	}
	fws := mustMezzo(t, "frameworks")
	if !strings.Contains(fws, "mezzo-execute instance") || !strings.Contains(fws, "root") && !strings.Contains(fws, os.Getenv("USER")) {
		t.Errorf("frameworks lacks the execute framework:\n%s", fws)
	}
	tasks := mustMezzo(t, "tasks")
	if !strings.Contains(tasks, "list-sleeper") || !strings.Contains(tasks, "RUNNING") || !strings.Contains(tasks, "0.1") {
		t.Errorf("tasks lacks the running task:\n%s", tasks)
	}
	if out := mustMezzo(t, "tasks", "--state=finished"); strings.Contains(out, "list-sleeper") {
		t.Errorf("tasks --state=finished lists a running task:\n%s", out)
	}
	if out := mustMezzo(t, "tasks", "--state=TASK_RUNNING", "--framework=mezzo-execute instance"); !strings.Contains(out, "list-sleeper") {
		t.Errorf("tasks --state=TASK_RUNNING --framework=<name> lacks the task:\n%s", out)
	}

	// `mezzo task` by a unique prefix: history, resources, agent, sandbox.
	task := mustMezzo(t, "task", "list-sl")
	for _, want := range []string{"ID:         list-sleeper", "State:      RUNNING", "cpus:0.1 mem:32M", "Sandbox:    /agents/",
		"/executors/list-sleeper/runs/latest", "STARTING", "RUNNING  "} {
		if !strings.Contains(task, want) {
			t.Errorf("task lacks %q:\n%s", want, task)
		}
	}
	var one struct {
		Name     string `json:"name"`
		Statuses []any  `json:"statuses"`
	}
	if err := json.Unmarshal([]byte(mustMezzo(t, "task", "list-sleeper", "--json")), &one); err != nil || one.Name != "list-sleeper" || len(one.Statuses) < 2 {
		t.Errorf("task --json: %+v, %v", one, err)
	}

	state := mustMezzo(t, "state")
	for _, want := range []string{"Master:      " + master, "Agents:      2 (2 active)", "CPUs:", "running"} {
		if !strings.Contains(state, want) {
			t.Errorf("state lacks %q:\n%s", want, state)
		}
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(mustMezzo(t, "state", "--json")), &st); err != nil || st["get_tasks"] == nil {
		t.Errorf("state --json is not GET_STATE: %v %.200v", err, st)
	}
}

func TestExitCodes(t *testing.T) {
	runTask(t, "amb-one", "sleep 600", "RUNNING")
	runTask(t, "amb-two", "sleep 600", "RUNNING")
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown task", []string{"task", "no-such-task"}, 3, `no task has an id starting with "no-such-task"`},
		{"ambiguous task", []string{"task", "amb-"}, 4, `"amb-" names 2 tasks: amb-one, amb-two`},
		{"unknown framework", []string{"tasks", "--framework=nope"}, 3, "no framework"},
		{"bad flag", []string{"tasks", "--bogus"}, 2, "unknown flag: --bogus"},
		{"bad state", []string{"tasks", "--state=snoozing"}, 2, `unknown task state "snoozing"`},
		{"extra argument", []string{"agents", "x"}, 2, "expected no arguments"},
		{"bad master", []string{"agents", "--master=host:notaport"}, 2, "bad master address"},
		{"unreachable master", []string{"agents", "--master=127.0.0.1:1"}, 1, "cannot reach the master at 127.0.0.1:1"},
		{"missing file", []string{"cat", "amb-one", "no/such/file"}, 3, `"no/such/file" is not in the sandbox`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := mezzo(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("mezzo %s: exit %d, stderr %q; want exit %d and %q (stdout %q)",
					strings.Join(tc.args, " "), code, errOut, tc.code, tc.msg, out)
			}
		})
	}
}

func TestSandboxFiles(t *testing.T) {
	runTask(t, "files-task", "echo to-stdout; echo to-stderr >&2; mkdir sub; echo inside > sub/note.txt; sleep 600", "RUNNING")
	eventually(t, 10*time.Second, "the note written", func() error {
		if out, errOut, _ := mezzo(t, "cat", "files-task", "sub/note.txt"); out != "inside\n" {
			return fmt.Errorf("cat: %q %q", out, errOut)
		}
		return nil
	})
	ls := mustMezzo(t, "ls", "files-task")
	for _, want := range []string{"stdout", "stderr", "sub/", "MODE"} {
		if !strings.Contains(ls, want) {
			t.Errorf("ls lacks %q:\n%s", want, ls)
		}
	}
	if out := mustMezzo(t, "ls", "files-task", "sub"); !strings.Contains(out, "note.txt") {
		t.Errorf("ls sub lacks note.txt:\n%s", out)
	}
	if out := mustMezzo(t, "logs", "files-task"); out != "to-stdout\n" {
		t.Errorf("logs: %q, want the task's stdout", out)
	}
	if out := mustMezzo(t, "logs", "--stderr", "files-task"); !strings.Contains(out, "to-stderr\n") {
		t.Errorf("logs --stderr lacks the task's stderr: %q", out)
	}
	// A path may not leave the sandbox.
	if out, errOut, code := mezzo(t, "cat", "files-task", "../../../../../../etc/passwd"); code == 0 || strings.Contains(out, "root:") {
		t.Errorf("cat ../../etc/passwd: exit %d, %q %q", code, out, errOut)
	}
}

func TestLogsFollowShowsLaterLines(t *testing.T) {
	trigger := filepath.Join(t.TempDir(), "go")
	runTask(t, "follow-task", fmt.Sprintf("echo before; while [ ! -e %s ]; do sleep 0.05; done; echo after-start; sleep 1", trigger), "RUNNING")
	_, out, done := background(t, "logs", "--follow", "follow-task")
	eventually(t, 10*time.Second, "logs --follow printing what was there", func() error {
		if !strings.Contains(out.String(), "before\n") {
			return fmt.Errorf("output so far %q", out.String())
		}
		return nil
	})
	if strings.Contains(out.String(), "after-start") {
		t.Fatalf("the task printed after-start before it was let: %q", out.String())
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The line comes, and the command ends by itself once the task ended.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("logs --follow: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("logs --follow did not end after the task did: %q", out.String())
	}
	if got := out.String(); got != "before\nafter-start\n" {
		t.Errorf("logs --follow printed %q, want before and after-start", got)
	}
}

func TestLogsFollowInterrupted(t *testing.T) {
	runTask(t, "follow-forever", "echo waiting; sleep 600", "RUNNING")
	cmd, out, done := background(t, "logs", "-f", "follow-forever")
	eventually(t, 10*time.Second, "logs -f printing", func() error {
		if !strings.Contains(out.String(), "waiting") {
			return fmt.Errorf("output so far %q", out.String())
		}
		return nil
	})
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit %d after SIGINT, want 130", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not stop on SIGINT")
	}
}

func TestEventsAndTeardown(t *testing.T) {
	_, events, _ := background(t, "events")
	eventually(t, 10*time.Second, "the SUBSCRIBED line", func() error {
		if !strings.Contains(events.String(), " SUBSCRIBED agents=2 ") {
			return fmt.Errorf("events so far %q", events.String())
		}
		return nil
	})
	execOut := runTask(t, "torn-down", "sleep 600", "RUNNING")
	eventually(t, 10*time.Second, "the task's events", func() error {
		s := events.String()
		if !strings.Contains(s, "TASK_ADDED task=torn-down name=torn-down framework=") ||
			!strings.Contains(s, "TASK_UPDATED task=torn-down") || !strings.Contains(s, "state=RUNNING") {
			return fmt.Errorf("events so far %q", s)
		}
		return nil
	})
	// The framework's id, by the prefix the table shows.
	var fwID string
	for _, line := range strings.Split(events.String(), "\n") {
		if strings.Contains(line, "TASK_ADDED task=torn-down ") {
			_, rest, _ := strings.Cut(line, "framework=")
			fwID, _, _ = strings.Cut(rest, " ")
		}
	}
	out := mustMezzo(t, "teardown", fwID[:len(fwID)-2])
	if !strings.Contains(out, "tore down framework "+fwID) {
		t.Errorf("teardown said %q", out)
	}
	eventually(t, 20*time.Second, "the task killed and the framework removed", func() error {
		s := events.String()
		if !strings.Contains(s, "FRAMEWORK_REMOVED framework="+fwID) || !strings.Contains(s, "task=torn-down framework="+fwID+" agent=") ||
			!strings.Contains(s, "state=KILLED") {
			return fmt.Errorf("events so far %q; execute says %q", s, execOut.String())
		}
		return nil
	})
	if out, _, code := mezzo(t, "teardown", fwID); code != 3 {
		t.Errorf("a second teardown: exit %d, want 3 (no such framework any more): %s", code, out)
	}
}

func TestTopOnce(t *testing.T) {
	runTask(t, "top-burner", "while :; do :; done", "RUNNING")
	out := mustMezzo(t, "top", "--interval=500ms")
	for _, want := range []string{"mezzo top", "Agents: 2 active", "CPUs:", "Memory:", "top-burner", "TASKS"} {
		if !strings.Contains(out, want) {
			t.Errorf("top lacks %q:\n%s", want, out)
		}
	}
	// The busy loop uses most of a CPU and is at the top of the list.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "TASKS") {
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "top-burner") {
				t.Errorf("the busy task is not first:\n%s", out)
			}
		}
	}
}

func TestCompletionListsEveryCommand(t *testing.T) {
	out := mustMezzo(t, "__completeNoDesc", "")
	for _, want := range []string{"master", "agent", "local", "execute", "resolve", "agents", "tasks", "logs", "top", "completion"} {
		if !strings.Contains("\n"+out, "\n"+want+"\n") {
			t.Errorf("completion of the command name lacks %q:\n%s", want, out)
		}
	}
	for _, shell := range []string{"bash", "zsh"} {
		if s := mustMezzo(t, "completion", shell); !strings.Contains(s, "__complete") {
			t.Errorf("completion %s is not a completion script:\n%.300s", shell, s)
		}
	}
	if _, errOut, code := mezzo(t, "completion", "fish"); code != 2 || !strings.Contains(errOut, "bash or zsh") {
		t.Errorf("completion fish: exit %d, %q", code, errOut)
	}
	// Other subcommands keep their own flag parsing.
	if out := mustMezzo(t, "local", "--help"); !strings.Contains(out, "--agents") {
		t.Errorf("local --help:\n%s", out)
	}
}

func TestKill(t *testing.T) {
	execOut := runTask(t, "to-kill", "sleep 600", "RUNNING")
	if out := mustMezzo(t, "kill", "to-ki"); !strings.Contains(out, "killing task to-kill") {
		t.Errorf("kill said %q", out)
	}
	eventually(t, 20*time.Second, "the task killed", func() error {
		if out := mustMezzo(t, "task", "to-kill"); !strings.Contains(out, "State:      KILLED") {
			return fmt.Errorf("task says:\n%s\nexecute says:\n%s", out, execOut.String())
		}
		return nil
	})
	if _, errOut, code := mezzo(t, "kill", "to-kill"); code != 1 || !strings.Contains(errOut, "has already ended (KILLED)") {
		t.Errorf("killing an ended task: exit %d, %q", code, errOut)
	}
}
