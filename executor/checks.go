package executor

import (
	"context"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// This file gives the built-in executors Mesos' task checks
// (TaskInfo.check, a CheckInfo) and health checks (TaskInfo.health_check,
// a HealthCheck), as Mesos 1.11's command and default executors run them
// (docs/health-checks.md there). The pure halves — what a result means,
// when it is worth an update — are checkTracker and healthTracker; the
// engine hooks below turn their verdicts into TASK_RUNNING updates and
// kills; probe.go does the I/O.

// Defaults of the proto fields, as in mesos.proto (the generated getters
// return them for unset fields; these name them for the docs and tests).
const (
	defaultCheckDelay          = 15 * time.Second
	defaultCheckInterval       = 10 * time.Second
	defaultCheckTimeout        = 20 * time.Second
	defaultConsecutiveFailures = 3
	defaultHealthGracePeriod   = 10 * time.Second
)

// healthTracker interprets the results of a task's health check as Mesos'
// HealthChecker does. A result is a success or a failure; a failure
// before the first success and within the grace period (counted from
// when the checker started) is ignored; otherwise every failure is
// counted and reported unhealthy, and the one that brings the count of
// consecutive failures to the limit also asks for the task to be killed.
// A success is reported healthy only when it is the first one or follows
// failures.
type healthTracker struct {
	// limit is HealthCheck.consecutive_failures (a limit of 0 kills on the
	// first counted failure, as in Mesos).
	limit uint32
	// grace is HealthCheck.grace_period_seconds; 0 disables it.
	grace time.Duration
	// start is when checking started (the task was launched).
	start time.Time

	failures uint32 // consecutive counted failures
	passed   bool   // a check has succeeded at least once
}

// healthVerdict is what one health check result calls for.
type healthVerdict struct {
	// report: send TASK_RUNNING with healthy set to healthy.
	report, healthy bool
	// kill: the task failed limit checks in a row; kill it.
	kill bool
	// ignored: a failure within the grace period, not counted.
	ignored bool
	// failures is the count of consecutive failures after this result.
	failures uint32
}

// observe takes one result (ok: the check passed) seen at now.
func (h *healthTracker) observe(ok bool, now time.Time) healthVerdict {
	if ok {
		v := healthVerdict{report: !h.passed || h.failures > 0, healthy: true}
		h.passed = true
		h.failures = 0
		return v
	}
	if !h.passed && h.grace > 0 && now.Sub(h.start) <= h.grace {
		return healthVerdict{ignored: true}
	}
	h.failures++
	return healthVerdict{report: true, healthy: false, kill: h.failures >= h.limit, failures: h.failures}
}

// healthy interprets a health check's underlying result as Mesos does:
// an error (timeout, no result) fails; a command passes on exit code 0,
// HTTP on a status code in [200, 400), TCP when the connection opened.
func healthy(res *mesos.CheckStatusInfo, err error) bool {
	if err != nil {
		return false
	}
	switch res.GetType() {
	case mesos.CheckInfo_COMMAND:
		return res.GetCommand().GetExitCode() == 0
	case mesos.CheckInfo_HTTP:
		code := res.GetHttp().GetStatusCode()
		return code >= 200 && code < 400
	case mesos.CheckInfo_TCP:
		return res.GetTcp().GetSucceeded()
	}
	return false
}

// checkTracker deduplicates the results of a task's (general) check as
// Mesos' Checker does: a result is worth an update only when it differs
// from the previous one, which starts as the empty result; an attempt
// without a result (a timeout) counts as the empty result. The executor
// never interprets a check.
type checkTracker struct {
	last *mesos.CheckStatusInfo
}

// newCheckTracker starts from the empty result of the check's type.
func newCheckTracker(typ mesos.CheckInfo_Type) *checkTracker {
	return &checkTracker{last: emptyCheckStatus(typ)}
}

// observe takes one attempt's outcome and returns the status to report,
// or nil when nothing changed.
func (c *checkTracker) observe(res *mesos.CheckStatusInfo, err error) *mesos.CheckStatusInfo {
	if err != nil || res == nil {
		res = emptyCheckStatus(c.last.GetType())
	}
	if proto.Equal(res, c.last) {
		return nil
	}
	c.last = res
	return res
}

// emptyCheckStatus is the CheckStatusInfo of a check that has no result
// (yet): its type, and that type's result present but empty. Every
// update of a task with a check carries it unless it reports a result.
func emptyCheckStatus(typ mesos.CheckInfo_Type) *mesos.CheckStatusInfo {
	s := &mesos.CheckStatusInfo{Type: typ.Enum()}
	switch typ {
	case mesos.CheckInfo_COMMAND:
		s.Command = &mesos.CheckStatusInfo_Command{}
	case mesos.CheckInfo_HTTP:
		s.Http = &mesos.CheckStatusInfo_Http{}
	case mesos.CheckInfo_TCP:
		s.Tcp = &mesos.CheckStatusInfo_Tcp{}
	}
	return s
}

// taskChecks is a task's running check and health check, with the
// state that interprets their results.
type taskChecks struct {
	check, health *checker
	checkState    *checkTracker
	healthState   *healthTracker
	// unhealthy: the health check had the task killed; its terminal
	// update (and those of its task group) carries healthy=false.
	unhealthy bool
}

// healthProbe converts a HealthCheck into the probe that performs it, as
// Mesos turns a HealthCheck into a CheckInfo; it returns nil for a health
// check the master should have refused (unknown type, missing fields).
func (e *engine) healthProbe(t *task, hc *mesos.HealthCheck) *probe {
	p := &probe{timeout: seconds(hc.GetTimeoutSeconds())}
	p.container, _ = t.proc.(Container)
	switch hc.GetType() {
	case mesos.HealthCheck_COMMAND:
		if hc.GetCommand().GetValue() == "" {
			return nil
		}
		e.commandProbe(p, t, hc.GetCommand())
	case mesos.HealthCheck_HTTP:
		if hc.GetHttp() == nil {
			return nil
		}
		h := hc.GetHttp()
		p.kind, p.port, p.path = mesos.CheckInfo_HTTP, h.GetPort(), h.GetPath()
		p.scheme = "http"
		if h.Scheme != nil {
			p.scheme = h.GetScheme()
		}
		p.ipv6 = h.GetProtocol() == mesos.NetworkInfo_IPv6
		p.client = newCheckHTTPClient()
	case mesos.HealthCheck_TCP:
		if hc.GetTcp() == nil {
			return nil
		}
		p.kind, p.port = mesos.CheckInfo_TCP, hc.GetTcp().GetPort()
		p.ipv6 = hc.GetTcp().GetProtocol() == mesos.NetworkInfo_IPv6
	default:
		return nil
	}
	return p
}

// checkProbe converts a CheckInfo into its probe (nil if invalid). Checks
// have no scheme or protocol: HTTP over IPv4 only.
func (e *engine) checkProbe(t *task, ci *mesos.CheckInfo) *probe {
	p := &probe{timeout: seconds(ci.GetTimeoutSeconds())}
	p.container, _ = t.proc.(Container)
	switch ci.GetType() {
	case mesos.CheckInfo_COMMAND:
		if ci.GetCommand().GetCommand().GetValue() == "" {
			return nil
		}
		e.commandProbe(p, t, ci.GetCommand().GetCommand())
	case mesos.CheckInfo_HTTP:
		if ci.GetHttp() == nil {
			return nil
		}
		p.kind, p.port, p.path, p.scheme = mesos.CheckInfo_HTTP, ci.GetHttp().GetPort(), ci.GetHttp().GetPath(), "http"
		p.client = newCheckHTTPClient()
	case mesos.CheckInfo_TCP:
		if ci.GetTcp() == nil {
			return nil
		}
		p.kind, p.port = mesos.CheckInfo_TCP, ci.GetTcp().GetPort()
	default:
		return nil
	}
	return p
}

// commandProbe fills in a COMMAND probe: cmd run in the task's sandbox
// with the task's environment plus cmd's own (secrets are not supported,
// as for tasks; user and uris are ignored, as in Mesos).
func (e *engine) commandProbe(p *probe, t *task, cmd *mesos.CommandInfo) {
	env := make(map[string]string, len(t.env))
	for k, v := range t.env {
		env[k] = v
	}
	for _, v := range cmd.GetEnvironment().GetVariables() {
		if v.GetType() == mesos.Environment_Variable_SECRET {
			continue
		}
		env[v.GetName()] = v.GetValue()
	}
	p.kind = mesos.CheckInfo_COMMAND
	p.command = &mesos.CommandInfo{
		Shell:     cmd.Shell,
		Value:     cmd.Value,
		Arguments: cmd.GetArguments(),
	}
	p.env = env
	p.dir = t.sandbox
	p.output = filepath.Join(t.sandbox, "stderr")
	p.session = e.cfg.TaskSession
	p.dieWithParent = e.cfg.DieWithAgent
}

// startChecks starts the task's check and health check, if it has them.
// The engine calls it once the task runs and TASK_RUNNING is sent.
func (e *engine) startChecks(t *task) {
	log := e.log.With("task", t.info.GetTaskId().GetValue())
	if ci := t.info.GetCheck(); ci != nil {
		if p := e.checkProbe(t, ci); p == nil {
			log.Error("not running the task's check: it is invalid", "type", ci.GetType())
		} else {
			t.checks.checkState = newCheckTracker(p.kind)
			var c *checker
			c = startChecker(p, seconds(ci.GetDelaySeconds()), seconds(ci.GetIntervalSeconds()),
				func(ctx context.Context, res *mesos.CheckStatusInfo, err error) bool {
					return e.deliver(ctx, func() { e.checkResult(t, c, res, err) })
				})
			t.checks.check = c
			log.Info("started the task's check", "type", ci.GetType())
		}
	}
	if hc := t.info.GetHealthCheck(); hc != nil {
		if p := e.healthProbe(t, hc); p == nil {
			log.Error("not running the task's health check: it is invalid", "type", hc.GetType())
		} else {
			t.checks.healthState = &healthTracker{
				limit: hc.GetConsecutiveFailures(),
				grace: seconds(hc.GetGracePeriodSeconds()),
				start: time.Now(),
			}
			var c *checker
			c = startChecker(p, seconds(hc.GetDelaySeconds()), seconds(hc.GetIntervalSeconds()),
				func(ctx context.Context, res *mesos.CheckStatusInfo, err error) bool {
					return e.deliver(ctx, func() { e.healthResult(t, c, res, err) })
				})
			t.checks.health = c
			log.Info("started the task's health check", "type", hc.GetType())
		}
	}
}

// deliver queues f for the engine goroutine; false when ctx (the
// checker's) ends first.
func (e *engine) deliver(ctx context.Context, f func()) bool {
	select {
	case e.events <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

// stopChecks stops the task's checkers and waits for them: no check runs
// once the task is being killed or has ended (Mesos pauses them then, so
// no check or health update follows TASK_KILLING or a terminal update).
func (e *engine) stopChecks(t *task) {
	t.checks.check.stop()
	t.checks.health.stop()
	t.checks.check, t.checks.health = nil, nil
}

// checkResult handles one result of the task's check: a TASK_RUNNING
// with the new check_status when it changed.
func (e *engine) checkResult(t *task, c *checker, res *mesos.CheckStatusInfo, err error) {
	if c.stopped || t.terminal || t.killing {
		return
	}
	log := e.log.With("task", t.info.GetTaskId().GetValue())
	if err != nil {
		log.Warn("check failed to produce a result", "err", err)
	}
	status := t.checks.checkState.observe(res, err)
	if status == nil {
		return
	}
	log.Info("check status changed", "check_status", status)
	e.forwardUpdated(t, mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED, func(s *mesos.TaskStatus) {
		s.CheckStatus = status
	})
}

// healthResult handles one result of the task's health check: a
// TASK_RUNNING with healthy when the verdict says so, and a kill (as a
// KILL without a kill policy of its own would) after too many failures.
func (e *engine) healthResult(t *task, c *checker, res *mesos.CheckStatusInfo, err error) {
	if c.stopped || t.terminal || t.killing {
		return
	}
	log := e.log.With("task", t.info.GetTaskId().GetValue())
	ok := healthy(res, err)
	v := t.checks.healthState.observe(ok, time.Now())
	if !ok {
		why := []any{"result", res}
		if err != nil {
			why = []any{"err", err}
		}
		if v.ignored {
			log.Info("ignoring a failed health check: still in the grace period", why...)
		} else {
			log.Warn("health check failed", append(why, "consecutive_failures", v.failures)...)
		}
	}
	if v.report {
		e.forwardUpdated(t, mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, func(s *mesos.TaskStatus) {
			s.Healthy = proto.Bool(v.healthy)
		})
	}
	if v.kill {
		log.Warn("killing the task: its health check failed too many times in a row", "consecutive_failures", v.failures)
		t.checks.unhealthy = true
		e.kill(context.Background(), t, e.killGrace(t, nil))
	}
}

// forwardUpdated sends a copy of the task's last update with a new uuid
// and time, reason and the change set applies, so that a check update
// keeps the last health and a health update the last check status.
func (e *engine) forwardUpdated(t *task, reason mesos.TaskStatus_Reason, set func(*mesos.TaskStatus)) {
	s := proto.Clone(t.last).(*mesos.TaskStatus)
	s.Uuid = NewUUID()
	s.Timestamp = proto.Float64(float64(time.Now().UnixNano()) / 1e9)
	s.Reason = reason.Enum()
	set(s)
	e.forward(context.Background(), s)
}

// diedUnhealthy reports whether t's terminal update says healthy=false:
// its health check, or that of a task of its group, had it killed (Mesos'
// default executor marks every terminal update after such a kill).
func (e *engine) diedUnhealthy(t *task) bool {
	if t.checks.unhealthy {
		return true
	}
	for _, id := range t.group {
		if s := e.tasks[id]; s != nil && s.checks.unhealthy {
			return true
		}
	}
	return false
}
