package master

// A deterministic simulation of a cluster around the real master core.
//
// One seed drives everything: the simulated clock, the network between
// the master and its clients (delays, per-connection FIFO order with
// reordering across connections, lost requests, lost answers that make
// clients retry, broken streams and partitions), crashes and restarts of
// the master (a new core recovering from the same registry), of agents
// (recovering their checkpointed tasks and unacknowledged updates) and of
// schedulers (failing over with their framework id), and agents lost for
// good. Some seeds add an operator who takes the agents' machines through
// maintenance (scheduled, DOWN, UP), and frameworks with no failover
// timeout that subscribe again with a changed FrameworkInfo now and then
// (each such subscription is recorded while the old stream is still
// open). The master core and its allocator are the production code; the
// agents and schedulers are models of the agent protocol
// (internal/agentproto) and of a v1 scheduler that follow what Mezzo's
// agent and Mesos frameworks do. After every step the simulator checks the
// invariants in simWorld.check; after the faults stop it lets the cluster
// settle and checks that it converged (simWorld.checkSettled).
//
// A failing seed is replayed with a trace of every step:
//
//	go test ./master -run 'TestSimulation$' -sim.seed=N -sim.trace -v

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/simq"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

var (
	simSeeds = flag.Int("sim.seeds", 1000, "how many seeds TestSimulation runs")
	simFirst = flag.Uint64("sim.first", 1, "the first seed TestSimulation runs")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed (with -sim.trace, step by step)")
	simTrace = flag.Bool("sim.trace", false, "print every step of the simulation")
)

// simRegressionSeeds are seeds that once found a bug; they run every time.
// 12: a framework with no failover timeout removed as its old stream ended
// while its new subscription was recorded; 327 and 569: an agent admitted
// on a machine taken DOWN while its admission was recorded.
var simRegressionSeeds = []uint64{3, 46, 110, 178, 213, 2614, 12, 327, 569}

// simBaseSeeds are the regression seeds found before the operator and the
// frameworks without failover timeout were added: they run without them,
// so they replay the runs that found their bugs.
var simBaseSeeds = map[uint64]bool{3: true, 46: true, 110: true, 178: true, 213: true, 2614: true}

// TestSimulation runs the cluster simulation for -sim.seeds seeds from
// -sim.first, plus the regression seeds.
func TestSimulation(t *testing.T) {
	if *simSeed != 0 {
		if err := runSimulation(*simSeed, *simTrace); err != nil {
			t.Fatal(err)
		}
		return
	}
	seeds := slices.Clone(simRegressionSeeds)
	for i := 0; i < *simSeeds; i++ {
		seeds = append(seeds, *simFirst+uint64(i))
	}
	// The simulation runs on one goroutine: under the race detector (and
	// with -short) a sample of the seeds is enough.
	if (testing.Short() || raceEnabled) && len(seeds) > 50 {
		seeds = seeds[:50]
	}
	start := time.Now()
	var simulated time.Duration
	failed := 0
	for _, seed := range seeds {
		w, err := simulate(seed, false)
		simulated += w.elapsed()
		if err != nil {
			failed++
			t.Errorf("%v\nreplay: go test ./master -run 'TestSimulation$' -sim.seed=%d -sim.trace -v", err, seed)
			if failed >= 5 {
				t.Fatal("stopping after 5 failing seeds")
			}
		}
	}
	wall := time.Since(start)
	t.Logf("%d seeds in %v: %.0f simulated seconds per wall-clock second, %.0f seeds per minute",
		len(seeds), wall.Round(time.Millisecond), simulated.Seconds()/wall.Seconds(), float64(len(seeds))/wall.Minutes())
}

// runSimulation runs one seed.
func runSimulation(seed uint64, trace bool) error {
	_, err := simulate(seed, trace)
	return err
}

// simViolation is a broken invariant; it stops the simulation.
type simViolation struct {
	seed uint64
	at   time.Duration
	msg  string
}

func (v *simViolation) Error() string {
	return fmt.Sprintf("seed %d: at %v: %s", v.seed, v.at, v.msg)
}

// ---- the world ----

type simEvent struct {
	at  time.Time
	seq uint64
	fn  func()
}

// simWorld is one simulated cluster.
type simWorld struct {
	seed  uint64
	rng   *rand.Rand
	clock *fakeClock
	start time.Time
	queue simq.Queue[*simEvent]
	seq   uint64
	trace io.Writer
	err   *simViolation

	cfg  Config
	reg  registry.Store
	core *core // nil while the master is down
	// writing is the batch of registry writes being committed (nil when
	// none): each takes simulated time, and a crash may lose it.
	writing writeBatch
	epoch   int // master incarnations
	conns   []*simConn

	agents []*simAgent
	fws    []*simFramework

	// faults are injected while true; then the cluster settles.
	faults bool
	// cut holds the clients partitioned from the master.
	cut map[string]bool
	// callOrder holds when each client's last call arrives.
	callOrder map[string]time.Time

	// subscribed holds every framework id the master acknowledged;
	// admitted every agent id it told REGISTERED, with its hostname.
	subscribed map[string]bool
	admitted   map[string]string
	// quotaLimit is the cpus limit of role "limited"; limitedOffers the
	// offers to it after the last step.
	quotaLimit    float64
	limitedOffers map[string]bool
	ticksNow      int

	// extra draws what the seed adds to the base simulation (the operator
	// and frameworks without failover timeout), so seeds without them
	// run as they did before those were added.
	extra *rand.Rand
	// operator is set when the operator takes machines through
	// maintenance; wentDown holds the machines (agents' hostnames) it ever
	// asked to take DOWN: their agents may leave the registry.
	operator bool
	wentDown map[string]bool
	// settleEnd is how long after the start the operator keeps bringing
	// machines UP while the cluster settles.
	settleEnd time.Duration
}

func (w *simWorld) now() time.Time         { return w.clock.t }
func (w *simWorld) elapsed() time.Duration { return w.clock.t.Sub(w.start) }

func (w *simWorld) tracef(format string, args ...any) {
	if w.trace != nil {
		fmt.Fprintf(w.trace, "%10.3fs  %s\n", w.elapsed().Seconds(), fmt.Sprintf(format, args...))
	}
}

// fail records the first violation.
func (w *simWorld) fail(format string, args ...any) {
	if w.err == nil {
		w.err = &simViolation{seed: w.seed, at: w.elapsed(), msg: fmt.Sprintf(format, args...)}
		w.tracef("VIOLATION: %s", w.err.msg)
	}
}

// after runs fn d from now.
func (w *simWorld) after(d time.Duration, fn func()) {
	w.seq++
	w.queue.Push(w.now().Add(d), w.seq, &simEvent{at: w.now().Add(d), seq: w.seq, fn: fn})
}

