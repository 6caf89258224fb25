package master

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/mezzo-project/mezzo/api/legacy"
	"github.com/mezzo-project/mezzo/api/v1/httpapi"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/sysmetrics"
	"github.com/mezzo-project/mezzo/master/registry"
)

// Leadership tells a master who leads.
//
// The ZooKeeper detector implements it; a master reads it at every request
// that depends on the leader, from many HTTP goroutines at once, so Leader
// must be safe for concurrent use and cheap (no I/O). Callers must not
// modify the MasterInfo it returns.
type Leadership interface {
	// Leader is the leading master's info, nil while none is known.
	Leader() *mesos.MasterInfo
}

// Standby serves the HTTP endpoints of a master that does not lead, as a
// Mesos 1.11 master does until it is elected:
//
//   - the v1 scheduler and operator APIs, Mezzo's agent protocol and every
//     endpoint that needs the master's books (/master/state, /slaves,
//     /frameworks, /tasks, /roles, /quota, /weights, /teardown, /reserve,
//     maintenance, ...) answer 307 Temporary Redirect to the same path
//     and query on the leader, Location "//<leader hostname>:<port><path>";
//   - /master/redirect (and /redirect) answers 307 to "//<hostname>:<port>"
//     of the leader;
//   - all of those answer 503 Service Unavailable "No leader elected" while
//     no leader is known, and 503 "Master has not finished recovery" while
//     the leader is this master itself (elected, but its Master does not
//     serve yet);
//   - the web UI ("/" and its files, package webui) is redirected to the
//     leader in the same way;
//   - /health, /flags, /version, /metrics/snapshot (master/elected 0) and
//     /logging/toggle are answered here.
//
// Every master path is served both at the root and under /master/, as the
// leading master's are. The leader is read from Leadership at each request,
// so a leader change takes effect at once. A Standby holds no goroutines.
type Standby struct {
	info    *mesos.MasterInfo
	leader  Leadership
	cfg     Config
	log     *slog.Logger
	clock   Clock
	start   time.Time
	base    *encodedMetrics // the master/* metrics a standby knows, all zero
	handler http.Handler
}

// NewStandby returns the endpoints of the standby master info (the
// MasterInfo it contends with, see NewMasterInfo), which learns the leader
// from leader (never nil). cfg gives /flags and /logging/toggle; its
// Leadership field is not used. A nil log discards.
func NewStandby(info *mesos.MasterInfo, leader Leadership, cfg Config, log *slog.Logger) *Standby {
	return newStandby(info, leader, cfg, log, systemClock{})
}

func newStandby(info *mesos.MasterInfo, leader Leadership, cfg Config, log *slog.Logger, clock Clock) *Standby {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Standby{
		info:   info,
		leader: leader,
		cfg:    cfg,
		log:    log.With("master_id", info.GetId(), "role", "standby"),
		clock:  clock,
		start:  clock.Now(),
	}
	s.base = standbyMetrics(cfg, s.log, clock, info)
	s.handler = s.routes()
	return s
}

// NewMasterInfo builds the MasterInfo that a master with cfg advertises,
// under a fresh id: its address (--advertise_ip, --ip or the host's), port
// (--advertise_port or --port), hostname and pid "master@ip:port".
func NewMasterInfo(cfg Config) (*mesos.MasterInfo, error) {
	info, err := masterInfo(cfg, newUUID())
	if err != nil {
		return nil, fmt.Errorf("describe this master: %w", err)
	}
	return info, nil
}

// Handler returns the standby's HTTP endpoints.
func (s *Standby) Handler() http.Handler { return s.handler }

// Info returns the standby's own MasterInfo.
func (s *Standby) Info() *mesos.MasterInfo { return s.info }

// leaderPaths are the master's endpoints that only the leader answers; a
// standby redirects them. (Mesos' master checks elected() first in each.)
var leaderPaths = []string{
	"/api/v1/scheduler", "/api/v1/agent", "/api/v1",
	"/state", "/state.json", "/state-summary", "/slaves", "/frameworks", "/tasks",
	"/roles", "/roles.json", "/weights", "/quota", "/teardown",
	"/reserve", "/unreserve", "/create-volumes", "/destroy-volumes",
	"/maintenance/schedule", "/maintenance/status", "/machine/down", "/machine/up",
}

