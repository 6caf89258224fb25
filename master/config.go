package master

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/logging"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/master/constraints"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// Config is the master's configuration. Its fields are Mesos' master flags
// of the same names; AddFlags registers them with Mesos' defaults.
type Config struct {
	// IP is the address the master listens on (--ip); empty means all
	// addresses, and MasterInfo then reports the first non-loopback IPv4
	// address of the host (or 127.0.0.1). Default: empty.
	IP string
	// Port is the TCP port the master listens on (--port). Default 5050.
	Port int
	// Hostname is the name the master advertises in MasterInfo and the
	// /master/state document (--hostname). Default: the host's name.
	Hostname string
	// HostnameLookup is Mesos' --hostname_lookup (default true): without
	// --hostname, the master advertises the host's name; when false, its
	// IP address.
	HostnameLookup bool
	// WorkDir is where the master keeps its state (--work_dir). The master
	// keeps no durable state yet, so it is only reported in /master/flags.
	// Default: empty.
	WorkDir string
	// Cluster is a human-readable name of the cluster, shown in
	// /master/state (--cluster). Default: empty.
	Cluster string
	// OfferTimeout is how long an offer may stay outstanding before the
	// master rescinds it (--offer_timeout); 0 means never. An offer that
	// times out counts as declined: its framework is backed off (see
	// master/allocator/README.md). Default DefaultOfferTimeout (1 minute);
	// Mesos' default is never, which lets a framework hoard offers
	// forever.
	OfferTimeout time.Duration
	// MinAllocatableResources is --min_allocatable_resources: offers must
	// contain at least one of these quantity sets, written
	// "cpus:0.01|mem:32" ('|' between sets, ';' between names of one set).
	// Frameworks' offer_filters override it per role. Default
	// "cpus:0.01|mem:32"; "" means no minimum.
	MinAllocatableResources string
	// OfferConstraintLimits bound each regular expression of frameworks'
	// offer constraints (--offer_constraints_re2_max_mem, default 4KB,
	// and --offer_constraints_re2_max_program_size, default 100); a
	// subscription whose constraints exceed them is refused. See package
	// master/constraints for how Go's regex programs are measured.
	OfferConstraintLimits constraints.Limits
	// AgentPingTimeout is how often the master pings each agent, and how
	// long it waits for the answer (--agent_ping_timeout). Default 15s.
	AgentPingTimeout time.Duration
	// MaxAgentPingTimeouts is how many pings in a row an agent may leave
	// unanswered before the master marks it unreachable
	// (--max_agent_ping_timeouts). An agent whose stream closed is given
	// AgentPingTimeout*MaxAgentPingTimeouts to register again. Default 5.
	MaxAgentPingTimeouts int
	// MaxConnections is Mezzo's --max_connections: how many connections
	// the master's listener holds open at once (more wait in the
	// kernel's backlog). Every agent holds one or two, so the default,
	// 200,000, covers the largest clusters with room for frameworks and
	// operators; it bounds what hostile clients can hold.
	MaxConnections int
	// MaxCompletedFrameworks is how many removed frameworks /master/state
	// keeps (--max_completed_frameworks). Default 50.
	MaxCompletedFrameworks int
	// AllocatorRecoveryTimeout and AllocatorAgentRecoveryFactor are Mesos'
	// --allocator_recovery_timeout (default 10 minutes) and
	// --allocator_agent_recovery_factor (default 0.8): a master that
	// recovers a registry with quota makes no offers until that fraction
	// of the registry's agents have re-registered or the timeout passed,
	// so quota is not spent on the few agents that come back first.
	AllocatorRecoveryTimeout     time.Duration
	AllocatorAgentRecoveryFactor float64
	// Verbosity is the process's logging verbosity, which /logging/toggle
	// and SET_LOGGING_LEVEL raise for a while (nil: fixed at 0).
	Verbosity *logging.Verbosity
	// LogFile is the file this master's log is written to (with Mesos'
	// --log_dir, which the command sets it from; not a flag of its own).
	// Its /files endpoints and LIST_FILES/READ_FILE serve it as
	// /master/log, as Mesos attaches its log; empty: no such file, and
	// /master/log is 404.
	LogFile string
	// Leadership tells the master which master leads, as the ZooKeeper
	// election sees it: /master/state's leader and leader_info,
	// /master/redirect and the metric master/elected (1 while the leader
	// is this master, by id) follow it at each request. Nil means this
	// master leads alone (no --zk): it is its own leader. It is not a
	// flag, and it is called from HTTP goroutines concurrently.
	Leadership Leadership
	// RootSubmissions is Mesos' --root_submissions (default true): when
	// false, frameworks may not subscribe with user "root".
	RootSubmissions bool
	// PublishPerFrameworkMetrics is Mesos' --publish_per_framework_metrics
	// (default true): whether /metrics/snapshot has the
	// master/frameworks/<name>/<id>/ metrics.
	PublishPerFrameworkMetrics bool
	// EnablePprof is Mezzo's --enable_pprof (default false): serve Go's
	// profiler (net/http/pprof) under /debug/pprof/. When false those
	// paths answer 404. Profiles show the process' memory and cost CPU
	// while taken; Mesos' /profiler/start and /profiler/stop answer 501
	// either way and point here.
	EnablePprof bool
	// Allocator, FrameworkSorter and RoleSorter are Mesos' --allocator,
	// --framework_sorter and --role_sorter: Mezzo has the hierarchical
	// allocator with DRF sorting only, so these take only those values.
	Allocator, FrameworkSorter, RoleSorter string
	// MaxUnreachableTasksPerFramework is how many tasks lost with
	// unreachable agents the master keeps per framework; beyond it, the
	// longest-kept one is forgotten (--max_unreachable_tasks_per_framework).
	// Default 1000.
	MaxUnreachableTasksPerFramework int
	// MaxOperatorEventStreamSubscribers is how many operator event streams
	// (SUBSCRIBE on /api/v1) may be open at once; a new one beyond it closes
	// the oldest (--max_operator_event_stream_subscribers). Default 1000.
	MaxOperatorEventStreamSubscribers int
	// MaxCompletedTasksPerFramework is how many finished tasks per
	// framework the master keeps for /master/state
	// (--max_completed_tasks_per_framework). Default 1000.
	MaxCompletedTasksPerFramework int
	// AllocationInterval is the period of batch allocation
	// (--allocation_interval); the master also allocates right after
	// events that free resources or add frameworks or agents. Default 1s.
	AllocationInterval time.Duration
	// AdvertiseIP is the IP to advertise in MasterInfo instead of the
	// listening one (--advertise_ip), for masters behind NAT. Default:
	// empty.
	AdvertiseIP string
	// AdvertisePort is the port to advertise in MasterInfo instead of Port
	// (--advertise_port). Default 0 (use Port).
	AdvertisePort int

	// Registry is where the master keeps its durable state (--registry):
	// "replicated_log" (default, Mesos' name; Mezzo keeps a database in
	// WorkDir that survives restarts; "replicated" is taken too) or
	// "in_memory" (lost when the master stops; for tests).
	Registry string
	// ZK is Mesos' --zk: the ZooKeeper URL (zk://host1:2181,host2:2181/path,
	// with user:pass@ for digest authentication, or file:///path of a file
	// holding it) where the masters elect their leader and keep the
	// registry; empty for a lone master. (`mezzo master` does the election;
	// New is given the leader's Info and Store.)
	ZK string
	// Quorum is Mesos' --quorum: how many masters must take part before
	// the elected one recovers and serves (as Mesos' replicated log needs
	// a quorum of replicas); required with ZK.
	Quorum int
	// ZKSessionTimeout is Mesos' --zk_session_timeout (default 10 s): the
	// ZooKeeper session timeout, after which a master cut off from the
	// ensemble has lost its leadership.
	ZKSessionTimeout time.Duration
	// Info, when set, is the MasterInfo the master advertises (its id
	// included), as it contended for leadership with it; nil builds one
	// with a new id. Not a flag.
	Info *mesos.MasterInfo
	// Store, when set, is the registry the master recovers from and
	// writes to instead of the one Registry names (the ZooKeeper registry
	// of an elected master). Not a flag.
	Store registry.Store
	// RegistryStrict makes the master refuse agents that re-register with
	// an id its registry does not hold (--registry_strict, default false:
	// such agents are admitted, as after the loss of the registry).
	RegistryStrict bool
	// RegistryMaxAgentAge is how long unreachable and gone agents stay in
	// the registry (--registry_max_agent_age, default 2 weeks).
	RegistryMaxAgentAge time.Duration
	// RegistryMaxAgentCount is how many unreachable (and, separately, gone)
	// agents the registry keeps at most (--registry_max_agent_count,
	// default 102400).
	RegistryMaxAgentCount int
	// AgentReregisterTimeout is how long a restarted master waits for the
	// agents of its registry to re-register before it marks them
	// unreachable (--agent_reregister_timeout, default 10 mins, at least
	// 10 secs).
	AgentReregisterTimeout time.Duration
	// AgentRemovalRateLimit bounds how fast the master marks agents that
	// fail health checks unreachable (--agent_removal_rate_limit), as
	// "N/DURATION", e.g. "1/10mins"; empty means no limit. It keeps a
	// network problem from taking out the whole cluster at once.
	AgentRemovalRateLimit string
	// TLS is the master's TLS (LIBPROCESS_SSL_*, package tlsutil): its
	// listeners speak it, its files proxy dials agents with it, and, with
	// a CA, agents must present a verified certificate to register. Nil
	// is plain HTTP.
	TLS *tlsutil.Setup
	// TLSFlags are the --ssl_* flags (ssl_enabled, ssl_cert_file, ...),
	// which override the LIBPROCESS_SSL_* variables they name; the
	// command builds TLS from them. /flags shows TLS's effective
	// settings under these names.
	TLSFlags tlsutil.Flags

	// ACLs are Mesos' --acls: the access control lists the master's local
	// authorizer decides frameworks' and operators' requests with
	// (package internal/acl; the flag takes the JSON, or a path to it as
	// file:///path or /path). Nil (the default): everything is allowed.
	ACLs *acl.ACLs

	// Authentication is Mesos' authentication flags; see
	// docs/security.md. All off by default, as in Mesos.
	Authentication Authentication
}