// delay is one network latency: mostly short, sometimes long.
func (w *simWorld) delay() time.Duration {
	if w.faults && w.rng.IntN(20) == 0 {
		return time.Duration(w.rng.IntN(5000)) * time.Millisecond
	}
	return time.Duration(1+w.rng.IntN(50)) * time.Millisecond
}

// uuid returns 16 bytes from the seed.
func (w *simWorld) uuid() []byte {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(w.rng.IntN(256))
	}
	return b
}

func (w *simWorld) chance(p float64) bool { return w.faults && w.rng.Float64() < p }

// onMaster runs fn on the core as the master's loop would, then lets it
// allocate; false when the master is down.
func (w *simWorld) onMaster(fn func(c *core)) bool {
	if w.core == nil {
		return false
	}
	fn(w.core)
	w.core.flush()
	w.pumpWrites()
	return true
}

// pumpWrites hands the core's pending registry writes to the simulated
// registry when no batch is in flight: the commit takes a few
// milliseconds (sometimes seconds), and sometimes fails, and its outcome
// comes back to the core as the loop's writer would bring it.
func (w *simWorld) pumpWrites() {
	c := w.core
	batch := c.takeWrites()
	if batch == nil {
		return
	}
	w.writing = batch
	d := time.Duration(1+w.rng.IntN(100)) * time.Millisecond
	if w.faults && w.rng.IntN(10) == 0 {
		d = time.Duration(w.rng.IntN(5000)) * time.Millisecond
	}
	failed := w.chance(0.02)
	start := w.now()
	w.after(d, func() {
		if w.core != c {
			return // the master crashed meanwhile (crashMaster decided)
		}
		w.writing = nil
		var refused []error
		var err error
		if failed {
			err = errors.New("simulated registry failure")
		} else {
			refused, err = w.reg.Commit(batch.groups())
		}
		w.tracef("registry commits %d writes (err=%v)", len(batch), err)
		w.onMaster(func(c *core) { c.committed(batch, refused, err, start, w.now().Sub(start)) })
	})
}

// request carries a client's request to the master: it arrives after a
// delay unless the master is down, the client is cut off, or the request
// is lost; the client learns the outcome (ok) after another delay. A lost
// answer (the request ran, the client hears it failed) makes clients
// retry, so the master sees duplicates.
func (w *simWorld) request(from string, what string, run func(c *core) bool, done func(ok bool)) {
	// A client's calls travel one connection after the other, as Mesos
	// asks of schedulers and as Mezzo's agent sends them: they arrive in
	// order.
	at := w.now().Add(w.delay())
	if last := w.callOrder[from]; at.Before(last) {
		at = last
	}
	w.callOrder[from] = at
	w.after(at.Sub(w.now()), func() {
		ok := false
		if w.core != nil && !w.cut[from] && !w.chance(0.02) {
			w.onMaster(func(c *core) { ok = run(c) })
			w.tracef("%s -> master: %s (ok=%v)", from, what, ok)
		} else {
			w.tracef("%s -> master: %s lost", from, what)
		}
		if ok && w.chance(0.02) {
			ok = false
			w.tracef("%s: answer to %s lost", from, what)
		}
		if done != nil {
			w.after(w.delay(), func() { done(ok) })
		}
	})
}

// ---- connections (streams from the master to a client) ----

// simConn is one event stream: FIFO from the master to a client, broken
// by either side or by the network. A broken stream loses what is in
// flight on it.
type simConn struct {
	w        *simWorld
	client   string
	epoch    int
	streamID string
	last     time.Time // deliveries keep their order
	broken   bool
	// deliver and closed run on the client side.
	deliver func(proto.Message)
	closed  func()
	// serverClosed runs on the master when the stream ends (the HTTP
	// handler returning).
	serverClosed func(c *core)
	serverDone   bool
	// frameworkKnown is set on a SUBSCRIBE's stream when the framework it
	// names existed as the call reached the master.
	frameworkKnown bool
}

func (w *simWorld) newConn(client string, deliver func(proto.Message), closed func()) *simConn {
	w.seq++
	c := &simConn{w: w, client: client, epoch: w.epoch, streamID: fmt.Sprintf("stream-%d", w.seq), deliver: deliver, closed: closed}
	w.conns = append(w.conns, c)
	return c
}

// slot is when the next message on the stream arrives.
func (c *simConn) slot() time.Duration {
	at := c.w.now().Add(c.w.delay())
	if at.Before(c.last) {
		at = c.last
	}
	c.last = at
	return at.Sub(c.w.now())
}

func (c *simConn) push(m proto.Message) {
	if c.broken {
		return
	}
	c.w.after(c.slot(), func() {
		if !c.broken {
			c.deliver(m)
		}
	})
}

// close is the master ending the stream after what it sent.
func (c *simConn) close() {
	if c.broken {
		return
	}
	c.w.after(c.slot(), func() { c.breakConn("closed by the master") })
}

// breakConn ends the stream on both sides: the client hears of it now,
// the master after a delay (as its handler notices the connection gone).
func (c *simConn) breakConn(why string) {
	if c.broken {
		return
	}
	c.broken = true
	c.w.tracef("stream %s of %s ends: %s", c.streamID, c.client, why)
	c.closed()
	c.w.after(c.w.delay(), c.endOnServer)
}

func (c *simConn) endOnServer() {
	if c.serverDone {
		return
	}
	c.serverDone = true
	if c.epoch == c.w.epoch && c.serverClosed != nil {
		c.w.onMaster(c.serverClosed)
	}
}

type simFwSink struct{ *simConn }

func (s simFwSink) Send(ev *schedpb.Event) { s.push(ev) }
func (s simFwSink) Close()                 { s.close() }

type simAgentSink struct{ *simConn }

func (s simAgentSink) Send(ev *agentproto.AgentEvent) { s.push(ev) }
func (s simAgentSink) Close()                         { s.close() }

// ---- the master ----

