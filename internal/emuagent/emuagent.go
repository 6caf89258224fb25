// Package emuagent emulates many Mezzo agents in one process. Each
// emulated agent speaks the real master↔agent protocol over loopback TCP
// (REGISTER on POST /master/api/v1/agent and the event stream it opens,
// PONG, STATUS_UPDATE) exactly as `mezzo agent` does, but runs no
// executors: a task it is given reports TASK_RUNNING at once and
// TASK_FINISHED after Config.TaskDuration (or N seconds for a command
// "sleep N"); an update not acknowledged is resent when the agent
// re-registers.
//
// With a zk:// master URL the agents of one Pool share one detector (one
// ZooKeeper session) and all follow the leader it finds: when another
// master takes over, every agent drops its stream and re-registers with
// the new leader, keeping its id and its running tasks, as a real agent
// does. Scale tests and benchmarks use a Pool to put the master under the
// load of thousands of agents without running thousands of processes.
package emuagent

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/version"
	"github.com/mezzo-project/mezzo/resources"
)

// masterPath is where agents register and post their calls.
const masterPath = "/master/api/v1/agent"

// postConns bounds the connections a pool's agents post their calls on,
// per source address.
const postConns = 256

// Config describes a Pool.
type Config struct {
	// Master is the master's host:port, or a zk:// or file:// URL of
	// several masters.
	Master string
	// Count is how many agents to emulate (at least 1).
	Count int
	// Resources is each agent's total in Mesos' resource syntax, e.g.
	// "cpus:8;mem:16384;disk:100000;ports:[31000-32000]".
	Resources string
	// Attributes are each agent's attributes in Mesos' syntax
	// ("rack:r1;zone:a"); in a value, {i} stands for the agent's index in
	// the pool and {i%N} for that index modulo N, so "rack:r{i%10}"
	// spreads the agents over ten racks.
	Attributes string
	// HostPrefix names the agents' hosts <HostPrefix><i> (default "emu-").
	HostPrefix string
	// FirstIndex is the index of the pool's first agent (default 0):
	// pools in several processes use disjoint ranges so that host names
	// and endpoints stay unique.
	FirstIndex int
	// TaskDuration is how long a task "runs" before it reports
	// TASK_FINISHED (default 0: at once); a task whose command is
	// "sleep N" runs N seconds instead.
	TaskDuration time.Duration
	// TaskDurationSpread draws each task's duration uniformly from
	// TaskDuration×[1-s, 1+s] (0 ≤ s ≤ 1; default 0: every task runs
	// exactly TaskDuration).
	TaskDurationSpread float64
	// SourceAddrs are local IP addresses (e.g. 127.0.0.2, 127.0.0.3) the
	// agents' connections leave from, agent i from SourceAddrs[i mod n]:
	// one address has about 28,000 ephemeral ports to one master port,
	// fewer than 50,000 agents need. Empty: the system chooses.
	SourceAddrs []string
	// HTTP2 carries the agents' event streams and calls over HTTP/2
	// without TLS (the master accepts it with prior knowledge): each
	// connection multiplexes up to tlsutil.MaxHTTP2Streams agents, so
	// that 50,000 agents fit in a process (and a master) whose open
	// files are limited to fewer than that. Without it each agent holds
	// a connection of its own, as a real agent does.
	HTTP2 bool
	// RegistrationBackoffFactor bounds the first random wait before a
	// re-registration, as the agent's --registration_backoff_factor does
	// (default 1s).
	RegistrationBackoffFactor time.Duration
	// SessionTimeout is the ZooKeeper session timeout of the shared
	// detector (default 10s, the agent's).
	SessionTimeout time.Duration
	// Log receives the pool's log lines; nil discards them.
	Log *slog.Logger
}

// Pool is a set of running emulated agents.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	clients []*http.Client  // by source address: the event streams
	posters []*http.Client  // by source address: the calls
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup     // the agents
	calls   sync.WaitGroup     // calls being posted (post)
	leader  *detector.Follower // nil with a fixed master
	closeD  func()
	agents  []*agent

	mu     sync.Mutex
	closed bool // no more calls are posted
	// registered counts REGISTERED events per master address.
	registered map[string]int
	changed    chan struct{} // closed and replaced on every registration

	// sent and received count the calls the agents posted and the
	// events they read.
	sent, received atomic.Int64
}

