package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/checkpoint"
	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/agent/fetcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/files"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// ErrClosed is returned by calls on an Agent after Close.
var ErrClosed = errors.New("agent closed")

// ErrRefused is returned by Serve and Run when the master refused the
// agent (an ERROR event): the agent must not re-register under its id.
var ErrRefused = errors.New("master refused the agent")

// Agent is one Mezzo agent. Its state (frameworks, executors, tasks,
// status-update streams) is owned by a single goroutine; HTTP handlers,
// the master link, process waiters and timers hand it closures through
// post/do. Create with New, start with Serve or Run, stop with Close.
type Agent struct {
	cfg   Config
	log   *slog.Logger
	clock Clock
	fetch *fetcher.Fetcher
	mux   *http.ServeMux
	store *checkpoint.Store
	// containers runs the executors (launch.go, package containerizer);
	// detachCtx ends when the agent detaches (or stops).
	containers containerizer.Containerizer
	// leader follows the leading master when --master is a ZooKeeper
	// URL (set once the master link starts); nil for a given master.
	leader atomic.Pointer[detector.Follower]
	// oomEvents counts the OOM kills in containers (cgroups/mem); nil
	// without that isolator.
	oomEvents func() uint64
	detachCtx context.Context

	// drv starts what the state code does not do itself (driver.go).
	drv   driver
	inbox chan func()
	quit  chan struct{} // closed by Close
	wg    sync.WaitGroup
	// procs tracks process waiters and fetch/launch goroutines, which
	// Close waits for after killing every executor.
	procs sync.WaitGroup

	closeOnce sync.Once
	// detached is closed by Detach: process watchers let go of executors
	// that keep running.
	detached chan struct{}
	// recovered is closed when recovery ends (at once when there is
	// nothing to reconnect); the agent registers only then.
	recovered     chan struct{}
	recoveredOnce sync.Once
	// cleanedUp: --recover=cleanup finished; Serve returns at once.
	cleanedUp bool
	ctx       context.Context
	cancel    context.CancelFunc
	server    *http.Server
	serveErr  chan error

	// mu guards only what ID() and Endpoint() read from other goroutines.
	mu       sync.Mutex
	idCopy   string
	endpoint string // "ip:port" advertised
	// masterSilence is how long the master may stay silent (ping interval
	// × max missed pings, from the last REGISTERED); 0 before any.
	masterSilence time.Duration

	// started is when New was called (/state's start_time).
	started time.Time
	// files serves /files/* and LIST_FILES/READ_FILE (files.go).
	files *files.Server
	// authz decides HTTP requests by cfg.ACLs (authz.go); nil allows
	// everything. Immutable.
	authz *acl.Authorizer
	// recoveredPort is the port of the recovered agent when --port=0
	// (set before the state goroutine starts; read-only after).
	recoveredPort int

	// gcRoot is --work_dir, through which the garbage collector renames
	// and deletes (gc.go); gcQueue carries paths to delete from the state
	// goroutine to the deleting goroutine. Closed by stop.
	gcRoot  *os.Root
	gcQueue *queue[gcTrash]

	// commit makes a checkpoint batch durable on the checkpointer
	// goroutine ((*checkpoint.Batch).Commit; tests replace it, through
	// the state goroutine, to delay or fail commits). ckptWork hands
	// batches from the state goroutine to it (checkpointer.go).
	commit   func(*checkpoint.Batch) error
	ckptWork chan *checkpoint.Batch

	// v0 serves the executor driver protocol (v0.go).
	v0 *v0Edge
	// authn authenticates the agent to the master, HTTP requests and
	// executors (authn.go); handler is mux behind it.
	authn   *authn
	handler http.Handler

	// ---- state below is owned by the loop goroutine ----
	st state
}