func (w *simWorld) startMaster() {
	w.epoch++
	info, err := masterInfo(w.cfg, fmt.Sprintf("M%d", w.epoch))
	if err != nil {
		w.fail("master info: %v", err)
		return
	}
	st, err := w.reg.Recover()
	if err != nil {
		w.fail("recover the registry: %v", err)
		return
	}
	for id := range w.subscribed {
		if st.Frameworks[id] == nil && !w.mayBeRemoved(id) {
			w.fail("framework %s was acknowledged but the registry lost it", id)
		}
	}
	for id, host := range w.admitted {
		if st.Agents[id] == nil && st.Unreachable[id] == nil && st.Gone[id] == nil && !w.wentDown[host] {
			w.fail("agent %s was admitted but the registry lost it", id)
		}
	}
	log := slog.New(slog.DiscardHandler)
	if w.trace != nil {
		log = slog.New(slog.NewTextHandler(w.trace, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	w.core = newCore(w.cfg, log, w.clock, info, w.reg)
	w.core.recoverState(st)
	if w.quotaLimit > 0 {
		// The operator's quota is in place when the master starts
		// serving: written before the simulated writer takes over.
		_ = w.core.updateQuota(true, []*quotapb.QuotaConfig{{
			Role:   proto.String("limited"),
			Limits: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(w.quotaLimit)}},
		}})
	}
	w.core.writes.inline = false
	w.core.flush()
	w.pumpWrites()
	w.tracef("master %d started", w.epoch)
}

func (w *simWorld) crashMaster() {
	w.tracef("master %d crashes", w.epoch)
	if w.writing != nil {
		// The batch in flight reached the disk, or it did not.
		if w.rng.IntN(2) == 0 {
			_, err := w.reg.Commit(w.writing.groups())
			w.tracef("the batch in flight (%d writes) was committed (err=%v)", len(w.writing), err)
		} else {
			w.tracef("the batch in flight (%d writes) is lost", len(w.writing))
		}
		w.writing = nil
	}
	w.core = nil
	for _, c := range w.conns {
		c.serverDone = true
		c.breakConn("master crashed")
	}
	w.conns = nil
}

// ---- invariants ----

// check runs after every step.
func (w *simWorld) check() {
	c := w.core
	if c == nil {
		return
	}
	where := map[string]string{}
	var limited resources.Resources
	for _, id := range sortedKeys(c.agents) {
		a := c.agents[id]
		used, offered := agentUsage(a, false)
		if !a.total.Contains(used.Add(offered)) {
			var ts []string
			for fwID, byID := range a.tasks {
				for taskID, t := range byID {
					ts = append(ts, fmt.Sprintf("%s/%s:%v(released=%v)", fwID, taskID, t.pb.GetState(), t.released))
				}
			}
			var os []string
			for _, o := range a.offers {
				os = append(os, fmt.Sprintf("%s to %s: %v", o.pb.GetId().GetValue(), o.frameworkID, o.res))
			}
			slices.Sort(ts)
			slices.Sort(os)
			w.fail("agent %s: used %v + offered %v exceed its total %v; tasks %v; offers %v", id, used, offered, a.total, ts, os)
		}
		for fwID, ts := range a.tasks {
			for taskID, t := range ts {
				key := fwID + "/" + taskID
				if other, ok := where[key]; ok {
					w.fail("task %s is on agents %s and %s", key, other, id)
				}
				where[key] = id
				if t.role == "limited" && !t.released {
					limited = limited.Add(t.res)
				}
			}
		}
		for _, es := range a.executors {
			for _, e := range es {
				if e.role == "limited" {
					limited = limited.Add(e.res)
				}
			}
		}
	}
	newOffer := false
	offered := map[string]bool{}
	for id, o := range c.offers {
		if o.role == "limited" {
			offered[id] = true
			newOffer = newOffer || (!w.limitedOffers[id] && o.res.ScalarOf("cpus").Float() > 0)
		}
		if c.agents[o.agentID] == nil {
			w.fail("offer %s is on agent %s the master does not have", o.pb.GetId().GetValue(), o.agentID)
		}
		if c.frameworks[o.frameworkID] == nil {
			w.fail("offer %s is to framework %s the master does not have", o.pb.GetId().GetValue(), o.frameworkID)
		}
		if o.role == "limited" {
			limited = limited.Add(o.res)
		}
	}
	// A role's limit bounds what the allocator gives it; tasks that come
	// back with an agent may take it over, but then nothing more is
	// offered.
	if got := limited.ScalarOf("cpus").Float(); newOffer && w.quotaLimit > 0 && got > w.quotaLimit+1e-9 {
		w.fail("role limited was offered more cpus: it holds %v cpus, over its quota limit %v", got, w.quotaLimit)
	}
	w.limitedOffers = offered
	for id := range w.subscribed {
		if c.frameworks[id] == nil && !w.mayBeRemoved(id) {
			w.fail("framework %s is gone from the master though its failover timeout never elapsed", id)
		}
	}
	for _, id := range sortedKeys(c.agents) {
		if m := c.machineOf(c.agents[id]); m != nil && m.mode == mesos.MachineInfo_DOWN {
			w.fail("agent %s is admitted on machine %s, which is DOWN", id, m.key)
		}
	}
}

// abandoned reports whether framework id was removed and its scheduler
// started over under another id.
func (w *simWorld) abandoned(id string) bool {
	for _, f := range w.fws {
		if f.ids[id] && f.id != id {
			return true
		}
	}
	return false
}

// mayBeRemoved reports whether framework id has no failover timeout: the
// master removes it when its stream ends.
func (w *simWorld) mayBeRemoved(id string) bool {
	for _, f := range w.fws {
		if f.noFailover && f.ids[id] {
			return true
		}
	}
	return false
}

// ---- a run ----

func simulate(seed uint64, trace bool) (*simWorld, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &simWorld{
		seed: seed, rng: rng, clock: &fakeClock{t: start}, start: start,
		reg: registry.NewMemory(), cut: map[string]bool{}, callOrder: map[string]time.Time{}, faults: true,
		subscribed: map[string]bool{}, admitted: map[string]string{},
		extra: rand.New(rand.NewPCG(seed^0x6a09e667f3bcc908, seed+0xbb67ae8584caa73b)), wentDown: map[string]bool{},
	}
	if trace {
		w.trace = os.Stdout
	}
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "master.sim", "127.0.0.1", "in_memory"
	if rng.IntN(2) == 0 {
		cfg.OfferTimeout = time.Duration(5+rng.IntN(60)) * time.Second
	}
	cfg.AgentReregisterTimeout = time.Duration(30+rng.IntN(600)) * time.Second
	if err := cfg.Validate(); err != nil {
		return w, err
	}
	w.cfg = cfg
	if rng.IntN(2) == 0 {
		w.quotaLimit = float64(1 + rng.IntN(3))
	}
	w.tracef("seed %d: offer_timeout=%v agent_reregister_timeout=%v quota limit=%v", seed, cfg.OfferTimeout, cfg.AgentReregisterTimeout, w.quotaLimit)
	w.startMaster()

	nAgents := 2 + rng.IntN(3)
	for i := 0; i < nAgents; i++ {
		a := newSimAgent(w, fmt.Sprintf("agent%d", i), fmt.Sprintf("cpus:%d;mem:%d", 2+rng.IntN(4), 1024*(1+rng.IntN(4))))
		w.agents = append(w.agents, a)
		w.after(time.Duration(rng.IntN(3000))*time.Millisecond, a.start)
	}
	nFws := 1 + rng.IntN(3)
	for i := 0; i < nFws; i++ {
		role := "*"
		if i == 1 && w.quotaLimit > 0 {
			role = "limited"
		}
		f := newSimFramework(w, fmt.Sprintf("fw%d", i), role, rng.IntN(2) == 0, 10+rng.IntN(40))
		f.noFailover = w.extra.IntN(4) == 0 && !simBaseSeeds[seed]
		w.fws = append(w.fws, f)
		w.after(time.Duration(rng.IntN(3000))*time.Millisecond, f.start)
	}
	w.scheduleFault()
	if w.extra.IntN(3) == 0 && !simBaseSeeds[seed] {
		w.operator = true
		w.scheduleMaintenance()
	}
	var noFailover []string
	for _, f := range w.fws {
		if f.noFailover {
			noFailover = append(noFailover, f.name)
		}
	}
	if w.operator || len(noFailover) > 0 {
		w.tracef("operator maintenance=%v; frameworks without failover timeout: %v", w.operator, noFailover)
	}

	faultEnd := start.Add(time.Duration(5+rng.IntN(10)) * time.Minute)
	w.run(faultEnd)
	if w.err == nil {
		w.settleEnd = w.elapsed() + 5*time.Minute
		w.settle()
		w.run(w.now().Add(20 * time.Minute))
	}
	if w.err == nil {
		w.checkSettled()
	}
	if w.err != nil {
		return w, w.err
	}
	return w, nil
}

// run steps the world until end: the earliest of the core's next timer
// and the next queued event goes first.
func (w *simWorld) run(end time.Time) {
	for w.err == nil {
		next := end
		if at, ok := w.queue.Next(); ok && at.Before(next) {
			next = at
		}
		if w.core != nil {
			if d := w.core.nextDeadline(); !d.After(next) {
				if !d.After(w.now()) {
					w.ticksNow++
					if w.ticksNow > 1000 {
						w.fail("the core's next deadline %v does not move past now", d)
						return
					}
				} else {
					w.clock.t = d
					w.ticksNow = 0
				}
				w.core.tick()
				w.core.flush()
				w.pumpWrites()
				w.check()
				continue
			}
		}
		if at, ok := w.queue.Next(); !ok || at.After(end) {
			w.clock.t = end
			return
		}
		ev := w.queue.Pop()
		if ev.at.After(w.now()) {
			w.clock.t = ev.at
			w.ticksNow = 0
		}
		ev.fn()
		w.check()
	}
}

// scheduleFault injects the next fault while faults are on.
func (w *simWorld) scheduleFault() {
	w.after(time.Duration(5+w.rng.IntN(40))*time.Second, func() {
		if !w.faults {
			return
		}
		w.fault()
		w.scheduleFault()
	})
}

func (w *simWorld) fault() {
	switch n := w.rng.IntN(100); {
	case n < 10:
		if w.core != nil {
			w.crashMaster()
			w.after(time.Duration(1+w.rng.IntN(60))*time.Second, func() {
				if w.core == nil {
					w.startMaster()
				}
			})
		}
	case n < 35:
		a := w.agents[w.rng.IntN(len(w.agents))]
		if a.up && !a.lost {
			if w.rng.IntN(8) == 0 {
				a.lose()
			} else {
				a.crash()
				w.after(time.Duration(1+w.rng.IntN(120))*time.Second, a.start)
			}
		}
	case n < 50:
		f := w.fws[w.rng.IntN(len(w.fws))]
		if f.up {
			f.crash()
			w.after(time.Duration(1+w.rng.IntN(60))*time.Second, f.start)
		}
	case n < 75:
		// A partition between the master and one client: its streams
		// break and its requests fail until it heals.
		var names []string
		for _, a := range w.agents {
			names = append(names, a.name)
		}
		for _, f := range w.fws {
			names = append(names, f.name)
		}
		name := names[w.rng.IntN(len(names))]
		if w.cut[name] {
			return
		}
		w.cut[name] = true
		w.tracef("partition: %s cut from the master", name)
		for _, c := range slices.Clone(w.conns) {
			if c.client == name && !c.broken && w.rng.IntN(2) == 0 {
				c.breakConn("partition")
			}
		}
		w.after(time.Duration(1+w.rng.IntN(150))*time.Second, func() {
			delete(w.cut, name)
			w.tracef("partition of %s heals", name)
		})
	default:
		// A stream breaks (a proxy or NAT drops the connection).
		var live []*simConn
		for _, c := range w.conns {
			if !c.broken {
				live = append(live, c)
			}
		}
		if len(live) > 0 {
			live[w.rng.IntN(len(live))].breakConn("connection dropped")
		}
	}
}

// scheduleMaintenance has the operator act on one machine every 10 to 60
// seconds while faults are on.
func (w *simWorld) scheduleMaintenance() {
	w.after(time.Duration(10+w.extra.IntN(50))*time.Second, func() {
		if !w.faults {
			return
		}
		w.maintain(w.agents[w.extra.IntN(len(w.agents))].name)
		w.scheduleMaintenance()
	})
}

// maintain moves the machine host one step through maintenance: into
// the schedule (DRAINING), DOWN, then UP (out of the schedule).
func (w *simWorld) maintain(host string) {
	w.request("operator", "maintenance of "+host, func(c *core) bool {
		id := &mesos.MachineID{Hostname: proto.String(host)}
		m := c.machineFor(host, "")
		switch {
		case m == nil:
			s := &maintenance.Schedule{}
			if c.maint.schedule != nil {
				s = proto.Clone(c.maint.schedule).(*maintenance.Schedule)
			}
			start := w.now().Add(time.Hour)
			s.Windows = append(s.Windows, &maintenance.Window{MachineIds: []*mesos.MachineID{id}, Unavailability: &mesos.Unavailability{
				Start:    &mesos.TimeInfo{Nanoseconds: proto.Int64(start.UnixNano())},
				Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))},
			}})
			w.tracef("operator: schedule %s", host)
			return answered(c.updateMaintenanceSchedule(s))
		case m.mode == mesos.MachineInfo_DRAINING:
			w.tracef("operator: %s DOWN", host)
			w.wentDown[host] = true
			return answered(c.startMaintenance([]*mesos.MachineID{id}))
		default:
			w.tracef("operator: %s UP", host)
			return answered(c.stopMaintenance([]*mesos.MachineID{id}))
		}
	}, nil)
}

