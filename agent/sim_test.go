package agent

// The agent simulation runs real Agents — their state code, recovery,
// update streams and checkpoint, unchanged — against a modelled master
// (with its schedulers) and modelled executors, from one event queue on
// one goroutine, ordered by a simulated clock. The agents' driver
// (driver.go) is simDriver: posts, checkpoint commits, launches, container
// watches and calls to the master become events of the queue, so the
// simulation decides when each happens, and a crash drops what had not
// happened yet (the checkpoint batches not committed among them). Faults
// drawn from the seed: calls to the master delayed and lost,
// acknowledgements lost and duplicated, the master connection broken,
// agents crashing and restarting from their work directory, checkpoint
// commits failing (the agent is detached and started again) or taking
// seconds, executors crashing, their event streams breaking, some
// re-subscribing too late for a restarted agent or exiting before their
// last updates are acknowledged; the schedulers launch commands, custom
// executors and task groups, kill tasks, shut executors and frameworks
// down. After every step the invariants are checked; after the faults
// stop the cluster must settle with every update delivered. The same
// world can be scripted step by step, without faults
// (TestAgentSimTakesBackUndurableTask).
//
// A failing seed is replayed with a trace of every step:
//
//	go test ./agent -run 'TestAgentSimulation$' -args -agentsim.seed=N -agentsim.trace
//
// Replays are deterministic but for one thing: where the agent's state
// code walks a Go map (its frameworks, executors and tasks) and arms
// several timers for the same instant in one turn, those timers fire in
// the order of the walk. What the simulation decides about each message
// (loss, delay) is drawn from the seed and the message's identity, not
// from the order messages are sent in, so that order does not change the
// faults.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/agent/containerizer/fake"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/simq"
)

var (
	agentSimSeeds = flag.Int("agentsim.seeds", 0, "how many seeds TestAgentSimulation runs (0: its default)")
	agentSimFirst = flag.Uint64("agentsim.first", 1, "the first seed TestAgentSimulation runs")
	agentSimSeed  = flag.Uint64("agentsim.seed", 0, "run only this seed of TestAgentSimulation")
	agentSimTrace = flag.Bool("agentsim.trace", false, "print every step of TestAgentSimulation (with the agents' logs)")
)

// agentSimRegressionSeeds once found a bug; they run every time.
var agentSimRegressionSeeds = []uint64{
	// A task dropped before it reached an executor (its executor was
	// terminating) was left out of the re-registration while its
	// TASK_LOST waited for acknowledgement: the master ended it as
	// unknown, then got the agent's TASK_LOST (registerCall).
	54, 92,
	// A recovered executor ran tasks delivered just before the agent
	// crashed, whose TaskInfo was not durable: the restarted agent took
	// their updates but had them in no executor, so it never told the
	// executor of their acknowledgements and ignored KILL_TASK for them
	// (subscribe: adoptTask).
	60, 87,
}

// agentSimDefaultSeeds keeps the test under a minute on one core.
const agentSimDefaultSeeds = 40

// TestAgentSimulation runs the agent simulation for -agentsim.seeds
// seeds from -agentsim.first, plus the regression seeds, and logs how
// fast the simulation runs.
func TestAgentSimulation(t *testing.T) {
	if *agentSimSeed != 0 {
		var out io.Writer
		if *agentSimTrace {
			out = os.Stdout
		}
		w, err := runAgentSim(t.TempDir(), *agentSimSeed, out)
		if err != nil {
			t.Fatalf("seed %d: %v", *agentSimSeed, err)
		}
		t.Logf("seed %d: %d steps, %v simulated", *agentSimSeed, w.steps, w.now.Sub(w.start))
		return
	}
	n := *agentSimSeeds
	if n == 0 {
		n = agentSimDefaultSeeds
		// One goroutine does all the work: under the race detector and
		// with -short, a sample is enough.
		if testing.Short() || raceEnabled {
			n = 8
		}
	}
	seeds := slices.Clone(agentSimRegressionSeeds)
	for i := range n {
		seeds = append(seeds, *agentSimFirst+uint64(i))
	}
	dir := t.TempDir()
	start := time.Now()
	var simulated time.Duration
	steps, failed := 0, 0
	for _, seed := range seeds {
		w, err := runAgentSim(filepath.Join(dir, fmt.Sprint(seed)), seed, nil)
		simulated += w.now.Sub(w.start)
		steps += w.steps
		if err != nil {
			failed++
			t.Errorf("seed %d: %v\nlast steps:\n%s\nreplay: go test ./agent -run 'TestAgentSimulation$' -args -agentsim.seed=%d -agentsim.trace",
				seed, err, w.ring.String(), seed)
			if failed == 3 {
				t.Fatal("stopping after 3 failing seeds")
			}
		}
		os.RemoveAll(filepath.Join(dir, fmt.Sprint(seed)))
	}
	wall := time.Since(start)
	t.Logf("%d seeds, %d steps in %v: %.0f simulated seconds per wall-clock second, %.0f seeds per minute",
		len(seeds), steps, wall.Round(time.Millisecond), simulated.Seconds()/wall.Seconds(), float64(len(seeds))/wall.Minutes())
}

// ---- the world ----

// simWorld is one seed's simulation.
type simWorld struct {
	seed  uint64
	rng   *rand.Rand
	start time.Time
	now   time.Time
	seq   uint64
	queue simq.Queue[*simEvent]
	steps int
	err   error
	dir   string

	out  io.Writer // every step, when tracing
	ring simRing   // the last steps, for a failure's report
	log  *slog.Logger

	// Fault rates, drawn from the seed.
	pCallLoss, pAckLoss, pAckDup float64
	pCommitFail                  float64
	maxDelay                     time.Duration
	faultsUntil, settleUntil     time.Time
	faults                       bool
	settled                      bool

	// tasksWaitForKill: tasks run until killed (scripted scenarios).
	tasksWaitForKill bool
	// holdCommits keeps checkpoint batches from committing (scripted
	// scenarios): they wait, and a crash drops them.
	holdCommits bool

	keys      map[string]int // how often each message identity was decided on
	nextUUID  uint64
	master    *simMaster
	agents    []*simAgent
	execs     []*simExec
	fws       []*simFw
	tasks     map[string]*simTask
	taskOrder []string
	updates   map[string]*simUpdate // by uuid, every update an executor made
}

// simEvent is one step: f runs at at; events of a crashed agent run are
// dropped.
type simEvent struct {
	at        time.Time
	seq       uint64
	run       *simRun
	what      string
	f         func()
	cancelled bool
	fired     bool
}

// simRing keeps the last lines of the trace.
type simRing struct {
	lines []string
	next  int
	full  bool
}

const simRingSize = 400

