// Package scheduler is Mezzo's Go SDK for writing frameworks: a client of
// the Mesos v1 scheduler API (POST /api/v1/scheduler) that works against
// Mezzo and against Apache Mesos alike.
//
// A Client subscribes, keeps the event stream open, hands every event to a
// Handler on one goroutine (in stream order), and sends calls on separate
// connections with the stream's Mesos-Stream-Id, as the API requires. It
// follows a standby master's 307 redirect to the leader, notices a silent
// stream by missed heartbeats, and — when the framework has a failover
// timeout — re-subscribes with its FrameworkID after a lost connection.
//
//	c := scheduler.New(scheduler.Config{Master: "127.0.0.1:5050", Framework: info})
//	err := c.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error { ... })
package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// ErrDone is returned by a Handler to end Run without an error.
var ErrDone = errors.New("scheduler: done")

// Handler receives each event of the stream, in order, on Run's goroutine.
// Returning ErrDone ends Run cleanly; any other error ends it with that
// error.
type Handler func(ctx context.Context, ev *schedpb.Event) error

// Config configures a Client.
type Config struct {
	// Master is the master's address: "host:port" or an http(s) URL, or
	// where several masters elect their leader: zk://host1:port1,…/path or
	// file:///path holding that, followed with package detector (the
	// client subscribes to the leader and moves to the next one as soon
	// as it is elected). Required.
	Master string
	// Framework is the FrameworkInfo to subscribe with. User and Name are
	// required by the API; an empty User is filled with "root". Set Id to
	// re-subscribe as an existing framework.
	Framework *mesos.FrameworkInfo
	// Format is the encoding of calls and events; the zero value is JSON.
	Format codec.Format
	// HTTPClient sends calls; nil means a client with a 30 s timeout
	// that keeps up to 16 idle connections to the master,
	// speaking TLS as the LIBPROCESS_SSL_* variables of the process say
	// (https to the master, as Mesos' scheduler library). The
	// subscription uses a copy without a timeout.
	HTTPClient *http.Client
	// AutoAcknowledge acknowledges every UPDATE that carries a uuid after
	// the Handler has returned nil for it.
	AutoAcknowledge bool
	// Reconnect re-subscribes after a lost connection or an unavailable
	// master (with the framework id, so the framework keeps its tasks)
	// instead of ending Run; a SUBSCRIBE the master refuses (4xx) still
	// ends it. It makes sense only when Framework.FailoverTimeout is long
	// enough to cover the gap, or the master itself restarts.
	Reconnect bool
	// MaxMissedHeartbeats is how many heartbeat intervals may pass without
	// any event before the stream is considered dead; 0 means 5.
	MaxMissedHeartbeats int
	// ReconcileOnSubscribe sends an implicit reconciliation (RECONCILE
	// naming no task) after every SUBSCRIBED, once the Handler has seen
	// it, so the framework learns the state of all its tasks the master
	// knows after a failover or reconnection. Tasks the master does not
	// know are not answered: a framework that must learn they are gone
	// reconciles them by name (Reconcile with tasks).
	ReconcileOnSubscribe bool
	// Credential, when its Principal is set, is sent with every call as
	// HTTP Basic credentials: what a master with
	// --authenticate_http_frameworks (or --authenticate_frameworks)
	// requires. Framework.Principal is filled with it when empty; a
	// different one is refused by such a master.
	Credential Credential
	// Log receives the client's own log lines; nil discards them.
	Log *slog.Logger
}

// Credential is a framework's principal and secret.
type Credential struct {
	Principal, Secret string
}

// Client is a connection of one framework to the master. Its methods may be
// called from any goroutine; the Handler runs on Run's goroutine.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	mu          sync.Mutex
	master      string // base URL of the master currently used
	scheme      string // "http" or "https": the scheme of detected masters
	tlsErr      error  // a bad LIBPROCESS_SSL_* environment, reported by Run
	streamID    string
	frameworkID *mesos.FrameworkID
	subscribed  chan struct{} // closed on the first SUBSCRIBED

	// acked holds the updates acknowledged through Acknowledge.
	acked ackedSet
	// leader follows the leading master when Master is a ZooKeeper URL
	// (set by Run).
	leader *detector.Follower
}

