package batch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// Config configures a Job.
type Config struct {
	// Master is the master's address (host:port, http URL or zk://...).
	Master string
	// Spec is the job to run.
	Spec *Spec
	// Credential authenticates the framework to a master that requires
	// it (its principal becomes FrameworkInfo.principal); zero: none.
	Credential scheduler.Credential
	// Log receives the framework's log; nil discards it.
	Log *slog.Logger
	// Progress receives a progress line whenever the counts changed, at
	// most every ProgressEvery (default 1 s), and the summary at the end;
	// nil prints nothing.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// The states of a task of the job.
const (
	StateWaiting  = "waiting"  // not launched yet, or waiting for a retry
	StateLaunched = "launched" // sent to an agent, not running yet
	StateRunning  = "running"
	StateFinished = "finished" // exited 0
	StateFailed   = "failed"   // failed and out of retries
	StateKilled   = "killed"   // ended (or never ran) because the job was killed or ran out of time
)

// Task is one index of the job and its latest attempt.
type Task struct {
	Index    int    `json:"index"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	TaskID   string `json:"task_id,omitempty"`
	AgentID  string `json:"agent_id,omitempty"`
	Host     string `json:"host,omitempty"`
	// ExitCode is the latest attempt's exit status, when it exited.
	ExitCode *int `json:"exit_code,omitempty"`
	// Outcome words how the latest attempt ended: "exit 0", "exit 3",
	// "signal killed", "TASK_LOST", ...
	Outcome string `json:"outcome,omitempty"`
	// Message is the latest status update's message.
	Message string `json:"message,omitempty"`
	// Seconds is how long the latest attempt took from launch to end.
	Seconds float64 `json:"seconds,omitempty"`

	launched  time.Time
	notBefore time.Time
}

func (t *Task) terminal() bool {
	return t.State == StateFinished || t.State == StateFailed || t.State == StateKilled
}

// Job runs one job to its end.
type Job struct {
	cfg    Config
	spec   *Spec
	log    *slog.Logger
	client *scheduler.Client
	run    string // this run's id, part of every task id

	tasks    []*Task
	byID     map[string]*Task // current attempts' task ids
	ready    []int            // waiting tasks that may launch now, in order
	delayed  map[int]bool     // waiting tasks in their retry backoff
	active   int              // launched or running
	retries  int
	started  time.Time
	ended    time.Time
	state    string // running, succeeded, failed, killed, deadline
	reason   string
	apiAddr  string
	fwID     string
	suppress bool
	held     []*mesos.Offer // offers kept while the parallelism is reached
	reqs     chan apiRequest
	need     offers.Need

	lastLine string
	lastShow time.Time
}

// New checks the config and prepares the job; nothing runs until Run.
func New(cfg Config) (*Job, error) {
	if cfg.Spec == nil {
		return nil, errors.New("job: no spec")
	}
	if err := os.MkdirAll(filepath.Join(cfg.Spec.StateDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("job: state dir: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	var rb [3]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, fmt.Errorf("job: run id: %w", err)
	}
	s := cfg.Spec
	j := &Job{cfg: cfg, spec: s, log: log.With("job", s.Name), run: hex.EncodeToString(rb[:]),
		byID: map[string]*Task{}, delayed: map[int]bool{}, state: "running", reqs: make(chan apiRequest),
		need: offers.Need{Cpus: s.Cpus, Mem: s.Mem, Disk: s.Disk}}
	for i := 0; i < s.Tasks; i++ {
		j.tasks = append(j.tasks, &Task{Index: i, State: StateWaiting})
		j.ready = append(j.ready, i)
	}
	return j, nil
}

// APIAddrFile is where Run writes its API's address, in the state dir;
// SummaryFile and TasksFile are what it leaves there at the end.
const (
	APIAddrFile = "api.addr"
	SummaryFile = "summary.json"
	TasksFile   = "tasks.json"
)

type event struct {
	ev   *schedpb.Event
	done chan error
}

// Run serves the API, subscribes and runs the job until every task has
// finished or failed for good, the deadline passes, a kill request comes
// or ctx ends (which kills the job too). It returns the job's Status; the
// error is about the framework itself (e.g. no master), not failed tasks.
func (j *Job) Run(ctx context.Context) (*Status, error) {
	ln, err := net.Listen("tcp", j.spec.API)
	if err != nil {
		return nil, fmt.Errorf("job: API listen on %s: %w", j.spec.API, err)
	}
	j.apiAddr = ln.Addr().String()
	for _, f := range []string{SummaryFile, TasksFile} {
		_ = os.Remove(filepath.Join(j.spec.StateDir, f))
	}
	if err := os.WriteFile(filepath.Join(j.spec.StateDir, APIAddrFile), []byte(j.apiAddr+"\n"), 0o644); err != nil {
		ln.Close()
		return nil, fmt.Errorf("job: %w", err)
	}
	srv := &http.Server{Handler: j.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		_ = os.Remove(filepath.Join(j.spec.StateDir, APIAddrFile))
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	j.log.Info("API serving", "address", j.apiAddr, "tasks", j.spec.Tasks, "run", j.run)

	fw := &mesos.FrameworkInfo{Name: proto.String("mezzo-job:" + j.spec.Name), Role: proto.String(j.spec.Role)}
	if j.spec.User != "" {
		fw.User = proto.String(j.spec.User)
	}
	j.client = scheduler.New(scheduler.Config{Master: j.cfg.Master, Framework: fw, AutoAcknowledge: true, Log: j.log, Credential: j.cfg.Credential})

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan event)
	clientDone := make(chan error, 1)
	go func() {
		clientDone <- j.client.Run(runCtx, func(ctx context.Context, ev *schedpb.Event) error {
			e := event{ev: ev, done: make(chan error, 1)}
			select {
			case events <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case err := <-e.done:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	j.started = time.Now()
	var deadline <-chan time.Time
	if j.spec.Deadline > 0 {
		t := time.NewTimer(time.Duration(j.spec.Deadline))
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for j.state == "running" {
		select {
		case <-ctx.Done():
			j.end(runCtx, "killed", "interrupted")
		case <-deadline:
			j.end(runCtx, "deadline", fmt.Sprintf("deadline of %v passed", time.Duration(j.spec.Deadline)))
		case err := <-clientDone:
			j.end(runCtx, "failed", fmt.Sprintf("scheduler API: %v", err))
			j.finish()
			return j.status(), fmt.Errorf("job: scheduler API: %w", err)
		case e := <-events:
			j.handle(runCtx, e.ev)
			e.done <- nil
		case r := <-j.reqs:
			r.reply <- r.fn(runCtx)
		case <-tick.C:
			j.promote(runCtx, time.Now())
		}
		j.progress(false)
	}
	j.finish()
	return j.status(), nil
}

// end stops the job: tears the framework down (the master kills the tasks
// still running) and marks every unfinished task killed.
func (j *Job) end(ctx context.Context, state, reason string) {
	j.state, j.reason = state, reason
	j.ended = time.Now()
	j.log.Info("job ends", "state", state, "reason", reason)
	for _, t := range j.tasks {
		if t.terminal() {
			continue
		}
		if t.State == StateLaunched || t.State == StateRunning {
			t.Seconds = time.Since(t.launched).Seconds()
		}
		t.State, t.Outcome = StateKilled, state
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := j.client.Teardown(tctx); err != nil && j.fwID != "" {
		j.log.Warn("teardown failed", "err", err)
	}
}

// finish prints and writes the summary and the tasks.
func (j *Job) finish() {
	j.progress(true)
	st := j.status()
	if j.cfg.Progress != nil {
		WriteSummary(j.cfg.Progress, st)
	}
	if err := writeJSON(filepath.Join(j.spec.StateDir, SummaryFile), st); err != nil {
		j.log.Error("summary not written", "err", err)
	}
	if err := writeJSON(filepath.Join(j.spec.StateDir, TasksFile), j.tasks); err != nil {
		j.log.Error("tasks not written", "err", err)
	}
}

func (j *Job) handle(ctx context.Context, ev *schedpb.Event) {
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		j.fwID = ev.GetSubscribed().GetFrameworkId().GetValue()
		j.log.Info("subscribed", "framework_id", j.fwID)
	case schedpb.Event_OFFERS:
		j.offers(ctx, ev.GetOffers().GetOffers())
	case schedpb.Event_RESCIND:
		j.rescind(ev.GetRescind().GetOfferId().GetValue())
	case schedpb.Event_UPDATE:
		j.update(ctx, ev.GetUpdate().GetStatus())
		if j.state == "running" && len(j.held) > 0 {
			j.launchHeld(ctx)
		}
	case schedpb.Event_ERROR:
		j.end(ctx, "failed", "master: "+ev.GetError().GetMessage())
	}
}

// offers keeps the new offers and launches what they hold.
func (j *Job) offers(ctx context.Context, list []*mesos.Offer) {
	j.held = append(j.held, list...)
	j.launchHeld(ctx)
}

// launchHeld packs each held offer with as many ready tasks as it holds
// and the parallelism allows, in one LAUNCH. While tasks are ready but
// the parallelism is reached, the offers are kept for the moment a task
// ends (so the next one launches without waiting for an offer); the rest
// are declined.
func (j *Job) launchHeld(ctx context.Context) {
	var decline []*mesos.OfferID
	var keep []*mesos.Offer
	for _, o := range j.held {
		if len(j.ready) > 0 && j.spec.Parallelism > 0 && j.active >= j.spec.Parallelism {
			keep = append(keep, o)
			continue
		}
		pool := offers.NewPool(o, j.spec.Role)
		var infos []*mesos.TaskInfo
		var launched []*Task
		for len(j.ready) > 0 && (j.spec.Parallelism == 0 || j.active < j.spec.Parallelism) {
			t := j.tasks[j.ready[0]]
			m, _, ok := pool.Take(j.need)
			if !ok {
				break
			}
			info, err := j.taskInfo(t, o, m.Resources)
			if err != nil {
				// The spec rendered at parse time; a task whose
				// templates fail now fails for good.
				j.ready = j.ready[1:]
				t.Attempts++
				t.State, t.Outcome, t.Message = StateFailed, "template", err.Error()
				continue
			}
			j.ready = j.ready[1:]
			t.Attempts++
			t.State, t.TaskID, t.AgentID, t.Host = StateLaunched, info.GetTaskId().GetValue(), o.GetAgentId().GetValue(), o.GetHostname()
			t.ExitCode, t.Outcome, t.Message, t.Seconds = nil, "", "", 0
			t.launched = time.Now()
			j.byID[t.TaskID] = t
			j.active++
			infos = append(infos, info)
			launched = append(launched, t)
		}
		if len(infos) == 0 {
			decline = append(decline, o.GetId())
			continue
		}
		if err := j.client.Launch(ctx, o.GetId(), infos...); err != nil {
			j.log.Warn("launch failed; the tasks wait for another offer", "offer", o.GetId().GetValue(), "err", err)
			for i := len(launched) - 1; i >= 0; i-- {
				t := launched[i]
				delete(j.byID, t.TaskID)
				t.Attempts--
				t.State = StateWaiting
				j.active--
				j.ready = append([]int{t.Index}, j.ready...)
			}
			continue
		}
		j.log.Debug("launched", "tasks", len(infos), "host", o.GetHostname())
	}
	j.held = keep
	if len(decline) > 0 {
		if err := j.client.Decline(ctx, decline, &mesos.Filters{RefuseSeconds: proto.Float64(1)}); err != nil {
			j.log.Warn("decline failed", "err", err)
		}
	}
	j.adjustSuppress(ctx)
}

// rescind forgets a held offer the master took back.
func (j *Job) rescind(id string) {
	for i, o := range j.held {
		if o.GetId().GetValue() == id {
			j.held = append(j.held[:i], j.held[i+1:]...)
			return
		}
	}
}

// adjustSuppress stops offers while no task is ready and asks for them
// again once one is.
func (j *Job) adjustSuppress(ctx context.Context) {
	want := len(j.ready) == 0
	if want == j.suppress {
		return
	}
	var err error
	if want {
		err = j.client.Suppress(ctx)
	} else {
		err = j.client.Revive(ctx)
	}
	if err != nil {
		j.log.Warn("suppress/revive failed", "suppress", want, "err", err)
		return
	}
	j.suppress = want
}

func (j *Job) taskInfo(t *Task, o *mesos.Offer, res []*mesos.Resource) (*mesos.TaskInfo, error) {
	r, err := j.spec.Render(t.Index, t.Attempts+1)
	if err != nil {
		return nil, err
	}
	cmd := &mesos.CommandInfo{Value: proto.String(r.Command), Shell: proto.Bool(true)}
	names := make([]string, 0, len(r.Env))
	for k := range r.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	env := &mesos.Environment{}
	for _, k := range append([]string{"MEZZO_JOB", "MEZZO_JOB_INDEX", "MEZZO_JOB_ATTEMPT"}, names...) {
		v := r.Env[k]
		switch k {
		case "MEZZO_JOB":
			v = j.spec.Name
		case "MEZZO_JOB_INDEX":
			v = strconv.Itoa(t.Index)
		case "MEZZO_JOB_ATTEMPT":
			v = strconv.Itoa(t.Attempts + 1)
		}
		env.Variables = append(env.Variables, &mesos.Environment_Variable{Name: proto.String(k), Value: proto.String(v)})
	}
	cmd.Environment = env
	for _, u := range r.URIs {
		cmd.Uris = append(cmd.Uris, &mesos.CommandInfo_URI{Value: proto.String(u.Value),
			Cache: proto.Bool(u.Cache == nil || *u.Cache), Extract: proto.Bool(u.Extract == nil || *u.Extract),
			Executable: proto.Bool(u.Executable), OutputFile: optional(u.OutputFile)})
	}
	id := fmt.Sprintf("%s.%s.%d.%d", j.spec.Name, j.run, t.Index, t.Attempts+1)
	return &mesos.TaskInfo{Name: proto.String(fmt.Sprintf("%s[%d]", j.spec.Name, t.Index)),
		TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: o.GetAgentId(),
		Resources: res, Command: cmd}, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

var exitRE = regexp.MustCompile(`exited with status (\d+)`)
var signalRE = regexp.MustCompile(`terminated with signal (.+)$`)

// update follows a task's status; a failed attempt is retried after its
// backoff while retries are left.
func (j *Job) update(ctx context.Context, st *mesos.TaskStatus) {
	t := j.byID[st.GetTaskId().GetValue()]
	if t == nil || t.terminal() || t.TaskID != st.GetTaskId().GetValue() {
		return // an earlier attempt's, or after the end
	}
	state := st.GetState()
	switch state {
	case mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING:
		return
	case mesos.TaskState_TASK_RUNNING:
		t.State = StateRunning
		return
	}
	if !scheduler.IsTerminal(state) {
		return
	}
	delete(j.byID, t.TaskID)
	j.active--
	t.Seconds = time.Since(t.launched).Seconds()
	t.Message = st.GetMessage()
	t.Outcome = state.String()
	if m := exitRE.FindStringSubmatch(t.Message); m != nil {
		code, _ := strconv.Atoi(m[1])
		t.ExitCode = &code
		t.Outcome = "exit " + m[1]
	} else if m := signalRE.FindStringSubmatch(t.Message); m != nil {
		t.Outcome = "signal " + m[1]
	}
	if state == mesos.TaskState_TASK_FINISHED {
		if t.ExitCode == nil {
			zero := 0
			t.ExitCode, t.Outcome = &zero, "exit 0"
		}
		t.State = StateFinished
	} else if t.Attempts <= j.spec.Retries {
		delay := time.Duration(j.spec.Backoff) << (t.Attempts - 1)
		if delay > time.Duration(j.spec.MaxBackoff) || delay <= 0 {
			delay = time.Duration(j.spec.MaxBackoff)
		}
		t.State = StateWaiting
		t.notBefore = time.Now().Add(delay)
		j.delayed[t.Index] = true
		j.retries++
		j.log.Info("task failed; retrying", "index", t.Index, "attempt", t.Attempts, "outcome", t.Outcome,
			"message", t.Message, "backoff", delay)
	} else {
		t.State = StateFailed
		j.log.Warn("task failed for good", "index", t.Index, "attempts", t.Attempts, "outcome", t.Outcome,
			"message", t.Message)
	}
	if j.done() {
		state := "succeeded"
		reason := fmt.Sprintf("all %d tasks finished", len(j.tasks))
		if n := j.count(StateFailed); n > 0 {
			state, reason = "failed", fmt.Sprintf("%d of %d tasks failed", n, len(j.tasks))
		}
		j.end(ctx, state, reason)
	}
}

func (j *Job) done() bool {
	if j.active > 0 || len(j.ready) > 0 || len(j.delayed) > 0 {
		return false
	}
	for _, t := range j.tasks {
		if !t.terminal() {
			return false
		}
	}
	return true
}

// promote moves tasks whose backoff has passed to the ready queue.
func (j *Job) promote(ctx context.Context, now time.Time) {
	if len(j.delayed) == 0 {
		return
	}
	var due []int
	for i := range j.delayed {
		if !now.Before(j.tasks[i].notBefore) {
			due = append(due, i)
		}
	}
	sort.Ints(due)
	for _, i := range due {
		delete(j.delayed, i)
		j.ready = append(j.ready, i)
	}
	if len(due) > 0 {
		j.launchHeld(ctx)
	}
}

func (j *Job) count(state string) int {
	n := 0
	for _, t := range j.tasks {
		if t.State == state {
			n++
		}
	}
	return n
}

// progress prints a line when the counts changed (at most every
// ProgressEvery unless final).
func (j *Job) progress(final bool) {
	if j.cfg.Progress == nil {
		return
	}
	if !final && time.Since(j.lastShow) < j.cfg.ProgressEvery {
		return
	}
	st := j.status()
	line := ProgressLine(st)
	if line == j.lastLine {
		return
	}
	j.lastLine, j.lastShow = line, time.Now()
	fmt.Fprintf(j.cfg.Progress, "[%6.1fs] %s\n", st.Elapsed, line)
}
