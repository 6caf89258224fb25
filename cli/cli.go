package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// Exit codes of the CLI's commands (see the package documentation).
const (
	ExitOK          = 0
	ExitCluster     = 1
	ExitUsage       = 2
	ExitNotFound    = 3
	ExitAmbiguous   = 4
	ExitInterrupted = 130
)

// Errors that decide a command's exit code; others exit ExitCluster.
var (
	// ErrUsage marks a bad flag, argument or value.
	ErrUsage = errors.New("usage")
	// ErrNotFound marks an id or path that names nothing.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous marks an id prefix that names more than one thing.
	ErrAmbiguous = errors.New("ambiguous")
	// ErrInterrupted marks a command stopped by SIGINT or SIGTERM.
	ErrInterrupted = errors.New("interrupted")
)

// DefaultMaster is the master the commands talk to when neither --master
// nor MEZZO_MASTER names one.
const DefaultMaster = "127.0.0.1:5050"

// Command is one of the binary's other subcommands (master, agent, local,
// execute, ...): the command tree lists it for help and completion and
// hands it its arguments unparsed.
type Command struct {
	// Name is the subcommand's name.
	Name string
	// Summary is its one-line description.
	Summary string
	// Hidden leaves it out of help and completion.
	Hidden bool
	// Run runs it with the arguments after its name and returns the exit
	// code.
	Run func(args []string, stdout, stderr io.Writer) int
}

// Env is what a command line runs with besides its arguments.
type Env struct {
	// Stdout and Stderr receive the output and the error messages.
	Stdout, Stderr io.Writer
	// Getenv reads the environment (MEZZO_MASTER); os.Getenv when nil.
	Getenv func(string) string
	// Others are the binary's other subcommands.
	Others []Command
}

// Names lists the CLI's own subcommands, for the binary to dispatch them
// here.
func Names() []string {
	var names []string
	for _, c := range newRoot(&options{}, Env{}).Commands() {
		names = append(names, c.Name())
	}
	return names
}

// Summaries maps each CLI subcommand to its one-line description.
func Summaries() map[string]string {
	out := map[string]string{}
	for _, c := range newRoot(&options{}, Env{}).Commands() {
		out[c.Name()] = c.Short
	}
	return out
}

// options are the flags every command shares.
type options struct {
	master string
	// principal and secret are sent with HTTP Basic on every request
	// (--principal/--secret, else $MEZZO_PRINCIPAL/$MEZZO_SECRET).
	principal, secret string
	json              bool
	timeout           time.Duration
	getenv            func(string) string
	// tls are the --ssl_* flags, over the LIBPROCESS_SSL_* variables.
	tls    tlsutil.Flags
	stdout io.Writer
	stderr io.Writer
	// ctx is cancelled by SIGINT or SIGTERM.
	ctx context.Context
}

// Main runs the command line args (a subcommand and its arguments) and
// returns the process exit code. Errors are written to env.Stderr prefixed
// with "mezzo <command>:".
func Main(args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := &options{getenv: env.Getenv, stdout: env.Stdout, stderr: env.Stderr, ctx: ctx}
	root := newRoot(o, env)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	var st *exitStatus
	if errors.As(err, &st) {
		return st.code
	}
	if ctx.Err() != nil && !errors.Is(err, ErrUsage) {
		err = fmt.Errorf("%w", ErrInterrupted)
	}
	name := "mezzo"
	if cmd != nil && cmd != root {
		name = cmd.CommandPath()
	}
	if !errors.Is(err, ErrInterrupted) {
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
	}
	if errors.Is(err, ErrUsage) && cmd != nil {
		fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return exitCode(err)
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrInterrupted):
		return ExitInterrupted
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrAmbiguous):
		return ExitAmbiguous
	case errors.Is(err, ErrNotFound):
		return ExitNotFound
	default:
		return ExitCluster
	}
}

// usageError is an error of the command line itself.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// kindError is an error of a kind (ErrNotFound, ErrAmbiguous) whose
// message does not repeat the kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func notFoundf(format string, args ...any) error {
	return &kindError{kind: ErrNotFound, msg: fmt.Sprintf(format, args...)}
}

func ambiguousf(format string, args ...any) error {
	return &kindError{kind: ErrAmbiguous, msg: fmt.Sprintf(format, args...)}
}

// exactArgs is cobra.ExactArgs with a usage error naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

// rangeArgs accepts between min and max arguments.
func rangeArgs(min, max int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return usagef("expected %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

func newRoot(o *options, env Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "mezzo",
		Short:         "Mezzo: a cluster resource manager that speaks Mesos' APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			// Only bash and zsh are documented.
			DisableDefaultCmd: true,
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&o.master, "master", "", "the master: host:port, zk://host:port,.../path or file:///path (default $MEZZO_MASTER, else "+DefaultMaster+")")
	pf.BoolVar(&o.json, "json", false, "print the API's messages as JSON (Mesos' JSON mapping) instead of tables")
	pf.DurationVar(&o.timeout, "timeout", 15*time.Second, "how long one request to the cluster may take")
	pf.StringVar(&o.principal, "principal", "", "principal to authenticate as, with HTTP Basic (default $MEZZO_PRINCIPAL)")
	pf.StringVar(&o.secret, "secret", "", "the principal's secret (default $MEZZO_SECRET)")
	tlsFlags := flag.NewFlagSet("tls", flag.ContinueOnError)
	o.tls.AddFlags(tlsFlags)
	pf.AddGoFlagSet(tlsFlags)

	root.AddGroup(&cobra.Group{ID: "cluster", Title: "Cluster commands:"}, &cobra.Group{ID: "server", Title: "Other commands:"})
	for _, c := range []*cobra.Command{
		agentsCmd(o), frameworksCmd(o), tasksCmd(o), taskCmd(o), stateCmd(o),
		logsCmd(o), lsCmd(o), catCmd(o), killCmd(o), teardownCmd(o), eventsCmd(o), topCmd(o),
	} {
		c.GroupID = "cluster"
		root.AddCommand(c)
	}
	root.AddCommand(completionCmd(root))
	for _, c := range env.Others {
		c := c
		root.AddCommand(&cobra.Command{
			Use:                c.Name,
			Short:              c.Summary,
			Hidden:             c.Hidden,
			GroupID:            "server",
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				if code := c.Run(args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
					return &exitStatus{code: code}
				}
				return nil
			},
		})
	}
	return root
}

// exitStatus carries another subcommand's exit code through the tree.
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// completionCmd prints the shell completion script for bash or zsh.
func completionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh",
		Short: "print a shell completion script (bash or zsh)",
		Long: strings.TrimSpace(`
Print a script that completes mezzo's commands, flags and ids in bash or zsh.

  bash:  source <(mezzo completion bash)     # or save it in /etc/bash_completion.d/mezzo
  zsh:   source <(mezzo completion zsh)      # or save it as _mezzo in a directory of $fpath`),
		ValidArgs: []string{"bash", "zsh"},
		Args:      exactArgs(1, "the shell: bash or zsh"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(cmd.OutOrStdout(), true)
			case "zsh":
				return root.GenZshCompletion(cmd.OutOrStdout())
			default:
				return usagef("unknown shell %q: bash or zsh", args[0])
			}
		},
	}
}