// Start starts cfg.Count agents that register with the (leading) master
// and keep re-registering until Close.
func Start(ctx context.Context, cfg Config) (*Pool, error) {
	if cfg.Count < 1 {
		return nil, fmt.Errorf("emuagent: Count=%d: want at least 1", cfg.Count)
	}
	if cfg.HostPrefix == "" {
		cfg.HostPrefix = "emu-"
	}
	if cfg.RegistrationBackoffFactor <= 0 {
		cfg.RegistrationBackoffFactor = time.Second
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TaskDurationSpread < 0 || cfg.TaskDurationSpread > 1 {
		return nil, fmt.Errorf("emuagent: TaskDurationSpread=%v: want 0 to 1", cfg.TaskDurationSpread)
	}
	total, err := resources.Parse(cfg.Resources, "*")
	if err != nil {
		return nil, fmt.Errorf("emuagent: resources %q: %w", cfg.Resources, err)
	}
	if _, err := resources.ParseAttributes(expandIndex(cfg.Attributes, 0)); err != nil {
		return nil, fmt.Errorf("emuagent: attributes %q: %w", cfg.Attributes, err)
	}
	sources := cfg.SourceAddrs
	if len(sources) == 0 {
		sources = []string{""}
	}
	var clients, posters []*http.Client
	for _, src := range sources {
		d := &net.Dialer{Timeout: 5 * time.Second}
		if src != "" {
			ip := net.ParseIP(src)
			if ip == nil {
				return nil, fmt.Errorf("emuagent: source address %q is not an IP address", src)
			}
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
		if cfg.HTTP2 {
			// One transport per source address: it opens another
			// connection whenever one carries as many streams as the
			// master allows.
			t := &http.Transport{DialContext: d.DialContext, Protocols: new(http.Protocols)}
			t.Protocols.SetUnencryptedHTTP2(true)
			c := &http.Client{Transport: t}
			clients, posters = append(clients, c), append(posters, c)
			continue
		}
		clients = append(clients, &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			DialContext:         d.DialContext,
		}})
		// Calls share a bounded set of kept-alive connections: opening
		// one per concurrent call would exhaust the address' ephemeral
		// ports (TIME_WAIT) once thousands of agents post at once.
		posters = append(posters, &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: postConns,
			MaxConnsPerHost:     postConns,
			DialContext:         d.DialContext,
		}})
	}
	u, err := detector.ParseURL(cfg.Master)
	if err != nil {
		return nil, fmt.Errorf("emuagent: master %q: %w", cfg.Master, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Pool{
		cfg: cfg, log: log, ctx: ctx, cancel: cancel, closeD: func() {},
		clients:    clients,
		posters:    posters,
		registered: map[string]int{},
		changed:    make(chan struct{}),
	}
	if u.IsZooKeeper() {
		det, err := detector.Detect(ctx, u, cfg.SessionTimeout, detector.WithLogger(log.With("component", "detector")))
		if err != nil {
			cancel()
			return nil, fmt.Errorf("emuagent: detecting the leader in %s: %w", cfg.Master, err)
		}
		p.leader = detector.Follow(ctx, det)
		p.closeD = func() { det.Close() }
	}
	res := resources.ToProto(total, resources.FormatPreRefinement)
	for n := range cfg.Count {
		i := cfg.FirstIndex + n
		host := fmt.Sprintf("%s%d", cfg.HostPrefix, i)
		attrs, err := resources.ParseAttributes(expandIndex(cfg.Attributes, i))
		if err != nil {
			cancel()
			p.closeD()
			return nil, fmt.Errorf("emuagent: attributes of agent %d: %w", i, err)
		}
		src := n % len(clients)
		ip := sources[src]
		if ip == "" {
			ip = "127.0.0.1"
		}
		a := &agent{
			pool:   p,
			client: clients[src],
			poster: posters[src],
			info: &mesos.AgentInfo{Hostname: proto.String(host), Port: proto.Int32(int32(5051)),
				Resources: res, Attributes: resources.AttributesToProto(attrs)},
			// Distinct endpoints: the master keys agents by address.
			endpoint: net.JoinHostPort(ip, strconv.Itoa(1024+i/len(clients)%64000)),
			tasks:    map[string]*task{},
		}
		p.agents = append(p.agents, a)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			a.run(ctx)
		}()
	}
	return p, nil
}

// Close stops every agent (they do not unregister: to the master they
// look like agents that went away) and waits for them.
func (p *Pool) Close() {
	p.cancel()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
	p.calls.Wait()
	p.closeD()
	for _, c := range append(p.clients, p.posters...) {
		c.CloseIdleConnections()
	}
}