// detectSessionTimeout is the ZooKeeper session timeout of the client's
// detector (Mesos' default).
const detectSessionTimeout = 10 * time.Second

// idleConns is how many idle connections to the master the default HTTP
// client keeps. A scheduler that has several calls in flight at once
// (acknowledgements beside its ACCEPTs and DECLINEs) would otherwise
// open and close a connection for nearly every call beyond Go's default
// of two.
const idleConns = 16

// New returns a Client. It does not connect until Run.
func New(cfg Config) *Client {
	hc := cfg.HTTPClient
	tlsConf, tlsErr := tlsutil.Default()
	if hc == nil {
		hc = tlsConf.Client(30 * time.Second)
		if t, ok := hc.Transport.(*http.Transport); ok {
			t.MaxIdleConnsPerHost = idleConns
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxMissedHeartbeats <= 0 {
		cfg.MaxMissedHeartbeats = 5
	}
	fw := proto.Clone(cfg.Framework).(*mesos.FrameworkInfo)
	if fw == nil {
		fw = &mesos.FrameworkInfo{}
	}
	if fw.GetUser() == "" {
		fw.User = proto.String("root")
	}
	if fw.Principal == nil && cfg.Credential.Principal != "" {
		fw.Principal = proto.String(cfg.Credential.Principal)
	}
	cfg.Framework = fw
	c := &Client{cfg: cfg, http: hc, log: log, subscribed: make(chan struct{}), scheme: tlsConf.Scheme(), tlsErr: tlsErr}
	if !detector.Detected(cfg.Master) {
		c.master = baseURL(cfg.Master, c.scheme)
	}
	if fw.GetId().GetValue() != "" {
		c.frameworkID = fw.GetId()
	}
	return c
}

func baseURL(master, scheme string) string {
	m := strings.TrimRight(master, "/")
	if strings.HasPrefix(m, "http://") || strings.HasPrefix(m, "https://") {
		return m
	}
	return scheme + "://" + m
}

// FrameworkID returns the framework's id, nil before the first SUBSCRIBED.
func (c *Client) FrameworkID() *mesos.FrameworkID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frameworkID
}

// Subscribed returns a channel closed once the first SUBSCRIBED arrived.
func (c *Client) Subscribed() <-chan struct{} { return c.subscribed }

// Run subscribes and delivers events to h until ctx ends, h returns an
// error, or the stream ends (and Reconnect is off).
func (c *Client) Run(ctx context.Context, h Handler) error {
	if c.tlsErr != nil {
		return fmt.Errorf("scheduler: %w", c.tlsErr)
	}
	if detector.Detected(c.cfg.Master) {
		u, err := detector.ParseURL(c.cfg.Master)
		if err != nil {
			return fmt.Errorf("scheduler: master: %w", err)
		}
		det, err := detector.Detect(ctx, u, detectSessionTimeout, detector.WithLogger(c.log))
		if err != nil {
			return fmt.Errorf("scheduler: detect the leading master in %s: %w", u, err)
		}
		defer det.Close()
		c.leader = detector.Follow(ctx, det)
	}
	backoff := 500 * time.Millisecond
	for {
		err := c.runOnce(ctx, h)
		switch {
		case errors.Is(err, ErrDone):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errHandler):
			return errors.Unwrap(err)
		case !c.cfg.Reconnect:
			return err
		case refused(err):
			// The master answered and refused the subscription: asking
			// again would be refused again.
			return err
		}
		select {
		case <-c.subscribed:
			c.log.Warn("subscription lost; re-subscribing", "err", err, "backoff", backoff)
		default:
			c.log.Warn("could not subscribe; trying again", "master", c.cfg.Master, "err", err, "backoff", backoff)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		if backoff < 10*time.Second {
			backoff *= 2
		}
	}
}

// refused reports whether err is the master's definite refusal of a
// call (a 4xx answer), as opposed to a lost connection or an unavailable
// master (5xx), which are worth another try.
func refused(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Status/100 == 4
}

// errHandler marks an error that came from the Handler.
var errHandler = errors.New("handler error")

type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }
func (e handlerError) Unwrap() error { return e.err }
func (e handlerError) Is(target error) bool {
	return target == errHandler
}

