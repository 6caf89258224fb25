package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/mezzo-project/mezzo/agent"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/master"
	"github.com/mezzo-project/mezzo/resources"
)

func init() {
	register(command{
		name:    "local",
		summary: "run a master and N agents in one process: a whole cluster on this machine",
		run:     runLocal,
	})
}

// localFlags are the flags of `mezzo local` beyond the master's and the
// agents' own.
type localFlags struct {
	agents int
}

func runLocal(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	mcfg := master.DefaultConfig()
	mcfg.AddFlags(fs)
	acfg := agent.Defaults()
	// The agents take every agent flag the master does not also have; the
	// shared ones (--ip, --hostname, --work_dir, ...) are the master's and
	// the agents derive theirs from them.
	afs := flag.NewFlagSet("agent", flag.ContinueOnError)
	acfg.AddFlags(afs)
	afs.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil && f.Name != "master" {
			fs.Var(f.Value, f.Name, "(agents) "+f.Usage)
		}
	})
	var lf localFlags
	fs.IntVar(&lf.agents, "agents", 1, "Number of agents to run.")
	var logf logFlags
	logf.add(fs)
	flags.ConfigVar(fs)
	if err := flags.Parse(fs, args, "resources", "executor_environment_variables"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: mezzo local [--agents=N] [master and agent flags]\n\n"+
				"The master and the agents listen on 127.0.0.1 unless --ip names another address.\n\n%s", flags.Usage(fs))
			return 0
		}
		fmt.Fprintf(stderr, "mezzo local: %v\n", err)
		return 2
	}
	// The HTTP authentication flags the master and agents share protect
	// the agents' endpoints too, with the master's HTTP credentials.
	if ma := mcfg.Authentication; ma.HTTPReadonly || ma.HTTPReadwrite {
		acfg.Authentication.HTTPReadonly, acfg.Authentication.HTTPReadwrite = ma.HTTPReadonly, ma.HTTPReadwrite
		acfg.Authentication.HTTPCredentials = cmp.Or(ma.HTTPCredentials, ma.Credentials)
	}
	if lf.agents < 1 {
		fmt.Fprintf(stderr, "mezzo local: --agents=%d: must be at least 1\n", lf.agents)
		return 2
	}
	if mcfg.WorkDir == "" {
		mcfg.WorkDir = filepath.Join(os.TempDir(), "mezzo-local")
	}
	if mcfg.IP == "" {
		// A cluster for this machine, without authentication: not
		// reachable from others unless --ip asks for it.
		mcfg.IP = "127.0.0.1"
	}
	if logf.version {
		printVersion(stdout)
		return 0
	}
	log, verbosity, closeLog, err := logf.open("local", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo local: %v\n", err)
		return 2
	}
	defer closeLog()
	mcfg.Verbosity, acfg.Verbosity = verbosity, verbosity
	// The master logs to the cluster's own log: /master/log serves it.
	mcfg.LogFile = logf.path("mezzo-local.log")
	if mcfg.TLS, err = loadTLS(log, &mcfg.TLSFlags); err != nil {
		fmt.Fprintf(stderr, "mezzo local: %v\n", err)
		return 2
	}
	acfg.TLS = mcfg.TLS
	applyDefaultIsolation(fs, &acfg, log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	agentLog := func(i int) (*slog.Logger, string, func(), error) {
		if logf.dir == "" {
			return log.With("component", "agent", "agent", i), "", func() {}, nil
		}
		file := fmt.Sprintf("mezzo-local-agent%d.log", i)
		alog, closeFile, err := logf.openFile(file, stderr, verbosity)
		if err != nil {
			return nil, "", nil, err
		}
		return alog.With("component", "agent", "agent", i), logf.path(file), closeFile, nil
	}
	if err := runCluster(ctx, mcfg, acfg, lf, stdout, log, agentLog); err != nil {
		fmt.Fprintf(stderr, "mezzo local: %v\n", err)
		return 1
	}
	return 0
}

