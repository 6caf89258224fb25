package master

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/files"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/internal/version"
	"github.com/mezzo-project/mezzo/master/registry"
)

// errClosed is returned to requests that arrive after Close.
var errClosed = errors.New("master is shutting down")

// Master is a running master: the core state machine, the goroutine that
// owns it, and its HTTP endpoints. Create it with New, serve its Handler
// (or call Serve), and Close it to stop every goroutine it started.
type Master struct {
	cfg   Config
	log   *slog.Logger
	clock Clock
	core  *core

	events chan func() // run on the loop goroutine
	// pongs are agents' PONG calls: the loop takes them before anything
	// else waiting (see loop).
	pongs chan func()
	// queued counts the calls of do waiting for the loop goroutine.
	queued atomic.Int64
	// version counts the events the loop has begun (calls of do and
	// timer ticks); only the loop writes it. A reader waits for a
	// snapshot of at least the version it saw on arrival.
	version atomic.Uint64
	// snaps publishes the snapshots reads are answered from
	// (snapshot.go); readSlots bounds the reads encoding at once
	// (encodeRead); readLimit bounds their rate.
	snaps     *publisher
	readSlots chan struct{}
	readLimit *readLimiter
	// system is the latest reading of the host's system/* gauges
	// (liveMetrics).
	system atomic.Pointer[systemSample]
	quit   chan struct{}
	done   chan struct{} // closed when the loop has exited

	// writeReq hands a batch of registry writes to the writer goroutine
	// (writer), which answers on writeDone; writerDone is closed when it
	// has exited.
	writeReq   chan writeBatch
	writeDone  chan committedBatch
	writerDone chan struct{}

	mu       sync.Mutex
	closing  bool
	servers  []*http.Server
	inflight sync.WaitGroup // handler calls in progress

	handler http.Handler
	// files serves the master's own files (files.go); filesClient
	// forwards the requests for agents' files.
	files       *files.Server
	filesClient *http.Client
	// v0 serves the libprocess driver protocol (v0.go).
	v0 *v0Edge
	// authn authenticates HTTP requests (authn.go).
	authn *authn
	// authz decides operators' requests by cfg.ACLs (authz.go); the
	// core's, shared.
	authz *acl.Authorizer
}

// New validates cfg and starts a master's core goroutine. The master
// serves nothing until its Handler is mounted or Serve is called.
func New(cfg Config, log *slog.Logger) (*Master, error) {
	return newMaster(cfg, log, systemClock{})
}

func newMaster(cfg Config, log *slog.Logger, clock Clock) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	authn, err := newAuthn(cfg.Authentication)
	if err != nil {
		return nil, err
	}
	info := cfg.Info
	if info == nil {
		var err error
		if info, err = NewMasterInfo(cfg); err != nil {
			return nil, err
		}
	}
	log = log.With("master_id", info.GetId())
	store := cfg.Store
	if store == nil {
		var err error
		if store, err = openRegistry(cfg); err != nil {
			return nil, err
		}
	}
	fetchStart := clock.Now()
	state, err := store.Recover()
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("recover the registry: %w", err)
	}
	fetched := clock.Now().Sub(fetchStart)
	core := newCore(cfg, log, clock, info, store)
	core.metrics.stateFetch, core.metrics.hasStateFetch = float64(fetched)/float64(time.Millisecond), true
	core.recoverState(state)
	m := &Master{
		cfg:    cfg,
		log:    log,
		clock:  clock,
		core:   core,
		authz:  core.authz,
		events: make(chan func()),
		pongs:  make(chan func()),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		authn:  authn,

		writeReq:   make(chan writeBatch),
		writeDone:  make(chan committedBatch),
		writerDone: make(chan struct{}),
	}
	core.queued = m.queued.Load
	core.writes.inline = false
	m.snaps = newPublisher()
	m.readSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	m.readLimit = &readLimiter{interval: readInterval, burst: readBurst}
	m.snaps.build(core, 0)
	m.files, m.filesClient = m.newFileServer(), newFilesClient(cfg.TLS)
	m.v0 = newV0Edge(m)
	m.handler = m.routes()
	go m.writer(store)
	go m.loop()
	log.Info("master started", "pid", info.GetPid(), "hostname", info.GetHostname(), "version", info.GetVersion())
	return m, nil
}

// openRegistry opens the store --registry names: a database file in
// --work_dir for "replicated_log", memory for "in_memory".
func openRegistry(cfg Config) (registry.Store, error) {
	if cfg.Registry == "in_memory" {
		return registry.NewMemory(), nil
	}
	return registry.OpenBolt(filepath.Join(cfg.WorkDir, "registry.db"))
}