func (c *Client) runOnce(ctx context.Context, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.leader != nil {
		// Subscribe to the leader; a change of leader ends the
		// subscription, and Run subscribes to the next one.
		addr := c.leader.Attach(cancel)
		if addr == "" {
			return fmt.Errorf("scheduler: no leading master detected yet in %s", c.cfg.Master)
		}
		c.mu.Lock()
		c.master = c.scheme + "://" + addr
		c.mu.Unlock()
	}

	fw := proto.Clone(c.cfg.Framework).(*mesos.FrameworkInfo)
	call := &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: fw}}
	if id := c.FrameworkID(); id != nil {
		fw.Id = id
		call.FrameworkId = id
	}
	resp, err := c.post(ctx, call, "", true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.mu.Lock()
	c.streamID = resp.Header.Get("Mesos-Stream-Id")
	c.mu.Unlock()

	format := c.cfg.Format
	if f, ok := codec.FormatOf(resp.Header.Get("Content-Type")); ok {
		format = f
	}
	// A watchdog ends a stream that stays silent for too many heartbeats.
	activity := make(chan time.Duration, 1)
	go func() {
		limit := time.Duration(c.cfg.MaxMissedHeartbeats) * 15 * time.Second
		t := time.NewTimer(limit)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case d := <-activity:
				if d > 0 {
					limit = time.Duration(c.cfg.MaxMissedHeartbeats) * d
				}
				if !t.Stop() {
					<-t.C
				}
				t.Reset(limit)
			case <-t.C:
				c.log.Warn("no event within the heartbeat limit; closing the subscription", "limit", limit)
				resp.Body.Close()
				return
			}
		}
	}()

	r := recordio.NewReader(resp.Body, 0)
	for {
		rec, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("scheduler: the master closed the event stream")
			}
			return fmt.Errorf("scheduler: read event stream: %w", err)
		}
		var ev schedpb.Event
		if err := codec.Unmarshal(format, rec, &ev); err != nil {
			return fmt.Errorf("scheduler: decode event: %w", err)
		}
		var hb time.Duration
		if ev.GetType() == schedpb.Event_SUBSCRIBED {
			c.mu.Lock()
			c.frameworkID = ev.GetSubscribed().GetFrameworkId()
			c.mu.Unlock()
			select {
			case <-c.subscribed:
			default:
				close(c.subscribed)
			}
			if s := ev.GetSubscribed().GetHeartbeatIntervalSeconds(); s > 0 {
				hb = time.Duration(s * float64(time.Second))
			}
		}
		select {
		case activity <- hb:
		default:
		}
		if st := ev.GetUpdate().GetStatus(); ev.GetType() == schedpb.Event_UPDATE && len(st.GetUuid()) > 0 &&
			c.acked.has(ackKey(st.GetTaskId().GetValue(), st.GetUuid())) {
			// A resent update the framework acknowledged already: its
			// acknowledgement was lost on the way, so it is sent again,
			// and the Handler does not see the update twice.
			c.log.Debug("dropping a duplicate of an acknowledged update", "task", st.GetTaskId().GetValue(), "state", st.GetState().String())
			if err := c.Acknowledge(ctx, st); err != nil {
				c.log.Warn("acknowledge failed", "task", st.GetTaskId().GetValue(), "err", err)
			}
			continue
		}
		if err := h(ctx, &ev); err != nil {
			return handlerError{err}
		}
		if c.cfg.ReconcileOnSubscribe && ev.GetType() == schedpb.Event_SUBSCRIBED {
			if err := c.Reconcile(ctx); err != nil {
				c.log.Warn("reconciliation after subscribing failed", "err", err)
			}
		}
		if c.cfg.AutoAcknowledge && ev.GetType() == schedpb.Event_UPDATE {
			if err := c.Acknowledge(ctx, ev.GetUpdate().GetStatus()); err != nil {
				c.log.Warn("acknowledge failed", "task", ev.GetUpdate().GetStatus().GetTaskId().GetValue(), "err", err)
			}
		}
	}
}