func (s *Standby) routes() http.Handler {
	wrap := func(h httpapi.HandlerFunc) http.Handler { return httpapi.Wrap(s.log, h) }
	routes := routeTable{}
	both := routes.both
	toLeader := wrap(s.toLeader)
	for _, p := range leaderPaths {
		both(p, toLeader)
	}
	both("/redirect", toLeader)
	both("/health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	both("/flags", wrap(s.flagsJSON))
	routes["/version"] = wrap(versionDocument)
	routes["/metrics/snapshot"] = wrap(s.metricsJSON)
	routes["/logging/toggle"] = s.cfg.Verbosity.ToggleHandler()
	// The web UI shows the leader's books: a browser is sent there.
	routes.ui(toLeader)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := routes.lookup(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// toLeader sends the client to the leader (see leaderRedirect); while this
// master is itself the leader but still standing by, it answers 503.
func (s *Standby) toLeader(w http.ResponseWriter, r *http.Request) error {
	leader := s.leader.Leader()
	if leader != nil && leader.GetId() == s.info.GetId() {
		e := httpapi.ServiceUnavailable("Master has not finished recovery")
		e.Expected = true
		return e
	}
	return leaderRedirect(s.log, leader, r)
}

// leaderRedirect is Mesos' redirect of a request to the leading master:
// 307 to "//<hostname>:<port>" for /redirect and /master/redirect, and to
// that base followed by the request's path and query for any other path.
// The protocol-relative Location lets the client keep http or https.
// Without a leader it is 503 "No leader elected". A leader without a
// hostname is named by its IP address.
func leaderRedirect(log *slog.Logger, leader *mesos.MasterInfo, r *http.Request) error {
	if leader == nil {
		// Every client meets this between two leaders: not worth a warning each.
		log.Debug("no leading master is known; cannot redirect", "path", r.URL.Path)
		e := httpapi.ServiceUnavailable("No leader elected")
		e.Expected = true
		return e
	}
	host := leader.GetHostname()
	if host == "" {
		host = leader.GetAddress().GetIp()
	}
	if host == "" {
		return httpapi.Errorf(http.StatusInternalServerError, "the leading master %s has neither a hostname nor an address", leader.GetId())
	}
	base := "//" + host + ":" + itoa(int(leader.GetPort()))
	switch strings.TrimRight(r.URL.Path, "/") {
	case "/redirect", "/master/redirect":
		return httpapi.Redirect(base)
	}
	log.Debug("redirecting to the leading master", "path", r.URL.Path, "leader", host)
	return httpapi.Redirect(base + r.URL.RequestURI())
}

// leaderFields are /master/state's leader (the pid) and leader_info for
// the leading master info, empty and nil when no leader is known.
func leaderFields(info *mesos.MasterInfo) (string, *legacy.MasterInfo) {
	if info == nil {
		return "", nil
	}
	return info.GetPid(), &legacy.MasterInfo{
		ID: info.GetId(), PID: info.GetPid(), Port: int32(info.GetPort()), Hostname: info.GetHostname(),
	}
}

// leaderKey names info in a snapshot's memo of the /master/state
// document: two leaders with one key write the same leader fields.
func leaderKey(info *mesos.MasterInfo) string {
	if info == nil {
		return "none"
	}
	return info.GetId() + " " + info.GetPid() + " " + info.GetHostname() + " " + itoa(int(info.GetPort()))
}

// elected is master/elected for the master self as leadership (nil: it
// leads alone) sees it: 1 while the leader is self, by id.
func elected(self *mesos.MasterInfo, leadership Leadership) float64 {
	if leadership == nil {
		return 1
	}
	if l := leadership.Leader(); l != nil && l.GetId() == self.GetId() {
		return 1
	}
	return 0
}

func (s *Standby) flagsJSON(w http.ResponseWriter, r *http.Request) error {
	return legacy.Write(w, r, legacy.FlagsDocument{Flags: legacy.Flags(s.cfg.flagValues())})
}

// versionDocument is /version, the same on every master.
func versionDocument(w http.ResponseWriter, r *http.Request) error {
	b := buildInfo()
	return legacy.Write(w, r, legacy.Version{
		BuildDate: b.BuildDate, BuildTime: b.BuildTime, BuildUser: b.BuildUser,
		GitSHA: b.GitSHA, GitBranch: b.GitBranch, GitTag: b.GitTag, Version: b.Version,
	})
}

// standbyMetrics are the master/* metrics of a master with no agents,
// frameworks or tasks, encoded once: a Mesos master registers them when it
// starts, before any election, while the allocator's and the registrar's
// come only with leadership.
func standbyMetrics(cfg Config, log *slog.Logger, clock Clock, info *mesos.MasterInfo) *encodedMetrics {
	all := newCore(cfg, log, clock, info, registry.NewMemory()).metricsSnapshot()
	out := make(map[string]float64, len(all))
	for name, v := range all {
		if strings.HasPrefix(name, "master/") {
			out[name] = v
		}
	}
	for _, name := range standbyLiveMetrics {
		delete(out, name)
	}
	enc, err := encodeMetrics(out)
	if err != nil {
		// Names and values of an empty master are all encodable; a failure
		// here is a bug in metricPart.
		panic(fmt.Sprintf("encode a standby master's metrics: %v", err))
	}
	return enc
}

// standbyLiveMetrics are the metrics a standby reads at each request.
var standbyLiveMetrics = []string{"master/elected", "master/uptime_secs", "master/event_queue_dispatches"}

// metricsJSON is /metrics/snapshot: the empty master's metrics with
// master/elected (0 unless the leader is this master), the uptime and the
// host's system/* gauges. A timeout parameter is checked and, with nothing
// to wait for, has no effect.
func (s *Standby) metricsJSON(w http.ResponseWriter, r *http.Request) error {
	if q := r.URL.Query(); q.Has("timeout") {
		if _, err := flags.ParseDuration(q.Get("timeout")); err != nil {
			return httpapi.BadRequest("Invalid timeout '%s': %v.", q.Get("timeout"), err)
		}
	}
	live := sysmetrics.Read()
	maps.Copy(live, map[string]float64{
		"master/elected":                elected(s.info, s.leader),
		"master/uptime_secs":            s.clock.Now().Sub(s.start).Seconds(),
		"master/event_queue_dispatches": 0,
	})
	b, err := s.base.appendJSON(nil, live)
	if err != nil {
		return fmt.Errorf("encode the standby's metrics: %w", err)
	}
	return legacy.WriteEncoded(w, r, b)
}
