package agent

import (
	"errors"
	"net/http"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/auth"
	"github.com/mezzo-project/mezzo/internal/limits"
)

func (a *Agent) routes() {
	pm := a.newPromMetrics()
	exec := pm.timed("executor", httpapi.Wrap(a.log, a.serveExecutor))
	for _, p := range []string{"/api/v1/executor", "/slave(1)/api/v1/executor"} {
		a.mux.Handle(p, exec)
		a.mux.Handle(p+"/", exec)
	}
	// The operator API (operator.go). Patterns without a trailing slash
	// match only their own path, so /api/v1/executor stays the executor's.
	operator := pm.timed("operator", httpapi.Wrap(a.log, a.serveOperator))
	a.mux.Handle("/api/v1", operator)
	a.mux.Handle("/slave(1)/api/v1", operator)
	health := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	a.mux.Handle("/health", health)
	a.mux.Handle("/slave(1)/health", health)
	// Executor and scheduler drivers' libprocess messages (v0.go).
	a.mux.Handle("/slave(1)/", a.v0)
	a.routeFiles()
	a.routeDocuments()
	a.routeObservability(pm)
}

// validateCall applies Mesos' executor call validation.
func validateCall(c *execpb.Call) error {
	if c.Type == nil {
		return errors.New("Expecting 'type' to be present")
	}
	if c.GetExecutorId() == nil {
		return errors.New("Expecting 'executor_id' to be present")
	}
	// What the executor says is forwarded to the master, which bounds
	// it the same way: refused here, it is not retried there forever.
	if err := limits.Check("call", c); err != nil {
		return err
	}
	if c.GetFrameworkId() == nil {
		return errors.New("Expecting 'framework_id' to be present")
	}
	switch c.GetType() {
	case execpb.Call_SUBSCRIBE:
		if c.Subscribe == nil {
			return errors.New("Expecting 'subscribe' to be present")
		}
	case execpb.Call_UPDATE:
		if c.Update == nil {
			return errors.New("Expecting 'update' to be present")
		}
		s := c.GetUpdate().GetStatus()
		if s.Uuid == nil {
			return errors.New("Expecting 'uuid' to be present")
		}
		if len(s.GetUuid()) != 16 {
			return errors.New("Not a valid UUID")
		}
		if s.ExecutorId != nil && s.GetExecutorId().GetValue() != c.GetExecutorId().GetValue() {
			return errors.New("ExecutorID in Call: " + c.GetExecutorId().GetValue() +
				" does not match ExecutorID in TaskStatus: " + s.GetExecutorId().GetValue())
		}
		if s.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR || s.Source == nil {
			return errors.New("Received Call from executor " + c.GetExecutorId().GetValue() + " of framework " +
				c.GetFrameworkId().GetValue() + " with invalid source, expecting 'SOURCE_EXECUTOR'")
		}
		if s.GetState() == mesos.TaskState_TASK_STAGING {
			return errors.New("Received TASK_STAGING from executor " + c.GetExecutorId().GetValue() +
				" of framework " + c.GetFrameworkId().GetValue() + " which is not allowed")
		}
	case execpb.Call_MESSAGE:
		if c.Message == nil {
			return errors.New("Expecting 'message' to be present")
		}
	}
	return nil
}

// serveExecutor is POST /api/v1/executor.
func (a *Agent) serveExecutor(w http.ResponseWriter, r *http.Request) error {
	call := &execpb.Call{}
	if _, err := httpapi.DecodeCall(w, r, call, 0); err != nil {
		return err
	}
	if err := validateCall(call); err != nil {
		return httpapi.BadRequest("Failed to validate Executor::Call: %s", err.Error())
	}
	if a.authn.cfg.HTTPExecutors {
		if err := a.authenticateExecutor(w, r, call); err != nil {
			return err
		}
	}
	switch call.GetType() {
	case execpb.Call_HEARTBEAT:
		return httpapi.Accepted(w)
	}
	format, err := httpapi.ResponseFormat(r)
	if call.GetType() == execpb.Call_SUBSCRIBE && err != nil {
		return err
	}
	conn, err := a.executorCall(call)
	if err != nil {
		return err
	}
	if conn == nil {
		return httpapi.Accepted(w)
	}
	return a.streamEvents(w, r, format, conn)
}

// executorCall applies a validated call of an executor (HTTP, or one
// running inside the agent) and returns the new subscription of a
// SUBSCRIBE. Errors are httpapi errors carrying Mesos' status codes.
func (a *Agent) executorCall(call *execpb.Call) (*execConn, error) {
	var herr error
	var conn *execConn
	// durable reports when an UPDATE is durable: the 202 waits for it.
	durable := make(chan error, 1)
	waits := false
	if err := a.do(func() {
		conn, waits, herr = a.applyExecutorCall(call, func(err error) { durable <- err })
	}); err != nil {
		return nil, httpapi.ServiceUnavailable("Agent is shutting down")
	}
	if waits {
		select {
		case err := <-durable:
			if err != nil {
				return nil, httpapi.Errorf(http.StatusInternalServerError, "Failed to checkpoint the status update: %v", err)
			}
		case <-a.quit:
			return nil, httpapi.ServiceUnavailable("Agent is shutting down")
		}
	}
	return conn, herr
}

