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
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mezzo-project/mezzo/frameworks/batch"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

func init() {
	register(command{
		name:    "job",
		summary: "run a batch job of N tasks from a spec, and look at or kill it (run|status|logs|kill)",
		run:     runJob,
	})
}

func runJob(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:   "job",
		Short: "Run a batch job of N tasks described by a spec file, and follow it.",
		Long: "`run SPEC` runs the job's framework in the foreground, prints its progress and a summary, and\n" +
			"exits 0 when every task finished; status, logs and kill reach it through its HTTP API (address in\n" +
			"<state_dir>/api.addr) or, once it ended, read what it left in <state_dir>.",
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
	var quiet bool
	var failed bool
	run := &cobra.Command{
		Use:   "run SPEC",
		Short: "run the job in the foreground: progress every second, a summary at the end (log also in <state_dir>/logs/framework.out)",
		Args:  frameworkArgs("job", 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			spec, err := batch.ReadSpec(a[0])
			if err != nil {
				return usageError{err}
			}
			st, err := jobRun(spec, master, cred, quiet, stdout, stderr)
			if err != nil {
				return err
			}
			failed = st.State != "succeeded"
			return nil
		},
	}
	run.Flags().StringVar(&master, "master", envOr("MEZZO_MASTER", "127.0.0.1:5050"),
		"the master: host:port, or zk://host:port,.../path (default $MEZZO_MASTER, else 127.0.0.1:5050)")
	run.Flags().StringVar(&cred.Principal, "principal", envOr("MEZZO_PRINCIPAL", ""), "principal the framework authenticates as (default $MEZZO_PRINCIPAL)")
	run.Flags().StringVar(&cred.Secret, "secret", envOr("MEZZO_SECRET", ""), "the principal's secret (default $MEZZO_SECRET)")
	run.Flags().BoolVar(&quiet, "quiet", false, "print only the summary, not the framework's log")

	var asJSON bool
	status := &cobra.Command{
		Use:   "status SPEC",
		Short: "show the job's progress, or its summary once it ended",
		Args:  frameworkArgs("job", 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			st, err := jobStatus(a[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			if st.State == "running" {
				fmt.Fprintf(stdout, "job %s running for %.1fs (framework %s): %s\n", st.Job, st.Elapsed, st.FrameworkID, batch.ProgressLine(st))
				return nil
			}
			batch.WriteSummary(stdout, st)
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the status document as JSON")

	var errFile bool
	logs := &cobra.Command{
		Use:   "logs SPEC INDEX",
		Short: "print the stdout (or --stderr) of the latest attempt of the job's task INDEX",
		Args:  frameworkArgs("job", 2),
		RunE: func(cmd *cobra.Command, a []string) error {
			i, err := strconv.Atoi(a[1])
			if err != nil || i < 0 {
				return usageError{fmt.Errorf("index %q: want a task index >= 0", a[1])}
			}
			t, master, err := jobTask(a[0], i)
			if err != nil {
				return err
			}
			if t.TaskID == "" {
				return fmt.Errorf("task %d of the job has not been launched", i)
			}
			largs := []string{t.TaskID, "--master=" + master}
			if errFile {
				largs = append(largs, "--stderr")
			}
			if code := commands["logs"].run(largs, stdout, stderr); code != 0 {
				return fmt.Errorf("logs of task %s: exit code %d", t.TaskID, code)
			}
			return nil
		},
	}
	logs.Flags().BoolVar(&errFile, "stderr", false, "print the task's stderr instead of its stdout")

	kill := &cobra.Command{
		Use:   "kill SPEC",
		Short: "kill the running job: its tasks are killed and `run` ends with the summary",
		Args:  frameworkArgs("job", 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			var st batch.Status
			if err := jobCall(a[0], "/v1/kill", []byte("{}"), &st); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "job %s killed: %s\n", st.Job, batch.ProgressLine(&st))
			return nil
		},
	}
	root.AddCommand(run, status, logs, kill)
	err := root.Execute()
	if err == nil && failed {
		return 1
	}
	return frameworkExit("job", err, stderr)
}

// jobCall sends a request to the API of the running job of specFile.
func jobCall(specFile, path string, body []byte, out any) error {
	spec, err := batch.ReadSpec(specFile)
	if err != nil {
		return usageError{err}
	}
	c, err := batch.NewClient(spec.StateDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Do(ctx, path, body, out)
}

// jobStatus asks the running job, else reads the summary it left.
func jobStatus(specFile string) (*batch.Status, error) {
	var st batch.Status
	err := jobCall(specFile, "/v1/status", nil, &st)
	if err == nil {
		return &st, nil
	}
	if !errors.Is(err, batch.ErrNotRunning) {
		return nil, err
	}
	spec, _ := batch.ReadSpec(specFile)
	sum, serr := batch.ReadSummary(spec.StateDir)
	if errors.Is(serr, os.ErrNotExist) {
		return nil, fmt.Errorf("job %s is not running and has not run: no %s or %s in %s", spec.Name,
			batch.APIAddrFile, batch.SummaryFile, spec.StateDir)
	}
	if serr != nil {
		return nil, fmt.Errorf("%w; and its summary: %v", err, serr)
	}
	return sum, nil
}

// jobTask finds the task of index, from the running job or the tasks it
// left, and the master it ran on.
func jobTask(specFile string, index int) (*batch.Task, string, error) {
	st, err := jobStatus(specFile)
	if err != nil {
		return nil, "", err
	}
	if index >= st.Tasks {
		return nil, "", usageError{fmt.Errorf("index %d: the job has tasks 0..%d", index, st.Tasks-1)}
	}
	if st.State == "running" {
		var t batch.Task
		if err := jobCall(specFile, fmt.Sprintf("/v1/task?index=%d", index), nil, &t); err == nil {
			return &t, st.Master, nil
		} else if !errors.Is(err, batch.ErrNotRunning) {
			return nil, "", err
		}
	}
	spec, _ := batch.ReadSpec(specFile)
	ts, err := batch.ReadTasks(spec.StateDir)
	if err != nil {
		return nil, "", err
	}
	if index >= len(ts) {
		return nil, "", fmt.Errorf("index %d: %s lists %d tasks", index, batch.TasksFile, len(ts))
	}
	return ts[index], st.Master, nil
}

// jobRun runs the job until it ends or is interrupted, logging to
// <state_dir>/logs/framework.out (and stderr unless quiet).
func jobRun(spec *batch.Spec, master string, cred scheduler.Credential, quiet bool, stdout, stderr io.Writer) (*batch.Status, error) {
	if err := os.MkdirAll(filepath.Join(spec.StateDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(spec.StateDir, "logs", "framework.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("framework log: %w", err)
	}
	defer f.Close()
	var logw io.Writer = f
	if !quiet {
		logw = io.MultiWriter(f, stderr)
	}
	j, err := batch.New(batch.Config{Master: master, Spec: spec, Credential: cred, Log: slog.New(slog.NewTextHandler(logw, nil)), Progress: stdout})
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return j.Run(ctx)
}
