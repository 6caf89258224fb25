package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// resolveSessionTimeout is the ZooKeeper session timeout `mezzo resolve`
// asks for: Mesos' default --zk_session_timeout.
const resolveSessionTimeout = 10 * time.Second

func init() {
	register(command{
		name:    "resolve",
		summary: "print the leading master's host:port (as mesos-resolve)",
		run:     runResolve,
	})
}

// runResolve is Mesos' mesos-resolve: it finds the leading master named by
// a zk://, file:// or host:port URL and prints its host:port, or fails
// when none is found within --timeout.
func runResolve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	var timeout time.Duration
	flags.DurationVar(fs, &timeout, "timeout", 5*time.Second, "How long to wait to resolve the master.")
	master := fs.String("master", "", "The master to resolve: zk://host:port,.../path, file:///path or host:port (or give it as the argument).")
	verbose := fs.Bool("verbose", false, "Log what the detector does to stderr.")
	flagArgs, positional := splitPositional(fs, args)
	if err := flags.Parse(fs, flagArgs, "master"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: mezzo resolve [--timeout=5secs] <master>")
			fmt.Fprintln(stdout, "Prints the leading master's host:port; <master> is zk://host:port,.../path, file:///path or host:port.")
			fmt.Fprintln(stdout)
			fmt.Fprint(stdout, flags.Usage(fs))
			return 0
		}
		fmt.Fprintf(stderr, "mezzo %v\n", err)
		return 2
	}
	target := *master
	switch {
	case len(positional) == 1 && target == "":
		target = positional[0]
	case len(positional) > 1 || len(positional) == 1 && target != "" || target == "":
		fmt.Fprintln(stderr, "mezzo resolve: there must be exactly one master: give it as the argument or with --master")
		return 2
	}
	u, err := detector.ParseURL(target)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo resolve: %v\n", err)
		return 2
	}
	var opts []detector.Option
	if *verbose {
		opts = append(opts, detector.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := detector.Detect(ctx, u, resolveSessionTimeout, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo resolve: failed to detect the master from %q: %v\n", u, err)
		return 1
	}
	defer d.Close()
	for {
		select {
		case info := <-d.Changes():
			if info != nil {
				fmt.Fprintln(stdout, detector.LeaderAddress(info))
				return 0
			}
		case <-ctx.Done():
			fmt.Fprintf(stderr, "mezzo resolve: failed to detect the master from %q within %s: no leading master\n",
				u, flags.FormatDuration(timeout))
			return 1
		}
	}
}

// splitPositional separates the arguments that are not flags (nor the
// value of a non-boolean flag given as "--name value") from the flags.
func splitPositional(fs *flag.FlagSet, args []string) (flagArgs, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flagArgs, append(positional, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flagArgs = append(flagArgs, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flagArgs = append(flagArgs, args[i])
		}
	}
	return flagArgs, positional
}