// Authentication holds the master's authentication flags, Mesos' names
// and defaults. Every protection is off by default: a master started
// without these flags serves anyone who reaches it.
type Authentication struct {
	// Frameworks is --authenticate_frameworks (default false): only
	// authenticated frameworks may subscribe. Driver (v0) frameworks
	// authenticate with CRAM-MD5 against Credentials (v0_authn.go); HTTP
	// frameworks prove their principal with HTTP Basic (as with
	// --authenticate_http_frameworks).
	Frameworks bool
	// Agents is --authenticate_agents (default false): agents must
	// present one of --credentials with HTTP Basic on Mezzo's agent
	// protocol (realm mezzo-master-agent).
	Agents bool
	// HTTPReadonly is --authenticate_http_readonly (default false): the
	// read-only endpoints (realm mesos-master-readonly) need HTTP Basic.
	HTTPReadonly bool
	// HTTPReadwrite is --authenticate_http_readwrite (default false): the
	// endpoints that change state and the operator API /api/v1 (realm
	// mesos-master-readwrite) need HTTP Basic.
	HTTPReadwrite bool
	// HTTPFrameworks is --authenticate_http_frameworks (default false):
	// the scheduler API (realm mesos-master-scheduler) needs HTTP Basic;
	// it requires HTTPFrameworkAuthenticators, as in Mesos.
	HTTPFrameworks bool
	// Credentials is --credentials: the path (or file:///path) of the
	// file of principals and secrets, JSON {"credentials": [...]} or
	// "principal secret" lines. Required by any of the flags above.
	Credentials string
	// HTTPCredentials is Mezzo's --http_credentials: when set, the HTTP
	// realms (readonly, readwrite, scheduler) check these instead of
	// Credentials, which then serve agents alone.
	HTTPCredentials string
	// Authenticators is --authenticators (default "crammd5"), the driver
	// authenticator's name; only crammd5 is implemented.
	Authenticators string
	// HTTPAuthenticators is --http_authenticators (default "basic"); only
	// basic is implemented.
	HTTPAuthenticators string
	// HTTPFrameworkAuthenticators is --http_framework_authenticators
	// (default none); only basic is implemented.
	HTTPFrameworkAuthenticators string
}

