package launcher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mezzo-project/mezzo/agent/launcher/helper"
)

// Main is the launch helper, `mezzo launch` (package helper): a binary
// whose main dispatches `launch` to it serves as Isolation.Helper. (The
// helper package also takes over a process started as the helper before
// the rest of the binary initializes.)
func Main(args []string) int { return helper.Main(args) }

// startHelped starts s through the launch helper: the helper is started in
// the namespaces asked for, receives the request, and waits until
// s.Isolate (when set) has taken its pid; Start then returns once the
// command runs or with the helper's setup error.
func startHelped(s Spec, path string, argv []string, env map[string]string, out, errf *os.File) (*Process, error) {
	iso := s.Isolation
	if iso == nil || iso.Helper == "" {
		return nil, errors.New("the isolation asked for needs the launch helper, and Isolation.Helper is empty")
	}
	if iso.Namespaces&unix.CLONE_NEWPID != 0 && iso.Namespaces&unix.CLONE_NEWNS == 0 {
		return nil, errors.New("a pid namespace (CLONE_NEWPID) needs a mount namespace (CLONE_NEWNS) for its /proc")
	}
	if len(iso.Mounts) > 0 && iso.Namespaces&unix.CLONE_NEWNS == 0 {
		return nil, errors.New("mounts need a mount namespace (CLONE_NEWNS)")
	}
	pidNS := iso.Namespaces&unix.CLONE_NEWPID != 0
	req := helper.Request{
		Path:          path,
		Argv:          argv,
		Env:           EnvList(env),
		Dir:           s.Dir,
		Namespaces:    iso.Namespaces,
		Mounts:        iso.Mounts,
		User:          iso.User,
		Rlimits:       iso.Rlimits,
		Capabilities:  iso.Capabilities,
		DieWithParent: s.DieWithParent,
		Rootfs:        iso.Rootfs,
	}
	if iso.Rootfs != nil {
		if iso.Namespaces&unix.CLONE_NEWNS == 0 {
			return nil, errors.New("a container rootfs needs a mount namespace (CLONE_NEWNS)")
		}
		req.Dir = iso.WorkingDir
		if req.Dir == "" {
			req.Dir = SandboxMountPoint
		}
	}
	body := helper.EncodeRequest(&req)

	var closeLater []*os.File
	defer func() {
		for _, f := range closeLater {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			closeLater = append(closeLater, r, w)
		}
		return r, w, err
	}
	ctrlR, ctrlW, err := pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := pipe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       helperPath(iso.Helper),
		Args:       []string{iso.Helper, "launch"},
		Env:        helper.Environ,
		Stdout:     out,
		Stderr:     errf,
		ExtraFiles: []*os.File{ctrlR, errW, statusW},
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    !s.NewSession,
			Setsid:     s.NewSession,
			Cloneflags: iso.Namespaces,
		},
	}
	if s.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the launch helper %s: %w", iso.Helper, err)
	}
	// Only the helper holds these ends now: the error pipe reads EOF once
	// the command runs, the status pipe once the helper is gone.
	ctrlR.Close()
	errW.Close()
	statusW.Close()
	closeLater = []*os.File{ctrlW, errR}
	p := &Process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), pidNS: pidNS}
	if pidNS {
		p.statusPipe = statusR
	} else {
		statusR.Close()
	}
	go p.wait()
	fail := func(err error) (*Process, error) {
		p.Kill()
		return nil, err
	}

	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	if _, err := ctrlW.Write(append(hdr[:], body...)); err != nil {
		return fail(helperFailure(p, errR, fmt.Errorf("send the launch request to the helper: %w", err)))
	}
	if s.Isolate != nil {
		if err := s.Isolate(p.pid); err != nil {
			return fail(err)
		}
	}
	if _, err := ctrlW.Write([]byte{helper.GoAhead}); err != nil {
		return fail(helperFailure(p, errR, fmt.Errorf("release the launch helper: %w", err)))
	}
	ctrlW.Close()
	msg, err := io.ReadAll(io.LimitReader(errR, 64<<10))
	if err != nil {
		return fail(fmt.Errorf("read the launch helper's errors: %w", err))
	}
	if len(msg) > 0 {
		<-p.done
		return nil, errors.New(string(msg))
	}
	return p, nil
}

// helperFailure returns the helper's own error when it wrote one before
// dying (it could not have read its request otherwise), else err.
func helperFailure(p *Process, errR *os.File, err error) error {
	p.Kill()
	if msg, rerr := io.ReadAll(io.LimitReader(errR, 64<<10)); rerr == nil && len(msg) > 0 {
		return errors.New(string(msg))
	}
	return fmt.Errorf("%w (the helper %s)", err, DescribeStatus(p.status))
}

// readStatus reads the wait status the helper sent; ok is false when it
// sent none (it was killed, or the command never started).
func readStatus(f *os.File) (syscall.WaitStatus, bool) {
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return 0, false
	}
	return syscall.WaitStatus(binary.BigEndian.Uint32(b[:])), true
}

// selfExe is this process's binary as it was at start.
var selfExe = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
})

// helperPath is the file the launch helper starts from. When the helper
// is the running binary itself (the default), it is started through
// /proc/self/exe: the same binary even after an upgrade replaced the file
// on disk, so the helper always reads the request as this process wrote
// it. Another helper starts from its path.
func helperPath(helper string) string {
	if self := selfExe(); self != "" && helper == self {
		return "/proc/self/exe"
	}
	return helper
}
