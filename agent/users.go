package agent

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// Users (--switch_user, on by default as in Mesos). A container runs as
// its executor's CommandInfo.user, else its framework's user (a command
// task's user is its executor's; a task group's task may name its own),
// and its sandbox is owned by that user. Without --switch_user every
// container runs as the agent's user. An agent that is not root can
// only run containers as itself: a container asking for another user is
// refused, never run as the agent's user.

// agentUser is the agent's own user name, read once.
var agentUser = func() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}()

// containerUser is the user a container asking for name (a
// CommandInfo.user, else the framework's user) runs as: "" for the
// agent's own user (no switch). It refuses a user that does not exist,
// and another user than the agent's when the agent is not root.
func (a *Agent) containerUser(name string) (string, error) {
	if !a.cfg.SwitchUser || name == "" || name == agentUser {
		return "", nil
	}
	if _, err := user.Lookup(name); err != nil {
		if _, ok := err.(user.UnknownUserError); ok {
			return "", refuse("user %q does not exist on this agent", name)
		}
		return "", refuse("cannot look up user %q: %v", name, err)
	}
	if os.Geteuid() != 0 {
		return "", refuse("cannot run as user %q: the agent runs as %q without root (--switch_user=false runs every container as the agent's user)", name, agentUser)
	}
	return name, nil
}

// executorUser is the user an executor's container runs as (see
// containerUser).
func (a *Agent) executorUser(fw *framework, info *mesos.ExecutorInfo) (string, error) {
	name := info.GetCommand().GetUser()
	if name == "" {
		name = fw.info.GetUser()
	}
	return a.containerUser(name)
}

// validateUsers checks the users of a RUN_TASK's executor and tasks.
func (a *Agent) validateUsers(fw *framework, exInfo *mesos.ExecutorInfo, tasks []*mesos.TaskInfo) error {
	if _, err := a.executorUser(fw, exInfo); err != nil {
		return err
	}
	for _, t := range tasks {
		if _, err := a.containerUser(t.GetCommand().GetUser()); err != nil {
			return fmt.Errorf("task %s: %w", t.GetTaskId().GetValue(), err)
		}
	}
	return nil
}

// chownSandbox gives a sandbox and everything in it to a user (launch
// goroutine, after the fetch).
func chownSandbox(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("chown sandbox to %q: %w", name, err)
	}
	var uid, gid int
	if _, err := fmt.Sscan(u.Uid, &uid); err != nil {
		return fmt.Errorf("chown sandbox to %q: uid %q: %w", name, u.Uid, err)
	}
	if _, err := fmt.Sscan(u.Gid, &gid); err != nil {
		return fmt.Errorf("chown sandbox to %q: gid %q: %w", name, u.Gid, err)
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("chown sandbox to %q: %w", name, err)
		}
		return nil
	})
}