func (r *simRing) add(line string) {
	if r.lines == nil {
		r.lines = make([]string, simRingSize)
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % simRingSize
	if r.next == 0 {
		r.full = true
	}
}

func (r *simRing) String() string {
	var b strings.Builder
	if r.full {
		for _, l := range r.lines[r.next:] {
			b.WriteString(l)
		}
	}
	for _, l := range r.lines[:r.next] {
		b.WriteString(l)
	}
	return b.String()
}

func (w *simWorld) tracef(format string, args ...any) {
	line := fmt.Sprintf("%10.3fs #%-6d %s\n", w.now.Sub(w.start).Seconds(), w.steps, fmt.Sprintf(format, args...))
	w.ring.add(line)
	if w.out != nil {
		io.WriteString(w.out, line)
	}
}

// Write takes the agents' log lines into the trace (when tracing).
func (w *simWorld) Write(p []byte) (int, error) {
	w.tracef("    log: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// violation records the first broken invariant; the run stops there.
func (w *simWorld) violation(format string, args ...any) {
	if w.err != nil {
		return
	}
	w.err = fmt.Errorf("at %.3fs (step %d): %s", w.now.Sub(w.start).Seconds(), w.steps, fmt.Sprintf(format, args...))
	w.tracef("VIOLATION: %v", w.err)
}

// at schedules f after d; run ties it to an agent's run (nil: none).
func (w *simWorld) at(run *simRun, d time.Duration, what string, f func()) *simEvent {
	w.seq++
	ev := &simEvent{at: w.now.Add(max(d, 0)), seq: w.seq, run: run, what: what, f: f}
	w.queue.Push(ev.at, ev.seq, ev)
	return ev
}

// fate is the random source of one decision about a message: drawn from
// the seed and the message's identity (and how often it was decided on
// before), so the order the agent sends messages in does not change it.
func (w *simWorld) fate(key string) *rand.Rand {
	n := w.keys[key]
	w.keys[key] = n + 1
	h := fnv.New64a()
	fmt.Fprintf(h, "%s#%d", key, n)
	return rand.New(rand.NewPCG(w.seed, h.Sum64()))
}

func (w *simWorld) delay(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// uuid returns a new deterministic 16-byte uuid.
func (w *simWorld) uuid() []byte {
	w.nextUUID++
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, w.seed)
	binary.BigEndian.PutUint64(b[8:], w.nextUUID)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// ---- the agents: runs, driver, clock, containerizer ----

// simAgent is one agent host: its work dir outlives its runs.
type simAgent struct {
	w       *simWorld
	name    string
	workDir string
	run     *simRun // nil while crashed
	runs    int
	// everCrashed: updates a run of it took for frameworks that do not
	// checkpoint may be gone.
	backoff time.Duration
}

// simRun is one run of an agent process, from New to its crash.
type simRun struct {
	ag   *simAgent
	n    int
	a    *Agent
	fake *simContainers
	dead bool
	// watched: containers whose end the agent waits for, by id.
	watched map[string]simWatch
	ended   map[string]bool
	// attempt counts registration attempts; an attempt's connection
	// ends when it changes.
	attempt int
	linkUp  bool
	// expect is the set of tasks of checkpointing frameworks durable
	// when the previous run crashed; the first REGISTER must report
	// exactly them.
	expect   map[string]bool
	reported bool
	// claimed are the tasks its re-subscribing executors reported as
	// theirs: the agent may take back those it had not made durable.
	claimed map[string]bool
	// terminal remembers each task seen terminal in this run.
	terminal map[string]mesos.TaskState
}

func (r *simRun) String() string { return fmt.Sprintf("%s/run%d", r.ag.name, r.n) }

// simDriver runs an agent's concurrent work as events.
type simDriver struct{ r *simRun }

func (d simDriver) start() {
	r := d.r
	r.ag.w.at(r, 0, "", func() { r.a.turn(func() {}) })
}

func (d simDriver) post(f func()) {
	r := d.r
	r.ag.w.at(r, 0, "", func() { r.a.turn(f) })
}

func (d simDriver) commit(b *checkpoint.Batch) {
	r, w := d.r, d.r.ag.w
	lat := w.delay(w.rng, 100*time.Microsecond, 30*time.Millisecond)
	if w.rng.Float64() < 0.05 {
		lat = w.delay(w.rng, 100*time.Millisecond, 3*time.Second) // a slow disk
	}
	fail := w.faults && w.rng.Float64() < w.pCommitFail
	if w.holdCommits {
		w.tracef("%s: checkpoint batch of %d writes held back", r, b.Len())
		return
	}
	w.at(r, lat, "", func() {
		var err error
		if fail {
			// The disk refuses the batch before anything is written.
			err = errors.New("simulated disk failure")
		} else {
			err = r.a.commit(b)
		}
		w.tracef("%s: checkpoint batch of %d writes committed (err=%v)", r, b.Len(), err)
		r.a.post(func() {
			r.a.committed(b, err)
			if err != nil {
				// Serve returns ErrCheckpoint; Run detaches and the
				// agent is started again, to recover from the disk.
				w.at(nil, 0, "", func() { w.checkpointFailed(r) })
			}
		})
	})
}

func (d simDriver) launch(ex *executor, id *mesos.ContainerID, start func() bool, done func()) {
	r, w := d.r, d.r.ag.w
	fwID, exID, ckpt := ex.fw.id, ex.id, ex.fw.info.GetCheckpoint()
	w.at(r, w.delay(w.rng, time.Millisecond, 300*time.Millisecond), "", func() {
		if !start() {
			w.tracef("%s: launch of executor %s failed", r, exID)
			done()
			return
		}
		r.watched[id.GetValue()] = simWatch{ex, done}
		w.newExec(r, fwID, exID, id.GetValue(), ckpt)
	})
}

func (d simDriver) watch(ex *executor, id *mesos.ContainerID) {
	d.r.watched[id.GetValue()] = simWatch{ex, func() {}}
}

// simWatch is a container whose end an agent run waits for, and what to
// call after.
type simWatch struct {
	ex   *executor
	done func()
}

func (d simDriver) send(oc outCall) {
	d.r.ag.w.toMaster(d.r, oc)
}

// simClock is an agent run's clock: timers are events of the run.
type simClock struct{ r *simRun }

func (c simClock) Now() time.Time { return c.r.ag.w.now }

func (c simClock) AfterFunc(d time.Duration, f func()) Timer {
	return simTimer{c.r.ag.w.at(c.r, d, "", f)}
}

type simTimer struct{ ev *simEvent }

func (t simTimer) Stop() bool {
	if t.ev.fired || t.ev.cancelled {
		return false
	}
	t.ev.cancelled = true
	return true
}

// simContainers is the fake containerizer, telling the simulation when
// the agent destroys a container.
type simContainers struct {
	*fake.Containerizer
	r *simRun
}

func (c *simContainers) Destroy(ctx context.Context, id *mesos.ContainerID) error {
	err := c.Containerizer.Destroy(ctx, id)
	if err == nil {
		c.r.ag.w.containerEnds(c.r, id.GetValue(), "destroyed by the agent")
	}
	return err
}

// containerEnds ends a container's model executor and, shortly after,
// has the agent's watcher see the end.
func (w *simWorld) containerEnds(r *simRun, cid, why string) {
	if r.ended[cid] {
		return
	}
	r.ended[cid] = true
	for _, e := range w.execs {
		if e.cid == cid && e.alive {
			w.tracef("%s: executor %s ends (%s)", r, e.name(), why)
			e.alive = false
			e.conn = nil
		}
	}
	w.at(r, w.delay(w.rng, 0, 20*time.Millisecond), "", func() {
		wt, ok := r.watched[cid]
		if !ok {
			return
		}
		delete(r.watched, cid)
		// The fake's Wait returns at once: the container has ended.
		r.a.waitContainer(wt.ex, &mesos.ContainerID{Value: proto.String(cid)})
		wt.done()
	})
}

// start starts a run of ag on its work dir (New recovers what is there).
func (w *simWorld) startAgent(ag *simAgent, expect map[string]bool) {
	ag.runs++
	r := &simRun{ag: ag, n: ag.runs, watched: map[string]simWatch{}, ended: map[string]bool{}, claimed: map[string]bool{},
		expect: expect, terminal: map[string]mesos.TaskState{}}
	alive := map[string]bool{}
	for _, e := range w.execs {
		if e.ag == ag && e.alive && e.ckpt {
			alive[e.cid] = true
		}
	}
	r.fake = &simContainers{Containerizer: &fake.Containerizer{Name: r.String(), Alive: alive}, r: r}
	cfg := Defaults()
	cfg.Master = "master.sim:5050"
	cfg.IP = "127.0.0.1"
	cfg.Port = 5051
	cfg.Hostname = ag.name
	cfg.WorkDir = ag.workDir
	cfg.Resources = "cpus:64;mem:65536;disk:65536;ports:[31000-32000]"
	cfg.ExecutorCommand = []string{"/nonexistent/mezzo", "executor"}
	cfg.LaunchHelper = "/nonexistent/mezzo"
	cfg.Containerizer = r.fake
	cfg.Clock = simClock{r}
	cfg.ExecutorRegistrationTimeout = 20 * time.Second
	cfg.ExecutorShutdownGracePeriod = 3 * time.Second
	cfg.RegistrationBackoffFactor = time.Second
	cfg.diskUsage = func(string) (float64, error) { return 0.1, nil }
	cfg.driver = func(a *Agent) driver { r.a = a; return simDriver{r} }
	a, err := New(cfg, w.log)
	if err != nil {
		w.violation("%s: New: %v", r, err)
		return
	}
	a.st.ip, a.st.endpoint = "127.0.0.1", "127.0.0.1:5051"
	ag.run = r
	adopted := map[string]bool{}
	cs, _ := r.fake.Containers(context.Background())
	for _, id := range cs {
		adopted[id.GetValue()] = true
	}
	for _, e := range w.execs {
		if e.ag != ag || !e.alive {
			continue
		}
		if adopted[e.cid] {
			e.run = r
			continue
		}
		// Not recovered: the agent kills it as a leftover.
		w.tracef("%s: executor %s was not recovered; killed as a leftover", r, e.name())
		e.alive = false
		e.conn = nil
	}
	w.tracef("%s: started (recovered %d executors)", r, len(adopted))
	w.at(r, 0, "", func() { w.connect(r) })
}

// crash ends ag's run abruptly: what was not committed is lost, the
// executors of frameworks that do not checkpoint die with it.
func (w *simWorld) crash(ag *simAgent) {
	r := ag.run
	if r == nil {
		return
	}
	expect := w.durableTasks(ag)
	w.tracef("%s: CRASH (durable tasks of checkpointing frameworks: %v)", r, slices.Sorted(maps.Keys(expect)))
	w.stopRun(r)
	for _, e := range w.execs {
		if e.ag != ag || !e.alive {
			continue
		}
		e.conn = nil
		e.subscribing = false
		if !e.ckpt {
			e.alive = false
			continue
		}
		// It notices the agent is gone and subscribes again until one
		// answers; now and then too late for the restarted agent,
		// which then kills it.
		d := w.delay(w.rng, 100*time.Millisecond, time.Second)
		if w.faults && w.rng.Float64() < 0.1 {
			d = w.delay(w.rng, 10*time.Second, 20*time.Second)
		}
		w.at(nil, d, "", e.subscribe)
	}
	if st := w.master.streams[ag]; st != nil {
		st.open = false
	}
	// Every update the run told an executor it had taken for a
	// checkpointing framework is on disk.
	if w.err == nil {
		w.checkAcceptedDurable(ag)
	}
	w.at(nil, w.delay(w.rng, 500*time.Millisecond, 8*time.Second), "restart "+ag.name, func() {
		w.startAgent(ag, expect)
	})
}

// checkpointFailed handles an agent run whose checkpoint commit failed:
// it stops taking work (Serve returns ErrCheckpoint), and what runs it
// detached (the executors of checkpointing frameworks keep running) and
// started again.
func (w *simWorld) checkpointFailed(r *simRun) {
	if r.dead {
		return
	}
	select {
	case err := <-r.a.serveErr:
		if !errors.Is(err, ErrCheckpoint) {
			w.violation("%s: Serve would return %v, want ErrCheckpoint", r, err)
			return
		}
	default:
		w.violation("%s: a commit failed but Serve would not return", r)
		return
	}
	w.tracef("%s: the checkpoint failed; the agent is detached and started again", r)
	w.crash(r.ag)
}

// stopRun releases what a run holds; its pending events are dropped.
func (w *simWorld) stopRun(r *simRun) {
	r.dead = true
	r.ag.run = nil
	r.a.cancel()
	r.a.fetch.Close()
	r.a.gcRoot.Close()
	cs, _ := r.fake.Containers(context.Background())
	for _, id := range cs {
		r.fake.Containerizer.Destroy(context.Background(), id)
	}
}

// durableTasks reads ag's checkpoint: the tasks of checkpointing
// frameworks a restarted agent must recover (those of latest runs not
// complete, whose update stream is not over).
func (w *simWorld) durableTasks(ag *simAgent) map[string]bool {
	out := map[string]bool{}
	cp, err := checkpoint.New(ag.workDir).Recover(false)
	if err != nil {
		w.violation("%s: reading the checkpoint: %v", ag.name, err)
		return out
	}
	if cp.Agent == nil {
		return out
	}
	for _, fs := range cp.Agent.Frameworks {
		if !fs.Info.GetCheckpoint() {
			continue
		}
		for _, es := range fs.Executors {
			run := es.Runs[es.Latest]
			if run == nil || run.Completed {
				continue
			}
			for _, ts := range run.Tasks {
				if !streamOver(ts.Records) {
					out[ts.ID] = true
				}
			}
		}
	}
	return out
}

// streamOver: every update of the journal was acknowledged, a terminal
// one among them.
func streamOver(recs []checkpoint.Record) bool {
	acked := map[string]bool{}
	for _, r := range recs {
		if r.Kind == checkpoint.RecordAck {
			acked[string(r.UUID)] = true
		}
	}
	terminal, any := false, false
	for _, r := range recs {
		if r.Kind != checkpoint.RecordUpdate {
			continue
		}
		any = true
		if !acked[string(r.Status.GetUuid())] {
			return false
		}
		terminal = terminal || mesos.IsTerminalState(r.Status.GetState())
	}
	return any && terminal
}

// journal returns the records of a task in ag's checkpoint (all runs).
func (w *simWorld) journal(ag *simAgent, taskID string) []checkpoint.Record {
	return w.journals(ag)[taskID]
}

// journals returns the records of every task in ag's checkpoint, by
// task (all runs).
func (w *simWorld) journals(ag *simAgent) map[string][]checkpoint.Record {
	out := map[string][]checkpoint.Record{}
	cp, err := checkpoint.New(ag.workDir).Recover(false)
	if err != nil || cp.Agent == nil {
		return out
	}
	for _, fs := range cp.Agent.Frameworks {
		for _, es := range fs.Executors {
			for _, run := range es.Runs {
				for id, ts := range run.Tasks {
					out[id] = append(out[id], ts.Records...)
				}
			}
		}
	}
	return out
}

func hasRecord(recs []checkpoint.Record, kind checkpoint.RecordKind, uuid []byte) bool {
	for _, r := range recs {
		if r.Kind != kind {
			continue
		}
		if kind == checkpoint.RecordUpdate && bytes.Equal(r.Status.GetUuid(), uuid) {
			return true
		}
		if kind == checkpoint.RecordAck && bytes.Equal(r.UUID, uuid) {
			return true
		}
	}
	return false
}

// hasTerminal: the journal holds a terminal update.
func hasTerminal(recs []checkpoint.Record) bool {
	for _, r := range recs {
		if r.Kind == checkpoint.RecordUpdate && mesos.IsTerminalState(r.Status.GetState()) {
			return true
		}
	}
	return false
}

// checkAcceptedDurable: every update ag took (202) for a checkpointing
// framework is in its checkpoint.
func (w *simWorld) checkAcceptedDurable(ag *simAgent) {
	journals := w.journals(ag)
	for _, u := range w.sortedUpdates() {
		// A shut-down framework's updates are answered and dropped.
		if u.acceptedBy == nil || u.acceptedBy.ag != ag || !u.task.fw.ckpt || u.task.fw.shutdown || u.onDisk {
			continue
		}
		if !hasRecord(journals[u.task.id], checkpoint.RecordUpdate, u.uuid) {
			w.violation("%s: update %s of task %s was answered 202 but is not in the checkpoint", ag.name, u.state, u.task.id)
			return
		}
		u.onDisk = true
	}
}

func (w *simWorld) sortedUpdates() []*simUpdate {
	out := make([]*simUpdate, 0, len(w.updates))
	for _, u := range w.updates {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].uuid, out[j].uuid) < 0 })
	return out
}

// ---- the master link (modelled masterLink / connect) ----

// connect runs one registration attempt of r.
func (w *simWorld) connect(r *simRun) {
	if r.dead {
		return
	}
	select {
	case <-r.a.recovered:
	default:
		w.at(r, 100*time.Millisecond, "", func() { w.connect(r) })
		return
	}
	r.attempt++
	att := r.attempt
	var reg *agentproto.AgentCall
	r.a.turn(func() { reg = r.a.registerCall() })
	w.checkRegister(r, reg)
	ag := r.ag
	f := w.fate(fmt.Sprintf("register/%s", ag.name))
	if w.faults && f.Float64() < w.pCallLoss {
		w.tracef("%s: REGISTER (attempt %d) lost", r, att)
	} else {
		w.tracef("%s: REGISTER (attempt %d, %d tasks)", r, att, len(reg.GetRegister().GetTasks()))
		w.at(nil, w.delay(f, time.Millisecond, w.maxDelay), "", func() { w.master.register(r, att, reg) })
	}
	// The watchdog: no REGISTERED within the silence allowed ends the
	// attempt.
	w.at(r, 15*time.Second, "", func() {
		if r.attempt == att && !r.linkUp {
			w.linkDown(r, att, "no REGISTERED in time")
		}
	})
}

// linkDown ends registration attempt att of r (its stream broke or it
// timed out) and schedules the next one after a random backoff.
func (w *simWorld) linkDown(r *simRun, att int, why string) {
	if r.dead || r.attempt != att {
		return
	}
	r.attempt++
	ag := r.ag
	if r.linkUp {
		ag.backoff = time.Second
	}
	r.linkUp = false
	if st := w.master.streams[ag]; st != nil && st.run == r && st.attempt == att {
		st.open = false
	}
	r.a.turn(r.a.disconnected)
	wait := time.Duration(w.rng.Int64N(int64(ag.backoff) + 1))
	ag.backoff = min(ag.backoff*2, time.Minute)
	w.tracef("%s: master connection lost (%s); re-registering in %v", r, why, wait.Round(time.Millisecond))
	w.at(r, wait, "", func() { w.connect(r) })
}

// checkRegister: the first REGISTER of a restarted agent reports
// exactly the tasks of checkpointing frameworks that were durable.
func (w *simWorld) checkRegister(r *simRun, reg *agentproto.AgentCall) {
	for _, t := range reg.GetRegister().GetTasks() {
		if w.tasks[t.GetTaskId().GetValue()] == nil {
			w.violation("%s: REGISTER reports task %s, which was never launched", r, t.GetTaskId().GetValue())
		}
	}
	if r.expect == nil || r.reported {
		return
	}
	r.reported = true
	got := map[string]bool{}
	for _, t := range reg.GetRegister().GetTasks() {
		if fw := w.fw(t.GetFrameworkId().GetValue()); fw != nil && fw.ckpt {
			got[t.GetTaskId().GetValue()] = true
		}
	}
	for id := range r.expect {
		if !got[id] {
			w.violation("%s: recovered agent does not report task %s, which was durable", r, id)
		}
	}
	for id := range got {
		if !r.expect[id] && !r.claimed[id] {
			w.violation("%s: recovered agent reports task %s, which was neither durable nor claimed by its executor", r, id)
		}
	}
}

// toMaster carries a call of the agent to the master: delayed, perhaps
// lost (status updates are resent; the rest may go).
func (w *simWorld) toMaster(r *simRun, oc outCall) {
	call := oc.call.(*agentproto.AgentCall)
	key := "call/" + r.ag.name + "/" + call.GetType().String()
	if su := call.GetStatusUpdate(); su != nil {
		key += "/" + su.GetStatus().GetTaskId().GetValue() + "/" + su.GetStatus().GetState().String()
	}
	f := w.fate(key)
	what := describeCall(call)
	if w.faults && f.Float64() < w.pCallLoss {
		w.tracef("%s -> master: %s lost", r, what)
		return
	}
	w.at(nil, w.delay(f, 0, w.maxDelay), "", func() { w.master.receive(r, oc, what) })
}

func describeCall(c *agentproto.AgentCall) string {
	if su := c.GetStatusUpdate(); su != nil {
		s := su.GetStatus()
		return fmt.Sprintf("STATUS_UPDATE %s %s (%s, uuid %x, latest %s)", s.GetTaskId().GetValue(), s.GetState(), s.GetSource(), s.GetUuid()[12:], su.GetLatestState())
	}
	return c.GetType().String()
}

// ---- the master (and its schedulers) ----

type simMaster struct {
	w       *simWorld
	streams map[*simAgent]*simStream
	ids     map[*simAgent]string
	nStream int
}

// simStream is the master's event stream to one registration attempt.
type simStream struct {
	id      string
	run     *simRun
	attempt int
	open    bool
	last    time.Time // events go in order
}

type simFw struct {
	id       string
	ckpt     bool
	aware    bool
	shutdown bool
	info     *mesos.FrameworkInfo
	nextExec int
}

func (w *simWorld) fw(id string) *simFw {
	for _, f := range w.fws {
		if f.id == id {
			return f
		}
	}
	return nil
}

// simTask is a task as the master knows it.
type simTask struct {
	id   string
	fw   *simFw
	ag   *simAgent
	exID string
	kind executorKind
	// What reached the master, in order of arrival (distinct uuids).
	seen    map[string]bool
	byState map[mesos.TaskState]string
	states  []mesos.TaskState
	state   mesos.TaskState
	// execSeq is the order of the latest executor update seen.
	execSeq  int
	terminal bool
	// lost: a re-registration of its agent did not report it (RUN_TASK
	// lost on the way, or the agent forgot it in a crash).
	lost     bool
	kill     bool
	killedAt time.Time
}

// simUpdate is an update an executor made.
type simUpdate struct {
	uuid  []byte
	task  *simTask
	state mesos.TaskState
	seq   int
	// acceptedBy is the agent run that answered 202 (nil: none did).
	acceptedBy *simRun
	onDisk     bool
}

func (m *simMaster) send(ag *simAgent, ev *agentproto.AgentEvent, what string) {
	w := m.w
	st := m.streams[ag]
	if st == nil || !st.open {
		w.tracef("master -> %s: %s dropped (not connected)", ag.name, what)
		return
	}
	f := w.fate("event/" + ag.name + "/" + what)
	at := w.now.Add(w.delay(f, 0, w.maxDelay/2))
	if at.Before(st.last) {
		at = st.last
	}
	st.last = at
	r := st.run
	w.at(r, at.Sub(w.now), "", func() {
		if !st.open || r.attempt != st.attempt {
			w.tracef("master -> %s: %s lost with its stream", r, what)
			return
		}
		if what != "PING" {
			w.tracef("master -> %s: %s", r, what)
		}
		if ev.GetType() == agentproto.AgentEvent_REGISTERED {
			r.linkUp = true
			r.ag.backoff = time.Second
		}
		r.a.turn(func() { r.a.masterEvent(st.id, ev) })
	})
}

// register takes a REGISTER: a new stream replaces the agent's last one;
// the tasks it does not report are lost.
func (m *simMaster) register(r *simRun, att int, reg *agentproto.AgentCall) {
	w := m.w
	ag := r.ag
	if r.dead || r.attempt != att {
		w.tracef("master: REGISTER of %s attempt %d is stale", r, att)
		return
	}
	if old := m.streams[ag]; old != nil {
		old.open = false
	}
	id := reg.GetRegister().GetAgentInfo().GetId().GetValue()
	if id == "" {
		id = m.ids[ag]
		if id == "" {
			id = fmt.Sprintf("S%d", len(m.ids))
			m.ids[ag] = id
		}
	} else if m.ids[ag] != "" && m.ids[ag] != id {
		w.violation("%s registers as %s, but it is %s", r, id, m.ids[ag])
	}
	m.ids[ag] = id
	reported := map[string]bool{}
	for _, t := range reg.GetRegister().GetTasks() {
		reported[t.GetTaskId().GetValue()] = true
	}
	for _, tid := range w.taskOrder {
		t := w.tasks[tid]
		if t.ag == ag && !t.terminal && !t.lost && !t.fw.shutdown && !reported[tid] {
			w.tracef("master: %s does not report task %s: lost", r, tid)
			t.lost = true
			if t.fw.ckpt && w.reachedAgent(t) {
				w.violation("%s does not report task %s of a checkpointing framework, for which it had answered an update 202", r, tid)
			}
		}
	}
	m.nStream++
	st := &simStream{id: fmt.Sprintf("stream-%d", m.nStream), run: r, attempt: att, open: true, last: w.now}
	m.streams[ag] = st
	w.tracef("master: %s registered as %s on %s", r, id, st.id)
	m.send(ag, &agentproto.AgentEvent{Type: agentproto.AgentEvent_REGISTERED.Enum(), Registered: &agentproto.AgentEvent_Registered{
		AgentId:             &mesos.AgentID{Value: proto.String(id)},
		MasterInfo:          &mesos.MasterInfo{Id: proto.String("M1"), Ip: proto.Uint32(16777343), Port: proto.Uint32(5050)},
		PingIntervalSeconds: proto.Float64(5),
		MaxMissedPings:      proto.Uint32(3),
	}}, "REGISTERED")
	for _, tid := range w.taskOrder {
		if t := w.tasks[tid]; t.ag == ag && t.kill && !t.terminal && !t.lost && !t.fw.shutdown {
			m.killTask(t)
		}
	}
	// As the master does, the frameworks gone that the agent reports
	// executors or tasks of are shut down (their SHUTDOWN_FRAMEWORK may
	// have been lost).
	gone := map[string]bool{}
	for _, e := range reg.GetRegister().GetExecutors() {
		gone[e.GetFrameworkId().GetValue()] = true
	}
	for _, t := range reg.GetRegister().GetTasks() {
		gone[t.GetFrameworkId().GetValue()] = true
	}
	for _, f := range w.fws {
		if gone[f.id] && f.shutdown {
			m.send(ag, &agentproto.AgentEvent{Type: agentproto.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
				ShutdownFramework: &agentproto.AgentEvent_ShutdownFramework{FrameworkId: f.info.GetId()}}, "SHUTDOWN_FRAMEWORK "+f.id)
		}
	}
}

// reachedAgent: an agent run answered an update of t 202.
func (w *simWorld) reachedAgent(t *simTask) bool {
	for _, u := range w.updates {
		if u.task == t && u.acceptedBy != nil {
			return true
		}
	}
	return false
}

// receive takes a call of an agent.
func (m *simMaster) receive(r *simRun, oc outCall, what string) {
	w := m.w
	ag := r.ag
	st := m.streams[ag]
	if st == nil || !st.open || st.id != oc.streamID {
		w.tracef("master: %s from %s refused (stream %q is not current)", what, r, oc.streamID)
		return
	}
	call := oc.call.(*agentproto.AgentCall)
	if call.GetType() != agentproto.AgentCall_STATUS_UPDATE {
		if call.GetType() != agentproto.AgentCall_PONG {
			w.tracef("master: %s from %s", what, r)
		}
		return
	}
	w.tracef("master: %s from %s", what, r)
	su := call.GetStatusUpdate()
	s := su.GetStatus()
	fw := w.fw(su.GetFrameworkId().GetValue())
	if fw == nil || fw.shutdown {
		return // the framework is gone: nobody acknowledges
	}
	t := w.tasks[s.GetTaskId().GetValue()]
	if t == nil || t.fw != fw || t.ag != ag {
		w.violation("master: update %s for a task it did not launch on %s", what, ag.name)
		return
	}
	uuid := string(s.GetUuid())
	if !t.seen[uuid] {
		m.newUpdate(t, s, what)
	}
	// The scheduler acknowledges (every copy it gets).
	f := w.fate("ack/" + t.id + "/" + s.GetState().String())
	if w.faults && f.Float64() < w.pAckLoss {
		w.tracef("scheduler: acknowledgement of %s %s lost", t.id, s.GetState())
		return
	}
	copies := 1
	if w.faults && f.Float64() < w.pAckDup {
		copies = 2
	}
	ack := &agentproto.AgentEvent{Type: agentproto.AgentEvent_ACKNOWLEDGE.Enum(), Acknowledge: &agentproto.AgentEvent_Acknowledge{
		FrameworkId: su.GetFrameworkId(), TaskId: s.GetTaskId(), Uuid: s.GetUuid()}}
	for range copies {
		w.at(nil, w.delay(f, time.Millisecond, w.maxDelay), "", func() {
			m.send(ag, ack, fmt.Sprintf("ACKNOWLEDGE %s %s", t.id, s.GetState()))
		})
	}
}

// stateRank orders a task's states: what comes after may not go before.
func stateRank(s mesos.TaskState) int {
	switch {
	case mesos.IsTerminalState(s):
		return 3
	case s == mesos.TaskState_TASK_RUNNING:
		return 2
	case s == mesos.TaskState_TASK_STARTING:
		return 1
	}
	return 0
}

// newUpdate checks an update the master sees for the first time.
func (m *simMaster) newUpdate(t *simTask, s *mesos.TaskStatus, what string) {
	w := m.w
	uuid := string(s.GetUuid())
	state := s.GetState()
	switch {
	case t.lost:
		w.violation("master: %s for task %s, which its agent did not report when it re-registered", what, t.id)
	case t.terminal:
		w.violation("master: %s for task %s, which was already %s", what, t.id, t.state)
	case len(t.states) > 0 && stateRank(state) < stateRank(t.state):
		w.violation("master: %s for task %s goes back from %s", what, t.id, t.state)
	case t.byState[state] != "":
		w.violation("master: %s for task %s: %s was delivered before with another uuid", what, t.id, state)
	}
	if u := w.updates[uuid]; u != nil {
		if u.task != t {
			w.violation("master: %s carries the uuid of an update of task %s", what, u.task.id)
		}
		if u.seq <= t.execSeq {
			w.violation("master: %s of task %s arrives after a later update of its executor", what, t.id)
		}
		t.execSeq = u.seq
	}
	t.seen[uuid] = true
	t.byState[state] = uuid
	t.states = append(t.states, state)
	t.state = state
	t.terminal = mesos.IsTerminalState(state)
}

func (m *simMaster) killTask(t *simTask) {
	t.kill = true
	t.killedAt = m.w.now
	m.send(t.ag, &agentproto.AgentEvent{Type: agentproto.AgentEvent_KILL_TASK.Enum(), KillTask: &agentproto.AgentEvent_KillTask{
		FrameworkId: t.fw.info.GetId(), TaskId: &mesos.TaskID{Value: proto.String(t.id)}}}, "KILL_TASK "+t.id)
}

// shutdownExecutor has a scheduler shut down one of its executors
// (SHUTDOWN_EXECUTOR); its tasks end.
func (m *simMaster) shutdownExecutor() {
	w := m.w
	var live []*simTask
	for _, id := range w.taskOrder {
		if t := w.tasks[id]; !t.terminal && !t.lost && !t.fw.shutdown && t.kind != kindCommand {
			live = append(live, t)
		}
	}
	if len(live) == 0 {
		return
	}
	t := live[w.rng.IntN(len(live))]
	m.send(t.ag, &agentproto.AgentEvent{Type: agentproto.AgentEvent_SHUTDOWN_EXECUTOR.Enum(), ShutdownExecutor: &agentproto.AgentEvent_ShutdownExecutor{
		FrameworkId: t.fw.info.GetId(), ExecutorId: &mesos.ExecutorID{Value: proto.String(t.exID)}}}, "SHUTDOWN_EXECUTOR "+t.fw.id+"/"+t.exID)
}

// launch has the master run a new task (or task group) on a registered
// agent.
func (m *simMaster) launch() {
	w := m.w
	var ags []*simAgent
	for _, ag := range w.agents {
		if st := m.streams[ag]; st != nil && st.open {
			ags = append(ags, ag)
		}
	}
	var fws []*simFw
	for _, f := range w.fws {
		if !f.shutdown {
			fws = append(fws, f)
		}
	}
	if len(ags) == 0 || len(fws) == 0 {
		return
	}
	ag := ags[w.rng.IntN(len(ags))]
	fw := fws[w.rng.IntN(len(fws))]
	switch p := w.rng.Float64(); {
	case p < 0.45:
		m.runTask(ag, fw, kindCommand, "", 1)
	case p < 0.75:
		m.runTask(ag, fw, kindCustom, fmt.Sprintf("%s-ex%d", fw.id, w.rng.IntN(3)), 1)
	default:
		exID := fmt.Sprintf("%s-dex%d", fw.id, w.rng.IntN(2))
		m.runTask(ag, fw, kindDefault, exID, 1+w.rng.IntN(3))
	}
}

// runTask sends RUN_TASK to ag: a command task, a task for the custom
// executor exID, or a group of n tasks for the default executor exID. It
// returns the ids of the tasks.
func (m *simMaster) runTask(ag *simAgent, fw *simFw, kind executorKind, exID string, n int) []string {
	w := m.w
	agentID := &mesos.AgentID{Value: proto.String(m.ids[ag])}
	var ids []string
	newTask := func() *mesos.TaskInfo {
		id := fmt.Sprintf("t%d", len(w.taskOrder)+1)
		t := &simTask{id: id, fw: fw, ag: ag, exID: exID, kind: kind, seen: map[string]bool{}, byState: map[mesos.TaskState]string{}}
		if kind == kindCommand {
			t.exID = id
		}
		w.tasks[id] = t
		w.taskOrder = append(w.taskOrder, id)
		ids = append(ids, id)
		return &mesos.TaskInfo{
			Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: agentID,
			Resources: []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
			Command:   &mesos.CommandInfo{Value: proto.String("run " + id)},
		}
	}
	execInfo := func(typ mesos.ExecutorInfo_Type) *mesos.ExecutorInfo {
		info := &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String(exID)}, FrameworkId: fw.info.GetId(),
			Resources: []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		}
		if typ == mesos.ExecutorInfo_DEFAULT {
			info.Type = typ.Enum()
		} else {
			info.Command = &mesos.CommandInfo{Value: proto.String("run-executor")}
		}
		return info
	}
	rt := &agentproto.AgentEvent_RunTask{Framework: fw.info}
	var desc string
	switch kind {
	case kindCommand:
		rt.Task = newTask()
		desc = "RUN_TASK " + ids[0] + " (command)"
	case kindCustom:
		rt.Task = newTask()
		rt.Task.Command = nil
		rt.Task.Executor = execInfo(mesos.ExecutorInfo_CUSTOM)
		desc = "RUN_TASK " + ids[0] + " (executor " + exID + ")"
	default:
		rt.Executor = execInfo(mesos.ExecutorInfo_DEFAULT)
		rt.TaskGroup = &mesos.TaskGroupInfo{}
		for range n {
			rt.TaskGroup.Tasks = append(rt.TaskGroup.Tasks, newTask())
		}
		desc = "RUN_TASK group " + strings.Join(ids, ",") + " (executor " + exID + ")"
	}
	m.send(ag, &agentproto.AgentEvent{Type: agentproto.AgentEvent_RUN_TASK.Enum(), RunTask: rt}, desc)
	return ids
}