// enabled reports whether any authentication flag is on.
func (a Authentication) enabled() bool {
	return a.Frameworks || a.Agents || a.HTTPReadonly || a.HTTPReadwrite || a.HTTPFrameworks
}

// validate reports the flags' errors, naming them. It does not read the
// credentials file (New does).
func (a Authentication) validate() []error {
	var errs []error
	if a.Authenticators != "" && a.Authenticators != "crammd5" {
		errs = append(errs, fmt.Errorf("--authenticators=%s: only crammd5 is supported", a.Authenticators))
	}
	if a.HTTPAuthenticators != "" && a.HTTPAuthenticators != "basic" {
		errs = append(errs, fmt.Errorf("--http_authenticators=%s: only basic is supported", a.HTTPAuthenticators))
	}
	if a.HTTPFrameworkAuthenticators != "" && a.HTTPFrameworkAuthenticators != "basic" {
		errs = append(errs, fmt.Errorf("--http_framework_authenticators=%s: only basic is supported", a.HTTPFrameworkAuthenticators))
	}
	if a.HTTPFrameworks && a.HTTPFrameworkAuthenticators == "" {
		errs = append(errs, errors.New("--authenticate_http_frameworks requires --http_framework_authenticators (basic)"))
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{a.Frameworks, "authenticate_frameworks"}, {a.Agents, "authenticate_agents"},
		{a.HTTPReadonly, "authenticate_http_readonly"}, {a.HTTPReadwrite, "authenticate_http_readwrite"},
		{a.HTTPFrameworks, "authenticate_http_frameworks"}} {
		if f.on && a.Credentials == "" && (a.HTTPCredentials == "" || f.name == "authenticate_agents") {
			errs = append(errs, fmt.Errorf("--%s requires --credentials (the principals and secrets to accept)", f.name))
		}
	}
	return errs
}

