package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mezzo-project/mezzo/frameworks/service"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

func init() {
	register(command{
		name:    "service",
		summary: "run a service of several roles from a spec, and look at or change it (run|status|scale|update|stop)",
		run:     runService,
	})
}

// usageError marks a bad command line (exit code 2).
type usageError struct{ error }

func runService(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:   "service",
		Short: "Run a service (roles such as master and workers) described by a spec file, and manage it.",
		Long: "`run SPEC` runs the service's framework in the foreground; status, scale, update and stop\n" +
			"reach it through its HTTP API, whose address it writes to <state_dir>/api.addr.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	var master string
	var cred scheduler.Credential
	run := &cobra.Command{
		Use:   "run SPEC",
		Short: "run the service's framework in the foreground (logs also to <state_dir>/logs/framework.out)",
		Args:  frameworkArgs("service", 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			spec, err := service.ReadSpec(a[0])
			if err != nil {
				return usageError{err}
			}
			return serviceRun(spec, master, cred, stderr)
		},
	}
	run.Flags().StringVar(&master, "master", envOr("MEZZO_MASTER", "127.0.0.1:5050"),
		"the master: host:port, or zk://host:port,.../path (default $MEZZO_MASTER, else 127.0.0.1:5050)")
	run.Flags().StringVar(&cred.Principal, "principal", envOr("MEZZO_PRINCIPAL", ""), "principal the framework authenticates as (default $MEZZO_PRINCIPAL)")
	run.Flags().StringVar(&cred.Secret, "secret", envOr("MEZZO_SECRET", ""), "the principal's secret (default $MEZZO_SECRET)")

	var asJSON bool
	status := &cobra.Command{
		Use:   "status SPEC",
		Short: "show the service's roles and instances",
		Args:  frameworkArgs("service", 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			var st service.Status
			if err := serviceCall(a[0], "/v1/status", nil, &st); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printServiceStatus(stdout, &st)
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the status document as JSON")

	scale := &cobra.Command{
		Use:   "scale SPEC ROLE INSTANCES",
		Short: "set how many instances a role runs",
		Args:  frameworkArgs("service", 3),
		RunE: func(cmd *cobra.Command, a []string) error {
			n, err := strconv.Atoi(a[2])
			if err != nil || n < 0 {
				return usageError{fmt.Errorf("instances %q: want a number >= 0", a[2])}
			}
			body, _ := json.Marshal(service.ScaleRequest{Role: a[1], Instances: n})
			var st service.Status
			if err := serviceCall(a[0], "/v1/scale", body, &st); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "role %s of %s scaled to %d instances\n", a[1], st.Service, n)
			return nil
		},
	}
	update := &cobra.Command{
		Use:   "update SPEC",
		Short: "send the spec file's new contents to the running service (changed instances restart one at a time)",
		Args:  frameworkArgs("service", 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := service.ReadSpec(a[0]); err != nil {
				return usageError{err}
			}
			body, err := os.ReadFile(a[0])
			if err != nil {
				return err
			}
			var st service.Status
			if err := serviceCall(a[0], "/v1/update", body, &st); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "service %s updated\n", st.Service)
			return nil
		},
	}
	stop := &cobra.Command{
		Use:   "stop SPEC",
		Short: "tear the service down: kill its tasks, remove its framework and state, end `run`",
		Args:  frameworkArgs("service", 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			var st service.Status
			if err := serviceCall(a[0], "/v1/stop", []byte("{}"), &st); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "service %s stopped\n", st.Service)
			return nil
		},
	}
	root.AddCommand(run, status, scale, update, stop)
	return frameworkExit("service", root.Execute(), stderr)
}

// frameworkArgs requires n arguments of `mezzo <command> <sub>`: a
// usage error (exit 2) naming the usage otherwise.
func frameworkArgs(command string, n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("usage: mezzo %s %s", command, cmd.Use)}
		}
		return nil
	}
}

// frameworkExit is the exit code of `mezzo <command>` (service, job)
// after its command tree ran: 0 without error, 2 for a usage error
// (printed), 1 for any other (printed).
func frameworkExit(command string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "mezzo %s: %v\n", command, err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		return 2
	}
	return 1
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// serviceCall sends a request to the API of the service of specFile.
func serviceCall(specFile, path string, body []byte, out any) error {
	spec, err := service.ReadSpec(specFile)
	if err != nil {
		return usageError{err}
	}
	c, err := service.NewClient(spec.StateDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Do(ctx, path, body, out)
}

// serviceRun runs the framework until interrupted or stopped, logging to
// stderr and <state_dir>/logs/framework.out.
func serviceRun(spec *service.Spec, master string, cred scheduler.Credential, stderr io.Writer) error {
	if err := os.MkdirAll(filepath.Join(spec.StateDir, "logs"), 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(spec.StateDir, "logs", "framework.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("framework log: %w", err)
	}
	defer f.Close()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(f, stderr), nil))
	s, err := service.New(service.Config{Master: master, Spec: spec, Log: log, Credential: cred})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return s.Run(ctx)
}

func printServiceStatus(w io.Writer, st *service.Status) {
	fmt.Fprintf(w, "Service:   %s\nFramework: %s\nAPI:       %s\n\n", st.Service, st.FrameworkID, st.API)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tINDEX\tTASK\tSTATE\tHEALTHY\tHOST\tPORTS")
	for _, r := range st.Roles {
		for _, in := range r.Tasks {
			var ports []string
			for n, p := range in.Ports {
				ports = append(ports, fmt.Sprintf("%s=%d", n, p))
			}
			sort.Strings(ports)
			state := in.State
			if in.TaskID == "" {
				state = "PENDING"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%v\t%s\t%s\n", r.Name, in.Index, dash(in.TaskID), state, in.Healthy,
				dash(in.Host), dash(strings.Join(ports, ",")))
		}
	}
	tw.Flush()
	for _, r := range st.Roles {
		fmt.Fprintf(w, "\nrole %s: %d/%d healthy", r.Name, r.Healthy, r.Instances)
		if r.Waiting != "" {
			fmt.Fprintf(w, "; waiting: %s", r.Waiting)
		}
	}
	fmt.Fprintln(w)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