// runCluster starts the master and the agents and serves until ctx ends
// or the master or an agent fails. An agent the master refuses (marked
// gone by an operator) stops alone; the master and the other agents go on.
// agentLog returns agent i's logger, the file it writes (empty for
// none; the agent serves it as /slave/log) and a function that closes
// that file.
func runCluster(ctx context.Context, mcfg master.Config, acfg agent.Config, lf localFlags, stdout io.Writer, log *slog.Logger,
	agentLog func(i int) (*slog.Logger, string, func(), error)) error {
	mcfg.WorkDir = filepath.Join(mcfg.WorkDir, "master")
	root := filepath.Dir(mcfg.WorkDir)
	if err := os.MkdirAll(mcfg.WorkDir, 0o755); err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(mcfg.IP, strconv.Itoa(mcfg.Port)))
	if err != nil {
		return fmt.Errorf("master: %w", err)
	}
	m, err := master.New(mcfg, log.With("component", "master"))
	if err != nil {
		ln.Close()
		return fmt.Errorf("master: %w", err)
	}
	defer m.Close()
	errc := make(chan error, lf.agents+1)
	go func() { errc <- fmt.Errorf("master: %w", errOrStopped(m.Serve(ln))) }()
	masterAddr := ln.Addr().String()
	if mcfg.IP == "" || net.ParseIP(mcfg.IP).IsUnspecified() {
		// --ip=0.0.0.0: the agents reach the master on loopback.
		masterAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}

	shares, err := agentShares(acfg.Resources, root, lf.agents)
	if err != nil {
		return err
	}
	agentAddrs := make([]string, lf.agents)
	for i := 0; i < lf.agents; i++ {
		cfg := acfg
		cfg.Master = masterAddr
		cfg.IP = mcfg.IP
		if cfg.IP == "" {
			cfg.IP = "127.0.0.1"
		}
		cfg.Port = 0
		cfg.Hostname = mcfg.Hostname
		cfg.WorkDir = filepath.Join(root, fmt.Sprintf("agent%d", i))
		cfg.Resources = shares[i]
		cfg.CgroupsRoot = localCgroupsRoot(acfg.CgroupsRoot, root, i)
		cfg.FetcherCacheDir = localFetcherCacheDir(acfg.FetcherCacheDir, i)
		alog, logFile, closeLog, err := agentLog(i)
		if err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
		cfg.LogFile = logFile
		defer closeLog()
		a, err := agent.New(cfg, alog)
		if err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
		defer a.Close()
		aln, err := a.Listen()
		if err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
		agentAddrs[i] = aln.Addr().String()
		go func() {
			err := a.Serve(aln)
			if errors.Is(err, agent.ErrRefused) {
				// Mesos' agent exits when the master marks it gone; here
				// that agent alone stops.
				alog.Warn("agent stopped: the master refused it; the rest of the local cluster keeps running", "err", err)
				a.Close()
				return
			}
			errc <- fmt.Errorf("agent %d: %w", i, errOrStopped(err))
		}()
	}
	fmt.Fprintf(stdout, "Mezzo local cluster: master at %s with %d agent(s); work directory %s\n", masterAddr, lf.agents, root)
	for i, addr := range agentAddrs {
		fmt.Fprintf(stdout, "  agent %d at %s, work directory %s\n", i, addr, filepath.Join(root, fmt.Sprintf("agent%d", i)))
	}
	fmt.Fprintf(stdout, "Try: mezzo execute --master=%s --name=hello --command='echo hello from Mezzo'\n", masterAddr)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// errStopped is the end of a local cluster's component that stopped
// without an error while the cluster was meant to run on.
var errStopped = errors.New("stopped")

func errOrStopped(err error) error {
	if err == nil {
		return errStopped
	}
	return err
}

// agentShares returns each agent's --resources value. When the user gave
// one, every agent gets it; otherwise each gets an even share of this
// machine (cpus, mem and disk divided by n, the default port range split
// into n disjoint parts so agents on one host never offer the same port).
func agentShares(given, workDir string, n int) ([]string, error) {
	out := make([]string, n)
	if given != "" {
		if _, err := resources.ParseFlag(given, "*"); err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		for i := range out {
			out[i] = given
		}
		return out, nil
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, fmt.Errorf("create work directory: %w", err)
	}
	host, _ := resources.DetectHost(workDir)
	total := resources.DefaultAgentResources(host, "*")
	q := total.Quantities()
	// cpus keep Mesos' three decimals; mem and disk are whole MB.
	share := func(name string, unit float64) float64 {
		v := q.Get(name).Float() / float64(n)
		return float64(int64(v*unit)) / unit
	}
	ports := resources.DefaultPorts[0]
	span := (ports.End - ports.Begin + 1) / uint64(n)
	for i := range out {
		begin := ports.Begin + uint64(i)*span
		end := begin + span - 1
		if i == n-1 {
			end = ports.End
		}
		out[i] = fmt.Sprintf("cpus:%g;mem:%g;disk:%g;ports:[%d-%d]", share("cpus", 1000), share("mem", 1), share("disk", 1), begin, end)
	}
	return out, nil
}

// localCgroupsRoot is the --cgroups_root of a local cluster's agent i:
// agents on one host must not share one, or each would destroy the
// others' containers as orphans. Beside the given root (not under it,
// where an agent using that root would take it for an orphan) each
// local cluster has its own, named by its work directory so that a
// restarted one finds its containers, and each agent its own in it.
func localCgroupsRoot(root, workDir string, i int) string {
	sum := sha256.Sum256([]byte(workDir))
	return path.Join(fmt.Sprintf("%s-local-%x", root, sum[:4]), fmt.Sprintf("agent%d", i))
}

// localFetcherCacheDir gives each agent of a local cluster its own
// fetcher cache, as mesos-local does (a cache directory serves one agent
// at a time): <dir>/agent<i> under a --fetcher_cache_dir given; without
// one each agent uses its own <work_dir>/fetch.
func localFetcherCacheDir(dir string, i int) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, fmt.Sprintf("agent%d", i))
}