// ---- the executors ----

// simExec is a modelled executor: one container.
type simExec struct {
	w    *simWorld
	ag   *simAgent
	run  *simRun // the run whose containerizer holds its container
	fwID string
	exID string
	cid  string
	ckpt bool
	kind executorKind

	alive bool
	conn  *execConn
	// connRun is the agent run of conn.
	connRun     *simRun
	subscribing bool
	// gen counts its subscriptions: events of an earlier one that were
	// still on the way when it broke are lost.
	gen int
	// readAt orders the events it reads, postAt the calls it makes.
	readAt    time.Time
	postAt    time.Time
	tasks     map[string]*simExecTask
	taskOrder []string
	// unacked are the updates sent and not acknowledged, in order.
	unacked  []*mesos.TaskStatus
	exiting  bool
	shutting bool
	// hasty: it exits once its tasks' last updates were taken (202),
	// without waiting for their acknowledgements.
	hasty bool
}

type simExecTask struct {
	info  *mesos.TaskInfo
	state mesos.TaskState
}

func (w *simWorld) newExec(r *simRun, fwID, exID, cid string, ckpt bool) {
	kind := kindCustom
	for _, tid := range w.taskOrder {
		if t := w.tasks[tid]; t.fw.id == fwID && t.exID == exID {
			kind = t.kind
		}
	}
	e := &simExec{w: w, ag: r.ag, run: r, fwID: fwID, exID: exID, cid: cid, ckpt: ckpt, kind: kind,
		alive: true, tasks: map[string]*simExecTask{}, hasty: w.rng.Float64() < 0.15}
	w.execs = append(w.execs, e)
	f := w.fate("subscribe/" + fwID + "/" + exID)
	d := w.delay(f, 10*time.Millisecond, 2*time.Second)
	if w.faults && f.Float64() < 0.03 {
		d = 30 * time.Second // past the registration timeout
	}
	w.tracef("%s: executor %s launched (container %s)", r, exID, cid[:8])
	w.at(nil, d, "", e.subscribe)
}

