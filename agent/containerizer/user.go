package containerizer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// userFor resolves the user a container's processes run as: nil for
// none given or the agent's own user (no switch); the error names a user
// that does not exist.
func userFor(name string) (*launcher.User, error) {
	if name == "" {
		return nil, nil
	}
	u, err := launcher.LookupUser(name)
	if err != nil {
		return nil, err
	}
	if int(u.UID) == os.Getuid() {
		return nil, nil
	}
	return u, nil
}

// startIsolated starts spec's process (an executor, or a built-in
// executor's task: what) inside launch and puts it into every isolator.
// When the isolation asks for more than the caller's own process
// attributes (launch is not empty), or an isolator must have the process
// before it runs anything (a cgroup: see isolatesBeforeRun), the launch
// helper (launch.Helper) starts it and holds it until every isolator has
// it; otherwise it is started directly and isolated right after, which
// the observing isolators allow.
func startIsolated(ctx context.Context, isolators []Isolator, id *mesos.ContainerID, spec launcher.Spec,
	launch *launcher.Isolation, what string) (*launcher.Process, error) {
	isolate := func(pid int) error {
		for _, iso := range isolators {
			if err := iso.Isolate(ctx, id, pid); err != nil {
				return fmt.Errorf("failed to isolate the %s (%s): %w", what, iso.Name(), err)
			}
		}
		return nil
	}
	hold := !launch.Empty()
	for _, iso := range isolators {
		hold = hold || isolatesBeforeRun(iso)
	}
	if hold {
		if launch.Helper == "" {
			return nil, errors.New("the isolation asked for needs the launch helper (the mezzo binary), which is not configured")
		}
		spec.Isolation, spec.Isolate = launch, isolate
		return launcher.Start(spec)
	}
	p, err := launcher.Start(spec)
	if err != nil {
		return nil, err
	}
	if err := isolate(p.Pid()); err != nil {
		p.Destroy()
		<-p.Done()
		return nil, err
	}
	return p, nil
}

// isolatesBeforeRun reports whether an isolator must have a process
// before it runs anything: a cgroup holds only what is started after the
// process joined it.
func isolatesBeforeRun(iso Isolator) bool {
	return strings.HasPrefix(iso.Name(), "cgroups/")
}