// post sends call to the scheduler endpoint, following up to three 307
// redirects to the leading master. For a subscription the response is
// returned open.
func (c *Client) post(ctx context.Context, call *schedpb.Call, streamID string, subscribe bool) (*http.Response, error) {
	body, err := codec.Marshal(c.cfg.Format, call)
	if err != nil {
		return nil, err
	}
	hc := c.http
	if subscribe {
		copyClient := *c.http
		copyClient.Timeout = 0
		hc = &copyClient
	}
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for attempt := 0; attempt < 4; attempt++ {
		c.mu.Lock()
		base := c.master
		c.mu.Unlock()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/scheduler", bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("scheduler: %w", err)
		}
		req.Header.Set("Content-Type", c.cfg.Format.MediaType())
		req.Header.Set("Accept", c.cfg.Format.MediaType())
		if streamID != "" {
			req.Header.Set("Mesos-Stream-Id", streamID)
		}
		if p := c.cfg.Credential.Principal; p != "" {
			req.SetBasicAuth(p, c.cfg.Credential.Secret)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			return nil, fmt.Errorf("scheduler: %s call: %w", call.GetType(), err)
		}
		if resp.StatusCode == http.StatusTemporaryRedirect {
			loc := resp.Header.Get("Location")
			resp.Body.Close()
			u, err := url.Parse(loc)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("scheduler: bad redirect location %q", loc)
			}
			c.mu.Lock()
			scheme := u.Scheme // "//host:port" keeps the scheme in use
			if scheme == "" {
				scheme, _, _ = strings.Cut(c.master, "://")
			}
			c.master = scheme + "://" + u.Host
			c.mu.Unlock()
			c.log.Info("redirected to the leading master", "master", u.Host)
			continue
		}
		if resp.StatusCode/100 != 2 {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil, &CallError{Type: call.GetType(), Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
		}
		if !subscribe {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, nil
	}
	return nil, errors.New("scheduler: too many redirects")
}

// CallError is a call the master refused.
type CallError struct {
	Type    schedpb.Call_Type
	Status  int
	Message string
}

// Error describes what went wrong.
func (e *CallError) Error() string {
	return fmt.Sprintf("scheduler: %s call refused: %d %s: %s", e.Type, e.Status, http.StatusText(e.Status), e.Message)
}

// Call sends a call on the current subscription (setting framework_id and
// the stream id). It returns once the master accepted it (202/200).
func (c *Client) Call(ctx context.Context, call *schedpb.Call) error {
	c.mu.Lock()
	id, stream := c.frameworkID, c.streamID
	c.mu.Unlock()
	if id == nil {
		return errors.New("scheduler: not subscribed")
	}
	call.FrameworkId = id
	_, err := c.post(ctx, call, stream, false)
	return err
}

// Accept accepts offers with operations; filters may be nil.
func (c *Client) Accept(ctx context.Context, offerIDs []*mesos.OfferID, ops []*mesos.Offer_Operation, filters *mesos.Filters) error {
	return c.Call(ctx, &schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(),
		Accept: &schedpb.Call_Accept{OfferIds: offerIDs, Operations: ops, Filters: filters}})
}