// name tells executors of the same id on different agents apart.
func (e *simExec) name() string { return e.ag.name + ":" + e.exID }

// subscribe (again): with the updates and tasks not acknowledged.
func (e *simExec) subscribe() {
	w := e.w
	if !e.alive || e.conn != nil || e.subscribing {
		return
	}
	r := e.ag.run
	if r == nil {
		if e.ckpt {
			w.at(nil, w.delay(w.rng, 200*time.Millisecond, 1500*time.Millisecond), "", e.subscribe)
		}
		return
	}
	sub := &execpb.Call_Subscribe{}
	for _, s := range e.unacked {
		sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, &execpb.Call_Update{Status: s})
	}
	for _, id := range e.taskOrder {
		if t := e.tasks[id]; !mesos.IsTerminalState(t.state) || e.hasUnacked(id) {
			sub.UnacknowledgedTasks = append(sub.UnacknowledgedTasks, t.info)
		}
	}
	for _, t := range sub.UnacknowledgedTasks {
		r.claimed[t.GetTaskId().GetValue()] = true
	}
	call := &execpb.Call{Type: execpb.Call_SUBSCRIBE.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String(e.fwID)},
		ExecutorId: &mesos.ExecutorID{Value: proto.String(e.exID)}, Subscribe: sub}
	e.subscribing = true
	w.at(r, w.delay(w.rng, time.Millisecond, 50*time.Millisecond), "", func() {
		e.subscribing = false
		if !e.alive {
			return
		}
		var conn *execConn
		var err error
		r.a.turn(func() { conn, _, err = r.a.applyExecutorCall(call, nil) })
		if err != nil {
			w.tracef("%s: executor %s: SUBSCRIBE refused: %v; it exits", r, e.name(), err)
			e.exit(1)
			return
		}
		w.tracef("%s: executor %s subscribed (%d unacknowledged updates)", r, e.name(), len(sub.UnacknowledgedUpdates))
		e.conn, e.connRun, e.readAt = conn, r, w.now
		e.gen++
		// What it made while the SUBSCRIBE was on its way goes now.
		sent := map[string]bool{}
		for _, u := range sub.UnacknowledgedUpdates {
			sent[string(u.GetStatus().GetUuid())] = true
		}
		for _, s := range e.unacked {
			if !sent[string(s.GetUuid())] {
				e.post(s)
			}
		}
	})
}

