package main

import (
	"io"
	"sort"

	"github.com/mezzo-project/mezzo/cli"
)

// The operator commands (agents, tasks, logs, top, ...) live in package
// cli; each is registered here so that `mezzo <command>` reaches it, with
// the binary's other subcommands handed over for help and completion.
func init() {
	summaries := cli.Summaries()
	for _, name := range cli.Names() {
		register(command{name: name, summary: summaries[name], run: runCLI(name)})
	}
	// Cobra's completion scripts call these to complete a command line.
	for _, name := range []string{"__complete", "__completeNoDesc"} {
		register(command{name: name, hidden: true, run: runCLI(name)})
	}
}

// runCLI runs the CLI command name with the binary's other subcommands
// listed beside it.
func runCLI(name string) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		own := map[string]bool{}
		for _, n := range cli.Names() {
			own[n] = true
		}
		var others []cli.Command
		for n, c := range commands {
			if own[n] || n == "help" || n == "__complete" || n == "__completeNoDesc" {
				continue
			}
			others = append(others, cli.Command{Name: n, Summary: c.summary, Hidden: c.hidden, Run: c.run})
		}
		sort.Slice(others, func(i, j int) bool { return others[i].Name < others[j].Name })
		return cli.Main(append([]string{name}, args...), cli.Env{Stdout: stdout, Stderr: stderr, Others: others})
	}
}
