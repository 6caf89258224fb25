// Package launcher starts executor and task processes the way Mesos' POSIX
// launcher does: each in its own process group (so a signal reaches every
// process it forked), with the working directory set to its sandbox,
// stdout and stderr written to the files "stdout" and "stderr" in the
// sandbox, and exactly the environment it is given (nothing is inherited
// from the caller).
package launcher

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mezzo-project/mezzo/agent/launcher/helper"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// DefaultPath is the PATH a process gets when its environment names none,
// as Mesos' containerizer sets it.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Spec describes a process to start.
type Spec struct {
	// Command is what to run: shell=true (the default) runs
	// `/bin/sh -c value`; shell=false executes value with arguments as
	// argv (arguments[0] is argv[0]).
	Command *mesos.CommandInfo
	// Env is the complete environment, by name. PATH defaults to
	// DefaultPath when absent.
	Env map[string]string
	// Dir is the working directory; stdout and stderr are created there
	// (appended to if they exist) unless Stdout/Stderr are set.
	Dir string
	// Stdout and Stderr override the output files when non-empty paths.
	Stdout, Stderr string
	// NewSession starts the process in a new session (setsid) instead of
	// only a new process group: the session then holds everything the
	// process starts, including task process groups of its own, and
	// Destroy can kill all of it. The agent uses it for executors.
	NewSession bool
	// DieWithParent has the kernel SIGKILL the process when its parent
	// dies (PR_SET_PDEATHSIG), for processes that must not outlive the
	// agent that supervises them. (Linux ties this to the parent's
	// thread that forked; Go keeps its threads for the life of the
	// process unless a goroutine exits while locked to one, which the
	// agent never does.)
	DieWithParent bool
	// Isolation is what the process is started inside, set up by the
	// launch helper; nil for none.
	Isolation *Isolation
	// Isolate, when set, is called with the pid of the started process
	// before it runs anything of the command (the launch helper waits
	// for it): the caller puts it into its cgroups there, so that
	// everything it starts is inside them. An error kills the process
	// and fails Start. Requires Isolation.Helper.
	Isolate func(pid int) error
}

// Process is a started (or adopted) process, the leader of its own
// process group.
type Process struct {
	cmd  *exec.Cmd // nil for an adopted process
	pid  int
	done chan struct{}
	once sync.Once
	// set before done is closed
	status syscall.WaitStatus
	err    error
	// statusPipe, for a process started through the launch helper as
	// the init of a pid namespace, carries the command's own wait
	// status, which Status reports instead of the helper's.
	statusPipe *os.File
	// pidNS: the process is the init of a pid namespace of its own (the
	// launch helper), so that its end ends every process of its session.
	pidNS bool

	// adopted: see Adopt. release stops watching it.
	adopted bool
	release func()
}

// Argv returns the program a command runs and its argv (argv[0]
// included): `/bin/sh -c value` for a shell command, else value with
// arguments as argv (value alone when arguments is empty).
func Argv(c *mesos.CommandInfo) (string, []string, error) {
	if c.GetShell() { // proto default true
		if c.GetValue() == "" {
			return "", nil, errors.New("command value is empty")
		}
		return "/bin/sh", []string{"/bin/sh", "-c", c.GetValue()}, nil
	}
	if c.GetValue() == "" {
		return "", nil, errors.New("command value (the executable) is empty")
	}
	args := append([]string(nil), c.GetArguments()...)
	if len(args) == 0 {
		args = []string{c.GetValue()}
	}
	return c.GetValue(), args, nil
}

// EnvList turns an environment map into a sorted NAME=value list.
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Start launches the process described by s.
func Start(s Spec) (*Process, error) {
	path, argv, err := Argv(s.Command)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = DefaultPath
	}
	helped := !s.Isolation.Empty() || s.Isolate != nil
	if !helped && !strings.Contains(path, "/") {
		// Resolve against the process's own PATH, not ours.
		if p, err := helper.LookPath(path, env["PATH"]); err == nil {
			path = p
		} else {
			return nil, fmt.Errorf("executable %q not found in PATH %q", path, env["PATH"])
		}
	}
	stdout := s.Stdout
	if stdout == "" {
		stdout = filepath.Join(s.Dir, "stdout")
	}
	stderr := s.Stderr
	if stderr == "" {
		stderr = filepath.Join(s.Dir, "stderr")
	}
	out, err := os.OpenFile(stdout, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	errf, err := os.OpenFile(stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer errf.Close()
	if u := s.Isolation.user(); u != nil {
		// The output files are the user's, as the sandbox is: what it
		// runs may reopen them (an executor's tasks write there too).
		for _, f := range []*os.File{out, errf} {
			if err := f.Chown(int(u.UID), int(u.GID)); err != nil {
				return nil, fmt.Errorf("give %s to user %q: %w", f.Name(), u.Name, err)
			}
		}
	}
	if helped {
		return startHelped(s, path, argv, env, out, errf)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         EnvList(env),
		Dir:         s.Dir,
		Stdout:      out,
		Stderr:      errf,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: !s.NewSession, Setsid: s.NewSession},
	}
	if s.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go p.wait()
	return p, nil
}

