package containerizer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/agent/provisioner"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	builtin "github.com/mezzo-project/mezzo/executor"
)

// DockerRuntimeName is the --isolation name of the docker/runtime
// isolator.
const DockerRuntimeName = "docker/runtime"

// dockerRuntime is Mesos' docker/runtime isolator: a container with a
// Docker image (Config.Rootfs) runs with the image's runtime
// configuration. Its Env is merged into the container's environment
// (the agent's variables give way to the image's, the CommandInfo's
// own win); its Entrypoint and Cmd make the command when the
// CommandInfo has no value and shell is false (Mesos' getLaunchCommand
// rules: LaunchCommand); its WorkingDir is where the command starts
// (the sandbox otherwise); and, beyond Mesos (which only warns), its
// User is who runs the container when the CommandInfo names no user.
//
// For a command task the command executor runs inside the image too
// (Mezzo's executor, executed from the host's binary), with the task's
// merged command and working directory passed as its --task_command and
// --working_directory flags, as Mesos passes them to its command
// executor: the task is its child, in the same root.
type dockerRuntime struct{ prepareOnly }

func (dockerRuntime) Name() string { return DockerRuntimeName }

func (dockerRuntime) Prepare(_ context.Context, _ *mesos.ContainerID, cfg *Config, launch *launcher.Isolation) error {
	r := cfg.Rootfs
	if r == nil || r.Image == nil {
		return nil
	}
	ic := r.Image.Config
	own := map[string]bool{}
	for _, v := range cfg.Command.GetEnvironment().GetVariables() {
		own[v.GetName()] = true
	}
	for _, kv := range ic.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || own[k] {
			continue
		}
		cfg.Env[k] = v
	}
	commandTask := cfg.Builtin != nil && cfg.Builtin.Mode == builtin.Command && cfg.Task != nil
	user := cfg.Command.GetUser()
	switch {
	case commandTask:
		user = cfg.Task.GetCommand().GetUser()
		cmd, err := LaunchCommand(cfg.Task.GetCommand(), ic)
		if err != nil {
			return fmt.Errorf("image %s: failed to determine the launch command: %w", r.Image.Name, err)
		}
		exec := proto.Clone(cfg.Command).(*mesos.CommandInfo)
		if cmd != nil {
			b, err := protojson.Marshal(cmd)
			if err != nil {
				return err
			}
			exec.Arguments = append(exec.Arguments, "--task_command="+string(b))
		}
		if ic.WorkingDir != "" {
			exec.Arguments = append(exec.Arguments, "--working_directory="+ic.WorkingDir)
		}
		cfg.Command = exec
	case cfg.Builtin == nil:
		cmd, err := LaunchCommand(cfg.Command, ic)
		if err != nil {
			return fmt.Errorf("image %s: failed to determine the launch command: %w", r.Image.Name, err)
		}
		if cmd != nil {
			cfg.Command = cmd
		}
		launch.WorkingDir = ic.WorkingDir
	}
	if ic.User != "" && user == "" {
		u, err := imageUser(r, ic.User)
		if err != nil {
			return fmt.Errorf("image %s: user %q: %w", r.Image.Name, ic.User, err)
		}
		// The sandbox is the container's user's, as the agent makes it
		// for a CommandInfo's user.
		if err := os.Lchown(cfg.Directory, int(u.UID), int(u.GID)); err != nil {
			return fmt.Errorf("give the sandbox to the image's user %q: %w", ic.User, err)
		}
		launch.User = u
	}
	return nil
}