// DefaultConfig returns Mesos' defaults.
func DefaultConfig() Config {
	return Config{
		Port:                              5050,
		HostnameLookup:                    true,
		AgentPingTimeout:                  15 * time.Second,
		MaxAgentPingTimeouts:              5,
		MaxConnections:                    200000,
		MaxCompletedFrameworks:            50,
		MaxOperatorEventStreamSubscribers: 1000,
		MaxUnreachableTasksPerFramework:   1000,
		RootSubmissions:                   true,
		AllocatorRecoveryTimeout:          10 * time.Minute,
		AllocatorAgentRecoveryFactor:      0.8,
		PublishPerFrameworkMetrics:        true,
		Allocator:                         "hierarchical",
		FrameworkSorter:                   "drf",
		RoleSorter:                        "drf",
		MaxCompletedTasksPerFramework:     1000,
		AllocationInterval:                time.Second,
		OfferTimeout:                      DefaultOfferTimeout,
		MinAllocatableResources:           "cpus:0.01|mem:32",
		OfferConstraintLimits:             constraints.DefaultLimits(),
		Registry:                          "replicated_log",
		ZKSessionTimeout:                  10 * time.Second,
		RegistryMaxAgentAge:               14 * 24 * time.Hour,
		RegistryMaxAgentCount:             100 * 1024,
		AgentReregisterTimeout:            10 * time.Minute,
		Authentication:                    Authentication{Authenticators: "crammd5", HTTPAuthenticators: "basic"},
	}
}

// DefaultOfferTimeout is Mezzo's default --offer_timeout. Mesos has none;
// Mezzo bounds how long a framework may hold resources it does not use.
const DefaultOfferTimeout = time.Minute