// Messages returns how many calls the agents have posted to the master
// and how many events they have read from it.
func (p *Pool) Messages() (sent, received int64) {
	return p.sent.Load(), p.received.Load()
}

// Silence makes agent i (0 ≤ i < Count) stop answering the master's
// pings while keeping its connection, as a hung agent does; the master
// should then find it unreachable. It returns the agent's id.
func (p *Pool) Silence(i int) (string, error) {
	if i < 0 || i >= len(p.agents) {
		return "", fmt.Errorf("emuagent: Silence(%d): the pool has %d agents", i, len(p.agents))
	}
	a := p.agents[i]
	a.silent.Store(true)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.info.GetId().GetValue(), nil
}

// expandIndex replaces {i} and {i%N} in s by i and i mod N.
func expandIndex(s string, i int) string {
	for {
		start := strings.Index(s, "{i")
		if start < 0 {
			return s
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			return s
		}
		expr := s[start+2 : start+end]
		v := i
		if m, ok := strings.CutPrefix(expr, "%"); ok {
			if n, err := strconv.Atoi(m); err == nil && n > 0 {
				v = i % n
			}
		}
		s = s[:start] + strconv.Itoa(v) + s[start+end+1:]
	}
}

// Registered returns how many agents are registered with the master at
// address addr (host:port) now.
func (p *Pool) Registered(addr string) int {
	n := 0
	for _, a := range p.agents {
		a.mu.Lock()
		if a.connectedTo == addr {
			n++
		}
		a.mu.Unlock()
	}
	return n
}

