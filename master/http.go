package master

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/auth"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/libprocess"
	"github.com/mezzo-project/mezzo/internal/limits"
	"github.com/mezzo-project/mezzo/internal/prom"
	"github.com/mezzo-project/mezzo/internal/sysmetrics"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/webui"
)

const streamIDHeader = "Mesos-Stream-Id"

// routes maps the master's paths to handlers. As libprocess does, every
// path is also served under the master's process id ("/master/state" and
// "/state" are one endpoint) and a trailing slash is ignored.
func (m *Master) routes() http.Handler {
	// The core's refusals become status codes here, at the edge.
	wrap := func(h httpapi.HandlerFunc) http.Handler {
		return httpapi.Wrap(m.log, func(w http.ResponseWriter, r *http.Request) error { return httpError(h(w, r)) })
	}
	routes := routeTable{}
	both := routes.both
	pm := m.newPromMetrics()
	both("/api/v1/scheduler", pm.timed("scheduler", wrap(m.schedulerAPI)))
	both("/api/v1/agent", pm.timed("agent", wrap(m.agentAPI)))
	both("/api/v1", pm.timed("operator", wrap(m.operatorAPI)))
	both("/roles", wrap(m.rolesJSON))
	both("/roles.json", wrap(m.rolesJSON))
	routes["/metrics/snapshot"] = wrap(m.metricsJSON)
	// The figures of /metrics/snapshot: the same get_endpoints rule.
	routes["/metrics"] = m.authorizeEndpoint("/metrics/snapshot", pm.handler())
	for _, p := range prom.PprofPaths() {
		routes[p] = prom.Pprof(m.cfg.EnablePprof)
	}
	routes["/profiler/start"] = prom.Profiler(m.cfg.EnablePprof)
	routes["/profiler/stop"] = prom.Profiler(m.cfg.EnablePprof)
	both("/health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	both("/state", wrap(m.stateJSON))
	both("/state-summary", wrap(m.stateSummaryJSON))
	both("/slaves", wrap(m.slavesJSON))
	both("/frameworks", wrap(m.frameworksJSON))
	both("/tasks", wrap(m.tasksJSON))
	both("/teardown", wrap(m.teardown))
	both("/kill", wrap(m.killTask))
	both("/reserve", wrap(m.conversionEndpoint(mesos.Offer_Operation_RESERVE, "resources")))
	both("/unreserve", wrap(m.conversionEndpoint(mesos.Offer_Operation_UNRESERVE, "resources")))
	both("/create-volumes", wrap(m.conversionEndpoint(mesos.Offer_Operation_CREATE, "volumes")))
	both("/destroy-volumes", wrap(m.conversionEndpoint(mesos.Offer_Operation_DESTROY, "volumes")))
	both("/weights", wrap(m.weightsJSON))
	both("/quota", wrap(m.quotaJSON))
	both("/state.json", wrap(m.stateJSON))
	both("/flags", wrap(m.flagsJSON))
	both("/maintenance/schedule", wrap(m.maintenanceScheduleJSON))
	both("/maintenance/status", wrap(m.maintenanceStatusJSON))
	both("/machine/down", wrap(m.machineDownJSON))
	both("/machine/up", wrap(m.machineUpJSON))
	both("/redirect", wrap(m.redirect))
	// Mesos' files process is /files; /master/files is the same.
	both("/files/browse", wrap(m.filesBrowse))
	both("/files/read", wrap(m.filesRead))
	both("/files/download", wrap(m.filesDownload))
	both("/files/debug", wrap(m.filesDebug))
	both("/monitor/statistics", m.authorizeEndpoint("/monitor/statistics", wrap(m.agentStatistics)))
	routes["/version"] = wrap(m.versionJSON)
	routes["/logging/toggle"] = m.authorizeEndpoint("/logging/toggle", m.cfg.Verbosity.ToggleHandler())
	routes.ui(webui.Handler())
	for path, h := range routes {
		realm := realmOf(path)
		if path == "/" || path == webui.Prefix {
			realm = m.authn.uiRealm()
		}
		routes[path] = m.authn.guard(realm, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := routes.lookup(r.URL.Path)
		if !ok && strings.HasPrefix(r.URL.Path, "/master/mesos.") && libprocess.IsMessage(r) {
			// A scheduler driver's message (v0.go).
			h, ok = m.v0.recv, true
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		if !m.enter() {
			http.Error(w, errClosed.Error(), http.StatusServiceUnavailable)
			return
		}
		defer m.leave()
		h.ServeHTTP(w, r)
	})
}

// unavailable is the answer to a request the closing master cannot take.
func unavailable(err error) error {
	if errors.Is(err, errClosed) {
		return httpapi.ServiceUnavailable("Master is shutting down")
	}
	return err
}

// onCoreOK runs fn on the core and answers 200 with no body when it
// succeeds.
func (m *Master) onCoreOK(w http.ResponseWriter, fn func(c *core) error) error {
	var callErr error
	if err := m.do(func(c *core) { callErr = fn(c) }); err != nil {
		return unavailable(err)
	}
	if callErr = awaitReply(callErr); callErr != nil {
		return callErr
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// schedulerAPI is POST /api/v1/scheduler, checked in Mesos' order (see
// mesos-wire.md §3.2).
func (m *Master) schedulerAPI(w http.ResponseWriter, r *http.Request) error {
	call := &schedpb.Call{}
	if _, err := httpapi.DecodeCall(w, r, call, 0); err != nil {
		return err
	}
	if err := validateSchedulerCall(call); err != nil {
		// Counted on the core; the answer is 400 even if the master is
		// closing meanwhile.
		_ = m.do(func(c *core) { c.invalidSchedulerCall(call.GetType()) })
		return httpapi.BadRequest("Failed to validate scheduler::Call: %v", err)
	}
	if call.GetType() == schedpb.Call_SUBSCRIBE {
		f, err := httpapi.ResponseFormat(r)
		if err != nil {
			return err
		}
		if len(r.Header.Values(streamIDHeader)) > 0 {
			return httpapi.BadRequest("Subscribe calls should not include the 'Mesos-Stream-Id' header")
		}
		if p, ok := auth.PrincipalFrom(r.Context()); ok {
			// The framework is who authenticated: FrameworkInfo.principal
			// must name it (Mesos lets it be left out; Mezzo does not, so
			// every authenticated framework carries its principal), and
			// the core refuses a framework id registered by another
			// principal ("Changing framework's principal is not allowed").
			info := call.GetSubscribe().GetFrameworkInfo()
			if info.Principal == nil || info.GetPrincipal() != p {
				return httpapi.BadRequest("Authenticated principal '%s' does not match principal '%s' set in `FrameworkInfo`", p, info.GetPrincipal())
			}
		}
		return m.subscribe(w, r, f, call.GetSubscribe())
	}
	if call.GetType() == schedpb.Call_RECONCILE_OPERATIONS {
		if _, err := httpapi.ResponseFormat(r); err != nil {
			return err
		}
	}
	_, hasStreamID := r.Header[http.CanonicalHeaderKey(streamIDHeader)]
	principal, authenticated := auth.PrincipalFrom(r.Context())
	var callErr error
	if err := m.do(func(c *core) {
		if f := c.frameworks[call.GetFrameworkId().GetValue()]; f != nil && authenticated && f.info.GetPrincipal() != principal {
			callErr = httpapi.BadRequest("Authenticated principal '%s' does not match principal '%s' set in `FrameworkInfo`", principal, f.info.GetPrincipal())
			return
		}
		callErr = c.schedulerCall(call, r.Header.Get(streamIDHeader), hasStreamID)
	}); err != nil {
		return unavailable(err)
	}
	if callErr != nil {
		return callErr
	}
	if call.GetType() == schedpb.Call_UPDATE_FRAMEWORK {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return httpapi.Accepted(w)
}

// subscribe answers SUBSCRIBE with the framework's event stream, open until
// the client goes away, the framework is removed or fails over, or the
// master closes.
func (m *Master) subscribe(w http.ResponseWriter, r *http.Request, f codec.Format, sub *schedpb.Call_Subscribe) error {
	streamID := newUUID()
	var frameworkID string // set before the stream's writer starts
	box := newFrameworkOutbox(func() { _ = m.do(func(c *core) { c.frameworkDrained(frameworkID, streamID) }) })
	if err := m.do(func(c *core) { frameworkID = c.subscribe(box, streamID, sub) }); err != nil {
		return unavailable(err)
	}
	st, err := httpapi.StartStream(w, f, http.Header{streamIDHeader: {streamID}})
	if err == nil {
		err = box.pump(r.Context(), st)
	}
	if frameworkID != "" {
		_ = m.do(func(c *core) { c.frameworkStreamClosed(frameworkID, streamID) })
	}
	events, bytes := box.Peak()
	m.log.Info("framework event stream ended", "framework_id", frameworkID, "err", err,
		"peak_queued_events", events, "peak_queued_bytes", bytes)
	return nil
}

// agentAPI is POST /master/api/v1/agent, Mezzo's agent protocol
// (internal/agentproto): REGISTER opens the agent's event stream, other
// calls are answered 202.
func (m *Master) agentAPI(w http.ResponseWriter, r *http.Request) error {
	if m.cfg.TLS.MutualTLS() && !tlsutil.PeerVerified(r) {
		// Beyond Mesos: with a CA configured, masters and agents
		// authenticate each other (docs/security.md, "TLS").
		return httpapi.Errorf(http.StatusForbidden, "The agent API requires a TLS client certificate signed by the configured CA (LIBPROCESS_SSL_CA_FILE/LIBPROCESS_SSL_CA_DIR)")
	}
	call := &agentproto.AgentCall{}
	if _, err := httpapi.DecodeCall(w, r, call, 0); err != nil {
		return err
	}
	if call.Type == nil {
		return httpapi.BadRequest("Expecting 'type' to be present")
	}
	if err := limits.Check("call", call); err != nil {
		return httpapi.BadRequest("Failed to validate agent call: %v", err)
	}
	if call.GetType() == agentproto.AgentCall_REGISTER {
		if call.Register == nil {
			return httpapi.BadRequest("Expecting 'register' to be present")
		}
		f, err := httpapi.ResponseFormat(r)
		if err != nil {
			return err
		}
		if len(r.Header.Values(streamIDHeader)) > 0 {
			return httpapi.BadRequest("REGISTER must not include the 'Mesos-Stream-Id' header")
		}
		if err := m.authorize(r, acl.RegisterAgents, acl.AnyObject, "register an agent"); err != nil {
			return err
		}
		return m.registerAgent(w, r, f, call.GetRegister())
	}
	if call.GetAgentId().GetValue() == "" {
		return httpapi.BadRequest("Expecting 'agent_id' to be present")
	}
	var callErr error
	do := m.do
	if call.GetType() == agentproto.AgentCall_PONG {
		do = m.doPong
	}
	if err := do(func(c *core) { callErr = c.agentCall(call, r.Header.Get(streamIDHeader)) }); err != nil {
		return unavailable(err)
	}
	if callErr != nil {
		return callErr
	}
	return httpapi.Accepted(w)
}

func (m *Master) registerAgent(w http.ResponseWriter, r *http.Request, f codec.Format, reg *agentproto.AgentCall_Register) error {
	if m.cfg.TLS.MutualTLS() {
		if err := agentIdentity(r, reg); err != nil {
			// Refused as the core refuses an agent: an ERROR event, on
			// which the agent logs the message and stops.
			m.log.Warn("refusing agent registration: its certificate does not name it", "hostname", reg.GetAgentInfo().GetHostname(),
				"endpoint", reg.GetEndpoint(), "from", r.RemoteAddr, "err", err)
			st, serr := httpapi.StartStream(w, f, http.Header{streamIDHeader: {newUUID()}})
			if serr != nil {
				return serr
			}
			return st.Send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_ERROR.Enum(),
				Error: &agentproto.AgentEvent_Error{Message: proto.String(err.Error())}})
		}
	}
	streamID := newUUID()
	box := newAgentOutbox()
	var id string
	var regErr error
	principal, _ := auth.PrincipalFrom(r.Context())
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if err := m.do(func(c *core) {
		claimed := reg.GetAgentInfo().GetId().GetValue()
		if a := c.agents[claimed]; claimed != "" && a != nil && a.stream != nil && (a.principal != principal || a.remoteHost != host) {
			// A connected agent's id claimed by another principal or
			// from another host: an impostor, or a second agent with a
			// copied work directory. The live agent keeps its id.
			c.log.Warn("refusing a registration that claims a connected agent's id", "agent_id", claimed,
				"principal", principal, "from", host, "agent_principal", a.principal, "agent_host", a.remoteHost)
			regErr = httpapi.Forbidden("Agent %s is connected from another host or principal; refusing its registration from %s", claimed, host)
			return
		}
		id, regErr = c.registerAgent(box, streamID, reg)
		// Once registered (maybe after a registry write), the agent is
		// known by who registered it and from where.
		onAnswer(regErr, func(err error) {
			if a := c.agents[id]; err == nil && a != nil && a.streamID == streamID {
				a.principal, a.remoteHost = principal, host
			}
		})
	}); err != nil {
		return unavailable(err)
	}
	if regErr = awaitReply(regErr); regErr != nil {
		return regErr
	}
	st, err := httpapi.StartStream(w, f, http.Header{streamIDHeader: {streamID}})
	if err == nil {
		err = box.pump(r.Context(), st)
	}
	_ = m.do(func(c *core) { c.agentStreamClosed(id, streamID) })
	if events, bytes := box.Peak(); errors.Is(err, errStreamOverflow) {
		m.log.Warn("agent stream cut: the agent fell too far behind", "agent_id", id, "peak_queued_events", events, "peak_queued_bytes", bytes)
	} else if err != nil {
		m.log.Debug("agent stream ended", "agent_id", id, "err", err, "peak_queued_events", events, "peak_queued_bytes", bytes)
	}
	return nil
}

// agentIdentity checks, under mutual TLS, that the certificate the agent
// presented (which the CAs verified) names the agent: its hostname
// (AgentInfo.hostname, a DNS name, or an IP address when the agent
// advertises one), the address of its endpoint, or the address it
// connects from. Beyond Mesos, whose agents do not present
// certificates to the master.
func agentIdentity(r *http.Request, reg *agentproto.AgentCall_Register) error {
	cert := tlsutil.PeerCertificate(r)
	if cert == nil {
		return errors.New("Agent refused: it presented no TLS certificate the configured CA verified")
	}
	remote, _, _ := net.SplitHostPort(r.RemoteAddr)
	advertised, _, _ := net.SplitHostPort(reg.GetEndpoint())
	hostname := reg.GetAgentInfo().GetHostname()
	if err := tlsutil.CheckNames(cert, hostname, advertised, remote); err != nil {
		return fmt.Errorf("Agent %s at %s refused: its TLS certificate must name its hostname, its advertised address or the address it connects from: %w",
			hostname, reg.GetEndpoint(), err)
	}
	return nil
}

// document answers r with a JSON document built from a snapshot (see
// read) by build. The document is built and encoded once per snapshot,
// under key, however many requests ask for it: build must depend on the
// snapshot alone (documents filtered by the request use filtered).
func (m *Master) document(w http.ResponseWriter, r *http.Request, key string, build func(v *core) any) error {
	b, err := m.encodeRead(r.Context(), 0, func(s *snapshot) ([]byte, error) {
		return s.memoBytes(key, func() ([]byte, error) { return legacy.Marshal(build(s.view)) })
	})
	if err != nil {
		return err
	}
	return legacy.WriteEncoded(w, r, b)
}

// filtered answers r with a JSON document that build makes from a
// snapshot for this request alone.
func (m *Master) filtered(w http.ResponseWriter, r *http.Request, build func(v *core) any) error {
	b, err := m.encodeRead(r.Context(), 0, func(s *snapshot) ([]byte, error) { return legacy.Marshal(build(s.view)) })
	if err != nil {
		return err
	}
	return legacy.WriteEncoded(w, r, b)
}

// stateJSON is /master/state. Its leader fields follow Config.Leadership
// at each request; the document is memoized per snapshot and leader.
func (m *Master) stateJSON(w http.ResponseWriter, r *http.Request) error {
	vw := m.viewerFor(r) // what the request's principal may view (authz.go)
	if m.cfg.Leadership == nil {
		return m.document(w, r, "state"+vw.key(), func(v *core) any { return v.viewState(v.state(), vw) })
	}
	leader := m.cfg.Leadership.Leader()
	return m.document(w, r, "state leader="+leaderKey(leader)+vw.key(), func(v *core) any {
		doc := v.viewState(v.state(), vw)
		doc.Leader, doc.LeaderInfo = leaderFields(leader)
		return doc
	})
}

func (m *Master) rolesJSON(w http.ResponseWriter, r *http.Request) error {
	vw := m.viewerFor(r)
	return m.document(w, r, "roles"+vw.key(), func(v *core) any { return viewRoles(v.rolesJSON(), vw) })
}

// metricsJSON is /metrics/snapshot: a flat JSON object of metric names and
// values. With timeout (a duration, "5secs"), it waits at most that long
// for the core's current figures and otherwise answers with the latest
// published ones, as Mesos answers with the metrics ready by then.
func (m *Master) metricsJSON(w http.ResponseWriter, r *http.Request) error {
	if err := m.authorize(r, acl.GetEndpoints, acl.Value("/metrics/snapshot"), "GET /metrics/snapshot"); err != nil {
		return err
	}
	var timeout time.Duration
	if q := r.URL.Query(); q.Has("timeout") {
		d, err := flags.ParseDuration(q.Get("timeout"))
		if err != nil {
			return httpapi.BadRequest("Invalid timeout '%s': %v.", q.Get("timeout"), err)
		}
		timeout = d
	}
	b, err := m.encodeRead(r.Context(), timeout, func(s *snapshot) ([]byte, error) {
		enc, err := s.memo("metrics-json", func() (any, error) { return encodeMetrics(s.coreMetrics()) })
		if err != nil {
			return nil, err
		}
		return enc.(*encodedMetrics).appendJSON(nil, m.liveMetrics(s))
	})
	if err != nil {
		return err
	}
	return legacy.WriteEncoded(w, r, b)
}

// coreMetrics are the snapshot's metrics but those liveMetrics gives,
// computed once per snapshot; the map is shared and must not be changed.
func (s *snapshot) coreMetrics() map[string]float64 {
	v, _ := s.memo("metrics", func() (any, error) {
		out := s.view.metricsSnapshot()
		for _, n := range liveMetricNames {
			delete(out, n)
		}
		return out, nil
	})
	return v.(map[string]float64)
}

// liveMetricNames are the metrics that are the master's at the time of the
// read rather than the snapshot's.
var liveMetricNames = []string{"master/uptime_secs", "master/event_queue_dispatches", "master/elected"}

// liveMetrics are the metrics read when asked: uptime, the calls queued
// for the core, and the host's system/* gauges (read at most every
// systemMetricsAge).
func (m *Master) liveMetrics(s *snapshot) map[string]float64 {
	now := m.clock.Now()
	sys := m.system.Load()
	if sys == nil || now.Sub(sys.at) >= systemMetricsAge || now.Before(sys.at) {
		sys = &systemSample{at: now, values: sysmetrics.Read()}
		m.system.Store(sys)
	}
	out := make(map[string]float64, len(sys.values)+len(liveMetricNames))
	maps.Copy(out, sys.values)
	out["master/uptime_secs"] = now.Sub(s.view.start).Seconds()
	out["master/event_queue_dispatches"] = float64(m.queued.Load())
	out["master/elected"] = elected(s.view.info, m.cfg.Leadership)
	return out
}

// systemMetricsAge is how long a reading of the host's system/* gauges
// answers metrics requests: the kernel's load averages change every five
// seconds, and many clients polling should not each read /proc.
const systemMetricsAge = time.Second

// systemSample is one reading of the host's system/* gauges.
type systemSample struct {
	at     time.Time
	values map[string]float64
}

// metrics is the whole snapshot of metrics, by name: the core's from a
// snapshot (read; past a positive timeout, the latest one) and the live
// ones.
func (m *Master) metrics(ctx context.Context, timeout time.Duration) (map[string]float64, error) {
	var snap map[string]float64
	_, err := m.encodeRead(ctx, timeout, func(s *snapshot) ([]byte, error) {
		snap = maps.Clone(s.coreMetrics())
		maps.Copy(snap, m.liveMetrics(s))
		return nil, nil
	})
	return snap, err
}

func (m *Master) flagsJSON(w http.ResponseWriter, r *http.Request) error {
	if err := m.authorize(r, acl.ViewFlags, acl.AnyObject, "view the flags"); err != nil {
		return err
	}
	return legacy.Write(w, r, legacy.FlagsDocument{Flags: legacy.Flags(m.cfg.flagValues())})
}

func (m *Master) versionJSON(w http.ResponseWriter, r *http.Request) error {
	b := buildInfo()
	return legacy.Write(w, r, legacy.Version{
		BuildDate: b.BuildDate, BuildTime: b.BuildTime, BuildUser: b.BuildUser,
		GitSHA: b.GitSHA, GitBranch: b.GitBranch, GitTag: b.GitTag, Version: b.Version,
	})
}

// redirect is /master/redirect: 307 to "//host:port" of the leader that
// Config.Leadership names (503 while none is known), or of this master
// when it leads alone, as Mesos' masters answer it.
func (m *Master) redirect(w http.ResponseWriter, r *http.Request) error {
	leader := m.Info()
	if m.cfg.Leadership != nil {
		leader = m.cfg.Leadership.Leader()
	}
	return leaderRedirect(m.log, leader, r)
}

// routeTable maps a master's paths to handlers. As libprocess does, every
// path is also served under the master's process id ("/master/state" and
// "/state" are one endpoint) and a trailing slash is ignored.
type routeTable map[string]http.Handler

// both serves h at path and at /master<path>.
func (rt routeTable) both(path string, h http.Handler) {
	rt[path] = h
	rt["/master"+path] = h
}

// ui serves the web UI (package webui) with h: the page at "/" and its
// files under webui.Prefix.
func (rt routeTable) ui(h http.Handler) {
	rt["/"] = h
	rt[webui.Prefix] = h
}

// lookup finds the handler of a request path; DELETE /quota/<role> is
// served by /quota, and the web UI's files by webui.Prefix.
func (rt routeTable) lookup(path string) (http.Handler, bool) {
	if strings.HasPrefix(path, webui.Prefix) {
		h, ok := rt[webui.Prefix]
		return h, ok
	}
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	if h, ok := rt[path]; ok {
		return h, true
	}
	if strings.HasPrefix(path, "/quota/") || strings.HasPrefix(path, "/master/quota/") {
		h, ok := rt["/quota"]
		return h, ok
	}
	return nil, false
}