// masterInfo builds the MasterInfo the master advertises.
func masterInfo(cfg Config, id string) (*mesos.MasterInfo, error) {
	ip := cfg.AdvertiseIP
	if ip == "" {
		ip = cfg.IP
	}
	if ip == "" || ip == "0.0.0.0" {
		ip = hostIPv4()
	}
	hostname := cfg.Hostname
	switch {
	case hostname != "":
	case !cfg.HostnameLookup:
		hostname = ip
	default:
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("--hostname not given and the host's name is unknown: %w", err)
		}
		hostname = h
	}
	port := cfg.AdvertisePort
	if port == 0 {
		port = cfg.Port
	}
	info := &mesos.MasterInfo{
		Id:       proto.String(id),
		Hostname: proto.String(hostname),
		Version:  proto.String(version.MesosVersion),
		Capabilities: []*mesos.MasterInfo_Capability{
			{Type: mesos.MasterInfo_Capability_AGENT_UPDATE.Enum()},
			{Type: mesos.MasterInfo_Capability_AGENT_DRAINING.Enum()},
			{Type: mesos.MasterInfo_Capability_QUOTA_V2.Enum()},
		},
	}
	setAddress(info, ip, port)
	return info, nil
}

// setAddress fills MasterInfo's ip, port, pid and address. The ip field
// is the IPv4 address in network byte order read as a little-endian
// integer, as Mesos writes it (127.0.0.1 is 16777343).
func setAddress(info *mesos.MasterInfo, ip string, port int) {
	v4 := net.ParseIP(ip).To4()
	if v4 == nil {
		v4 = net.IPv4(127, 0, 0, 1).To4()
	}
	info.Ip = proto.Uint32(binary.LittleEndian.Uint32(v4))
	info.Port = proto.Uint32(uint32(port))
	info.Pid = proto.String(fmt.Sprintf("master@%s:%d", v4, port))
	info.Address = &mesos.Address{
		Hostname: proto.String(info.GetHostname()),
		Ip:       proto.String(v4.String()),
		Port:     proto.Int32(int32(port)),
	}
}

// hostIPv4 returns the host's first non-loopback IPv4 address, or
// 127.0.0.1.
func hostIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// committedBatch is the outcome of a batch of registry writes.
type committedBatch struct {
	batch   writeBatch
	refused []error
	err     error
	start   time.Time
	took    time.Duration
}

// writer commits the batches of registry writes the loop hands it, one
// at a time, each in one Store.Commit, and hands back the outcome. It
// exits when writeReq is closed.
func (m *Master) writer(store registry.Store) {
	defer close(m.writerDone)
	for batch := range m.writeReq {
		start := m.clock.Now()
		refused, err := store.Commit(batch.groups())
		m.writeDone <- committedBatch{batch: batch, refused: refused, err: err, start: start, took: m.clock.Now().Sub(start)}
	}
}