func (e *simExec) hasUnacked(taskID string) bool {
	for _, s := range e.unacked {
		if s.GetTaskId().GetValue() == taskID {
			return true
		}
	}
	return false
}

// pump reads what the agents queued for their executors; each executor
// handles its events in order, after a delay.
func (w *simWorld) pump() {
	for _, e := range w.execs {
		if !e.alive || e.conn == nil {
			continue
		}
		conn, r := e.conn, e.connRun
		if r.dead {
			e.conn = nil
			continue
		}
		evs, closed := conn.events.take()
		gen := e.gen
		for _, ev := range evs {
			at := w.now.Add(w.delay(w.rng, 0, 30*time.Millisecond))
			if at.Before(e.readAt) {
				at = e.readAt
			}
			e.readAt = at
			w.at(r, at.Sub(w.now), "", func() {
				if e.alive && e.gen == gen {
					e.handle(ev)
				}
			})
		}
		if closed {
			e.conn = nil
			at := e.readAt.Add(time.Millisecond)
			w.at(nil, at.Sub(w.now), "", func() {
				if e.alive && e.conn == nil && !e.exiting {
					w.tracef("executor %s: stream ended; subscribing again", e.name())
					w.at(nil, w.delay(w.rng, 100*time.Millisecond, time.Second), "", e.subscribe)
				}
			})
		}
	}
}

