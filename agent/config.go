package agent

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/acl"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/logging"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// Config configures an Agent. Flags keep Mesos' names and defaults;
// AddFlags binds them. The zero value is not valid: Master and WorkDir are
// required (New checks).
type Config struct {
	// Master is the master's "host:port" (--master). Required. A leading
	// "http://" is accepted; zk:// URLs are not supported yet.
	Master string
	// IP is the address the agent listens on and advertises (--ip).
	// Empty: listen on all interfaces and advertise the listener's address
	// (127.0.0.1 when that is unspecified).
	IP string
	// Port is the HTTP port (--port, default 5051); 0 picks a free port
	// (useful in tests and `mezzo local`).
	Port int
	// Hostname is advertised in AgentInfo.hostname (--hostname, default:
	// the machine's hostname).
	Hostname string
	// Verbosity is the process's logging verbosity, which /logging/toggle
	// and SET_LOGGING_LEVEL raise for a while (nil: fixed at 0).
	Verbosity *logging.Verbosity
	// LogFile is the file this agent's log is written to (with Mesos'
	// --log_dir, which the command sets it from; not a flag of its own).
	// Its /files endpoints and LIST_FILES/READ_FILE serve it as
	// /slave/log, as Mesos attaches its log; empty: no such file, and
	// /slave/log is 404.
	LogFile string
	// EnablePprof is Mezzo's --enable_pprof (default false): serve Go's
	// profiler (net/http/pprof) under /debug/pprof/. When false those
	// paths answer 404. Profiles show the process' memory and cost CPU
	// while taken; Mesos' /profiler/start and /profiler/stop answer 501
	// either way and point here.
	EnablePprof bool
	// HostnameLookup is Mesos' --hostname_lookup (default true): without
	// --hostname, advertise the machine's name; when false, the --ip
	// address.
	HostnameLookup bool
	// MaxCompletedExecutorsPerFramework is how many finished executors of
	// a framework /state and the operator API keep
	// (--max_completed_executors_per_framework, default 150).
	MaxCompletedExecutorsPerFramework int
	// WorkDir holds sandboxes under <work_dir>/slaves/... (--work_dir).
	// Required, as in Mesos.
	WorkDir string
	// Resources is the --resources value (Mesos text or JSON syntax);
	// resources it does not name are detected (cpus, mem, disk, ports).
	Resources string
	// Attributes is the --attributes value ("rack:r1;zone:a").
	Attributes string
	// DefaultRole is the role of resources named without one
	// (--default_role, default "*").
	DefaultRole string
	// ExecutorShutdownGracePeriod is the time an executor gets between
	// SHUTDOWN and SIGKILL of its process group
	// (--executor_shutdown_grace_period, default 5 s). An ExecutorInfo's
	// shutdown_grace_period overrides it per executor.
	ExecutorShutdownGracePeriod time.Duration
	// ExecutorRegistrationTimeout bounds the time between starting an
	// executor and its SUBSCRIBE (--executor_registration_timeout, default
	// 1 min); an executor that misses it is killed and its tasks fail
	// with REASON_EXECUTOR_REGISTRATION_TIMEOUT.
	ExecutorRegistrationTimeout time.Duration
	// ExecutorReregistrationTimeout is how long a restarted agent waits
	// for the executors it recovered to re-subscribe before it kills them
	// and reports their tasks TASK_GONE / TASK_LOST with
	// REASON_EXECUTOR_REREGISTRATION_TIMEOUT
	// (--executor_reregistration_timeout, default 2 s, at most 15 s as in
	// Mesos). It is also the longest wait between an executor's
	// re-subscription attempts (MESOS_SUBSCRIPTION_BACKOFF_MAX).
	ExecutorReregistrationTimeout time.Duration
	// RecoveryTimeout is passed to checkpointing executors as
	// MESOS_RECOVERY_TIMEOUT (--recovery_timeout, default 15 min): how
	// long they keep trying to re-subscribe to a restarted agent before
	// they give up and exit.
	RecoveryTimeout time.Duration
	// Recover is --recover: "reconnect" (default) recovers the checkpoint
	// under <work_dir>/meta and reconnects to the live executors of
	// checkpointing frameworks; "cleanup" kills them, forgets the
	// checkpointed agent (the next start registers as a new agent) and
	// exits — Serve returns nil at once — as Mesos' agent does for
	// incompatible upgrades.
	Recover string
	// Strict is --strict (default true): any error while reading the
	// checkpoint fails recovery (New returns it). When false, unreadable
	// entries are skipped and as much as possible is recovered.
	Strict bool
	// ReconfigurationPolicy is --reconfiguration_policy: which changes of
	// the agent's info (resources, attributes, hostname, port) keep its id
	// across a restart. Only Mesos' default, "equal", is supported: any
	// change makes New fail with ErrIncompatible, and the operator starts
	// the agent under a new id by removing <work_dir>/meta/slaves/latest.
	ReconfigurationPolicy string
	// RegistrationBackoffFactor bounds the first random wait before
	// re-registering after a lost master connection; it doubles on each
	// failure up to 1 min (--registration_backoff_factor, default 1 s).
	RegistrationBackoffFactor time.Duration
	// LauncherDir is the directory holding the `mezzo` binary that runs
	// the built-in executors (--launcher_dir). Empty: this process's own
	// executable.
	LauncherDir string
	// BuiltinExecutors is --builtin_executors: where the command executor
	// and the default executor run. "auto" (default): inside the agent
	// for frameworks that do not checkpoint — their tasks cannot outlive
	// the agent anyway (Mesos kills them when the agent restarts), and a
	// task then costs a fork of its command instead of an executor
	// process too — and as `mezzo executor` processes, which survive the
	// agent and re-subscribe to it, for frameworks that checkpoint.
	// "process": always as processes, as Mesos does.
	BuiltinExecutors string
	// HTTPCommandExecutor is Mesos' --http_command_executor, passed to
	// executors as MESOS_HTTP_COMMAND_EXECUTOR (Mezzo's command executor
	// always speaks HTTP).
	HTTPCommandExecutor bool
	// ExecutorEnvironmentVariables is Mesos'
	// --executor_environment_variables: a JSON object of strings (or
	// file:// naming one) that executors, and so their tasks, start with
	// instead of a default PATH; the MESOS_* variables are set over it.
	ExecutorEnvironmentVariables string
	// executorEnv is ExecutorEnvironmentVariables parsed by validate.
	executorEnv map[string]string
	// Containerizers is Mesos' --containerizers (default "mesos"): the
	// containerizers a launch is offered to, in order (package
	// containerizer). "mesos" ("mezzo" is another name for it) runs
	// executors as processes in their containers; "docker" (package
	// containerizer/docker) runs those whose ContainerInfo has type
	// DOCKER through the Docker engine at DockerSocket, which must answer
	// when the agent starts. Unknown names make New fail; without
	// "docker", tasks and executors asking for a Docker container are
	// refused (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED), not run on
	// the host.
	Containerizers string
	// DockerConfig holds the Docker containerizer's flags.
	DockerConfig
	// Isolation is Mesos' --isolation (default "posix/cpu,posix/mem",
	// which enforces nothing; `mezzo agent` and `mezzo local` running as
	// root use RootIsolation instead when not given one): the isolators
	// of the mezzo containerizer, by Mesos' names
	// (containerizer.SupportedIsolators, and cgroups/all). A name Mezzo
	// does not know makes New fail, and what a task asks for that no
	// enabled isolator provides (limits, volumes, capabilities, rlimits,
	// namespaces, ...) is refused per task.
	Isolation string
	// isolation is Isolation parsed by validate.
	isolation containerizer.Isolation
	// IsolationConfig holds the isolators' flags.
	IsolationConfig
	// ImageConfig holds the container image flags.
	ImageConfig
	// SwitchUser is Mesos' --switch_user (default true): containers run
	// as their executor's CommandInfo.user, else their framework's user,
	// with sandboxes owned by it; false runs them as the agent's user.
	SwitchUser bool
	// Containerizer, when set, runs the executors instead of the
	// containerizers Containerizers, Isolation and BuiltinExecutors
	// describe: a fake (package containerizer/fake) lets tests and
	// simulations run the agent without processes. Not a flag.
	Containerizer containerizer.Containerizer
	// GCDelay is Mesos' --gc_delay (default 1 week): how long after an
	// executor run or a framework is over its sandbox and meta
	// directories are deleted. Disk usage shortens it (GCDiskHeadroom).
	// 0 means the default; negative is refused.
	GCDelay time.Duration
	// GCDiskHeadroom is Mesos' --gc_disk_headroom (default 0.1), between
	// 0 and 1: at every disk check (DiskWatchInterval) the scheduled
	// directories older than GCDelay × max(0, 1 − GCDiskHeadroom − usage)
	// are deleted, usage being the used fraction of the file system
	// holding WorkDir. So with the default, everything scheduled goes
	// once the disk is 90% full. 0 is a valid value (start from
	// Defaults()).
	GCDiskHeadroom float64
	// DiskWatchInterval is Mesos' --disk_watch_interval (default 1 min):
	// how often the agent measures the disk usage of WorkDir's file
	// system and prunes the scheduled directories by it; also when
	// deletions that failed are retried. 0 means the default; negative is
	// refused.
	DiskWatchInterval time.Duration
	// FetcherCacheDir is Mesos' --fetcher_cache_dir: the directory of the
	// fetcher cache (package fetcher), used by URIs with cache=true, per
	// user. Empty (the default) is <work_dir>/fetch, where Mesos' default
	// is /tmp/mesos/fetch: unlike Mesos' agent, which empties its cache
	// at every start, Mezzo's keeps its complete entries across restarts
	// (partial downloads are discarded), and belongs with the agent's
	// other state. One agent uses a directory at a time (an flock): a
	// second agent given the same one runs without a cache and logs a
	// warning. To run without a cache, set --fetcher_cache_size=0B.
	FetcherCacheDir string
	// FetcherCacheSize is Mesos' --fetcher_cache_size (default 2GB, Mesos'
	// Bytes syntax): the most the cache's entries hold; least recently
	// used entries no fetch holds are evicted to make room, and a file
	// larger than the cache is fetched without being kept. 0B runs
	// without a cache, as in Mesos.
	FetcherCacheSize string
	// fetcherCacheBytes is FetcherCacheSize parsed by validate.
	fetcherCacheBytes uint64
	// FetcherStallTimeout is Mesos' --fetcher_stall_timeout (default
	// 1mins): an http(s) download that receives nothing for that long is
	// aborted and its task fails (TASK_FAILED,
	// REASON_CONTAINER_LAUNCH_FAILED) with a message naming the URI and
	// the stall. 0 means the default; negative is refused.
	FetcherStallTimeout time.Duration
	// FetcherExtractMaxSize (--fetcher_extract_max_size, Bytes, default
	// 32GB; beyond Mesos) is the most one fetched archive may write into
	// a sandbox when it is extracted, checked against the sizes its
	// entries declare before anything is written and counted as it is
	// written. Past it, the fetch (and its task) fails naming the
	// archive and the flag, and what the archive wrote is removed. It is
	// not tied to the task's disk resource: the disk isolator enforces
	// that, as in Mesos.
	FetcherExtractMaxSize string
	// fetcherExtractBytes is FetcherExtractMaxSize parsed by validate.
	fetcherExtractBytes uint64
	// FetcherExtractMaxEntries (--fetcher_extract_max_entries, default
	// 1,000,000; beyond Mesos) is the most entries (files, directories,
	// links) one fetched archive may hold, enforced as
	// FetcherExtractMaxSize is.
	FetcherExtractMaxEntries int

	// LaunchHelper is the mezzo binary whose `launch` subcommand starts
	// each container inside its isolation (Mesos' mesos-containerizer
	// launch): <launcher_dir>/mezzo, else this process's executable. Not
	// a flag.
	LaunchHelper string
	// ExecutorCommand, when set, replaces `<launcher_dir>/mezzo executor`
	// as the argv of the built-in executors ("--default" is appended for
	// the default executor). Not a flag; tests use it.
	ExecutorCommand []string
	// Authentication is the agent's authentication flags (authn.go).
	Authentication Authentication
	// Clock drives timers (registration timeouts, retries, grace
	// periods, garbage collection). Nil means the real clock.
	Clock Clock
	// driver, when set, builds the driver through which the agent's
	// state code starts its concurrent work (driver.go); nil is the
	// production driver. Tests set it to run the agent in a simulation.
	driver func(*Agent) driver
	// diskUsage measures the used fraction of the file system holding a
	// directory; nil (the default) is statfs (fsUsage). Tests replace it.
	diskUsage func(dir string) (float64, error)
	// ACLs are Mesos' --acls: the access control lists the agent's local
	// authorizer decides its HTTP requests with (package internal/acl;
	// the JSON, or file:///path or /path of a file holding it). Unset
	// (the default): everything is allowed.
	ACLs acl.Flag
	// TLS is the agent's TLS (LIBPROCESS_SSL_*, package tlsutil): its
	// listener speaks it, it dials the master with it (presenting its
	// certificate), and its executors get the same LIBPROCESS_SSL_*
	// variables. Nil is plain HTTP.
	TLS *tlsutil.Setup
	// TLSFlags are the --ssl_* flags (ssl_enabled, ssl_cert_file, ...),
	// which override the LIBPROCESS_SSL_* variables they name; the
	// command builds TLS from them. /flags shows TLS's effective
	// settings under these names.
	TLSFlags tlsutil.Flags
}