// minAllocatable parses MinAllocatableResources.
func (c *Config) minAllocatable() ([]resources.Quantities, error) {
	if strings.TrimSpace(c.MinAllocatableResources) == "" {
		return []resources.Quantities{}, nil
	}
	var out []resources.Quantities
	for _, part := range strings.Split(c.MinAllocatableResources, "|") {
		q, err := resources.ParseQuantities(part)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// AddFlags registers the configuration as Mesos master flags on fs, with
// Mesos' defaults, writing into c.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.IP, "ip", d.IP, "IP address to listen on; empty means all addresses.")
	fs.IntVar(&c.Port, "port", d.Port, "Port to listen on.")
	fs.StringVar(&c.Hostname, "hostname", d.Hostname, "Hostname to advertise; defaults to the host's name.")
	fs.BoolVar(&c.HostnameLookup, "hostname_lookup", d.HostnameLookup, "Without --hostname, advertise the host's name (true) or the IP address (false).")
	fs.StringVar(&c.WorkDir, "work_dir", d.WorkDir, "Directory for the master's state.")
	fs.StringVar(&c.Cluster, "cluster", d.Cluster, "Human readable name for the cluster, shown in /master/state.")
	flags.DurationVar(fs, &c.OfferTimeout, "offer_timeout", d.OfferTimeout,
		"Duration after which an outstanding offer is rescinded (e.g. 30secs); 0 means never.")
	flags.DurationVar(fs, &c.AgentPingTimeout, "agent_ping_timeout", d.AgentPingTimeout,
		"How often the master pings an agent, and how long it waits for each answer.")
	fs.IntVar(&c.MaxConnections, "max_connections", d.MaxConnections,
		"Most connections the listener holds open at once (Mezzo); every agent holds one or two.")
	fs.IntVar(&c.MaxAgentPingTimeouts, "max_agent_ping_timeouts", d.MaxAgentPingTimeouts,
		"Number of unanswered pings in a row after which an agent is marked unreachable.")
	fs.IntVar(&c.MaxCompletedFrameworks, "max_completed_frameworks", d.MaxCompletedFrameworks,
		"Maximum number of completed frameworks to keep in memory.")
	fs.IntVar(&c.MaxCompletedTasksPerFramework, "max_completed_tasks_per_framework", d.MaxCompletedTasksPerFramework,
		"Maximum number of completed tasks per framework to keep in memory.")
	flags.DurationVar(fs, &c.AllocatorRecoveryTimeout, "allocator_recovery_timeout", d.AllocatorRecoveryTimeout,
		"After a restart with quota set, the longest the master waits for agents to re-register before it makes offers.")
	fs.Float64Var(&c.AllocatorAgentRecoveryFactor, "allocator_agent_recovery_factor", d.AllocatorAgentRecoveryFactor,
		"After a restart with quota set, the fraction of the registry's agents that must re-register before the master makes offers.")
	fs.BoolVar(&c.RootSubmissions, "root_submissions", d.RootSubmissions, "Allow frameworks to subscribe with user root.")
	fs.BoolVar(&c.PublishPerFrameworkMetrics, "publish_per_framework_metrics", d.PublishPerFrameworkMetrics,
		"Publish each framework's metrics (master/frameworks/<name>/<id>/...) in /metrics/snapshot.")
	fs.BoolVar(&c.EnablePprof, "enable_pprof", d.EnablePprof, "Serve Go's profiler (net/http/pprof) under /debug/pprof/ (Mezzo's; Mesos' /profiler/* are not implemented).")
	fs.StringVar(&c.Allocator, "allocator", d.Allocator, "Allocator: hierarchical (the only one).")
	fs.StringVar(&c.FrameworkSorter, "framework_sorter", d.FrameworkSorter, "How frameworks of a role are ordered: drf (the only one).")
	fs.StringVar(&c.RoleSorter, "role_sorter", d.RoleSorter, "How roles are ordered: drf (the only one).")
	fs.IntVar(&c.MaxUnreachableTasksPerFramework, "max_unreachable_tasks_per_framework", d.MaxUnreachableTasksPerFramework,
		"Maximum number of tasks on unreachable agents to keep in memory per framework.")
	fs.IntVar(&c.MaxOperatorEventStreamSubscribers, "max_operator_event_stream_subscribers", d.MaxOperatorEventStreamSubscribers,
		"Maximum number of simultaneous operator event stream subscribers; a new one beyond it closes the oldest.")
	flags.DurationVar(fs, &c.AllocationInterval, "allocation_interval", d.AllocationInterval,
		"Amount of time to wait between batch allocations.")
	fs.StringVar(&c.MinAllocatableResources, "min_allocatable_resources", d.MinAllocatableResources,
		"Minimum resources an offer must contain: quantity sets separated by '|', e.g. \"cpus:0.01|mem:32\".")
	fs.Func("offer_constraints_re2_max_mem",
		"Memory budget of each regular expression in frameworks' offer constraints (default 4KB); a subscription exceeding it is refused.",
		func(v string) error {
			n, err := flags.ParseBytes(v)
			if err != nil {
				return err
			}
			if n > 1<<40 {
				return fmt.Errorf("too large")
			}
			c.OfferConstraintLimits.MaxMem = int64(n)
			return nil
		})
	fs.IntVar(&c.OfferConstraintLimits.MaxProgramSize, "offer_constraints_re2_max_program_size", d.OfferConstraintLimits.MaxProgramSize,
		"Largest program (in instructions) of each regular expression in frameworks' offer constraints; a subscription exceeding it is refused.")
	fs.StringVar(&c.AdvertiseIP, "advertise_ip", d.AdvertiseIP, "IP address advertised to reach this master.")
	fs.IntVar(&c.AdvertisePort, "advertise_port", d.AdvertisePort, "Port advertised to reach this master; 0 means --port.")
	fs.StringVar(&c.Registry, "registry", d.Registry,
		"Persistence of the registry: 'replicated_log' (a database in --work_dir, survives restarts) or 'in_memory'.")
	fs.StringVar(&c.ZK, "zk", d.ZK,
		"ZooKeeper URL for leader election and the registry among several masters: zk://host1:port1,host2:port2,.../path, zk://user:pass@host:port/path, or file:///path holding one.")
	fs.IntVar(&c.Quorum, "quorum", d.Quorum, "With --zk: how many masters must take part before the elected one serves.")
	flags.DurationVar(fs, &c.ZKSessionTimeout, "zk_session_timeout", d.ZKSessionTimeout, "ZooKeeper session timeout.")
	fs.BoolVar(&c.RegistryStrict, "registry_strict", d.RegistryStrict,
		"Refuse agents that re-register with an id the registry does not hold.")
	flags.DurationVar(fs, &c.RegistryMaxAgentAge, "registry_max_agent_age", d.RegistryMaxAgentAge,
		"How long unreachable and gone agents are kept in the registry.")
	fs.IntVar(&c.RegistryMaxAgentCount, "registry_max_agent_count", d.RegistryMaxAgentCount,
		"Most unreachable (and gone) agents kept in the registry.")
	fs.StringVar(&c.AgentRemovalRateLimit, "agent_removal_rate_limit", d.AgentRemovalRateLimit,
		"Most agents removed for failed health checks per duration, e.g. '1/10mins'; empty means no limit.")
	flags.DurationVar(fs, &c.AgentReregisterTimeout, "agent_reregister_timeout", d.AgentReregisterTimeout,
		"How long a restarted master waits for its agents to re-register before marking them unreachable.")
	au, da := &c.Authentication, d.Authentication
	fs.BoolVar(&au.Frameworks, "authenticate_frameworks", da.Frameworks, "Only authenticated frameworks may subscribe (CRAM-MD5 for driver frameworks, HTTP Basic on the scheduler API).")
	fs.BoolVar(&au.Agents, "authenticate_agents", da.Agents, "Only agents authenticated with one of --credentials may register.")
	fs.BoolVar(&au.HTTPReadonly, "authenticate_http_readonly", da.HTTPReadonly, "Read-only HTTP endpoints need HTTP Basic authentication.")
	fs.BoolVar(&au.HTTPReadwrite, "authenticate_http_readwrite", da.HTTPReadwrite, "HTTP endpoints that change state, and the operator API, need HTTP Basic authentication.")
	fs.BoolVar(&au.HTTPFrameworks, "authenticate_http_frameworks", da.HTTPFrameworks, "The scheduler API needs HTTP Basic authentication (with --http_framework_authenticators=basic).")
	fs.StringVar(&au.Credentials, "credentials", da.Credentials, "Path of the credentials file: JSON {\"credentials\":[{\"principal\":..,\"secret\":..}]} or \"principal secret\" lines.")
	fs.StringVar(&au.HTTPCredentials, "http_credentials", da.HTTPCredentials, "Path of a credentials file for the HTTP endpoints instead of --credentials.")
	fs.StringVar(&au.Authenticators, "authenticators", da.Authenticators, "Driver frameworks' authenticator: crammd5 (the only one).")
	fs.StringVar(&au.HTTPAuthenticators, "http_authenticators", da.HTTPAuthenticators, "HTTP authenticator: basic (the only one).")
	fs.StringVar(&au.HTTPFrameworkAuthenticators, "http_framework_authenticators", da.HTTPFrameworkAuthenticators, "HTTP authenticator of the scheduler API: basic (the only one).")
	fs.Func("acls", "Access control lists (Mesos' ACLs as JSON, or file:///path or /path of a file holding them) that authorize frameworks' and operators' requests; without them everything is allowed.",
		func(v string) (err error) { c.ACLs, err = acl.ParseFlag(v); return err })
	c.TLSFlags.AddFlags(fs)
}

// Validate reports configuration errors, naming the flag.
func (c *Config) Validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port=%d: must be between 0 and 65535", c.Port))
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		errs = append(errs, fmt.Errorf("--advertise_port=%d: must be between 0 and 65535", c.AdvertisePort))
	}
	if c.IP != "" && net.ParseIP(c.IP).To4() == nil {
		errs = append(errs, fmt.Errorf("--ip=%s: not an IPv4 address", c.IP))
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP).To4() == nil {
		errs = append(errs, fmt.Errorf("--advertise_ip=%s: not an IPv4 address", c.AdvertiseIP))
	}
	if c.OfferTimeout < 0 {
		errs = append(errs, fmt.Errorf("--offer_timeout=%s: must not be negative", flags.FormatDuration(c.OfferTimeout)))
	}
	if c.AgentPingTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--agent_ping_timeout=%s: must be positive", flags.FormatDuration(c.AgentPingTimeout)))
	}
	if c.MaxAgentPingTimeouts < 1 {
		errs = append(errs, fmt.Errorf("--max_agent_ping_timeouts=%d: must be at least 1", c.MaxAgentPingTimeouts))
	}
	if c.AllocatorAgentRecoveryFactor < 0 || c.AllocatorAgentRecoveryFactor > 1 {
		errs = append(errs, fmt.Errorf("--allocator_agent_recovery_factor=%v: must be within [0, 1]", c.AllocatorAgentRecoveryFactor))
	}
	if c.AllocatorRecoveryTimeout < 0 {
		errs = append(errs, fmt.Errorf("--allocator_recovery_timeout=%s: must not be negative", flags.FormatDuration(c.AllocatorRecoveryTimeout)))
	}
	for _, f := range []struct{ flag, value, want string }{
		{"allocator", c.Allocator, "hierarchical"}, {"framework_sorter", c.FrameworkSorter, "drf"}, {"role_sorter", c.RoleSorter, "drf"},
	} {
		if f.value != f.want {
			errs = append(errs, fmt.Errorf("--%s=%s: only %s is supported", f.flag, f.value, f.want))
		}
	}
	if c.MaxUnreachableTasksPerFramework < 0 {
		errs = append(errs, fmt.Errorf("--max_unreachable_tasks_per_framework=%d: must not be negative", c.MaxUnreachableTasksPerFramework))
	}
	if c.MaxOperatorEventStreamSubscribers < 1 {
		errs = append(errs, fmt.Errorf("--max_operator_event_stream_subscribers=%d: must be at least 1", c.MaxOperatorEventStreamSubscribers))
	}
	if c.MaxCompletedFrameworks < 0 {
		errs = append(errs, fmt.Errorf("--max_completed_frameworks=%d: must not be negative", c.MaxCompletedFrameworks))
	}
	if c.MaxCompletedTasksPerFramework < 0 {
		errs = append(errs, fmt.Errorf("--max_completed_tasks_per_framework=%d: must not be negative", c.MaxCompletedTasksPerFramework))
	}
	if c.OfferConstraintLimits.MaxProgramSize < 1 {
		errs = append(errs, fmt.Errorf("--offer_constraints_re2_max_program_size=%d: must be at least 1", c.OfferConstraintLimits.MaxProgramSize))
	}
	if c.OfferConstraintLimits.MaxMem < 1 {
		errs = append(errs, fmt.Errorf("--offer_constraints_re2_max_mem=%dB: must be at least 1B", c.OfferConstraintLimits.MaxMem))
	}
	if _, err := c.minAllocatable(); err != nil {
		errs = append(errs, fmt.Errorf("--min_allocatable_resources=%s: %v", c.MinAllocatableResources, err))
	}
	if c.ZK != "" && c.Quorum <= 0 {
		errs = append(errs, fmt.Errorf("--quorum is required with --zk (the number of masters that must take part, e.g. 2 of 3)"))
	}
	if c.ZK != "" && (c.Store == nil || c.Info == nil) {
		errs = append(errs, fmt.Errorf("--zk=%s: a master of several is started once elected, with the elected Info and the ZooKeeper registry (as `mezzo master` does)", c.ZK))
	}
	if c.Quorum < 0 {
		errs = append(errs, fmt.Errorf("--quorum=%d: must not be negative", c.Quorum))
	}
	if c.ZKSessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("--zk_session_timeout=%s: must not be negative", flags.FormatDuration(c.ZKSessionTimeout)))
	}
	switch c.Registry {
	case "in_memory":
	case "replicated_log", "replicated":
		if c.WorkDir == "" {
			errs = append(errs, fmt.Errorf("--work_dir is required with --registry=%s (or use --registry=in_memory)", c.Registry))
		}
	default:
		errs = append(errs, fmt.Errorf("--registry=%s: want replicated_log or in_memory", c.Registry))
	}
	if _, _, err := parseRate(c.AgentRemovalRateLimit); err != nil {
		errs = append(errs, fmt.Errorf("--agent_removal_rate_limit=%s: %v", c.AgentRemovalRateLimit, err))
	}
	if c.AgentReregisterTimeout < 10*time.Second {
		errs = append(errs, fmt.Errorf("--agent_reregister_timeout=%s: must be at least 10secs", flags.FormatDuration(c.AgentReregisterTimeout)))
	}
	if c.RegistryMaxAgentAge < 0 || c.RegistryMaxAgentCount < 0 {
		errs = append(errs, errors.New("--registry_max_agent_age and --registry_max_agent_count must not be negative"))
	}
	errs = append(errs, c.Authentication.validate()...)
	if c.AllocationInterval <= 0 {
		errs = append(errs, fmt.Errorf("--allocation_interval=%s: must be positive", flags.FormatDuration(c.AllocationInterval)))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("--max_connections=%d: must be at least 1", c.MaxConnections))
	}
	return errors.Join(errs...)
}