func (e *simExec) handle(ev *execpb.Event) {
	w := e.w
	switch ev.GetType() {
	case execpb.Event_LAUNCH:
		e.launch(ev.GetLaunch().GetTask())
	case execpb.Event_LAUNCH_GROUP:
		for _, t := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
			e.launch(t)
		}
	case execpb.Event_KILL:
		id := ev.GetKill().GetTaskId().GetValue()
		w.tracef("executor %s: KILL %s", e.name(), id)
		w.at(nil, w.delay(w.rng, time.Millisecond, time.Second), "", func() { e.update(id, mesos.TaskState_TASK_KILLED) })
	case execpb.Event_ACKNOWLEDGED:
		e.acknowledged(ev.GetAcknowledged().GetTaskId().GetValue(), ev.GetAcknowledged().GetUuid())
	case execpb.Event_SHUTDOWN:
		w.tracef("executor %s: SHUTDOWN", e.name())
		e.shutting = true
		for _, id := range e.taskOrder {
			e.update(id, mesos.TaskState_TASK_KILLED)
		}
		w.at(nil, w.delay(w.rng, 10*time.Millisecond, 2*time.Second), "", func() { e.exit(0) })
	}
}

func (e *simExec) launch(info *mesos.TaskInfo) {
	w := e.w
	id := info.GetTaskId().GetValue()
	if e.tasks[id] != nil {
		w.violation("executor %s: task %s launched twice", e.name(), id)
		return
	}
	w.tracef("executor %s: LAUNCH %s", e.name(), id)
	e.tasks[id] = &simExecTask{info: info, state: mesos.TaskState_TASK_STAGING}
	e.taskOrder = append(e.taskOrder, id)
	f := w.fate("task/" + id)
	w.at(nil, w.delay(f, time.Millisecond, 2*time.Second), "", func() {
		e.update(id, mesos.TaskState_TASK_RUNNING)
		if !w.tasksWaitForKill && f.Float64() < 0.5 {
			end := mesos.TaskState_TASK_FINISHED
			if f.Float64() < 0.25 {
				end = mesos.TaskState_TASK_FAILED
			}
			w.at(nil, w.delay(f, 100*time.Millisecond, time.Minute), "", func() { e.update(id, end) })
		}
	})
}

// update has the executor send a new update of a task it runs.
func (e *simExec) update(taskID string, state mesos.TaskState) {
	w := e.w
	t := e.tasks[taskID]
	if !e.alive || t == nil || mesos.IsTerminalState(t.state) {
		return
	}
	t.state = state
	s := &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String(taskID)}, State: state.Enum(),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: w.uuid(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String(e.exID)},
	}
	st := w.tasks[taskID]
	seq := 1
	for _, u := range w.updates {
		if u.task == st && u.seq >= seq {
			seq = u.seq + 1
		}
	}
	w.updates[string(s.GetUuid())] = &simUpdate{uuid: s.GetUuid(), task: st, state: state, seq: seq}
	e.unacked = append(e.unacked, s)
	w.tracef("executor %s: %s %s (uuid %x)", e.name(), taskID, state, s.GetUuid()[12:])
	e.post(s)
}

// post sends an UPDATE over the executor's subscription; without one,
// the update waits for the next SUBSCRIBE.
func (e *simExec) post(s *mesos.TaskStatus) {
	w := e.w
	r := e.connRun
	if e.conn == nil || r == nil || r.dead {
		return
	}
	call := &execpb.Call{Type: execpb.Call_UPDATE.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String(e.fwID)},
		ExecutorId: &mesos.ExecutorID{Value: proto.String(e.exID)}, Update: &execpb.Call_Update{Status: s}}
	if err := validateCall(call); err != nil {
		w.violation("executor %s: bad UPDATE: %v", e.name(), err)
		return
	}
	// One connection carries the executor's calls, in order.
	at := w.now.Add(w.delay(w.rng, time.Millisecond, 50*time.Millisecond))
	if at.Before(e.postAt) {
		at = e.postAt
	}
	e.postAt = at
	w.at(r, at.Sub(w.now), "", func() {
		if !e.alive {
			return
		}
		var err error
		r.a.turn(func() {
			_, _, err = r.a.applyExecutorCall(call, func(err error) {
				if err != nil {
					w.tracef("%s: UPDATE %s %s not durable: %v", r, s.GetTaskId().GetValue(), s.GetState(), err)
					return
				}
				if u := w.updates[string(s.GetUuid())]; u != nil && u.acceptedBy == nil {
					u.acceptedBy = r
				}
				if mesos.IsTerminalState(s.GetState()) && e.hasty {
					e.maybeExit()
				}
			})
		})
		if err != nil {
			w.tracef("%s: UPDATE %s %s refused: %v", r, s.GetTaskId().GetValue(), s.GetState(), err)
		}
	})
}