// Defaults returns a Config with Mesos' defaults (Master and WorkDir
// still empty).
func Defaults() Config {
	return Config{
		Port:                              5051,
		DefaultRole:                       "*",
		ExecutorShutdownGracePeriod:       5 * time.Second,
		ExecutorRegistrationTimeout:       time.Minute,
		ExecutorReregistrationTimeout:     2 * time.Second,
		RecoveryTimeout:                   15 * time.Minute,
		RegistrationBackoffFactor:         time.Second,
		Recover:                           "reconnect",
		Strict:                            true,
		ReconfigurationPolicy:             "equal",
		Containerizers:                    "mesos",
		Isolation:                         "posix/cpu,posix/mem",
		BuiltinExecutors:                  "auto",
		DockerConfig:                      defaultDockerConfig(),
		SwitchUser:                        true,
		IsolationConfig:                   defaultIsolationConfig(),
		ImageConfig:                       defaultImageConfig(),
		HostnameLookup:                    true,
		MaxCompletedExecutorsPerFramework: 150,
		GCDelay:                           7 * 24 * time.Hour,
		GCDiskHeadroom:                    0.1,
		DiskWatchInterval:                 time.Minute,
		FetcherCacheSize:                  "2GB",
		FetcherStallTimeout:               time.Minute,
		FetcherExtractMaxSize:             "32GB",
		FetcherExtractMaxEntries:          1_000_000,
		Authentication:                    Authentication{HTTPAuthenticators: "basic"},
	}
}

