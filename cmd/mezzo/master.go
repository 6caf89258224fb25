package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/master"
)

func init() {
	register(command{
		name:    "master",
		summary: "run a master: admit agents and frameworks, offer resources, launch tasks",
		run:     runMaster,
	})
}

func runMaster(args []string, stdout, stderr io.Writer) int {
	cfg := master.DefaultConfig()
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	cfg.AddFlags(fs)
	var lf logFlags
	lf.add(fs)
	flags.ConfigVar(fs)
	if err := flags.Parse(fs, args, "acls"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: mezzo master [flags]")
			fmt.Fprintln(stdout)
			fmt.Fprint(stdout, flags.Usage(fs))
			return 0
		}
		fmt.Fprintf(stderr, "mezzo %v\n", err)
		return 2
	}
	if lf.version {
		printVersion(stdout)
		return 0
	}
	log, verbosity, closeLog, err := lf.open("master", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo master: %v\n", err)
		return 2
	}
	defer closeLog()
	cfg.Verbosity = verbosity
	cfg.LogFile = lf.path("mezzo-master.log")
	if cfg.TLS, err = loadTLS(log, &cfg.TLSFlags); err != nil {
		fmt.Fprintf(stderr, "mezzo master: %v\n", err)
		return 2
	}
	if cfg.ZK != "" {
		return runMasterOfSeveral(cfg, log, stderr)
	}
	// Bind first: a master that cannot listen never says it started.
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		fmt.Fprintf(stderr, "mezzo master: %v\n", err)
		return 1
	}
	m, err := master.New(cfg, log)
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "mezzo master: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- m.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", "signal")
	case err = <-errc:
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "mezzo master: %v\n", err)
		return 1
	}
	return 0
}

// runMasterOfSeveral runs `mezzo master --zk=…` (runElectedMaster) until a
// signal or the loss of its leadership.
func runMasterOfSeveral(cfg master.Config, log *slog.Logger, stderr io.Writer) int {
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		fmt.Fprintf(stderr, "mezzo master: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := runElectedMaster(ctx, cfg, ln, log); err != nil {
		fmt.Fprintf(stderr, "mezzo master: %v\n", err)
		return 1
	}
	return 0
}
