package executor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/flags"
)

// Main is `mezzo executor [--default] [--content_type=json|protobuf]`:
// it reads the executor environment the agent provides and runs the
// command executor (or, with --default, the default executor). It
// returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	// An executor does little work at a time; one P keeps the Go runtime's
	// start-up and idle threads cheap, which matters with one executor
	// per task.
	runtime.GOMAXPROCS(1)
	fs := flag.NewFlagSet("executor", flag.ContinueOnError)
	def := fs.Bool("default", false, "Run the default executor (task groups) instead of the command executor.")
	contentType := fs.String("content_type", "json", "Encoding used with the agent: json or protobuf.")
	var dk dockerFlags
	dk.register(fs)
	var ackTimeout time.Duration
	flags.DurationVar(fs, &ackTimeout, "ack_timeout", time.Minute, "How long to wait for the agent to acknowledge the last status updates before exiting.")
	taskCommand := fs.String("task_command", "", "Command executor: the task's command as JSON CommandInfo, replacing the TaskInfo's (the agent's docker/runtime isolator passes the command merged with the task's image).")
	workingDir := fs.String("working_directory", "", "Command executor: the task's working directory (default: the sandbox).")
	// Only command-line flags: MESOS_* in the environment describe the
	// executor, not its flags.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: mezzo executor [flags]")
			fmt.Fprintln(stdout, "Runs Mezzo's command executor (or the default executor) under an agent.")
			fmt.Fprintln(stdout)
			fmt.Fprint(stdout, flags.Usage(fs))
			return 0
		}
		fmt.Fprintf(stderr, "mezzo executor: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mezzo executor: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var format codec.Format
	switch *contentType {
	case "json":
		format = codec.JSON
	case "protobuf":
		format = codec.Protobuf
	default:
		fmt.Fprintf(stderr, "mezzo executor: --content_type=%s: want json or protobuf\n", *contentType)
		return 2
	}
	env, err := EnvFromOS(nil)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo executor: %v\n", err)
		return 1
	}
	mode := Command
	if *def {
		mode = Default
	}
	var taskCmd *mesos.CommandInfo
	if *taskCommand != "" {
		taskCmd = &mesos.CommandInfo{}
		if err := protojson.Unmarshal([]byte(*taskCommand), taskCmd); err != nil {
			fmt.Fprintf(stderr, "mezzo executor: --task_command: %v\n", err)
			return 2
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("executor", env.ExecutorID)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT)
	defer stop()
	// SIGTERM is how an agent without a connection stops us: treat it as
	// SHUTDOWN would be treated by killing tasks (Run's exit kills them).
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-term:
			cancel()
		case <-ctx.Done():
		}
	}()
	cfg := Config{Env: env, Mode: mode, Format: format, AckTimeout: ackTimeout, TaskCommand: taskCmd, WorkingDir: *workingDir}
	if dk.enabled {
		if mode != Command {
			fmt.Fprintln(stderr, "mezzo executor: --docker runs a command task; it cannot be combined with --default")
			return 2
		}
		if err := dk.configure(&cfg, env, log); err != nil {
			fmt.Fprintf(stderr, "mezzo executor: %v\n", err)
			return 2
		}
	}
	if err := Run(ctx, cfg, log); err != nil {
		log.Error("executor exiting", "err", err)
		return 1
	}
	return 0
}