// bringMachinesUp has the operator bring every DOWN machine back UP, and
// look again every few seconds while the cluster settles (a DOWN still
// being recorded lands after its first look).
func (w *simWorld) bringMachinesUp() {
	w.request("operator", "STOP_MAINTENANCE of every DOWN machine", func(c *core) bool {
		var ids []*mesos.MachineID
		for _, k := range sortedMachines(c) {
			if c.maint.machines[k].mode == mesos.MachineInfo_DOWN {
				ids = append(ids, k.id())
			}
		}
		return len(ids) == 0 || answered(c.stopMaintenance(ids))
	}, nil)
	w.after(5*time.Second, func() {
		if !w.faults && w.elapsed() < w.settleEnd {
			w.bringMachinesUp()
		}
	})
}

// answered reports whether an operator call was accepted: answered at
// once without error, or waiting for the registry.
func answered(err error) bool {
	var p *pendingReply
	return err == nil || errors.As(err, &p)
}

// sortedMachines lists the scheduled machines in order.
func sortedMachines(c *core) []machineKey {
	var ks []machineKey
	for k := range c.maint.machines {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b machineKey) int {
		if a.host != b.host {
			return strings.Compare(a.host, b.host)
		}
		return strings.Compare(a.ip, b.ip)
	})
	return ks
}