// New checks cfg and returns an Agent whose state goroutine runs; call
// Serve or Run to connect it, and Close to stop it.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	info, err := agentInfo(cfg)
	if err != nil {
		return nil, err
	}
	authn, err := newAuthn(cfg.Authentication)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("--work_dir=%s: %w", cfg.WorkDir, err)
	}
	fetch, err := fetcher.New(fetcher.Config{
		CacheDir:     cfg.FetcherCacheDir,
		CacheSize:    cfg.fetcherCacheBytes,
		StallTimeout: cfg.FetcherStallTimeout,
		Extract:      fetcher.Limits{MaxSize: cfg.fetcherExtractBytes, MaxEntries: cfg.FetcherExtractMaxEntries},
		Log:          log.With("component", "fetcher"),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		fetch:     fetch,
		cfg:       cfg,
		log:       log,
		clock:     cfg.Clock,
		inbox:     make(chan func(), 64),
		quit:      make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
		serveErr:  make(chan error, 3),
		store:     checkpoint.New(cfg.WorkDir),
		commit:    (*checkpoint.Batch).Commit,
		ckptWork:  make(chan *checkpoint.Batch, 1),
		detached:  make(chan struct{}),
		recovered: make(chan struct{}),
		started:   time.Now(),
		authn:     authn,
	}
	a.st = newState(info)
	a.drv = goDriver{a}
	if cfg.driver != nil {
		a.drv = cfg.driver(a)
	}
	a.files = a.newFileServer()
	a.authz = acl.New(cfg.ACLs.ACLs)
	if err := a.newContainerizer(); err != nil {
		cancel()
		fetch.Close()
		return nil, err
	}
	a.mux = http.NewServeMux()
	a.v0 = newV0Edge(a)
	a.routes()
	a.handler = a.authn.guard(a.mux)
	if err := a.initGC(); err != nil {
		cancel()
		fetch.Close()
		return nil, err
	}
	// Recovery runs before the state goroutine: nothing else touches the
	// state yet (timers it arms post to the inbox, served once the loop
	// runs).
	if err := a.recover(); err != nil {
		close(a.detached) // leave adopted executors alone
		a.procs.Wait()
		a.st.stopTimers()
		a.gcRoot.Close()
		cancel()
		fetch.Close()
		return nil, err
	}
	a.startGC()
	a.drv.start()
	return a, nil
}

// ID returns the agent id the master assigned ("" before registration).
func (a *Agent) ID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.idCopy
}

// Endpoint returns the "ip:port" the agent advertises ("" before Serve).
func (a *Agent) Endpoint() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.endpoint
}

// Handler returns the agent's HTTP handler: the executor API at
// /api/v1/executor (and /slave(1)/api/v1/executor) and /health.
func (a *Agent) Handler() http.Handler { return a.handler }

// Serve serves HTTP on ln, registers with the master and runs until Close
// (then it returns nil), until the master refuses the agent (ErrRefused)
// or until writing the checkpoint fails (ErrCheckpoint; the agent takes
// no more work, and its owner should Detach it and start a new one,
// which recovers).
func (a *Agent) Serve(ln net.Listener) error {
	if a.cleanedUp {
		// --recover=cleanup: like Mesos' agent, exit once the old
		// executors are gone.
		ln.Close()
		return nil
	}
	addr := ln.Addr().(*net.TCPAddr)
	ip := a.cfg.IP
	if ip == "" || net.ParseIP(ip).IsUnspecified() {
		ip = addr.IP.String()
		if addr.IP.IsUnspecified() {
			ip = "127.0.0.1"
		}
	}
	endpoint := net.JoinHostPort(ip, strconv.Itoa(addr.Port))
	a.mu.Lock()
	a.endpoint = endpoint
	a.mu.Unlock()
	if err := a.v0.start(endpoint); err != nil {
		ln.Close()
		return fmt.Errorf("the agent's libprocess pid: %w", err)
	}
	if err := a.do(func() {
		a.st.ip = ip
		a.st.endpoint = endpoint
		info := proto.Clone(a.st.info).(*mesos.AgentInfo)
		info.Port = proto32(int32(addr.Port))
		a.st.info = info
		// Recovered driver-based executors connect back to the
		// listener, which queues them until the server below runs.
		a.v0.reconnectExecutors()
	}); err != nil {
		return err
	}
	a.server = tlsutil.NewServer(a.handler, tlsutil.ServerOptions{Log: a.log})
	ln = a.cfg.TLS.Listen(tlsutil.LimitListener(ln, 0))
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		err := a.server.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.serveErr <- err
	}()
	go func() {
		defer a.wg.Done()
		a.masterLink(a.ctx)
	}()
	select {
	case err := <-a.serveErr:
		return err
	case <-a.quit:
		return nil
	}
}

// Run listens on --ip:--port and serves until ctx ends, then detaches
// (Detach: executors of checkpointing frameworks keep running, as Mesos'
// agent leaves them when it is terminated). It closes the agent (Close)
// when serving fails or the master refuses the agent, and detaches it
// when writing the checkpoint failed (ErrCheckpoint), so that a restarted
// agent recovers those executors.
func (a *Agent) Run(ctx context.Context) error {
	ln, err := a.Listen()
	if err != nil {
		a.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ln) }()
	select {
	case <-ctx.Done():
		a.Detach()
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, ErrCheckpoint) {
			a.Detach()
		} else {
			a.Close()
		}
		return err
	}
}