// loop owns the core: it runs events, fires the core's timers, and
// allocates after each; hands the registry writes the core asked for to
// the writer when it is idle, and gives the core their outcome; then,
// when a reader waits for a newer snapshot, it publishes one (paced: see
// publisher.maybeBuild).
func (m *Master) loop() {
	defer close(m.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	pace := time.NewTimer(time.Hour)
	defer pace.Stop()
	for {
		// Agents' PONGs go first. Pings are timers, which fire when due
		// however many calls wait for the loop; a PONG that queued
		// behind thousands of status updates would count as a missed
		// ping, and a busy master would find healthy agents unreachable
		// (Mesos answers pings outside the master's queue, in an
		// observer per agent, for the same reason).
		m.runPongs()
		m.core.flush()
		if batch := m.core.takeWrites(); batch != nil {
			m.writeReq <- batch // the writer is idle: no batch was in flight
		}
		var paced <-chan time.Time
		if d := m.snaps.maybeBuild(m.core, m.version.Load(), m.clock.Now); d > 0 {
			pace.Reset(d)
			paced = pace.C
		}
		wait := m.core.nextDeadline().Sub(m.clock.Now())
		if wait < 0 {
			wait = 0
		}
		timer.Reset(wait)
		select {
		case fn := <-m.pongs:
			m.version.Add(1)
			fn()
		case fn := <-m.events:
			m.version.Add(1)
			fn()
		case r := <-m.writeDone:
			m.version.Add(1)
			m.core.committed(r.batch, r.refused, r.err, r.start, r.took)
		case <-timer.C:
			m.version.Add(1)
			m.core.tick()
		case <-m.snaps.wake:
			// A reader waits for a snapshot: the top of the loop builds it.
		case <-paced:
		case <-m.quit:
			// The batch in flight is committed (or not) before the
			// master stops; the writes still pending fail.
			if m.core.writing() {
				r := <-m.writeDone
				m.core.committed(r.batch, r.refused, r.err, r.start, r.took)
			}
			close(m.writeReq)
			<-m.writerDone
			m.core.closeWrites(errClosed)
			m.core.shutdown()
			return
		}
	}
}

// runPongs runs the PONGs waiting for the loop.
func (m *Master) runPongs() {
	for {
		select {
		case fn := <-m.pongs:
			m.version.Add(1)
			fn()
		default:
			return
		}
	}
}

// do runs fn on the core's goroutine and waits for it, and for the
// registry writes fn asked for to be committed (so that what the caller
// answers next is durable); errClosed after Close. Reads do not use it:
// they read snapshots (read).
func (m *Master) do(fn func(c *core)) error { return m.doOn(m.events, fn) }

// doPong is do for an agent's PONG, which the loop takes before other
// calls.
func (m *Master) doPong(fn func(c *core)) error { return m.doOn(m.pongs, fn) }

func (m *Master) doOn(queue chan func(), fn func(c *core)) error {
	ran := make(chan struct{})
	m.queued.Add(1)
	select {
	case queue <- func() {
		m.queued.Add(-1)
		mark := m.core.writes.asked
		fn(m.core)
		m.core.afterWrites(mark, func() { close(ran) })
	}:
		<-ran
		return nil
	case <-m.quit:
		m.queued.Add(-1)
		return errClosed
	}
}

// read returns a snapshot of the core's books that includes every event
// the core had begun when read was called, so a client reads its own
// completed actions. It waits for the core to publish one when needed
// (never queueing on the core); errClosed once the master has stopped,
// ctx's error when ctx ends first.
func (m *Master) read(ctx context.Context) (*snapshot, error) {
	return m.snaps.await(ctx, m.version.Load(), m.done)
}

// encodeRead answers a read: once the read limiter admits it, it takes a
// snapshot (read, or readWithin when timeout is positive) and runs encode
// on it holding one of the master's read slots. However many clients
// read, and however fast, reads are answered at a bounded rate and
// encode on at most len(readSlots) goroutines at once (a large answer
// counts as several reads: readUnit), which leaves the
// rest of the CPU to the core and the calls it serves. The slot is
// released before the answer is written, so a slow client holds none.
func (m *Master) encodeRead(ctx context.Context, timeout time.Duration, encode func(s *snapshot) ([]byte, error)) ([]byte, error) {
	if err := m.readLimit.wait(ctx, m.clock.Now()); err != nil {
		return nil, err
	}
	s, err := m.readWithin(ctx, timeout)
	if err != nil {
		return nil, unavailable(err)
	}
	select {
	case m.readSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-m.readSlots }()
	s.reads.Add(1)
	b, err := encode(s)
	m.readLimit.charge(len(b))
	return b, err
}

// readWithin is read waiting at most timeout (when positive) for a fresh
// snapshot; after that it returns the latest one, older than the call.
func (m *Master) readWithin(ctx context.Context, timeout time.Duration) (*snapshot, error) {
	if timeout <= 0 {
		return m.read(ctx)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := m.read(wctx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return m.snaps.cur.Load(), nil
	}
	return s, err
}

// Info returns the MasterInfo the master advertises (a copy).
func (m *Master) Info() *mesos.MasterInfo {
	s, err := m.read(context.Background())
	if err != nil {
		s = m.snaps.cur.Load() // loop gone: the last snapshot is the last word
	}
	return proto.Clone(s.view.info).(*mesos.MasterInfo)
}

// Handler returns the master's HTTP endpoints: the scheduler API
// (/api/v1/scheduler), the agent protocol (/master/api/v1/agent), /health,
// /state, /flags, /version and /redirect, each also under /master/.
func (m *Master) Handler() http.Handler { return m.handler }

// Serve serves the master's endpoints on ln until Close, over TLS when
// Config.TLS is set, with tlsutil's timeouts and connection cap. When the
// configured port is 0, the master first adopts ln's port (and its IP,
// when none is configured) as the advertised address.
func (m *Master) Serve(ln net.Listener) error {
	srv := tlsutil.NewServer(m.handler, tlsutil.ServerOptions{Log: m.log, UnencryptedHTTP2: true})
	ln = m.cfg.TLS.Listen(tlsutil.LimitListener(ln, m.cfg.MaxConnections))
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return errClosed
	}
	m.servers = append(m.servers, srv)
	m.mu.Unlock()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && m.cfg.AdvertisePort == 0 && m.cfg.Port == 0 {
		_ = m.do(func(c *core) {
			ip := c.info.GetAddress().GetIp()
			if m.cfg.AdvertiseIP == "" && m.cfg.IP == "" && !tcp.IP.IsUnspecified() {
				ip = tcp.IP.String()
			}
			setAddress(c.info, ip, tcp.Port)
		})
	}
	m.log.Info("serving", "address", ln.Addr().String())
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the master: every event stream ends, servers started by
// Serve close, and Close returns once every goroutine the master started
// and every request in its handlers has finished. Safe to call twice.
func (m *Master) Close() error {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		<-m.done
		m.inflight.Wait()
		return nil
	}
	m.closing = true
	servers := m.servers
	m.mu.Unlock()

	close(m.quit)
	<-m.done
	m.v0.close()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Close())
	}
	m.inflight.Wait()
	m.filesClient.CloseIdleConnections()
	errs = append(errs, m.core.reg.Close())
	m.log.Info("master stopped")
	return errors.Join(errs...)
}

// enter admits a request into a handler unless the master is closing;
// leave must follow.
func (m *Master) enter() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	m.inflight.Add(1)
	return true
}

func (m *Master) leave() { m.inflight.Done() }

func itoa(i int) string { return strconv.Itoa(i) }
