// Command mezzo is Mezzo's single binary: a cluster resource manager that
// does what Apache Mesos does and speaks Mesos' v1 HTTP APIs. Its first
// argument names a subcommand (master, agent, local, execute, version, ...);
// `mezzo help` lists them.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/mezzo-project/mezzo/agent/launcher"
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	// run executes the subcommand with the arguments after its name and
	// returns the process exit code.
	run func(args []string, stdout, stderr io.Writer) int
	// hidden leaves the subcommand out of the usage text: it is started
	// by mezzo itself, not by people.
	hidden bool
}

// commands holds every subcommand by name; each file registers its own in
// an init function.
var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help":
		name = "help"
	case "--version", "-version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "mezzo: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: mezzo <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'mezzo <command> --help' for a command's flags.")
}

func init() {
	register(command{
		name:    "help",
		summary: "show this list of commands, or a command's flags",
		run: func(args []string, stdout, stderr io.Writer) int {
			if len(args) > 0 && args[0] != "--help" && args[0] != "-h" {
				if c, ok := commands[args[0]]; ok && c.name != "help" {
					return c.run([]string{"--help"}, stdout, stderr)
				}
				fmt.Fprintf(stderr, "mezzo: unknown command %q\n\n", args[0])
				usage(stderr)
				return 2
			}
			usage(stdout)
			return 0
		},
	})
}

func init() {
	// The agent's launch helper (Mesos' `mesos-containerizer launch`): it
	// starts an executor inside the isolation its container asks for.
	register(command{
		name:    "launch",
		summary: "the agent's launch helper; started by agents",
		hidden:  true,
		run: func(args []string, stdout, _ io.Writer) int {
			if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
				fmt.Fprintln(stdout, "Usage: mezzo launch")
				fmt.Fprintln(stdout, "The agent's launch helper: the agent starts it with the launch request on a pipe; it takes no flags.")
				return 0
			}
			return launcher.Main(args)
		},
	})
}