// settle stops the faults: partitions heal and everything that is down
// (but agents lost for good) comes back.
func (w *simWorld) settle() {
	w.faults = false
	w.tracef("faults stop; the cluster settles")
	w.cut = map[string]bool{}
	if w.core == nil {
		w.startMaster()
	}
	if w.operator {
		w.bringMachinesUp()
	}
	for _, a := range w.agents {
		if !a.up && !a.lost {
			a.start()
		}
	}
	for _, f := range w.fws {
		f.stopLaunching = true
		if !f.up {
			f.start()
		}
	}
}

// checkSettled checks convergence once the faults have stopped: every
// update was acknowledged, the master, the agents and the frameworks agree
// on every task, and no framework believes in a task that exists nowhere.
func (w *simWorld) checkSettled() {
	c := w.core
	if c == nil {
		w.fail("master down after settling")
		return
	}
	onAgents := map[string]mesos.TaskState{}
	for _, a := range w.agents {
		if a.lost {
			continue
		}
		if !a.ready {
			w.fail("%s is not registered after settling", a.name)
			continue
		}
		for _, key := range sortedKeys(a.tasks) {
			t := a.tasks[key]
			if w.abandoned(t.fw) {
				// A framework removed before a master restart may be
				// learned again from an agent that missed its shutdown,
				// as in Mesos; nobody subscribes as it again.
				continue
			}
			if len(t.pending) > 0 {
				w.fail("%s: task %s still has %d unacknowledged updates (head %v)", a.name, key, len(t.pending), t.pending[0].GetState())
			}
			onAgents[key] = t.state
			mt := c.agents[a.id].task(t.fw, t.info.GetTaskId().GetValue())
			if mt == nil && !mesos.IsTerminalState(t.state) {
				w.fail("%s runs task %s that the master does not know", a.name, key)
			} else if mt != nil && mt.pb.GetState() != t.state {
				w.fail("task %s: the master says %v, %s says %v", key, mt.pb.GetState(), a.name, t.state)
			}
		}
	}
	for _, f := range w.fws {
		if !f.ready {
			w.fail("%s is not subscribed after settling", f.name)
			continue
		}
		for _, id := range sortedKeys(f.tasks) {
			ft := f.tasks[id]
			key := f.id + "/" + id
			if st, ok := onAgents[key]; ok {
				if ft.state != st {
					w.fail("%s believes task %s is %v, its agent says %v", f.name, id, ft.state, st)
				}
				continue
			}
			if !mesos.IsTerminalState(ft.state) && ft.state != mesos.TaskState_TASK_UNKNOWN && !(f.partitionAware && ft.state == mesos.TaskState_TASK_UNREACHABLE) {
				w.fail("%s believes task %s is %v but no agent has it", f.name, id, ft.state)
			}
		}
	}
}

// ---- clients ----

// simClient is what a simulated agent and scheduler share: a process that
// lives in incarnations (a crash ends one) and keeps one event stream
// from the master.
type simClient struct {
	w           *simWorld
	name        string
	up          bool
	incarnation int
	conn        *simConn
	// ready is set once the stream's first event came (REGISTERED,
	// SUBSCRIBED) and until the stream ends.
	ready bool
	heard time.Time
}

// begin starts a new incarnation; false if one is running.
func (p *simClient) begin() bool {
	if p.up {
		return false
	}
	p.up = true
	p.incarnation++
	return true
}

// stop ends the incarnation and its stream.
func (p *simClient) stop(why string) {
	p.w.tracef("%s: %s", p.name, why)
	p.up, p.ready = false, false
	if p.conn != nil {
		p.conn.breakConn(why)
		p.conn = nil
	}
}

// every runs fn every d while this incarnation lives.
func (p *simClient) every(d time.Duration, fn func()) {
	inc := p.incarnation
	p.w.after(d, func() {
		if p.up && p.incarnation == inc {
			fn()
			p.every(d, fn)
		}
	})
}

// open replaces the client's stream with a new one whose events go to
// deliver, asking the master for it with a call named what: open runs
// on the master and returns what ends the stream there, or nil when the
// master refuses it. A refused or lost call ends the new stream.
func (p *simClient) open(what string, deliver func(proto.Message), open func(c *core, conn *simConn) func(*core)) {
	p.ready = false
	if p.conn != nil {
		p.conn.breakConn(p.name + " reconnects")
	}
	conn := p.w.newConn(p.name, deliver, func() {
		if p.conn != nil && p.conn.broken {
			p.conn, p.ready = nil, false
		}
	})
	p.conn = conn
	p.heard = p.w.now()
	inc := p.incarnation
	p.w.request(p.name, what, func(c *core) bool {
		if conn.broken {
			return false
		}
		conn.serverClosed = open(c, conn)
		return conn.serverClosed != nil
	}, func(ok bool) {
		if !ok && p.up && p.incarnation == inc && p.conn == conn {
			conn.breakConn(what + " failed")
			p.conn = nil
		}
	})
}

// ---- agents ----

type simTask struct {
	fw      string
	info    *mesos.TaskInfo
	state   mesos.TaskState
	pending []*mesos.TaskStatus // unacknowledged updates, oldest first
	// ends is when the task finishes on its own (zero: never).
	ends time.Time
}

type simAgent struct {
	simClient
	res []*mesos.Resource

	// Checkpointed: survives a crash.
	id         string
	frameworks map[string]*mesos.FrameworkInfo
	tasks      map[string]*simTask // by framework/task id

	lost    bool
	silence time.Duration
}

func newSimAgent(w *simWorld, name, res string) *simAgent {
	r, err := resources.Parse(res, "*")
	if err != nil {
		panic(err)
	}
	return &simAgent{simClient: simClient{w: w, name: name}, res: resources.ToProto(r, resources.FormatPreRefinement),
		frameworks: map[string]*mesos.FrameworkInfo{}, tasks: map[string]*simTask{}}
}

func (a *simAgent) start() {
	if a.lost || !a.begin() {
		return
	}
	a.w.tracef("%s starts (id %q, %d tasks)", a.name, a.id, len(a.tasks))
	a.connect()
	a.every(10*time.Second, a.resend)
	a.every(time.Second, a.checkMaster)
	a.every(time.Second, a.runTasks)
}

func (a *simAgent) crash() { a.stop("agent crashed") }

// lose takes the agent away for good, with its tasks.
func (a *simAgent) lose() {
	a.w.tracef("%s is lost for good", a.name)
	a.crash()
	a.lost = true
}