// flagValues returns the flags as /master/flags and /master/state show
// them: every value as a string, durations in Mesos' syntax.
func (c *Config) flagValues() map[string]string {
	m := map[string]string{
		"port":                                   fmt.Sprint(c.Port),
		"agent_ping_timeout":                     flags.FormatDuration(c.AgentPingTimeout),
		"max_agent_ping_timeouts":                fmt.Sprint(c.MaxAgentPingTimeouts),
		"max_connections":                        fmt.Sprint(c.MaxConnections),
		"max_completed_frameworks":               fmt.Sprint(c.MaxCompletedFrameworks),
		"max_completed_tasks_per_framework":      fmt.Sprint(c.MaxCompletedTasksPerFramework),
		"max_operator_event_stream_subscribers":  fmt.Sprint(c.MaxOperatorEventStreamSubscribers),
		"max_unreachable_tasks_per_framework":    fmt.Sprint(c.MaxUnreachableTasksPerFramework),
		"allocation_interval":                    flags.FormatDuration(c.AllocationInterval),
		"allocator":                              c.Allocator,
		"framework_sorter":                       c.FrameworkSorter,
		"role_sorter":                            c.RoleSorter,
		"root_submissions":                       fmt.Sprint(c.RootSubmissions),
		"allocator_recovery_timeout":             flags.FormatDuration(c.AllocatorRecoveryTimeout),
		"allocator_agent_recovery_factor":        fmt.Sprint(c.AllocatorAgentRecoveryFactor),
		"publish_per_framework_metrics":          fmt.Sprint(c.PublishPerFrameworkMetrics),
		"enable_pprof":                           fmt.Sprint(c.EnablePprof),
		"min_allocatable_resources":              c.MinAllocatableResources,
		"offer_constraints_re2_max_mem":          flags.FormatBytes(uint64(c.OfferConstraintLimits.MaxMem)),
		"offer_constraints_re2_max_program_size": fmt.Sprint(c.OfferConstraintLimits.MaxProgramSize),
		"authenticate_agents":                    fmt.Sprint(c.Authentication.Agents),
		"authenticate_frameworks":                fmt.Sprint(c.Authentication.Frameworks),
		"authenticate_http_frameworks":           fmt.Sprint(c.Authentication.HTTPFrameworks),
		"authenticate_http_readonly":             fmt.Sprint(c.Authentication.HTTPReadonly),
		"authenticate_http_readwrite":            fmt.Sprint(c.Authentication.HTTPReadwrite),
		"authenticators":                         c.Authentication.Authenticators,
		"http_authenticators":                    c.Authentication.HTTPAuthenticators,
		"registry":                               c.Registry,
		"zk_session_timeout":                     flags.FormatDuration(c.ZKSessionTimeout),
		"registry_strict":                        fmt.Sprint(c.RegistryStrict),
		"registry_max_agent_age":                 flags.FormatDuration(c.RegistryMaxAgentAge),
		"registry_max_agent_count":               fmt.Sprint(c.RegistryMaxAgentCount),
		"agent_reregister_timeout":               flags.FormatDuration(c.AgentReregisterTimeout),
		"agent_removal_rate_limit":               c.AgentRemovalRateLimit,
	}
	for name, v := range map[string]string{
		"ip": c.IP, "hostname": c.Hostname, "hostname_lookup": fmt.Sprint(c.HostnameLookup), "work_dir": c.WorkDir, "cluster": c.Cluster,
		"advertise_ip": c.AdvertiseIP,
	} {
		if v != "" {
			m[name] = v
		}
	}
	for name, v := range map[string]string{
		"credentials": c.Authentication.Credentials, "http_credentials": c.Authentication.HTTPCredentials,
		"http_framework_authenticators": c.Authentication.HTTPFrameworkAuthenticators,
	} {
		if v != "" {
			m[name] = v
		}
	}
	if c.AdvertisePort != 0 {
		m["advertise_port"] = fmt.Sprint(c.AdvertisePort)
	}
	if c.OfferTimeout > 0 {
		m["offer_timeout"] = flags.FormatDuration(c.OfferTimeout)
	}
	if c.LogFile != "" {
		m["log_dir"] = filepath.Dir(c.LogFile)
	}
	maps.Copy(m, c.TLS.FlagValues())
	return m
}

// agentRemovalRate returns the parsed --agent_removal_rate_limit (0, 0 for
// none); Validate has checked it.
func (c *Config) agentRemovalRate() (int, time.Duration) {
	n, per, _ := parseRate(c.AgentRemovalRateLimit)
	return n, per
}

// parseRate reads Mesos' rate syntax "N/DURATION" ("1/10mins"); "" is no
// limit.
func parseRate(s string) (int, time.Duration, error) {
	if s == "" {
		return 0, 0, nil
	}
	num, dur, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, errors.New(`want N/DURATION, e.g. "1/10mins"`)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("%q is not a positive count", num)
	}
	per, err := flags.ParseDuration(dur)
	if err != nil {
		return 0, 0, err
	}
	if per <= 0 {
		return 0, 0, errors.New("the duration must be positive")
	}
	return n, per, nil
}
