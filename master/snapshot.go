package master

import (
	"context"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	allocpb "github.com/mezzo-project/mezzo/api/v1/allocator"
	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/allocator"
	"github.com/mezzo-project/mezzo/resources"
)

// Reads never run on the core. The master's documents (/master/state and
// the other JSON views, /roles, /metrics/snapshot) and the operator API's
// queries (GET_STATE, GET_METRICS, GET_ROLES, ...) are answered from a
// snapshot: a copy of the core's books that the core goroutine builds and
// publishes, and that any number of request goroutines then read at once.
//
//	request goroutine                        core goroutine (Master.loop)
//	  v := events begun so far                 version++, run the event,
//	  latest snapshot at v or later?           allocate (flush), then:
//	    yes: answer from it                    a reader waits and the
//	    no:  note the wish, wake the loop,     pacing allows? build ONE
//	         wait for the next publication <-- snapshot, publish it
//	  encode, filter, page (memoized per
//	  snapshot for the unfiltered documents)
//
// A reader waits for a snapshot at least as new as the events the core had
// begun when its request arrived, so a client that acted and then reads
// sees its action (an operator call answered before the read started is
// in it); it never puts work on the core's event channel, so readers do
// not delay scheduler and agent calls behind them. However many readers
// wait, the core builds one snapshot per loop iteration, and at most one
// per pacing interval (see publisher.pace), so the share of the core's
// time spent on reads is bounded whatever the read load. The rest of a
// read's cost is bounded too (Master.encodeRead): reads are admitted at
// a bounded rate (readLimiter), encode on a bounded number of goroutines,
// and share each snapshot's encodings of the unfiltered documents and of
// unchanged tasks.
//
// A snapshot's books are a *core that only the view functions read (the
// same functions that once ran on the core, so the documents are
// unchanged). Copying follows what the core mutates in place: maps and
// slices are copied, task messages (whose state and statuses the core
// updates in place) are cloned, and messages the core only ever replaces
// (framework, agent and executor infos, offers once made) are shared. The
// clones of task messages are kept between builds and reused while the
// fields the core changes (see taskPrint) are unchanged, so a build costs
// a map walk per task, not a clone.

// snapshotMinInterval is the least time between two snapshot builds. A
// reader waits at most about this long more than the event it must see,
// while few clients read.
const snapshotMinInterval = 20 * time.Millisecond

// readInterval is the average time between two reads the master admits
// once their burst (readBurst) is spent: 10 ms divided among the CPUs,
// so clients polling in a loop are answered about 100 times a second per
// CPU in all (200 on two). Each answer costs HTTP work and an encoding
// besides the snapshot's; bounding their rate keeps that work from
// crowding out the calls the core serves, however many clients poll.
var readInterval = 10 * time.Millisecond / time.Duration(runtime.GOMAXPROCS(0))

// readBurst is how many reads the master admits at once before spacing
// them readInterval apart.
const readBurst = 20

// readUnit is the size of answer one read admission pays for: a larger
// answer delays the reads after it by one readInterval per further
// readUnit, since writing and reading it costs in proportion.
const readUnit = 64 << 10

// readLimiter spaces reads readInterval apart on average, admitting
// bursts of readBurst at once (the generic cell rate algorithm): it
// holds the time at which the next read would be admitted with no burst
// left. Safe for concurrent use.
type readLimiter struct {
	interval time.Duration
	burst    int
	mu       sync.Mutex
	tat      time.Time
}

// reserve admits a read arriving at now and returns how long it must
// wait first (0: at once).
func (l *readLimiter) reserve(now time.Time) time.Duration {
	if l.interval <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tat.Before(now) {
		l.tat = now
	}
	l.tat = l.tat.Add(l.interval)
	return max(0, l.tat.Sub(now)-time.Duration(l.burst)*l.interval)
}