// WaitRegistered waits until all agents are registered with the master
// at addr, or ctx ends.
func (p *Pool) WaitRegistered(ctx context.Context, addr string) error {
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		n := p.Registered(addr)
		if n == len(p.agents) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d agents registered with %s: %w", n, len(p.agents), addr, ctx.Err())
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Agents returns the ids the master gave the agents ("" where not yet
// registered).
func (p *Pool) Agents() []string {
	out := make([]string, len(p.agents))
	for i, a := range p.agents {
		a.mu.Lock()
		out[i] = a.info.GetId().GetValue()
		a.mu.Unlock()
	}
	return out
}

func (p *Pool) noteRegistered() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// agent is one emulated agent. Its fields are guarded by mu: the stream
// reader and the task timers touch them.
type agent struct {
	pool     *Pool
	client   *http.Client // the event stream
	poster   *http.Client // calls
	endpoint string
	silent   atomic.Bool // answers no pings (Silence)

	mu          sync.Mutex
	info        *mesos.AgentInfo
	frameworks  map[string]*mesos.FrameworkInfo
	tasks       map[string]*task // by task id
	streamID    string
	connectedTo string // master address while registered
	addr        string
}

// task is a task the agent "runs", with its unacknowledged update.
type task struct {
	frameworkID string
	info        *mesos.TaskInfo
	state       mesos.TaskState
	pending     *mesos.TaskStatus // sent, not yet acknowledged
}

// run registers and re-registers until ctx ends, waiting between
// attempts as `mezzo agent` does: a random time up to a bound that
// starts at RegistrationBackoffFactor and doubles after each failure (up
// to a minute), and a fresh short wait when another master takes over.
func (a *agent) run(ctx context.Context) {
	factor := a.pool.cfg.RegistrationBackoffFactor
	bound := factor
	for ctx.Err() == nil {
		registered, err := a.connect(ctx)
		a.mu.Lock()
		a.connectedTo, a.streamID = "", ""
		a.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if registered {
			bound = factor
		}
		a.pool.log.Debug("emulated agent disconnected", "host", a.info.GetHostname(), "err", err)
		var changed <-chan struct{}
		if f := a.pool.leader; f != nil {
			changed = f.Changed()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(bound)):
			bound = min(2*bound, time.Minute)
		case <-changed:
			bound = factor
			select {
			case <-ctx.Done():
				return
			case <-time.After(jitter(bound)):
			}
		}
	}
}

// jitter is a random duration in [0, d].
func jitter(d time.Duration) time.Duration {
	return time.Duration(mrand.Int64N(int64(d) + 1))
}

// connect registers and reads the event stream until it ends.
func (a *agent) connect(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := a.pool.cfg.Master
	if f := a.pool.leader; f != nil {
		if addr = f.Attach(cancel); addr == "" {
			return false, errors.New("no leading master")
		}
	}
	a.mu.Lock()
	a.addr = addr
	body, err := proto.Marshal(a.registerCall())
	a.mu.Unlock()
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+masterPath, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set("Accept", codec.MediaProtobuf)
	resp, err := a.client.Do(req)
	if err != nil {
		return false, err
	}
	a.pool.sent.Add(1)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("REGISTER: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	streamID := resp.Header.Get("Mesos-Stream-Id")
	rec := recordio.NewReader(resp.Body, 0)
	registered := false
	for {
		b, err := rec.Read()
		if err != nil {
			return registered, err
		}
		ev := &agentproto.AgentEvent{}
		if err := proto.Unmarshal(b, ev); err != nil {
			return registered, fmt.Errorf("bad event: %w", err)
		}
		a.pool.received.Add(1)
		switch ev.GetType() {
		case agentproto.AgentEvent_REGISTERED:
			registered = true
			a.mu.Lock()
			a.info.Id = ev.GetRegistered().GetAgentId()
			a.streamID, a.connectedTo = streamID, addr
			var resend []*agentproto.AgentCall
			for _, t := range a.tasks {
				if t.pending != nil {
					resend = append(resend, a.updateCall(t))
				}
			}
			a.mu.Unlock()
			a.pool.noteRegistered()
			for _, c := range resend {
				a.post(c)
			}
		case agentproto.AgentEvent_PING:
			if a.silent.Load() {
				continue
			}
			a.post(&agentproto.AgentCall{Type: agentproto.AgentCall_PONG.Enum(),
				Pong: &agentproto.AgentCall_Pong{Sequence: ev.GetPing().Sequence}})
		case agentproto.AgentEvent_RUN_TASK:
			a.runTask(ev.GetRunTask())
		case agentproto.AgentEvent_KILL_TASK:
			k := ev.GetKillTask()
			a.finish(k.GetTaskId().GetValue(), mesos.TaskState_TASK_KILLED)
		case agentproto.AgentEvent_ACKNOWLEDGE:
			a.acknowledge(ev.GetAcknowledge())
		case agentproto.AgentEvent_SHUTDOWN_FRAMEWORK:
			fw := ev.GetShutdownFramework().GetFrameworkId().GetValue()
			a.mu.Lock()
			var ids []string
			for id, t := range a.tasks {
				if t.frameworkID == fw && !mesos.IsTerminalState(t.state) {
					ids = append(ids, id)
				}
			}
			a.mu.Unlock()
			for _, id := range ids {
				a.finish(id, mesos.TaskState_TASK_KILLED)
			}
		case agentproto.AgentEvent_ERROR:
			return registered, fmt.Errorf("master refused the agent: %s", ev.GetError().GetMessage())
		}
	}
}

// registerCall describes the agent and what it runs (mu held).
func (a *agent) registerCall() *agentproto.AgentCall {
	r := &agentproto.AgentCall_Register{
		AgentInfo: proto.Clone(a.info).(*mesos.AgentInfo),
		Version:   proto.String(version.Version),
		Endpoint:  proto.String(a.endpoint),
	}
	for _, fw := range a.frameworks {
		r.Frameworks = append(r.Frameworks, fw)
	}
	for _, t := range a.tasks {
		if mesos.IsTerminalState(t.state) && t.pending == nil {
			continue
		}
		r.Tasks = append(r.Tasks, &mesos.Task{
			Name: t.info.Name, TaskId: t.info.TaskId,
			FrameworkId: &mesos.FrameworkID{Value: proto.String(t.frameworkID)},
			AgentId:     a.info.GetId(), State: t.state.Enum(), Resources: t.info.GetResources(),
		})
	}
	return &agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: r}
}

func (a *agent) runTask(rt *agentproto.AgentEvent_RunTask) {
	fw := rt.GetFramework()
	var infos []*mesos.TaskInfo
	if rt.GetTask() != nil {
		infos = append(infos, rt.GetTask())
	}
	infos = append(infos, rt.GetTaskGroup().GetTasks()...)
	a.mu.Lock()
	if a.frameworks == nil {
		a.frameworks = map[string]*mesos.FrameworkInfo{}
	}
	a.frameworks[fw.GetId().GetValue()] = fw
	for _, ti := range infos {
		a.tasks[ti.GetTaskId().GetValue()] = &task{frameworkID: fw.GetId().GetValue(), info: ti}
	}
	a.mu.Unlock()
	for _, ti := range infos {
		id := ti.GetTaskId().GetValue()
		a.update(id, mesos.TaskState_TASK_RUNNING)
		d := a.pool.cfg.TaskDuration
		if s := a.pool.cfg.TaskDurationSpread; s > 0 {
			d = time.Duration(float64(d) * (1 - s + 2*s*mrand.Float64()))
		}
		if v, ok := strings.CutPrefix(ti.GetCommand().GetValue(), "sleep "); ok {
			if secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && secs >= 0 {
				d = time.Duration(secs * float64(time.Second))
			}
		}
		time.AfterFunc(d, func() { a.finish(id, mesos.TaskState_TASK_FINISHED) })
	}
}

// finish ends a task that has not ended yet.
func (a *agent) finish(id string, state mesos.TaskState) {
	a.mu.Lock()
	t := a.tasks[id]
	done := t == nil || mesos.IsTerminalState(t.state)
	a.mu.Unlock()
	if !done {
		a.update(id, state)
	}
}

// update sets a task's state and sends the update; a later update waits
// for the acknowledgement of the one before (the master acknowledges in
// order), so the newest state is kept and sent once acknowledged.
func (a *agent) update(id string, state mesos.TaskState) {
	a.mu.Lock()
	t := a.tasks[id]
	if t == nil {
		a.mu.Unlock()
		return
	}
	t.state = state
	var call *agentproto.AgentCall
	if t.pending == nil {
		t.pending = a.status(t)
		call = a.updateCall(t)
	}
	a.mu.Unlock()
	if call != nil {
		a.post(call)
	}
}

func (a *agent) status(t *task) *mesos.TaskStatus {
	var u [16]byte
	rand.Read(u[:])
	return &mesos.TaskStatus{
		TaskId: t.info.TaskId, State: t.state.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		AgentId: a.info.GetId(), Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9), Uuid: u[:],
		ExecutorId: &mesos.ExecutorID{Value: proto.String(t.info.GetTaskId().GetValue())},
	}
}

