package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/mezzo-project/mezzo/agent"
	"github.com/mezzo-project/mezzo/internal/flags"
)

func init() {
	register(command{
		name:    "agent",
		summary: "run an agent: offer this machine's resources and run tasks",
		run:     runAgent,
	})
}

func runAgent(args []string, stdout, stderr io.Writer) int {
	cfg := agent.Defaults()
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	cfg.AddFlags(fs)
	var lf logFlags
	lf.add(fs)
	flags.ConfigVar(fs)
	if err := flags.Parse(fs, args, "resources", "attributes", "executor_environment_variables", "acls"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: mezzo agent --master=HOST:PORT --work_dir=DIR [flags]")
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
	log, verbosity, closeLog, err := lf.open("agent", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo agent: %v\n", err)
		return 2
	}
	defer closeLog()
	cfg.Verbosity = verbosity
	cfg.LogFile = lf.path("mezzo-agent.log")
	if cfg.TLS, err = loadTLS(log, &cfg.TLSFlags); err != nil {
		fmt.Fprintf(stderr, "mezzo agent: %v\n", err)
		return 2
	}
	applyDefaultIsolation(fs, &cfg, log)
	a, err := agent.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo agent: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "mezzo agent: %v\n", err)
		return 1
	}
	return 0
}