// Listen opens the agent's listener on --ip and --port. With --port=0 a
// recovered agent listens on the port it had, so that its executors,
// which know it by address, can subscribe again; when that port is taken
// it picks a free one (and says so). A new agent picks a free port.
func (a *Agent) Listen() (net.Listener, error) {
	if a.cfg.Port == 0 && a.recoveredPort > 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(a.cfg.IP, strconv.Itoa(a.recoveredPort)))
		if err == nil {
			return ln, nil
		}
		a.log.Warn("cannot listen on the recovered agent's port; its executors will not find it", "port", a.recoveredPort, "err", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(a.cfg.IP, strconv.Itoa(a.cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen on --ip=%s --port=%d: %w", a.cfg.IP, a.cfg.Port, err)
	}
	return ln, nil
}

// Close stops the agent: it kills every executor's process group (and so
// its tasks), stops the HTTP server, the master link, timers and the state
// goroutine, and waits for all of them. It is safe to call more than once;
// after Close or Detach, further calls of either do nothing.
func (a *Agent) Close() error { return a.stop(false) }

// Detach stops the agent like Close but leaves the executors of
// checkpointing frameworks running, as Mesos' agent does when it is
// terminated: a new agent on the same --work_dir recovers them. The
// executors of other frameworks are killed (they could not reconnect).
func (a *Agent) Detach() error { return a.stop(true) }

func (a *Agent) stop(detach bool) error {
	a.closeOnce.Do(func() {
		// Kill executors while the loop still runs.
		_ = a.do(func() {
			if detach {
				a.killUncheckpointed()
			} else {
				a.killAllExecutors()
			}
		})
		if detach {
			close(a.detached)
		}
		a.cancel()
		if a.server != nil {
			a.server.Close()
		}
		a.procs.Wait()
		a.fetch.Close()
		// What was checkpointed so far is committed before the agent
		// ends (a refused agent's removal of meta/slaves/latest, the
		// last updates of its tasks).
		if err := a.syncCheckpoint(); err != nil && !errors.Is(err, ErrClosed) {
			a.log.Error("checkpoint not complete at shutdown", "err", err)
		}
		close(a.quit)
		a.wg.Wait()
		a.v0.close()
		a.gcRoot.Close()
	})
	return nil
}

// loop runs closures on the state goroutine until Close (the
// production driver's state loop).
func (a *Agent) loop() {
	defer a.wg.Done()
	a.flushCheckpoint() // what recovery wrote
	for {
		select {
		case f := <-a.inbox:
			a.turn(f)
		case <-a.quit:
			a.st.stopTimers()
			return
		}
	}
}

// turn runs f on the state goroutine and then hands the checkpoint
// writes it made to be committed, when no batch is being committed
// (checkpointer.go). Every driver runs posted closures through it.
func (a *Agent) turn(f func()) {
	f()
	a.flushCheckpoint()
}

// post queues f for the state goroutine without waiting (through the
// driver); dropped after Close.
func (a *Agent) post(f func()) { a.drv.post(f) }

// do runs f on the state goroutine and waits for it. Only goroutines of
// the production driver may call it.
func (a *Agent) do(f func()) error {
	done := make(chan struct{})
	select {
	case <-a.quit:
		return ErrClosed
	default:
	}
	a.drv.post(func() { f(); close(done) })
	select {
	case <-done:
		return nil
	case <-a.quit:
		return ErrClosed
	}
}

// after runs f on the state goroutine after d (on the agent's clock).
func (a *Agent) after(d time.Duration, f func()) Timer {
	return a.clock.AfterFunc(d, func() { a.post(f) })
}

// killUncheckpointed SIGKILLs the executors that a restarted agent could
// not recover (state goroutine).
func (a *Agent) killUncheckpointed() {
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if ex.checkpointed {
				continue
			}
			a.destroyContainer(ex)
			if ex.fetchCancel != nil {
				ex.fetchCancel()
			}
		}
	}
}

// killAllExecutors SIGKILLs every executor process group (state
// goroutine).
func (a *Agent) killAllExecutors() {
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			a.destroyContainer(ex)
			if ex.fetchCancel != nil {
				ex.fetchCancel()
			}
		}
	}
}

func proto32(v int32) *int32 { return &v }