// Launch accepts one offer with a LAUNCH of tasks.
func (c *Client) Launch(ctx context.Context, offerID *mesos.OfferID, tasks ...*mesos.TaskInfo) error {
	return c.Accept(ctx, []*mesos.OfferID{offerID}, []*mesos.Offer_Operation{{
		Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks},
	}}, nil)
}

// Decline declines offers; filters may be nil (Mesos' default 5 s filter).
func (c *Client) Decline(ctx context.Context, offerIDs []*mesos.OfferID, filters *mesos.Filters) error {
	return c.Call(ctx, &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(),
		Decline: &schedpb.Call_Decline{OfferIds: offerIDs, Filters: filters}})
}

// Acknowledge acknowledges a status update; updates without a uuid need no
// acknowledgement and are skipped. Once acknowledged, a duplicate of the
// update (an agent resending it because the acknowledgement was lost) is
// acknowledged again by the Client and not handed to the Handler.
func (c *Client) Acknowledge(ctx context.Context, st *mesos.TaskStatus) error {
	if len(st.GetUuid()) == 0 {
		return nil
	}
	err := c.Call(ctx, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(),
		Acknowledge: &schedpb.Call_Acknowledge{AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid()}})
	if err == nil {
		c.acked.add(ackKey(st.GetTaskId().GetValue(), st.GetUuid()))
	}
	return err
}

// Kill asks the master to kill a task.
func (c *Client) Kill(ctx context.Context, taskID *mesos.TaskID, agentID *mesos.AgentID) error {
	return c.Call(ctx, &schedpb.Call{Type: schedpb.Call_KILL.Enum(),
		Kill: &schedpb.Call_Kill{TaskId: taskID, AgentId: agentID}})
}

// MaxReconcileBatch is the most tasks Reconcile names in one call: more
// are asked for in several calls, in order, so that a call's body stays
// well under the master's limit on its size (16 MiB for Mezzo). The
// master answers every task either way.
const MaxReconcileBatch = 10000

// Reconcile asks for the state of tasks; no tasks means all of the
// framework's tasks (implicit reconciliation). The answers arrive as
// UPDATE events without a uuid (nothing to acknowledge); a large answer
// arrives paced, interleaved with other events, as the stream is read.
// Mezzo refuses a reconciliation with 503 (a *CallError) while a
// million named tasks already wait to be answered: ask again later. An
// error stops at the batch it names; the batches before it were sent.
func (c *Client) Reconcile(ctx context.Context, tasks ...*schedpb.Call_Reconcile_Task) error {
	for first := true; first || len(tasks) > 0; first = false {
		n := min(len(tasks), MaxReconcileBatch)
		if err := c.Call(ctx, &schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(),
			Reconcile: &schedpb.Call_Reconcile{Tasks: tasks[:n]}}); err != nil {
			return err
		}
		tasks = tasks[n:]
	}
	return nil
}

// Revive clears offer filters and resumes offers for roles (all when none).
func (c *Client) Revive(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{Roles: roles}})
}

// Suppress stops offers for roles (all when none) until Revive.
func (c *Client) Suppress(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{Roles: roles}})
}

// Message sends data to an executor (a framework message); the executor
// receives it as a MESSAGE event. Delivery is best effort, as in Mesos.
func (c *Client) Message(ctx context.Context, agentID *mesos.AgentID, executorID *mesos.ExecutorID, data []byte) error {
	return c.Call(ctx, &schedpb.Call{Type: schedpb.Call_MESSAGE.Enum(),
		Message: &schedpb.Call_Message{AgentId: agentID, ExecutorId: executorID, Data: data}})
}

// Teardown ends the framework: the master kills its tasks and forgets it.
func (c *Client) Teardown(ctx context.Context) error {
	return c.Call(ctx, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
}

// IsTerminal reports whether a task in state s has ended: FINISHED,
// FAILED, KILLED, ERROR, LOST, DROPPED, GONE or GONE_BY_OPERATOR.
func IsTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}