// applyExecutorCall applies a validated call of an executor (state
// goroutine). It returns the new subscription of a SUBSCRIBE; for an
// UPDATE it took, waits is true and durable is called once the update is
// durable (or with what keeps it from being so): the 202 waits for it.
// Errors are httpapi errors carrying Mesos' status codes.
func (a *Agent) applyExecutorCall(call *execpb.Call, durable func(error)) (conn *execConn, waits bool, err error) {
	fwID, exID := call.GetFrameworkId().GetValue(), call.GetExecutorId().GetValue()
	fw := a.st.frameworks[fwID]
	if fw == nil {
		return nil, false, httpapi.BadRequest("Framework cannot be found")
	}
	ex := fw.executors[exID]
	if ex == nil {
		return nil, false, httpapi.BadRequest("Executor cannot be found")
	}
	subscribed := ex.state == exRunning || (ex.state == exTerminating && ex.conn != nil)
	if call.GetType() != execpb.Call_SUBSCRIBE && !subscribed {
		return nil, false, httpapi.Forbidden("Executor is not subscribed")
	}
	switch call.GetType() {
	case execpb.Call_SUBSCRIBE:
		return a.subscribe(fw, ex, call.GetSubscribe()), false, nil
	case execpb.Call_UPDATE:
		// Checkpointed (for checkpointing frameworks) before 202.
		if err := a.executorUpdate(fw, ex, call.GetUpdate().GetStatus(), durable); err != nil {
			return nil, false, httpapi.Errorf(http.StatusInternalServerError, "Failed to checkpoint the status update: %v", err)
		}
		return nil, true, nil
	case execpb.Call_MESSAGE:
		a.send(frameworkMessageCall(fwID, call))
		a.st.metrics.validFrameworkMessages++
		return nil, false, nil
	default:
		return nil, false, httpapi.NotImplemented("")
	}
}

// executorHeartbeatInterval is how often an executor's event stream gets
// a HEARTBEAT (Mesos' DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL, 30 minutes).
var executorHeartbeatInterval = 30 * time.Minute

// executorWriteTimeout bounds one write to an executor's event stream,
// so that an executor that stops reading is cut off.
const executorWriteTimeout = 30 * time.Second

// streamEvents writes an executor's events until its subscription ends
// (a newer SUBSCRIBE, the executor's end, the client leaving, Close).
func (a *Agent) streamEvents(w http.ResponseWriter, r *http.Request, f codec.Format, conn *execConn) error {
	stream, err := httpapi.StartStream(w, f, nil)
	if err != nil {
		a.post(func() { a.unsubscribe(conn) })
		return err
	}
	defer a.post(func() { a.unsubscribe(conn) })
	// A HEARTBEAT every interval keeps idle connections alive
	// through proxies, as Mesos' agent does for HTTP executors.
	heartbeat := time.NewTicker(executorHeartbeatInterval)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-a.quit:
			return nil
		case <-heartbeat.C:
			_ = stream.SetWriteDeadline(time.Now().Add(executorWriteTimeout))
			if err := stream.Send(&execpb.Event{Type: execpb.Event_HEARTBEAT.Enum()}); err != nil {
				return nil
			}
			continue
		case <-conn.events.wait():
		}
		events, closed := conn.events.take()
		for _, ev := range events {
			_ = stream.SetWriteDeadline(time.Now().Add(executorWriteTimeout))
			if err := stream.Send(ev); err != nil {
				return nil
			}
		}
		if closed {
			return nil
		}
	}
}

// unsubscribe forgets a subscription whose stream ended (state
// goroutine). The executor stays RUNNING: Mesos waits for its process to
// end, or for it to subscribe again.
func (a *Agent) unsubscribe(conn *execConn) {
	conn.events.close()
	for _, fw := range a.st.frameworks {
		for _, ex := range fw.executors {
			if ex.conn == conn {
				ex.conn = nil
			}
		}
	}
}

// authenticateExecutor checks the Bearer token of an executor's call
// (--authenticate_http_executors): a token this agent signed, for the
// call's framework and executor and the executor's current container, as
// Mesos checks its claims. No or a bad token is 401 with Mesos' Bearer
// challenge; a good token for another executor or container is 403.
func (a *Agent) authenticateExecutor(w http.ResponseWriter, r *http.Request, call *execpb.Call) error {
	token, problem := auth.BearerToken(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", auth.BearerChallenge(auth.RealmAgentExecutor, problem))
		return httpapi.Errorf(http.StatusUnauthorized, "Executor authentication required")
	}
	claims, err := auth.VerifyExecutorToken(a.authn.key, token)
	if err != nil {
		w.Header().Set("WWW-Authenticate", auth.BearerChallenge(auth.RealmAgentExecutor, "Invalid JWT: "+err.Error()))
		return httpapi.Errorf(http.StatusUnauthorized, "Executor authentication failed")
	}
	fwID, exID := call.GetFrameworkId().GetValue(), call.GetExecutorId().GetValue()
	if claims.FrameworkID != fwID {
		return httpapi.Forbidden("Authenticated principal does not contain an 'fid' claim with the framework ID %s, which is set in the call", fwID)
	}
	if claims.ExecutorID != exID {
		return httpapi.Forbidden("Authenticated principal does not contain an 'eid' claim with the executor ID %s, which is set in the call", exID)
	}
	var containerID string
	found := false
	if err := a.do(func() {
		if fw := a.st.frameworks[fwID]; fw != nil {
			if ex := fw.executors[exID]; ex != nil {
				containerID, found = ex.containerID, true
			}
		}
	}); err != nil {
		return httpapi.ServiceUnavailable("Agent is shutting down")
	}
	if found && claims.ContainerID != containerID {
		return httpapi.Forbidden("Authenticated principal does not contain a 'cid' claim with the correct active ContainerID")
	}
	return nil
}