// AddFlags binds c's fields to fs under Mesos' flag names, with c's
// current values (start from Defaults()) as defaults.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	d := *c
	fs.StringVar(&c.Master, "master", d.Master, "The master's host:port, or where the masters elect their leader: zk://host1:port1,host2:port2,.../path or file:///path holding that. Required.")
	fs.StringVar(&c.IP, "ip", d.IP, "IP address to listen on and advertise.")
	fs.IntVar(&c.Port, "port", d.Port, "Port to listen on.")
	fs.StringVar(&c.Hostname, "hostname", d.Hostname, "Hostname the agent advertises (default: the machine's hostname).")
	fs.BoolVar(&c.HostnameLookup, "hostname_lookup", d.HostnameLookup, "Without --hostname, advertise the machine's name (true) or the --ip address (false).")
	fs.IntVar(&c.MaxCompletedExecutorsPerFramework, "max_completed_executors_per_framework", d.MaxCompletedExecutorsPerFramework,
		"Maximum number of finished executors per framework kept in /state.")
	fs.StringVar(&c.WorkDir, "work_dir", d.WorkDir, "Directory for sandboxes and agent state. Required.")
	fs.StringVar(&c.Resources, "resources", d.Resources, "Total consumable resources, e.g. 'cpus:4;mem:1024;ports:[31000-32000]' or a JSON array; unnamed ones are detected.")
	fs.StringVar(&c.Attributes, "attributes", d.Attributes, "Attributes of the machine, e.g. 'rack:r1;zone:a'.")
	fs.StringVar(&c.DefaultRole, "default_role", d.DefaultRole, "Role of resources given without one.")
	flags.DurationVar(fs, &c.ExecutorShutdownGracePeriod, "executor_shutdown_grace_period", d.ExecutorShutdownGracePeriod, "Time an executor gets to shut down before it is killed.")
	flags.DurationVar(fs, &c.ExecutorRegistrationTimeout, "executor_registration_timeout", d.ExecutorRegistrationTimeout, "Time an executor gets to subscribe before it is killed.")
	flags.DurationVar(fs, &c.ExecutorReregistrationTimeout, "executor_reregistration_timeout", d.ExecutorReregistrationTimeout, "Time a restarted agent waits for recovered executors to re-subscribe before killing them (at most 15secs); also MESOS_SUBSCRIPTION_BACKOFF_MAX.")
	fs.StringVar(&c.Recover, "recover", d.Recover, "reconnect: reconnect to the live executors of checkpointing frameworks; cleanup: kill them, forget the checkpointed agent and exit.")
	fs.BoolVar(&c.Strict, "strict", d.Strict, "Fail recovery on any error reading the checkpoint; when false, skip what cannot be read.")
	fs.StringVar(&c.ReconfigurationPolicy, "reconfiguration_policy", d.ReconfigurationPolicy, "Changes of resources or attributes allowed across a restart under the same agent id: equal (none).")
	flags.DurationVar(fs, &c.RecoveryTimeout, "recovery_timeout", d.RecoveryTimeout, "Time a checkpointing executor keeps trying to re-subscribe (MESOS_RECOVERY_TIMEOUT).")
	flags.DurationVar(fs, &c.RegistrationBackoffFactor, "registration_backoff_factor", d.RegistrationBackoffFactor, "First bound of the random wait before re-registering with the master; doubles up to 1mins.")
	fs.StringVar(&c.LauncherDir, "launcher_dir", d.LauncherDir, "Directory holding the mezzo binary that runs built-in executors (default: this binary's).")
	fs.StringVar(&c.Containerizers, "containerizers", d.Containerizers, "Comma-separated containerizers, tried in order: mesos (alias mezzo) and docker (tasks asking for Docker containers fail without it).")
	c.DockerConfig.addFlags(fs)
	fs.StringVar(&c.Isolation, "isolation", d.Isolation, "Comma-separated isolators; supported: "+strings.Join(containerizer.SupportedIsolators, ",")+",cgroups/all. Run as root without this flag, mezzo agent and mezzo local use "+RootIsolation+".")
	c.IsolationConfig.addFlags(fs)
	c.ImageConfig.addFlags(fs)
	fs.BoolVar(&c.EnablePprof, "enable_pprof", d.EnablePprof, "Serve Go's profiler (net/http/pprof) under /debug/pprof/ (Mezzo's; Mesos' /profiler/* are not implemented).")
	fs.BoolVar(&c.SwitchUser, "switch_user", d.SwitchUser, "Run each container as its executor's or framework's user (the agent must then be root to run another user's); false: as the agent's user.")
	fs.StringVar(&c.BuiltinExecutors, "builtin_executors", d.BuiltinExecutors, "Where the command and default executors run: auto (inside the agent for frameworks that do not checkpoint, as processes for those that do) or process (always a process per executor).")
	fs.BoolVar(&c.HTTPCommandExecutor, "http_command_executor", d.HTTPCommandExecutor, "Passed to executors as MESOS_HTTP_COMMAND_EXECUTOR (the command executor always uses HTTP).")
	fs.StringVar(&c.ExecutorEnvironmentVariables, "executor_environment_variables", d.ExecutorEnvironmentVariables,
		`Environment executors and their tasks start with, as a JSON object of strings (e.g. '{"PATH":"/bin:/usr/bin"}') or file:///path to one; default: only PATH.`)
	flags.DurationVar(fs, &c.GCDelay, "gc_delay", d.GCDelay, "Longest time the sandbox and meta directories of finished executors and frameworks are kept; shortened as the disk fills (see --gc_disk_headroom).")
	fs.Float64Var(&c.GCDiskHeadroom, "gc_disk_headroom", d.GCDiskHeadroom, "Disk headroom, between 0.0 and 1.0, of the age beyond which finished sandboxes are deleted at each --disk_watch_interval: gc_delay * max(0.0, 1.0 - gc_disk_headroom - disk usage).")
	flags.DurationVar(fs, &c.DiskWatchInterval, "disk_watch_interval", d.DiskWatchInterval, "Interval between checks of the disk usage of --work_dir, which prune the directories scheduled for garbage collection.")
	fs.StringVar(&c.FetcherCacheDir, "fetcher_cache_dir", d.FetcherCacheDir, "Directory of the fetcher cache (URIs with cache=true), kept across restarts; one agent per directory (default: <work_dir>/fetch).")
	fs.StringVar(&c.FetcherCacheSize, "fetcher_cache_size", d.FetcherCacheSize, "Size of the fetcher cache in Bytes (e.g. 2GB); 0B disables it.")
	flags.DurationVar(fs, &c.FetcherStallTimeout, "fetcher_stall_timeout", d.FetcherStallTimeout, "Time an http(s) download may receive nothing before it is aborted and its task fails.")
	fs.StringVar(&c.FetcherExtractMaxSize, "fetcher_extract_max_size", d.FetcherExtractMaxSize, "Most bytes one fetched archive may write into a sandbox when extracted (e.g. 32GB); past it the fetch fails and what the archive wrote is removed.")
	fs.IntVar(&c.FetcherExtractMaxEntries, "fetcher_extract_max_entries", d.FetcherExtractMaxEntries, "Most entries (files, directories, links) one fetched archive may hold when extracted; past it the fetch fails and what the archive wrote is removed.")
	c.Authentication.addFlags(fs)
	c.ACLs = d.ACLs
	fs.Var(&c.ACLs, "acls", "Access control lists (Mesos' ACLs as JSON, or file:///path or /path of a file holding them) that authorize requests to the agent's endpoints and operator API; without them everything is allowed.")
	c.TLSFlags.AddFlags(fs)
}