// acknowledged takes ACKNOWLEDGED: for a checkpointing framework the
// update and its acknowledgement must be durable by now.
func (e *simExec) acknowledged(taskID string, uuid []byte) {
	w := e.w
	i := slices.IndexFunc(e.unacked, func(s *mesos.TaskStatus) bool { return bytes.Equal(s.GetUuid(), uuid) })
	if i < 0 {
		return // a repeat
	}
	s := e.unacked[i]
	e.unacked = slices.Delete(e.unacked, i, i+1)
	w.tracef("executor %s: ACKNOWLEDGED %s %s", e.name(), taskID, s.GetState())
	if e.ckpt {
		recs := w.journal(e.ag, taskID)
		durable := hasRecord(recs, checkpoint.RecordUpdate, uuid) && hasRecord(recs, checkpoint.RecordAck, uuid)
		// An update after a durable terminal one is obsolete: the agent
		// drops it, and acknowledges it so the executor stops sending it.
		if !durable && !(!hasRecord(recs, checkpoint.RecordUpdate, uuid) && hasTerminal(recs)) {
			w.violation("executor %s: ACKNOWLEDGED %s %s before the update and its acknowledgement were durable", e.name(), taskID, s.GetState())
		}
	}
	e.maybeExit()
}

// maybeExit: the command and default executors exit once all their tasks
// are over and acknowledged.
func (e *simExec) maybeExit() {
	if e.kind == kindCustom || e.exiting || (len(e.unacked) > 0 && !e.hasty) || len(e.tasks) == 0 {
		return
	}
	for _, t := range e.tasks {
		if !mesos.IsTerminalState(t.state) {
			return
		}
	}
	e.exiting = true
	e.w.at(nil, e.w.delay(e.w.rng, time.Millisecond, 100*time.Millisecond), "", func() { e.exit(0) })
}

// exit ends the executor's container with status ws.
func (e *simExec) exit(ws syscall.WaitStatus) {
	w := e.w
	if !e.alive {
		return
	}
	e.alive = false
	e.conn = nil
	w.tracef("executor %s exits (status %d)", e.name(), ws)
	if err := e.run.fake.Exit(e.cid, ws); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
		w.violation("executor %s: %v", e.name(), err)
	}
	w.containerEnds(e.run, e.cid, "exited")
}

// ---- faults, workload and checks ----

// runAgentSim runs one seed in dir; out, when set, gets every step.
func runAgentSim(dir string, seed uint64, out io.Writer) (*simWorld, error) {
	w := newSimWorld(dir, seed, out)
	w.pCallLoss = w.rng.Float64() * 0.3
	w.pAckLoss = w.rng.Float64() * 0.2
	w.pAckDup = w.rng.Float64() * 0.2
	w.maxDelay = time.Duration(1+w.rng.IntN(2000)) * time.Millisecond
	if w.rng.Float64() < 0.3 {
		w.pCommitFail = 0.005 + w.rng.Float64()*0.025
	}
	w.faults = true
	w.faultsUntil = w.start.Add(time.Duration(60+w.rng.IntN(180)) * time.Second)
	w.settleUntil = w.faultsUntil.Add(30 * time.Minute)
	w.tracef("seed %d: loss %.2f, ack loss %.2f, ack duplicates %.2f, commit failures %.3f, delays up to %v, faults for %v",
		seed, w.pCallLoss, w.pAckLoss, w.pAckDup, w.pCommitFail, w.maxDelay, w.faultsUntil.Sub(w.start))
	defer w.stop()
	for range 1 + w.rng.IntN(2) {
		w.addAgent()
	}
	w.scheduleWorkload()
	w.scheduleFaults()
	w.at(nil, w.faultsUntil.Sub(w.now), "", w.settle)
	for w.err == nil && !w.settled && w.step() {
	}
	if w.err == nil && !w.settled {
		w.finalCheck(true)
	}
	return w, w.err
}

// newSimWorld makes a world with its frameworks (two checkpointing, one
// of them partition-aware, and one not), no agent and no fault.
func newSimWorld(dir string, seed uint64, out io.Writer) *simWorld {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &simWorld{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), start: start, now: start, dir: dir, out: out,
		keys: map[string]int{}, tasks: map[string]*simTask{}, updates: map[string]*simUpdate{},
		maxDelay: 10 * time.Millisecond, settleUntil: start.Add(24 * time.Hour)}
	w.log = slog.New(slog.DiscardHandler)
	if out != nil {
		w.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug,
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey && len(groups) == 0 {
					return slog.Attr{}
				}
				return a
			}}))
	}
	w.master = &simMaster{w: w, streams: map[*simAgent]*simStream{}, ids: map[*simAgent]string{}}
	for i := range 3 {
		f := &simFw{id: fmt.Sprintf("fw%d", i+1), ckpt: i != 1, aware: i == 2}
		f.info = frameworkInfo(f.id, f.ckpt)
		f.info.User = proto.String(agentUser)
		if f.aware {
			f.info.Capabilities = append(f.info.Capabilities, &mesos.FrameworkInfo_Capability{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()})
		}
		w.fws = append(w.fws, f)
	}
	return w
}

// addAgent adds an agent host and starts it.
func (w *simWorld) addAgent() *simAgent {
	n := len(w.agents) + 1
	ag := &simAgent{w: w, name: fmt.Sprintf("agent%d", n), workDir: filepath.Join(w.dir, fmt.Sprintf("agent%d", n)), backoff: time.Second}
	w.agents = append(w.agents, ag)
	w.startAgent(ag, nil)
	return ag
}

// stop releases the agents' runs.
func (w *simWorld) stop() {
	for _, ag := range w.agents {
		if ag.run != nil {
			w.stopRun(ag.run)
		}
	}
}

// step runs the next event and checks the invariants; false when there
// is nothing left to run before settleUntil.
func (w *simWorld) step() bool {
	for w.queue.Len() > 0 {
		ev := w.queue.Pop()
		if ev.cancelled || (ev.run != nil && ev.run.dead) {
			continue
		}
		if ev.at.After(w.settleUntil) {
			w.now = w.settleUntil
			return false
		}
		w.now = ev.at
		w.steps++
		ev.fired = true
		if ev.what != "" {
			w.tracef("%s", ev.what)
		}
		ev.f()
		if w.err == nil {
			w.pump()
			w.check()
		}
		return true
	}
	return false
}

// scheduleWorkload: the schedulers launch and kill tasks, now and then
// a framework is shut down; the master pings.
func (w *simWorld) scheduleWorkload() {
	var tick func()
	tick = func() {
		if !w.faults {
			return
		}
		switch p := w.rng.Float64(); {
		case p < 0.55:
			w.master.launch()
		case p < 0.8:
			var live []*simTask
			for _, id := range w.taskOrder {
				if t := w.tasks[id]; !t.terminal && !t.lost && !t.kill && !t.fw.shutdown {
					live = append(live, t)
				}
			}
			if len(live) > 0 {
				w.master.killTask(live[w.rng.IntN(len(live))])
			}
		case p < 0.81:
			w.shutdownFramework()
		case p < 0.83:
			w.master.shutdownExecutor()
		}
		w.at(nil, w.delay(w.rng, 200*time.Millisecond, 3*time.Second), "", tick)
	}
	w.at(nil, time.Second, "", tick)
	var ping func()
	seq := uint64(0)
	ping = func() {
		for _, ag := range w.agents {
			seq++
			w.master.send(ag, &agentproto.AgentEvent{Type: agentproto.AgentEvent_PING.Enum(), Ping: &agentproto.AgentEvent_Ping{Sequence: proto.Uint64(seq)}}, "PING")
		}
		w.at(nil, 5*time.Second, "", ping)
	}
	w.at(nil, 5*time.Second, "", ping)
}

// shutdownFramework shuts a framework down everywhere; a new one takes
// its place.
func (w *simWorld) shutdownFramework() {
	var live []*simFw
	for _, f := range w.fws {
		if !f.shutdown {
			live = append(live, f)
		}
	}
	if len(live) == 0 {
		return
	}
	f := live[w.rng.IntN(len(live))]
	f.shutdown = true
	w.tracef("master: SHUTDOWN_FRAMEWORK %s", f.id)
	for _, ag := range w.agents {
		w.master.send(ag, &agentproto.AgentEvent{Type: agentproto.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
			ShutdownFramework: &agentproto.AgentEvent_ShutdownFramework{FrameworkId: f.info.GetId()}}, "SHUTDOWN_FRAMEWORK "+f.id)
	}
	n := &simFw{id: fmt.Sprintf("fw%d", len(w.fws)+1), ckpt: f.ckpt, aware: f.aware}
	n.info = proto.Clone(f.info).(*mesos.FrameworkInfo)
	n.info.Id = &mesos.FrameworkID{Value: proto.String(n.id)}
	w.fws = append(w.fws, n)
}