// updateCall is STATUS_UPDATE of t's pending status (mu held).
func (a *agent) updateCall(t *task) *agentproto.AgentCall {
	return &agentproto.AgentCall{
		Type: agentproto.AgentCall_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.AgentCall_StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(t.frameworkID)},
			Status:      t.pending,
			LatestState: t.state.Enum(),
		},
	}
}

func (a *agent) acknowledge(ack *agentproto.AgentEvent_Acknowledge) {
	a.mu.Lock()
	t := a.tasks[ack.GetTaskId().GetValue()]
	if t == nil || t.pending == nil || !bytes.Equal(t.pending.GetUuid(), ack.GetUuid()) {
		a.mu.Unlock()
		return
	}
	acked := t.pending.GetState()
	t.pending = nil
	var call *agentproto.AgentCall
	switch {
	case acked != t.state:
		// The task moved on while the update before was unacknowledged.
		t.pending = a.status(t)
		call = a.updateCall(t)
	case mesos.IsTerminalState(t.state):
		delete(a.tasks, ack.GetTaskId().GetValue())
	}
	a.mu.Unlock()
	if call != nil {
		a.post(call)
	}
}

// outCall is a call for the master and the stream it was made on.
type outCall struct {
	call     *agentproto.AgentCall
	streamID string
}

// post sends a call to the master in the background: the stream reader
// and the task timers never wait for the master's answers (a real
// agent's messages go out without waiting for one another either), so an
// acknowledgement or a RUN_TASK is read as soon as it arrives. A call
// made with no stream open is dropped, as is one whose stream has ended
// before it is sent; the re-registration resends what is
// unacknowledged.
func (a *agent) post(call *agentproto.AgentCall) {
	a.mu.Lock()
	streamID := a.streamID
	a.mu.Unlock()
	if streamID == "" {
		return
	}
	p := a.pool
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.calls.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.calls.Done()
		a.send(p.ctx, outCall{call: call, streamID: streamID})
	}()
}

// send posts one call on the stream it was made on, if that stream is
// still the agent's; failures are left to the re-registration, which
// resends what is unacknowledged.
func (a *agent) send(ctx context.Context, c outCall) {
	call := c.call
	a.mu.Lock()
	call.AgentId = a.info.GetId()
	streamID, addr := a.streamID, a.addr
	a.mu.Unlock()
	if streamID == "" || streamID != c.streamID {
		return
	}
	body, err := proto.Marshal(call)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+masterPath, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set("Mesos-Stream-Id", streamID)
	resp, err := a.poster.Do(req)
	a.pool.sent.Add(1)
	if err != nil {
		a.pool.log.Debug("emulated agent call failed", "type", call.GetType(), "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
}