// connect sends REGISTER; its stream brings REGISTERED.
func (a *simAgent) connect() {
	reg := a.registerCall()
	a.silence = 2 * time.Minute
	a.open("REGISTER", a.event, func(c *core, conn *simConn) func(*core) {
		id, err := c.registerAgent(simAgentSink{conn}, conn.streamID, reg)
		var pending *pendingReply
		if errors.As(err, &pending) {
			// The answer waits for the registry: a refusal ends the
			// stream before it started.
			onAnswer(pending, func(err error) {
				if err != nil {
					conn.breakConn("registration refused: " + err.Error())
				}
			})
		} else if err != nil {
			return nil
		}
		return func(c *core) { c.agentStreamClosed(id, conn.streamID) }
	})
}

// checkMaster reconnects when the stream is gone or the master has been
// silent too long.
func (a *simAgent) checkMaster() {
	if a.conn == nil {
		a.connect()
		return
	}
	if a.w.now().Sub(a.heard) > a.silence {
		a.w.tracef("%s: master silent for %v", a.name, a.w.now().Sub(a.heard))
		a.connect()
	}
}

func (a *simAgent) registerCall() *agentproto.AgentCall_Register {
	info := &mesos.AgentInfo{Hostname: proto.String(a.name), Resources: a.res}
	if a.id != "" {
		info.Id = &mesos.AgentID{Value: proto.String(a.id)}
	}
	reg := &agentproto.AgentCall_Register{AgentInfo: info, Version: proto.String("1.11.1"), Endpoint: proto.String(a.name + ":5051")}
	for _, id := range sortedKeys(a.frameworks) {
		reg.Frameworks = append(reg.Frameworks, a.frameworks[id])
	}
	for _, key := range sortedKeys(a.tasks) {
		t := a.tasks[key]
		mt := &mesos.Task{
			Name: t.info.Name, TaskId: t.info.TaskId, FrameworkId: &mesos.FrameworkID{Value: proto.String(t.fw)},
			AgentId: info.Id, State: t.state.Enum(), Resources: t.info.Resources,
		}
		if len(t.pending) > 0 {
			// As Mezzo's agent: the head of the update stream.
			mt.StatusUpdateState = t.pending[0].State
			mt.StatusUpdateUuid = t.pending[0].GetUuid()
		}
		reg.Tasks = append(reg.Tasks, mt)
	}
	return reg
}

func (a *simAgent) event(m proto.Message) {
	ev := m.(*agentproto.AgentEvent)
	a.heard = a.w.now()
	a.w.tracef("master -> %s: %v", a.name, ev.GetType())
	switch ev.GetType() {
	case agentproto.AgentEvent_REGISTERED:
		id := ev.GetRegistered().GetAgentId().GetValue()
		if a.id != "" && a.id != id {
			a.w.fail("%s registered as %s, was %s", a.name, id, a.id)
		}
		a.id = id
		a.w.tracef("%s registered as %s", a.name, id)
		a.w.admitted[id] = a.name
		a.ready = true
		if s := ev.GetRegistered().GetPingIntervalSeconds(); s > 0 {
			a.silence = time.Duration(s*float64(ev.GetRegistered().GetMaxMissedPings())) * time.Second
		}
		a.resend()
	case agentproto.AgentEvent_ERROR:
		msg := ev.GetError().GetMessage()
		a.w.tracef("%s: error %q", a.name, msg)
		if msg == "Machine is DOWN for maintenance" {
			// As a Mesos agent told to shut down: it ends its tasks and
			// comes back, once its machine is up, as a new agent.
			a.w.tracef("%s shuts down and starts afresh", a.name)
			a.id = ""
			a.tasks = map[string]*simTask{}
			a.frameworks = map[string]*mesos.FrameworkInfo{}
		}
	case agentproto.AgentEvent_PING:
		seq := ev.GetPing().GetSequence()
		a.call("PONG", &agentproto.AgentCall{Type: agentproto.AgentCall_PONG.Enum(), Pong: &agentproto.AgentCall_Pong{Sequence: proto.Uint64(seq)}})
	case agentproto.AgentEvent_RUN_TASK:
		a.w.tracef("%s: run %s", a.name, ev.GetRunTask().GetTask().GetTaskId().GetValue())
		a.runTask(ev.GetRunTask())
	case agentproto.AgentEvent_KILL_TASK:
		k := ev.GetKillTask()
		a.kill(k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue())
	case agentproto.AgentEvent_ACKNOWLEDGE:
		ack := ev.GetAcknowledge()
		key := ack.GetFrameworkId().GetValue() + "/" + ack.GetTaskId().GetValue()
		t := a.tasks[key]
		if t == nil || len(t.pending) == 0 || string(t.pending[0].GetUuid()) != string(ack.GetUuid()) {
			return
		}
		t.pending = t.pending[1:]
		if len(t.pending) > 0 {
			a.sendUpdate(t)
		} else if mesos.IsTerminalState(t.state) {
			delete(a.tasks, key)
		}
	case agentproto.AgentEvent_SHUTDOWN_FRAMEWORK:
		fw := ev.GetShutdownFramework().GetFrameworkId().GetValue()
		for _, key := range sortedKeys(a.tasks) {
			if a.tasks[key].fw == fw {
				delete(a.tasks, key)
			}
		}
		delete(a.frameworks, fw)
	case agentproto.AgentEvent_SHUTDOWN_EXECUTOR:
		se := ev.GetShutdownExecutor()
		a.kill(se.GetFrameworkId().GetValue(), se.GetExecutorId().GetValue())
	case agentproto.AgentEvent_RECONCILE:
		r := ev.GetReconcile()
		knownFw, knownTask := map[string]bool{}, map[string]bool{}
		for _, id := range r.GetKnownFrameworks() {
			knownFw[id.GetValue()] = true
		}
		for _, id := range r.GetKnownTasks() {
			knownTask[id.GetValue()] = true
		}
		for _, key := range sortedKeys(a.tasks) {
			t := a.tasks[key]
			if !knownFw[t.fw] {
				delete(a.tasks, key)
				delete(a.frameworks, t.fw)
			} else if !knownTask[t.info.GetTaskId().GetValue()] && !mesos.IsTerminalState(t.state) {
				a.update(t, mesos.TaskState_TASK_KILLED)
			}
		}
	}
}

func (a *simAgent) runTask(rt *agentproto.AgentEvent_RunTask) {
	info := rt.GetTask()
	if info == nil {
		return
	}
	fw := rt.GetFramework().GetId().GetValue()
	key := fw + "/" + info.GetTaskId().GetValue()
	if a.tasks[key] != nil {
		return
	}
	a.frameworks[fw] = rt.GetFramework()
	t := &simTask{fw: fw, info: info, state: mesos.TaskState_TASK_STAGING}
	if a.w.rng.IntN(3) > 0 {
		t.ends = a.w.now().Add(time.Duration(5+a.w.rng.IntN(120)) * time.Second)
	}
	a.tasks[key] = t
	a.update(t, mesos.TaskState_TASK_RUNNING)
}