func (p *Process) wait() {
	err := p.cmd.Wait()
	if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		p.status = st
	}
	if p.statusPipe != nil {
		if st, ok := readStatus(p.statusPipe); ok {
			p.status = st
		}
		p.statusPipe.Close()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		p.err = err
	}
	close(p.done)
}

// Pid returns the process id (= its process group id): the command's,
// or with a pid namespace that of the launch helper, its init.
func (p *Process) Pid() int { return p.pid }

// Done is closed when the process has exited and been reaped (an adopted
// process: when it has exited).
func (p *Process) Done() <-chan struct{} { return p.done }

// Status returns the wait status; valid after Done is closed. For a
// process started as the init of a pid namespace it is the command's own
// status as the helper reported it (the helper's, when it was killed
// before the command ended: "terminated with signal Killed"). An adopted
// process's status is unknown (0): only its parent could read it.
func (p *Process) Status() syscall.WaitStatus { <-p.done; return p.status }

// Adopted reports whether p came from Adopt.
func (p *Process) Adopted() bool { return p.adopted }

// Signal sends sig to the whole process group. It is a no-op once the
// group is gone. For a process started as the init of a pid namespace
// (Isolation with CLONE_NEWPID) the launch helper passes sig on to the
// command's process group; SIGKILL ends the namespace and everything in
// it.
func (p *Process) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Kill sends SIGKILL to the process group and waits for the leader to be
// reaped.
func (p *Process) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Destroy SIGKILLs the process group and, for a process started with
// NewSession, every process of its session (process groups it created
// included), repeating until none is left or a few rounds pass. It does
// not wait for the leader to be reaped.
//
// The init of a pid namespace needs no search of the session: every
// process of it is in the namespace (a process outside cannot join the
// session), and the kernel kills them all when the init dies, before
// the init can be reaped.
func (p *Process) Destroy() {
	p.Signal(syscall.SIGKILL)
	if p.pidNS {
		return
	}
	for range 10 {
		if killSession(p.Pid()) == 0 {
			return
		}
	}
}

// killSession SIGKILLs every live process whose session id is sid, other
// than sid itself, and returns how many it signalled. It lists /proc and
// asks the kernel for each process's session with getsid(2), which is far
// cheaper than reading /proc/<pid>/stat; only the (rare) members of the
// session have their stat read, to pass over zombies, which a signal
// cannot remove.
func killSession(sid int) int {
	n := 0
	for _, pid := range pids() {
		if pid == sid {
			continue
		}
		if s, err := unix.Getsid(pid); err != nil || s != sid || zombie(pid) {
			continue
		}
		syscall.Kill(pid, syscall.SIGKILL)
		n++
	}
	return n
}

// pids lists the processes in /proc.
func pids() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil
	}
	out := make([]int, 0, len(names))
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(name); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone
	}
	// The state follows the command, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// GroupAlive reports whether any process of the group pgid still exists.
func GroupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

// DescribeStatus words a wait status as Mesos does: "exited with status N"
// or "terminated with signal Name".
func DescribeStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		s := ws.Signal().String()
		if s != "" {
			s = strings.ToUpper(s[:1]) + s[1:]
		}
		msg := "terminated with signal " + s
		if ws.CoreDump() {
			msg += " (core dumped)"
		}
		return msg
	default:
		return fmt.Sprintf("wait status %d", int(ws))
	}
}

// KillLeftovers SIGKILLs every process (other than this one) whose
// environment places it in a sandbox under root — MESOS_SANDBOX or
// MESOS_DIRECTORY, which the agent gives every executor and task — unless
// keep(its session id) says it belongs to a live executor. A restarted
// agent uses it to end what it no longer supervises: tasks of frameworks
// that do not checkpoint, whose supervisor died with the previous agent,
// and the processes they left behind. It returns how many it signalled.
func KillLeftovers(root string, keep func(sid int) bool) int {
	root = filepath.Clean(root) + string(filepath.Separator)
	self := os.Getpid()
	n := 0
	for _, pid := range pids() {
		if pid == self || pid == 1 {
			continue
		}
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil || !inSandbox(env, root) {
			continue
		}
		sid, err := unix.Getsid(pid)
		if err != nil || keep(sid) || zombie(pid) {
			continue
		}
		syscall.Kill(pid, syscall.SIGKILL)
		n++
	}
	return n
}

// inSandbox reports whether a NUL-separated environment has MESOS_SANDBOX
// or MESOS_DIRECTORY under root (which ends with a separator).
func inSandbox(env []byte, root string) bool {
	for _, kv := range bytes.Split(env, []byte{0}) {
		for _, key := range []string{"MESOS_SANDBOX=", "MESOS_DIRECTORY="} {
			if v, ok := bytes.CutPrefix(kv, []byte(key)); ok && strings.HasPrefix(string(v), root) {
				return true
			}
		}
	}
	return false
}