// parseExecutorEnv reads --executor_environment_variables: a JSON object
// whose values are all strings ("" gives nil).
func parseExecutorEnv(text string) (map[string]string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("--executor_environment_variables: want a JSON object: %v", err)
	}
	env := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("--executor_environment_variables: the value of %q is not a string; only string values are allowed", k)
		}
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("--executor_environment_variables: %q is not a valid variable name", k)
		}
		env[k] = s
	}
	return env, nil
}

// validate fills defaults and checks required values.
func (c *Config) validate() error {
	var errs []error
	c.Master = strings.TrimPrefix(strings.TrimPrefix(c.Master, "http://"), "https://")
	c.Master = strings.TrimSuffix(c.Master, "/")
	switch {
	case c.Master == "":
		errs = append(errs, errors.New("--master is required (host:port of the master)"))
	case detector.Detected(c.Master):
		if _, err := detector.ParseURL(c.Master); err != nil {
			errs = append(errs, fmt.Errorf("--master: %w", err))
		}
	default:
		if _, _, err := net.SplitHostPort(c.Master); err != nil {
			errs = append(errs, fmt.Errorf("--master=%s: want host:port: %v", c.Master, err))
		}
	}
	if c.WorkDir == "" {
		errs = append(errs, errors.New("--work_dir is required"))
	}
	if c.IP != "" && net.ParseIP(c.IP) == nil {
		errs = append(errs, fmt.Errorf("--ip=%s: not an IP address", c.IP))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port=%d: out of range", c.Port))
	}
	def := Defaults()
	if c.DefaultRole == "" {
		c.DefaultRole = def.DefaultRole
	}
	if c.ExecutorShutdownGracePeriod <= 0 {
		c.ExecutorShutdownGracePeriod = def.ExecutorShutdownGracePeriod
	}
	if c.ExecutorRegistrationTimeout <= 0 {
		c.ExecutorRegistrationTimeout = def.ExecutorRegistrationTimeout
	}
	if c.ExecutorReregistrationTimeout <= 0 {
		c.ExecutorReregistrationTimeout = def.ExecutorReregistrationTimeout
	}
	if c.ExecutorReregistrationTimeout > 15*time.Second {
		errs = append(errs, fmt.Errorf("--executor_reregistration_timeout=%s: at most 15secs", flags.FormatDuration(c.ExecutorReregistrationTimeout)))
	}
	switch c.Recover {
	case "":
		c.Recover = def.Recover
	case "reconnect", "cleanup":
	default:
		errs = append(errs, fmt.Errorf("--recover=%s: want reconnect or cleanup", c.Recover))
	}
	switch c.ReconfigurationPolicy {
	case "":
		c.ReconfigurationPolicy = def.ReconfigurationPolicy
	case "equal":
	case "additive":
		errs = append(errs, errors.New("--reconfiguration_policy=additive is not supported yet; use equal"))
	default:
		errs = append(errs, fmt.Errorf("--reconfiguration_policy=%s: want equal", c.ReconfigurationPolicy))
	}
	if env, err := parseExecutorEnv(c.ExecutorEnvironmentVariables); err != nil {
		errs = append(errs, err)
	} else {
		c.executorEnv = env
	}
	switch c.BuiltinExecutors {
	case "":
		c.BuiltinExecutors = def.BuiltinExecutors
	case "auto", "process":
	default:
		errs = append(errs, fmt.Errorf("--builtin_executors=%s: want auto or process", c.BuiltinExecutors))
	}
	if c.Containerizers == "" {
		c.Containerizers = def.Containerizers
	}
	if err := parseContainerizers(c.Containerizers); err != nil {
		errs = append(errs, err)
	}
	if c.Isolation == "" {
		c.Isolation = def.Isolation
	}
	errs = append(errs, c.IsolationConfig.validate()...)
	errs = append(errs, c.DockerConfig.validate()...)
	if iso, err := containerizer.ParseIsolation(c.Isolation); err != nil {
		errs = append(errs, err)
	} else {
		c.isolation = iso
	}
	errs = append(errs, c.ImageConfig.validate(c.isolation, c.Isolation)...)
	if c.RecoveryTimeout <= 0 {
		c.RecoveryTimeout = def.RecoveryTimeout
	}
	if c.RegistrationBackoffFactor <= 0 {
		c.RegistrationBackoffFactor = def.RegistrationBackoffFactor
	}
	switch {
	case c.GCDelay < 0:
		errs = append(errs, fmt.Errorf("--gc_delay=%s: must not be negative", flags.FormatDuration(c.GCDelay)))
	case c.GCDelay == 0:
		c.GCDelay = def.GCDelay
	}
	if math.IsNaN(c.GCDiskHeadroom) || c.GCDiskHeadroom < 0 || c.GCDiskHeadroom > 1 {
		errs = append(errs, fmt.Errorf("--gc_disk_headroom=%v: must be between 0.0 and 1.0", c.GCDiskHeadroom))
	}
	switch {
	case c.DiskWatchInterval < 0:
		errs = append(errs, fmt.Errorf("--disk_watch_interval=%s: must not be negative", flags.FormatDuration(c.DiskWatchInterval)))
	case c.DiskWatchInterval == 0:
		c.DiskWatchInterval = def.DiskWatchInterval
	}
	if c.FetcherCacheDir == "" && c.WorkDir != "" {
		c.FetcherCacheDir = filepath.Join(c.WorkDir, "fetch")
	}
	if c.FetcherCacheSize == "" {
		c.FetcherCacheSize = def.FetcherCacheSize
	}
	if b, err := flags.ParseBytes(c.FetcherCacheSize); err != nil {
		errs = append(errs, fmt.Errorf("--fetcher_cache_size=%s: %v", c.FetcherCacheSize, err))
	} else {
		c.fetcherCacheBytes = b
	}
	if c.FetcherExtractMaxSize == "" {
		c.FetcherExtractMaxSize = def.FetcherExtractMaxSize
	}
	switch b, err := flags.ParseBytes(c.FetcherExtractMaxSize); {
	case err != nil:
		errs = append(errs, fmt.Errorf("--fetcher_extract_max_size=%s: %v", c.FetcherExtractMaxSize, err))
	case b == 0:
		errs = append(errs, fmt.Errorf("--fetcher_extract_max_size=%s: must be more than 0B", c.FetcherExtractMaxSize))
	default:
		c.fetcherExtractBytes = b
	}
	switch {
	case c.FetcherExtractMaxEntries < 0:
		errs = append(errs, fmt.Errorf("--fetcher_extract_max_entries=%d: must not be negative", c.FetcherExtractMaxEntries))
	case c.FetcherExtractMaxEntries == 0:
		c.FetcherExtractMaxEntries = def.FetcherExtractMaxEntries
	}
	switch {
	case c.FetcherStallTimeout < 0:
		errs = append(errs, fmt.Errorf("--fetcher_stall_timeout=%s: must not be negative", flags.FormatDuration(c.FetcherStallTimeout)))
	case c.FetcherStallTimeout == 0:
		c.FetcherStallTimeout = def.FetcherStallTimeout
	}
	if c.diskUsage == nil {
		c.diskUsage = fsUsage
	}
	if c.Hostname == "" && !c.HostnameLookup {
		if c.IP == "" || net.ParseIP(c.IP) == nil || net.ParseIP(c.IP).IsUnspecified() {
			errs = append(errs, errors.New("--hostname_lookup=false needs --ip (the address to advertise as the hostname) or --hostname"))
		} else {
			c.Hostname = c.IP
		}
	}
	switch {
	case c.MaxCompletedExecutorsPerFramework < 0:
		errs = append(errs, fmt.Errorf("--max_completed_executors_per_framework=%d: must not be negative", c.MaxCompletedExecutorsPerFramework))
	case c.MaxCompletedExecutorsPerFramework == 0:
		c.MaxCompletedExecutorsPerFramework = def.MaxCompletedExecutorsPerFramework
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.Hostname = h
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if len(c.ExecutorCommand) == 0 || c.LaunchHelper == "" {
		bin := ""
		if c.LauncherDir != "" {
			bin = c.LauncherDir + "/mezzo"
		} else if exe, err := os.Executable(); err == nil {
			bin = exe
		} else {
			errs = append(errs, fmt.Errorf("cannot find this binary for the built-in executors and the launch helper (set --launcher_dir): %v", err))
		}
		if len(c.ExecutorCommand) == 0 {
			c.ExecutorCommand = []string{bin, "executor"}
		}
		if c.LaunchHelper == "" {
			c.LaunchHelper = bin
		}
	}
	return errors.Join(errs...)
}

// Clock is the agent's source of time. Implementations must be safe for
// concurrent use; AfterFunc runs f on its own goroutine.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the function from running; false if it already ran
	// or was stopped.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