// runTasks ends the tasks whose time has come.
func (a *simAgent) runTasks() {
	for _, key := range sortedKeys(a.tasks) {
		t := a.tasks[key]
		if !t.ends.IsZero() && !a.w.now().Before(t.ends) && !mesos.IsTerminalState(t.state) {
			state := mesos.TaskState_TASK_FINISHED
			if a.w.rng.IntN(4) == 0 {
				state = mesos.TaskState_TASK_FAILED
			}
			a.update(t, state)
		}
	}
}

func (a *simAgent) kill(fw, taskID string) {
	t := a.tasks[fw+"/"+taskID]
	if t == nil {
		// As Mezzo's agent: a task it does not have is reported gone.
		info := a.frameworks[fw]
		state := mesos.TaskState_TASK_LOST
		if info != nil && hasCapability(info, mesos.FrameworkInfo_Capability_PARTITION_AWARE) {
			state = mesos.TaskState_TASK_DROPPED
		}
		t = &simTask{fw: fw, info: &mesos.TaskInfo{Name: proto.String(taskID), TaskId: &mesos.TaskID{Value: proto.String(taskID)}}, state: state}
		a.tasks[fw+"/"+taskID] = t
		a.update(t, state)
		return
	}
	if !mesos.IsTerminalState(t.state) {
		a.update(t, mesos.TaskState_TASK_KILLED)
	}
}

// update checkpoints a new state of t and its update, then sends the
// update if it heads the task's stream.
func (a *simAgent) update(t *simTask, state mesos.TaskState) {
	t.state = state
	t.pending = append(t.pending, &mesos.TaskStatus{
		TaskId:    t.info.TaskId,
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid:      a.w.uuid(),
		Timestamp: proto.Float64(seconds(a.w.now())),
	})
	if len(t.pending) == 1 {
		a.sendUpdate(t)
	}
}

// resend sends the head of every stream again.
func (a *simAgent) resend() {
	for _, key := range sortedKeys(a.tasks) {
		if len(a.tasks[key].pending) > 0 {
			a.sendUpdate(a.tasks[key])
		}
	}
}

func (a *simAgent) sendUpdate(t *simTask) {
	a.call("STATUS_UPDATE "+t.info.GetTaskId().GetValue()+" "+t.pending[0].GetState().String(), &agentproto.AgentCall{
		Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(t.fw)},
			Status:      t.pending[0],
			LatestState: t.state.Enum(),
		},
	})
}

// call posts an agent call on the agent's current stream.
func (a *simAgent) call(what string, call *agentproto.AgentCall) {
	if !a.ready || a.conn == nil {
		return
	}
	call.AgentId = &mesos.AgentID{Value: proto.String(a.id)}
	streamID := a.conn.streamID
	a.w.request(a.name, what, func(c *core) bool {
		if err := c.agentCall(call, streamID); err != nil {
			a.w.tracef("%s: %s refused: %v", a.name, what, err)
			return false
		}
		return true
	}, nil)
}

// ---- frameworks ----

type simFwTask struct {
	state mesos.TaskState
	// uuids holds the state each update uuid carried.
	uuids map[string]mesos.TaskState
}

type simFramework struct {
	simClient
	role           string
	partitionAware bool
	want           int
	stopLaunching  bool

	// Kept across failovers (a scheduler keeps these in its own store).
	id       string
	tasks    map[string]*simFwTask
	launched int

	// noFailover frameworks have failover_timeout 0 and subscribe again
	// now and then with a changed FrameworkInfo (generation counts the
	// changes); removed, they start over as a new framework. ids holds
	// every id they had.
	noFailover bool
	generation int
	ids        map[string]bool
}

func newSimFramework(w *simWorld, name, role string, partitionAware bool, want int) *simFramework {
	return &simFramework{simClient: simClient{w: w, name: name}, role: role, partitionAware: partitionAware, want: want,
		tasks: map[string]*simFwTask{}, ids: map[string]bool{}}
}

func (f *simFramework) info() *mesos.FrameworkInfo {
	info := &mesos.FrameworkInfo{
		User: proto.String("sim"), Name: proto.String(f.name), Role: proto.String(f.role),
		FailoverTimeout: proto.Float64((7 * 24 * time.Hour).Seconds()), Checkpoint: proto.Bool(true),
	}
	if f.partitionAware {
		info.Capabilities = partitionAware
	}
	if f.noFailover {
		info.FailoverTimeout = proto.Float64(0)
		info.Labels = &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("generation"), Value: proto.String(fmt.Sprint(f.generation))}}}
	}
	if f.id != "" {
		info.Id = frameworkID(f.id)
	}
	return info
}

func (f *simFramework) start() {
	if !f.begin() {
		return
	}
	f.w.tracef("%s starts (id %q)", f.name, f.id)
	f.connect()
	f.every(time.Second, f.checkMaster)
	f.every(30*time.Second, f.reconcile)
	f.every(time.Duration(10+f.w.rng.IntN(30))*time.Second, f.killOne)
	if f.noFailover {
		f.every(time.Duration(20+f.w.extra.IntN(60))*time.Second, f.updateInfo)
	}
}

// updateInfo subscribes again with a changed FrameworkInfo, on a new
// stream, while the current one is open (if it is).
func (f *simFramework) updateInfo() {
	if !f.ready || !f.w.faults {
		return
	}
	f.generation++
	f.w.tracef("%s subscribes again with generation %d", f.name, f.generation)
	f.connect()
}

func (f *simFramework) crash() { f.stop("scheduler crashed") }

func (f *simFramework) connect() {
	sub := &schedpb.Call_Subscribe{FrameworkInfo: f.info()}
	f.open("SUBSCRIBE", f.event, func(c *core, conn *simConn) func(*core) {
		if claimed := sub.GetFrameworkInfo().GetId().GetValue(); claimed != "" && c.frameworks[claimed] != nil {
			conn.frameworkKnown = true
		}
		id := c.subscribe(simFwSink{conn}, conn.streamID, sub)
		if id == "" {
			return nil
		}
		return func(c *core) { c.frameworkStreamClosed(id, conn.streamID) }
	})
}

// checkMaster re-subscribes when the stream is gone or heartbeats stopped.
func (f *simFramework) checkMaster() {
	if f.conn == nil || f.w.now().Sub(f.heard) > 5*HeartbeatInterval {
		f.connect()
	}
}