// scheduleFaults: links break, agents and executors crash, while the
// faults last.
func (w *simWorld) scheduleFaults() {
	meanBreak := time.Duration(10+w.rng.IntN(60)) * time.Second
	meanCrash := time.Duration(20+w.rng.IntN(120)) * time.Second
	meanExec := time.Duration(10+w.rng.IntN(60)) * time.Second
	next := func(mean time.Duration) time.Duration {
		return time.Duration(w.rng.ExpFloat64() * float64(mean))
	}
	var breakLink, crash, execCrash func()
	breakLink = func() {
		if !w.faults {
			return
		}
		ag := w.agents[w.rng.IntN(len(w.agents))]
		if st := w.master.streams[ag]; st != nil && st.open {
			w.tracef("FAULT: the master connection of %s breaks", ag.name)
			st.open = false
			r, att := st.run, st.attempt
			w.at(r, w.delay(w.rng, 0, 3*time.Second), "", func() { w.linkDown(r, att, "stream broke") })
		}
		w.at(nil, next(meanBreak), "", breakLink)
	}
	crash = func() {
		if !w.faults {
			return
		}
		ag := w.agents[w.rng.IntN(len(w.agents))]
		if ag.run != nil {
			w.tracef("FAULT: %s crashes", ag.name)
			w.crash(ag)
		}
		w.at(nil, next(meanCrash), "", crash)
	}
	execCrash = func() {
		if !w.faults {
			return
		}
		var live []*simExec
		for _, e := range w.execs {
			if e.alive && e.run != nil && !e.run.dead {
				live = append(live, e)
			}
		}
		if len(live) > 0 {
			e := live[w.rng.IntN(len(live))]
			w.tracef("FAULT: executor %s crashes", e.name())
			e.exit(syscall.WaitStatus(syscall.SIGKILL))
		}
		w.at(nil, next(meanExec), "", execCrash)
	}
	var execBreak func()
	execBreak = func() {
		if !w.faults {
			return
		}
		var live []*simExec
		for _, e := range w.execs {
			if e.alive && e.conn != nil && !e.connRun.dead {
				live = append(live, e)
			}
		}
		if len(live) > 0 {
			e := live[w.rng.IntN(len(live))]
			w.tracef("FAULT: the event stream of executor %s breaks", e.name())
			conn, r := e.conn, e.connRun
			e.conn = nil
			e.gen++ // what was on the way is lost
			// The agent's handler sees the stream end.
			r.a.post(func() { r.a.unsubscribe(conn) })
			w.at(nil, w.delay(w.rng, 100*time.Millisecond, 2*time.Second), "", e.subscribe)
		}
		w.at(nil, next(meanExec), "", execBreak)
	}
	w.at(nil, next(meanExec), "", execBreak)
	w.at(nil, next(meanBreak), "", breakLink)
	w.at(nil, next(meanCrash), "", crash)
	w.at(nil, next(meanExec), "", execCrash)
}

// settle ends the faults: the schedulers kill what still runs, and the
// cluster must come to rest with every update delivered.
func (w *simWorld) settle() {
	w.faults = false
	w.tracef("faults stop; settling")
	var poll func()
	poll = func() {
		for _, id := range w.taskOrder {
			t := w.tasks[id]
			if !t.terminal && !t.lost && !t.fw.shutdown && (!t.kill || w.now.Sub(t.killedAt) > 30*time.Second) {
				w.master.killTask(t)
			}
		}
		if w.finalCheck(false) {
			w.settled = true
			w.tracef("settled")
			return
		}
		w.at(nil, 5*time.Second, "", poll)
	}
	w.at(nil, 0, "", poll)
}

// check verifies the invariants of every live agent's state after a
// step.
func (w *simWorld) check() {
	for _, ag := range w.agents {
		r := ag.run
		if r == nil || r.a == nil {
			continue
		}
		where := map[string]string{}
		for fwID, fw := range r.a.st.frameworks {
			for exID, ex := range fw.executors {
				for tid, t := range ex.tasks {
					if other, ok := where[tid]; ok {
						w.violation("%s: task %s is in executors %s and %s/%s", r, tid, other, fwID, exID)
					}
					where[tid] = fwID + "/" + exID
					if prev, ok := r.terminal[tid]; ok && prev != t.state {
						w.violation("%s: task %s was %s and is now %s", r, tid, prev, t.state)
					}
					if mesos.IsTerminalState(t.state) {
						r.terminal[tid] = t.state
					}
				}
			}
		}
	}
}

// finalCheck reports whether the cluster is at rest; with must, what
// is not is a violation.
func (w *simWorld) finalCheck(must bool) bool {
	fail := func(format string, args ...any) bool {
		if must {
			w.violation("did not settle in %v: "+format, append([]any{w.settleUntil.Sub(w.faultsUntil)}, args...)...)
		}
		return false
	}
	for _, ag := range w.agents {
		r := ag.run
		if r == nil || !r.linkUp {
			return fail("%s is not registered", ag.name)
		}
		for fwID, fw := range r.a.st.frameworks {
			for tid, u := range fw.updates {
				if len(u.pending) > 0 {
					return fail("%s still has %d updates of task %s (framework %s) not acknowledged", r, len(u.pending), tid, fwID)
				}
			}
		}
		if c := r.a.st.ckpt; c.next != nil || c.flight != nil {
			return fail("%s has checkpoint writes not committed", r)
		}
	}
	for _, id := range w.taskOrder {
		t := w.tasks[id]
		if !t.terminal && !t.lost && !t.fw.shutdown {
			return fail("task %s is %v at the master", id, t.state)
		}
	}
	for _, u := range w.sortedUpdates() {
		if u.acceptedBy == nil || u.task.fw.shutdown || u.task.seen[string(u.uuid)] {
			continue
		}
		if u.task.fw.ckpt || !u.acceptedBy.dead {
			return fail("update %s of task %s (uuid %x), answered 202 by %s, never reached the master", u.state, u.task.id, u.uuid[12:], u.acceptedBy)
		}
	}
	for _, e := range w.execs {
		if e.alive && len(e.unacked) > 0 && !w.fw(e.fwID).shutdown {
			return fail("executor %s still has %d updates not acknowledged", e.name(), len(e.unacked))
		}
	}
	return true
}

// A recovered executor runs a task delivered to it just before the agent
// crashed, whose TaskInfo was not durable yet: the restarted agent takes
// the task back from the executor's SUBSCRIBE, reports it when it
// registers, and kills it when told to.
func TestAgentSimTakesBackUndurableTask(t *testing.T) {
	w := newSimWorld(t.TempDir(), 1, nil)
	defer w.stop()
	w.tasksWaitForKill = true
	ag := w.addAgent()
	fw := w.fws[0] // checkpointing
	runUntil := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if w.err != nil {
				t.Fatalf("%v\nlast steps:\n%s", w.err, w.ring.String())
			}
			if !w.step() || w.now.Sub(w.start) > time.Hour {
				t.Fatalf("no %s\nlast steps:\n%s", what, w.ring.String())
			}
		}
	}
	exec := func() *simExec {
		for _, e := range w.execs {
			if e.exID == "fw1-dex" && e.alive {
				return e
			}
		}
		return nil
	}
	runUntil("registration", func() bool { return ag.run != nil && ag.run.linkUp })
	first := w.master.runTask(ag, fw, kindDefault, "fw1-dex", 1)[0]
	runUntil(first+" running and acknowledged", func() bool {
		e := exec()
		return w.tasks[first].state == mesos.TaskState_TASK_RUNNING && e != nil && len(e.unacked) == 0
	})

	// The next task reaches the executor, which starts it, but nothing
	// of it is committed before the agent crashes.
	w.holdCommits = true
	second := w.master.runTask(ag, fw, kindDefault, "fw1-dex", 1)[0]
	runUntil(second+" started by the executor", func() bool { return exec().hasUnacked(second) })
	w.crash(ag)
	w.holdCommits = false
	if ag.run != nil || !w.tasks[second].fw.ckpt {
		t.Fatal("the agent did not crash")
	}
	runUntil("re-registration", func() bool { return ag.run != nil && ag.run.reported && ag.run.linkUp })
	if ag.run.expect[second] {
		t.Fatalf("%s was durable; the scenario needs it not to be", second)
	}
	if w.tasks[second].lost {
		t.Fatalf("the restarted agent did not report %s", second)
	}
	runUntil(second+" running at the master", func() bool { return w.tasks[second].state == mesos.TaskState_TASK_RUNNING })
	w.master.killTask(w.tasks[second])
	runUntil(second+" killed", func() bool { return w.tasks[second].state == mesos.TaskState_TASK_KILLED })
	runUntil("the executor to hear every acknowledgement", func() bool { return len(exec().unacked) == 0 })
}