// charge makes a read that answered size bytes pay for them: the reads
// after it wait readInterval longer for every readUnit past the first.
func (l *readLimiter) charge(size int) {
	if l.interval <= 0 || size <= readUnit {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tat = l.tat.Add(time.Duration((size-1)/readUnit) * l.interval)
}

// wait admits a read, sleeping as reserve says; ctx's error when ctx
// ends first.
func (l *readLimiter) wait(ctx context.Context, now time.Time) error {
	d := l.reserve(now)
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapshot is the core's books as of one version, read-only.
type snapshot struct {
	// version is the number of events the core had begun when it built
	// the snapshot; every one of them had finished.
	version uint64
	// view holds the copied books. Only the view functions (state(),
	// getState(), metricsSnapshot(), ...) may be called on it, from any
	// number of goroutines.
	view *core
	// memos holds encodings shared by the snapshot's readers, by key.
	memos sync.Map
	// readerWork is the time spent computing memos, in ns, and reads the
	// number of reads answered from the snapshot; they pace the build
	// that follows (publisher.pace).
	readerWork atomic.Int64
	reads      atomic.Int64
}

// memoEntry is one memoized computation of a snapshot.
type memoEntry struct {
	once sync.Once
	v    any
	err  error
}

// memo returns compute's result for key, computing it once per snapshot
// however many readers ask at once. Keys must come from a small fixed set
// (one per unfiltered document and encoding), since a snapshot keeps
// every memo until it is replaced.
func (s *snapshot) memo(key string, compute func() (any, error)) (any, error) {
	e, ok := s.memos.Load(key)
	if !ok {
		e, _ = s.memos.LoadOrStore(key, &memoEntry{})
	}
	me := e.(*memoEntry)
	me.once.Do(func() {
		start := time.Now()
		me.v, me.err = compute()
		s.readerWork.Add(int64(time.Since(start)))
	})
	return me.v, me.err
}

// memoBytes is memo for an encoded document.
func (s *snapshot) memoBytes(key string, encode func() ([]byte, error)) ([]byte, error) {
	v, err := s.memo(key, func() (any, error) { return encode() })
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// publisher hands snapshots from the core goroutine to readers. cur, mu,
// wanted and published are shared; copier and next belong to the core
// goroutine.
type publisher struct {
	// cur is the latest snapshot (never nil once the master runs).
	cur atomic.Pointer[snapshot]

	mu sync.Mutex
	// wanted is set by a reader that found cur too old; the next
	// publication clears it.
	wanted bool
	// published is closed at the next publication.
	published chan struct{}

	// wake tells the loop that a reader wants a snapshot (capacity 1).
	wake chan struct{}
	// builds counts the snapshots built; waiting the readers waiting for
	// one.
	builds  atomic.Uint64
	waiting atomic.Int64

	// minInterval and readInterval are snapshotMinInterval and
	// readInterval (tests change them).
	minInterval  time.Duration
	readInterval time.Duration
	// next is the earliest time the next build may start.
	next time.Time
	// copier copies the core's books, keeping its task clones between
	// builds.
	copier snapshotCopier
}

func newPublisher() *publisher {
	return &publisher{
		published:    make(chan struct{}),
		wake:         make(chan struct{}, 1),
		minInterval:  snapshotMinInterval,
		readInterval: readInterval,
	}
}

// build copies c's books as a snapshot of version and publishes it. It
// runs on the goroutine that owns c.
func (p *publisher) build(c *core, version uint64) *snapshot {
	s := &snapshot{version: version, view: p.copier.freeze(c)}
	p.builds.Add(1)
	p.cur.Store(s)
	p.mu.Lock()
	p.wanted = false
	close(p.published)
	p.published = make(chan struct{})
	p.mu.Unlock()
	return s
}

// maybeBuild builds and publishes a snapshot if a reader waits for one
// newer than the latest, at version. It returns how long to wait before
// calling again when the pacing holds a wanted build back, else 0.
func (p *publisher) maybeBuild(c *core, version uint64, now func() time.Time) time.Duration {
	prev := p.cur.Load()
	if prev != nil && prev.version >= version {
		return 0
	}
	p.mu.Lock()
	wanted := p.wanted
	p.mu.Unlock()
	if !wanted {
		return 0
	}
	start := now()
	if start.Before(p.next) {
		return p.next.Sub(start)
	}
	p.build(c, version)
	p.next = start.Add(p.pace(now().Sub(start), prev))
	return 0
}

// pace is the time from the start of a build to the earliest next one:
// snapshotMinInterval, but at least four times what the build took (the
// core spends at most a fifth of its time building snapshots), four
// times what readers spent encoding the previous snapshot's shared
// documents (that work, done once per snapshot, takes at most about a
// fifth of a CPU), and readInterval for each read the previous snapshot
// answered. The last makes snapshots rarer as more clients poll, so
// their shared documents are encoded less often: with n clients waiting
// on each snapshot, one in n*readInterval.
func (p *publisher) pace(build time.Duration, prev *snapshot) time.Duration {
	d := max(p.minInterval, 4*build)
	if prev != nil {
		d = max(d, 4*time.Duration(prev.readerWork.Load()), time.Duration(prev.reads.Load())*p.readInterval)
	}
	return d
}

// await returns the latest snapshot once it has version at least v,
// asking the core for a newer one when it has not and waiting for its
// publication. It never queues work on the core. errClosed when done is
// closed first (the core has stopped), ctx's error when ctx ends first.
func (p *publisher) await(ctx context.Context, v uint64, done <-chan struct{}) (*snapshot, error) {
	for {
		if s := p.cur.Load(); s != nil && s.version >= v {
			return s, nil
		}
		p.mu.Lock()
		if s := p.cur.Load(); s != nil && s.version >= v {
			p.mu.Unlock()
			return s, nil
		}
		p.wanted = true
		published := p.published
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default: // the loop is already told
		}
		p.waiting.Add(1)
		select {
		case <-published:
			p.waiting.Add(-1)
		case <-done:
			p.waiting.Add(-1)
			return nil, errClosed
		case <-ctx.Done():
			p.waiting.Add(-1)
			return nil, ctx.Err()
		}
	}
}

// ---- reading the allocator and the operator streams ----

// allocatorFigures are the allocator's figures the views show. The core
// reads them from its allocator; a snapshot from the figures taken when
// it was built (frozenReads).
type allocatorFigures interface {
	Stats() allocator.Stats
	ScalarTotal(name string) (total, offeredOrAllocated float64)
	RoleStats(now time.Time) []allocator.RoleStat
	Consumed(role string) resources.Quantities
}

// frozenReads are what a snapshot's views need beyond the copied books:
// the allocator's figures and the number of operator subscribers, as of
// the build, and the JSON documents of its task messages.
type frozenReads struct {
	stats        allocator.Stats
	scalarTotals map[string][2]float64
	roleStats    []allocator.RoleStat
	consumed     map[string]resources.Quantities
	operatorSubs int
	// docs holds, for each task message clone of the snapshot, its
	// document, shared with every snapshot that holds the same clone.
	docs map[*mesos.Task]*taskDoc
}

// taskDoc is the document (legacy.Task) of one task message clone, made
// by the first reader that needs it. A clone never changes, so the
// document holds until the task does, across snapshots.
type taskDoc struct {
	once sync.Once
	// live and role say what the document was made for: a live task's
	// document sums its booked resources, a finished one's its message's.
	live bool
	role string
	doc  legacy.Task
}

// get returns ft's document, made once for the first frameworkTask that
// asks; another kind of ask (which does not happen while the clone is
// unchanged) gets a document of its own.
func (d *taskDoc) get(ft frameworkTask) legacy.Task {
	d.once.Do(func() { d.live, d.role, d.doc = ft.t != nil, ft.role(), ft.doc() })
	if d.live != (ft.t != nil) || d.role != ft.role() {
		return ft.doc()
	}
	return d.doc
}

// Stats is the allocator's Stats at the build.
func (f *frozenReads) Stats() allocator.Stats { return f.stats }

// ScalarTotal is the allocator's ScalarTotal at the build.
func (f *frozenReads) ScalarTotal(name string) (float64, float64) {
	t := f.scalarTotals[name]
	return t[0], t[1]
}

// RoleStats is the allocator's RoleStats at the build (now is ignored:
// filters are counted as of the build).
func (f *frozenReads) RoleStats(time.Time) []allocator.RoleStat { return f.roleStats }

// Consumed is the allocator's Consumed at the build.
func (f *frozenReads) Consumed(role string) resources.Quantities {
	if q, ok := f.consumed[role]; ok {
		return q
	}
	return resources.Quantities{}
}

// figures returns the allocator's figures: live on the core, frozen on a
// snapshot.
func (c *core) figures() allocatorFigures {
	if c.frozen != nil {
		return c.frozen
	}
	return c.alloc
}

// operatorSubscribers is the number of open operator event streams.
func (c *core) operatorSubscribers() int {
	if c.frozen != nil {
		return c.frozen.operatorSubs
	}
	return len(c.operatorSubs.subs)
}

// metricScalars are the resources with allocator/mesos/resources/<name>
// gauges.
var metricScalars = [...]string{"cpus", "mem", "disk"}

// freezeReads takes the allocator's figures and the subscriber count.
func freezeReads(c *core) *frozenReads {
	f := &frozenReads{
		stats:        c.alloc.Stats(),
		scalarTotals: make(map[string][2]float64, len(metricScalars)),
		roleStats:    c.alloc.RoleStats(c.clock.Now()),
		consumed:     map[string]resources.Quantities{},
		operatorSubs: len(c.operatorSubs.subs),
	}
	for _, n := range metricScalars {
		t, a := c.alloc.ScalarTotal(n)
		f.scalarTotals[n] = [2]float64{t, a}
	}
	for _, role := range c.alloc.RoleNames() {
		f.consumed[role] = c.alloc.Consumed(role)
	}
	return f
}

// ---- copying the books ----

// frozenEventSink and frozenAgentSink stand for open streams in a
// snapshot: the views only ask whether a stream is open. Sending on them
// does nothing.
type (
	frozenEventSink struct{}
	frozenAgentSink struct{}
)

func (frozenEventSink) Send(*schedpb.Event)         {}
func (frozenEventSink) Close()                      {}
func (frozenAgentSink) Send(*agentproto.AgentEvent) {}
func (frozenAgentSink) Close()                      {}

// taskPrint is what the core changes in a task message in place (its
// state, its statuses, the update it waits an acknowledgement for, and
// the user and executor set at launch), by identity: the core assigns new
// values rather than writing through the old ones, so equal prints mean
// an unchanged message. A core change that mutates another field of a
// live task in place must add it here (TestSnapshotMatchesCore compares
// snapshot documents with the core's).
type taskPrint struct {
	state       *mesos.TaskState
	statuses    int
	first, last *mesos.TaskStatus
	updateState *mesos.TaskState
	updateUUID  *byte
	uuidLen     int
	user        *string
	executor    *mesos.ExecutorID
	agent       *mesos.AgentID
}

func printOf(t *mesos.Task) taskPrint {
	p := taskPrint{
		state:       t.State,
		statuses:    len(t.Statuses),
		updateState: t.StatusUpdateState,
		updateUUID:  unsafe.SliceData(t.StatusUpdateUuid),
		uuidLen:     len(t.StatusUpdateUuid),
		user:        t.User,
		executor:    t.ExecutorId,
		agent:       t.AgentId,
	}
	if n := len(t.Statuses); n > 0 {
		p.first, p.last = t.Statuses[0], t.Statuses[n-1]
	}
	return p
}

// clonedTask is a task message's clone and its document, kept while its
// print holds.
type clonedTask struct {
	print taskPrint
	clone *mesos.Task
	doc   *taskDoc
	seen  uint64
}

// copiedTask is a live task's copy, kept while its message's clone and
// its release hold.
type copiedTask struct {
	copy *task
	seen uint64
}

// snapshotCopier copies the core's books for snapshots, reusing the
// clones of unchanged task messages. It belongs to the core goroutine.
type snapshotCopier struct {
	gen   uint64
	pbs   map[*mesos.Task]*clonedTask
	tasks map[*task]*copiedTask
	// docs collects the current build's frozenReads.docs.
	docs map[*mesos.Task]*taskDoc
	// used counts the cache entries the current build touched.
	used int
}

// taskPB returns the clone of task message pb for this build.
func (sc *snapshotCopier) taskPB(pb *mesos.Task) *mesos.Task {
	e := sc.pbs[pb]
	if e != nil && e.seen == sc.gen {
		return e.clone
	}
	p := printOf(pb)
	if e == nil {
		e = &clonedTask{}
		sc.pbs[pb] = e
	}
	if e.clone == nil || e.print != p {
		e.print, e.clone, e.doc = p, proto.Clone(pb).(*mesos.Task), &taskDoc{}
	}
	e.seen = sc.gen
	sc.used++
	sc.docs[e.clone] = e.doc
	return e.clone
}

// task returns the copy of live task t for this build; a framework's and
// an agent's maps get the same copy.
func (sc *snapshotCopier) task(t *task) *task {
	e := sc.tasks[t]
	if e != nil && e.seen == sc.gen {
		return e.copy
	}
	pb := sc.taskPB(t.pb)
	if e == nil {
		e = &copiedTask{}
		sc.tasks[t] = e
	}
	if e.copy == nil || e.copy.pb != pb || e.copy.released != t.released || e.copy.role != t.role {
		e.copy = &task{pb: pb, res: t.res, role: t.role, released: t.released}
	}
	e.seen = sc.gen
	sc.used++
	return e.copy
}

// sweep forgets the cached copies of tasks the last build did not see,
// once they are as many as those it saw.
func (sc *snapshotCopier) sweep() {
	if len(sc.pbs)+len(sc.tasks) <= 2*sc.used+64 {
		return
	}
	for k, e := range sc.pbs {
		if e.seen != sc.gen {
			delete(sc.pbs, k)
		}
	}
	for k, e := range sc.tasks {
		if e.seen != sc.gen {
			delete(sc.tasks, k)
		}
	}
}

// freeze returns a copy of c's books that shares nothing the core
// changes in place. It runs on the goroutine that owns c.
func (sc *snapshotCopier) freeze(c *core) *core {
	if sc.pbs == nil {
		sc.pbs, sc.tasks = map[*mesos.Task]*clonedTask{}, map[*task]*copiedTask{}
	}
	sc.gen++
	sc.used = 0
	sc.docs = make(map[*mesos.Task]*taskDoc, len(sc.pbs))
	v := &core{
		cfg:         c.cfg,
		authz:       c.authz,
		log:         c.log,
		clock:       c.clock,
		info:        proto.Clone(c.info).(*mesos.MasterInfo),
		start:       c.start,
		frameworks:  make(map[string]*framework, len(c.frameworks)),
		completed:   make([]*framework, len(c.completed)),
		agents:      make(map[string]*agent, len(c.agents)),
		unreachable: maps.Clone(c.unreachable),
		gone:        maps.Clone(c.gone),
		recovered:   make(map[string]*recoveredAgent, len(c.recovered)),
		offers:      maps.Clone(c.offers),
		weights:     maps.Clone(c.weights),
		quotas:      make(map[string]*quotapb.QuotaConfig, len(c.quotas)),
		maint:       freezeMaintenance(&c.maint),
		metrics:     c.metrics.clone(),
		queued:      c.queued,
		frozen:      freezeReads(c),
	}
	for id, f := range c.frameworks {
		v.frameworks[id] = sc.framework(f)
	}
	for i, f := range c.completed {
		v.completed[i] = sc.framework(f)
	}
	for id, a := range c.agents {
		v.agents[id] = sc.agent(a)
	}
	for id, r := range c.recovered {
		rc := *r
		v.recovered[id] = &rc
	}
	for role, q := range c.quotas {
		v.quotas[role] = proto.Clone(q).(*quotapb.QuotaConfig)
	}
	v.frozen.docs, sc.docs = sc.docs, nil
	sc.sweep()
	return v
}

// framework copies f.
func (sc *snapshotCopier) framework(f *framework) *framework {
	fc := *f
	if f.stream != nil {
		fc.stream = frozenEventSink{}
	}
	fc.roles = slices.Clone(f.roles)
	fc.suppressed = slices.Clone(f.suppressed)
	fc.tasks = make(map[string]*task, len(f.tasks))
	for id, t := range f.tasks {
		fc.tasks[id] = sc.task(t)
	}
	fc.completedTasks = make([]*mesos.Task, len(f.completedTasks))
	for i, t := range f.completedTasks {
		fc.completedTasks[i] = sc.taskPB(t)
	}
	fc.unreachableTasks = make(map[string]*mesos.Task, len(f.unreachableTasks))
	for id, t := range f.unreachableTasks {
		fc.unreachableTasks[id] = sc.taskPB(t)
	}
	fc.unreachableOrder = nil
	fc.executors = copyExecutors(f.executors)
	fc.offers = maps.Clone(f.offers)
	return &fc
}

// agent copies a.
func (sc *snapshotCopier) agent(a *agent) *agent {
	ac := *a
	if a.stream != nil {
		ac.stream = frozenAgentSink{}
	}
	ac.tasks = make(map[string]map[string]*task, len(a.tasks))
	for fw, byID := range a.tasks {
		m := make(map[string]*task, len(byID))
		for id, t := range byID {
			m[id] = sc.task(t)
		}
		ac.tasks[fw] = m
	}
	ac.executors = copyExecutors(a.executors)
	ac.offers = maps.Clone(a.offers)
	return &ac
}

// copyExecutors copies a two-level map of executors; the executors
// themselves are not changed once made and are shared.
func copyExecutors(m map[string]map[string]*executor) map[string]map[string]*executor {
	out := make(map[string]map[string]*executor, len(m))
	for k, byID := range m {
		out[k] = maps.Clone(byID)
	}
	return out
}

// freezeMaintenance copies what the maintenance views read: the
// schedule, the machines, the agents' holds, the outstanding inverse
// offers and the frameworks' answers.
func freezeMaintenance(m *maintenanceState) maintenanceState {
	out := maintenanceState{
		schedule:    proto.Clone(m.schedule).(*maintenance.Schedule),
		machines:    make(map[machineKey]*machine, len(m.machines)),
		deactivated: maps.Clone(m.deactivated),
		draining:    make(map[string]*agentDrain, len(m.draining)),
		inverse:     make(map[string]*inverseOffer, len(m.inverse)),
		statuses:    make(map[string]map[string]*allocpb.InverseOfferStatus, len(m.statuses)),
	}
	for k, mc := range m.machines {
		c := *mc
		out.machines[k] = &c
	}
	for id, d := range m.draining {
		c := *d
		out.draining[id] = &c
	}
	for id, io := range m.inverse {
		c := *io
		out.inverse[id] = &c
	}
	for agentID, byFramework := range m.statuses {
		c := make(map[string]*allocpb.InverseOfferStatus, len(byFramework))
		for fw, st := range byFramework {
			c[fw] = proto.Clone(st).(*allocpb.InverseOfferStatus)
		}
		out.statuses[agentID] = c
	}
	return out
}

// clone copies the counters and timers.
func (m *coreMetrics) clone() coreMetrics {
	out := *m
	out.taskStates = maps.Clone(m.taskStates)
	out.allocationRun = m.allocationRun.clone()
	out.stateStore = m.stateStore.clone()
	return out
}

// clone copies a timer with its samples.
func (t *timer) clone() timer {
	out := *t
	out.ring = slices.Clone(t.ring)
	return out
}
