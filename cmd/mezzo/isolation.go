package main

import (
	"flag"
	"log/slog"
	"os"

	"github.com/mezzo-project/mezzo/agent"
)

// applyDefaultIsolation picks the agents' isolation when --isolation was
// not given, on the command line or in the environment: cgroups and PID
// namespaces when the agent runs as root and can use them
// (agent.DefaultIsolation), else Mesos' default, which isolates nothing
// — said once in the log, with why.
func applyDefaultIsolation(fs *flag.FlagSet, cfg *agent.Config, log *slog.Logger) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "isolation" })
	for _, env := range []string{"MEZZO_ISOLATION", "MESOS_ISOLATION"} {
		if _, ok := os.LookupEnv(env); ok {
			given = true
		}
	}
	if given {
		return
	}
	iso, why := agent.DefaultIsolation(*cfg)
	cfg.Isolation = iso
	if why != "" {
		log.Warn("tasks are not isolated: no cgroups or namespaces ("+why+"); --isolation chooses the isolators", "isolation", iso)
		return
	}
	log.Info("isolating tasks with cgroups and PID namespaces", "isolation", iso)
}