// LaunchCommand merges a CommandInfo with an image's Entrypoint and Cmd
// as Mesos' docker/runtime isolator does: nil (keep c) when shell is
// true (an error without a value) or a value is given; otherwise the
// Entrypoint is the executable, followed by its own arguments, then c's
// arguments, or the Cmd when c has none; without an Entrypoint Cmd[0] is
// the executable, followed by c's arguments, or the rest of the Cmd when
// c has none. Neither Entrypoint nor Cmd is an error.
func LaunchCommand(c *mesos.CommandInfo, ic v1.Config) (*mesos.CommandInfo, error) {
	if c.GetShell() {
		if c.Value == nil {
			return nil, errors.New("shell specified but no command value provided")
		}
		return nil, nil
	}
	if c.Value != nil {
		return nil, nil
	}
	out := proto.Clone(c).(*mesos.CommandInfo)
	if out == nil {
		out = &mesos.CommandInfo{Shell: proto.Bool(false)}
	}
	userArgs := c.GetArguments()
	switch {
	case len(ic.Entrypoint) > 0:
		out.Value = proto.String(ic.Entrypoint[0])
		out.Arguments = append(append([]string(nil), ic.Entrypoint...), userArgs...)
		if len(userArgs) == 0 {
			out.Arguments = append(out.Arguments, ic.Cmd...)
		}
	case len(ic.Cmd) > 0:
		out.Value = proto.String(ic.Cmd[0])
		out.Arguments = append([]string{ic.Cmd[0]}, userArgs...)
		if len(userArgs) == 0 {
			out.Arguments = append(out.Arguments, ic.Cmd[1:]...)
		}
	default:
		return nil, errors.New("no executable is found: the command has no value and the image neither Entrypoint nor Cmd")
	}
	return out, nil
}

// imageUser resolves an image's User, "user|uid[:group|gid]", against the
// image's /etc/passwd and /etc/group (a name must be there; a numeric id
// need not: its group is then 0, as Docker makes it).
func imageUser(r *provisioner.Rootfs, spec string) (*launcher.User, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	u := &launcher.User{Name: userPart, Home: "/"}
	passwd, _ := readImageFile(r, "etc/passwd")
	found := false
	for _, f := range colonRecords(passwd, 7) {
		if f[0] == userPart || f[2] == userPart {
			uid, err1 := strconv.ParseUint(f[2], 10, 32)
			gid, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("malformed /etc/passwd entry for %q", f[0])
			}
			u.Name, u.UID, u.GID, u.Home = f[0], uint32(uid), uint32(gid), f[5]
			found = true
			break
		}
	}
	if !found {
		uid, err := strconv.ParseUint(userPart, 10, 32)
		if err != nil {
			return nil, errors.New("no such user in the image's /etc/passwd")
		}
		u.UID = uint32(uid)
	}
	groups, _ := readImageFile(r, "etc/group")
	if hasGroup {
		gid, err := strconv.ParseUint(groupPart, 10, 32)
		if err != nil {
			ok := false
			for _, f := range colonRecords(groups, 4) {
				if f[0] == groupPart {
					if gid, err = strconv.ParseUint(f[2], 10, 32); err == nil {
						ok = true
					}
					break
				}
			}
			if !ok {
				return nil, fmt.Errorf("no such group %q in the image's /etc/group", groupPart)
			}
		}
		u.GID = uint32(gid)
	}
	// Supplementary groups: those of the image's /etc/group naming the
	// user.
	for _, f := range colonRecords(groups, 4) {
		for _, m := range strings.Split(f[3], ",") {
			if m == u.Name && m != "" {
				if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(gid) != u.GID {
					u.Groups = append(u.Groups, uint32(gid))
				}
			}
		}
	}
	return u, nil
}

// colonRecords splits an /etc/passwd-style file into records of at least
// n fields, skipping comments and malformed lines.
func colonRecords(b []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) >= n {
			out = append(out, f)
		}
	}
	return out
}

// readImageFile reads a file of the image as the container will see it
// (rel is relative to its root): from the copy, or from the top-most
// layer that has it, unless a layer above deletes it. Symbolic links are
// not followed.
func readImageFile(r *provisioner.Rootfs, rel string) ([]byte, error) {
	if r.Backend != provisioner.BackendOverlay {
		return readRegular(filepath.Join(r.Dir, rel))
	}
	for _, layer := range r.Lower {
		p := filepath.Join(layer, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return nil, fs.ErrNotExist // a whiteout
		}
		return readRegular(p)
	}
	return nil, fs.ErrNotExist
}

// readRegular reads a regular file, refusing a symbolic link (which would
// resolve on the host).
func readRegular(p string) ([]byte, error) {
	st, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return os.ReadFile(p)
}