func (f *simFramework) event(m proto.Message) {
	ev := m.(*schedpb.Event)
	f.heard = f.w.now()
	f.w.tracef("master -> %s: %v", f.name, ev.GetType())
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		id := ev.GetSubscribed().GetFrameworkId().GetValue()
		if f.id != "" && f.id != id {
			f.w.fail("%s subscribed as %s, was %s", f.name, id, f.id)
		}
		f.id = id
		f.ids[id] = true
		f.w.subscribed[id] = true
		f.ready = true
		f.reconcile()
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			f.w.tracef("%s: offer %s of %s: %v", f.name, o.GetId().GetValue(), o.GetAgentId().GetValue(), resourcesString(o.GetResources()))
			f.offer(o)
		}
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		f.w.tracef("%s: update %s %v %q uuid=%x", f.name, st.GetTaskId().GetValue(), st.GetState(), st.GetMessage(), st.GetUuid())
		f.update(st)
	case schedpb.Event_ERROR:
		msg := ev.GetError().GetMessage()
		f.w.tracef("%s: error %q", f.name, msg)
		if msg != "Framework has been removed" {
			return
		}
		if f.conn != nil && f.conn.frameworkKnown {
			f.w.fail("%s: the master removed framework %s while this subscription of it, which reached the master while it existed, was pending", f.name, f.id)
			return
		}
		if f.noFailover {
			// Its stream ended and it was removed with its tasks: it
			// starts over as a new framework.
			f.w.tracef("%s starts over as a new framework", f.name)
			f.id = ""
			f.tasks = map[string]*simFwTask{}
		}
	}
}

// offer launches up to three tasks of 0.5 cpus and 64 MB, or declines.
func (f *simFramework) offer(o *mesos.Offer) {
	r, err := resources.FromProto(o.GetResources())
	if err != nil {
		f.w.fail("offer %s: %v", o.GetId().GetValue(), err)
		return
	}
	var infos []*mesos.TaskInfo
	cpus, mem := r.ScalarOf("cpus").Float(), r.ScalarOf("mem").Float()
	for !f.stopLaunching && f.launched < f.want && len(infos) < 3 && cpus >= 0.5 && mem >= 64 {
		id := fmt.Sprintf("%s-t%d", f.name, f.launched)
		f.launched++
		cpus, mem = cpus-0.5, mem-64
		res, _ := resources.Parse("cpus:0.5;mem:64", "*")
		pb := resources.ToProto(res.Allocate(o.GetAllocationInfo().GetRole()), resources.FormatPreRefinement)
		infos = append(infos, &mesos.TaskInfo{
			Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: o.GetAgentId(),
			Resources: pb, Command: &mesos.CommandInfo{Value: proto.String("true")},
		})
		f.tasks[id] = &simFwTask{state: mesos.TaskState_TASK_STAGING, uuids: map[string]mesos.TaskState{}}
	}
	call := &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
		OfferIds: []*mesos.OfferID{o.GetId()},
		Filters:  &mesos.Filters{RefuseSeconds: proto.Float64(float64(1 + f.w.rng.IntN(5)))},
	}}
	if len(infos) > 0 {
		call = acceptCall([]string{o.GetId().GetValue()}, launch(infos...))
	}
	f.call(call.GetType().String(), call)
}

// update checks what the framework is told of a task and acknowledges it.
func (f *simFramework) update(st *mesos.TaskStatus) {
	id := st.GetTaskId().GetValue()
	t := f.tasks[id]
	if t == nil {
		// Reconciliation may answer for tasks this framework never launched
		// only if it asked: it never does.
		f.w.fail("%s: update for task %s it never launched: %v", f.name, id, st.GetState())
		return
	}
	state := st.GetState()
	uuid := string(st.GetUuid())
	if uuid != "" {
		if prev, ok := t.uuids[uuid]; ok {
			if prev != state {
				f.w.fail("%s: task %s: update %s came as %v, then as %v", f.name, id, uuid, prev, state)
			}
			f.ack(id, st)
			return
		}
		t.uuids[uuid] = state
	}
	// TASK_LOST is final only for partition-aware frameworks: to the others
	// Mesos reports tasks of unreachable agents lost, and such a task may
	// still run (its agent comes back to a master that restarted before
	// the agent heard that it must shut the framework down).
	// TASK_GONE_BY_OPERATOR is the operator's word, not the agent's: a
	// task of an agent removed with its machine (DOWN) that did not hear
	// it may come back with the agent once the machine is UP.
	lostMayReturn := (t.state == mesos.TaskState_TASK_LOST && !f.partitionAware) || t.state == mesos.TaskState_TASK_GONE_BY_OPERATOR
	if mesos.IsTerminalState(t.state) && state != t.state && !lostMayReturn {
		// Reconciliation may say a finished task is unknown by now
		// (TASK_LOST to frameworks that are not partition-aware).
		if st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION || !(mesos.IsTerminalState(state) || state == mesos.TaskState_TASK_UNKNOWN) {
			f.w.fail("%s: task %s moved from terminal %v to %v (%v, %q)", f.name, id, t.state, state, st.GetReason(), st.GetMessage())
		}
	} else if !mesos.IsTerminalState(t.state) || lostMayReturn {
		if (state == mesos.TaskState_TASK_STAGING || state == mesos.TaskState_TASK_STARTING) && t.state == mesos.TaskState_TASK_RUNNING {
			f.w.fail("%s: task %s went back from RUNNING to %v", f.name, id, state)
		}
		if state == mesos.TaskState_TASK_UNREACHABLE && !f.partitionAware {
			f.w.fail("%s: task %s is UNREACHABLE for a framework that is not partition-aware", f.name, id)
		}
		t.state = state
	}
	if uuid != "" {
		f.ack(id, st)
	}
}

func (f *simFramework) ack(id string, st *mesos.TaskStatus) {
	f.call("ACKNOWLEDGE "+id, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid(),
	}})
}

// reconcile asks for the state of every task the framework believes live.
func (f *simFramework) reconcile() {
	var ts []*schedpb.Call_Reconcile_Task
	for _, id := range sortedKeys(f.tasks) {
		if st := f.tasks[id].state; !mesos.IsTerminalState(st) || (st == mesos.TaskState_TASK_LOST && !f.partitionAware) || st == mesos.TaskState_TASK_GONE_BY_OPERATOR {
			ts = append(ts, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(id)}})
		}
	}
	if len(ts) > 0 {
		f.call("RECONCILE", &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{Tasks: ts}})
	}
}

// killOne kills a random live task.
func (f *simFramework) killOne() {
	if f.stopLaunching {
		return
	}
	var live []string
	for _, id := range sortedKeys(f.tasks) {
		if f.tasks[id].state == mesos.TaskState_TASK_RUNNING {
			live = append(live, id)
		}
	}
	if len(live) == 0 {
		return
	}
	id := live[f.w.rng.IntN(len(live))]
	f.call("KILL "+id, &schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String(id)}}})
}

func (f *simFramework) call(what string, call *schedpb.Call) {
	if !f.ready || f.conn == nil {
		return
	}
	call.FrameworkId = frameworkID(f.id)
	if err := validateSchedulerCall(call); err != nil {
		f.w.fail("%s: invalid %s: %v", f.name, what, err)
		return
	}
	streamID := f.conn.streamID
	f.w.request(f.name, what, func(c *core) bool { return c.schedulerCall(call, streamID, true) == nil }, nil)
}

func resourcesString(pb []*mesos.Resource) string {
	r, err := resources.FromProto(pb)
	if err != nil {
		return err.Error()
	}
	return r.String()
}
