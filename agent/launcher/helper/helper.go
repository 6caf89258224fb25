package helper

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"syscall"
)

// Main is the launch helper, `mezzo launch`: started by launcher.Start inside the
// new namespaces, it reads its request, waits for the go-ahead, sets up
// the isolation — mounts, resource limits, capabilities, user — and runs
// the command (see the pipe protocol in helper.go). It is not for people
// to run; args are ignored. It returns the exit code for os.Exit; with a
// pid namespace, the command's own (128+signal when a signal ended it).
func Main(args []string) int {
	// Capabilities, the bounding set and the parent-death signal belong
	// to a thread: everything is set on this one, which then executes
	// the command (or forks it).
	runtime.LockOSThread()
	for _, fd := range []int{FdControl, FdErrors, FdStatus} {
		if err := setCloexec(fd); err != nil {
			os.Stderr.WriteString("mezzo launch: fd " + strconv.Itoa(fd) + ": " + err.Error() + " (this is started by the agent, not by hand)\n")
			return 2
		}
	}
	ctrl := os.NewFile(FdControl, "control")
	errw := os.NewFile(FdErrors, "errors")
	statusw := os.NewFile(FdStatus, "status")
	report := func(err error) int {
		io.WriteString(errw, err.Error())
		return 1
	}
	req, err := readRequest(ctrl)
	if err != nil {
		return report(errorf("launch helper: %w", err))
	}
	var b [1]byte
	if _, err := io.ReadFull(ctrl, b[:]); err != nil || b[0] != GoAhead {
		return 1 // the parent gave up on the launch (Isolate failed)
	}
	ctrl.Close()
	pidNS := req.Namespaces&syscall.CLONE_NEWPID != 0
	var sigs chan os.Signal
	if pidNS {
		// As init, only signals with a handler reach us; take them from
		// now on, to pass on once the command runs.
		sigs = make(chan os.Signal, 16)
		signal.Notify(sigs, forwarded...)
	}
	path, err := setUp(req)
	if err != nil {
		return report(err)
	}
	if !pidNS {
		err := syscall.Exec(path, req.Argv, req.Env)
		return report(errorf("exec %s: %w", path, err))
	}
	return runInit(req, path, sigs, errw, statusw)
}

// forwarded are the signals the init passes on to the command.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

func readRequest(r io.Reader) (*Request, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, errorf("read the request: %w", err)
	}
	n := bigEndianUint32(hdr[:])
	if n > MaxRequest {
		return nil, errorf("request of %d bytes is too large", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, errorf("read the request: %w", err)
	}
	req, err := DecodeRequest(body)
	if err != nil {
		return nil, errorf("decode the request: %w", err)
	}
	return req, nil
}

// setUp makes the isolation of req in the calling process (on the locked
// thread) and returns the resolved executable.
func setUp(req *Request) (string, error) {
	if req.Namespaces&syscall.CLONE_NEWNS != 0 {
		// Nothing mounted here may reach the host, while the host's
		// later mounts still show here (Mesos' default propagation).
		if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_SLAVE, ""); err != nil {
			return "", errorf("make the container's mounts slaves of the host's: %w", err)
		}
	}
	root := req.Rootfs
	if root != nil {
		if req.Namespaces&syscall.CLONE_NEWNS == 0 {
			return "", errors.New("a container rootfs needs a mount namespace (CLONE_NEWNS)")
		}
		if err := mountRootfs(root); err != nil {
			return "", err
		}
	} else if req.Namespaces&syscall.CLONE_NEWPID != 0 {
		if err := mountOne(Mount{Source: "proc", Target: "/proc", Type: "proc"}); err != nil {
			return "", err
		}
	}
	for _, m := range req.Mounts {
		if root != nil {
			if err := insideRoot(root.Dir, m.Target); err != nil {
				return "", err
			}
		}
		if err := mountOne(m); err != nil {
			return "", err
		}
	}
	if root != nil {
		if root.HostExecutable {
			p, err := openHostExecutable(req.Path)
			if err != nil {
				return "", err
			}
			req.Path = p
		}
		if err := pivotRoot(root.Dir); err != nil {
			return "", err
		}
		if req.Dir != "" {
			// As Docker does, an image's working directory is made when
			// the image lacks it.
			if err := os.MkdirAll(req.Dir, 0o755); err != nil {
				return "", errorf("create the working directory %s in the container's rootfs: %w", req.Dir, err)
			}
		}
	}
	for _, rl := range req.Rlimits {
		lim := syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := syscall.Setrlimit(rl.Resource, &lim); err != nil {
			return "", errorf("set rlimit %s (soft %s, hard %s): %w", rlimitName(rl.Resource), rlimValue(rl.Soft), rlimValue(rl.Hard), err)
		}
	}
	path := req.Path
	if indexByte(path, '/') < 0 {
		p, err := LookPath(path, envValue(req.Env, "PATH"))
		if err != nil {
			return "", errorf("executable %q not found in PATH %q", path, envValue(req.Env, "PATH"))
		}
		path = p
	}
	var caps *capSets
	if c := req.Capabilities; c != nil {
		var err error
		if caps, err = parseCapabilities(c); err != nil {
			return "", err
		}
		if err := caps.dropBounding(); err != nil {
			return "", err
		}
	}
	if u := req.User; u != nil {
		if caps != nil && caps.effective != nil {
			// Keep the permitted set across the switch: the effective
			// one is raised again from it below.
			if err := prctl(prSetKeepcaps, 1, 0, 0, 0); err != nil {
				return "", errorf("keep capabilities across the user switch: %w", err)
			}
		}
		if err := switchUser(u); err != nil {
			return "", err
		}
		req.Env = setEnv(req.Env, "HOME", u.Home)
		req.Env = setEnv(req.Env, "USER", u.Name)
	}
	if caps != nil && caps.effective != nil {
		if err := caps.grant(); err != nil {
			return "", err
		}
	}
	if req.DieWithParent {
		// Changing credentials cleared it.
		if err := prctl(prSetPdeathsig, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
			return "", errorf("set the parent-death signal: %w", err)
		}
	}
	if req.Dir != "" {
		if err := os.Chdir(req.Dir); err != nil {
			return "", errorf("change to the working directory: %w", err)
		}
	}
	return path, nil
}

// mountOne makes m, creating its target when missing.
func mountOne(m Mount) error {
	bind := m.Type == "" || m.Type == "bind"
	fail := func(err error) error {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		if bind {
			return errorf("mount %s on %s: %w", m.Source, m.Target, err)
		}
		return errorf("mount %s (%s) on %s: %w", m.Source, m.Type, m.Target, err)
	}
	dirTarget := true
	if bind {
		st, err := os.Stat(m.Source)
		if err != nil {
			return fail(err)
		}
		dirTarget = st.IsDir()
	}
	if _, err := os.Stat(m.Target); errors.Is(err, os.ErrNotExist) {
		if dirTarget {
			err = os.MkdirAll(m.Target, 0o755)
		} else if err = os.MkdirAll(parentDir(m.Target), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(m.Target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
		}
		if err != nil {
			return fail(errorf("create the mount point: %w", err))
		}
	}
	if bind {
		if err := syscall.Mount(m.Source, m.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fail(err)
		}
		if m.ReadOnly {
			// A bind mount takes read-only on a remount, which must keep
			// the flags the source's mount has (nosuid, nodev, ...).
			var st syscall.Statfs_t
			if err := syscall.Statfs(m.Target, &st); err != nil {
				return fail(err)
			}
			keep := uintptr(st.Flags) & (syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC | syscall.MS_NOATIME | syscall.MS_NODIRATIME | syscall.MS_RELATIME)
			if err := syscall.Mount("", m.Target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|keep, ""); err != nil {
				return fail(errorf("remount read-only: %w", err))
			}
		}
		return nil
	}
	flags := uintptr(syscall.MS_NOSUID | syscall.MS_NODEV)
	if m.Type == "proc" {
		flags |= syscall.MS_NOEXEC
	}
	if m.ReadOnly {
		flags |= syscall.MS_RDONLY
	}
	src := m.Source
	if src == "" {
		src = m.Type
	}
	if err := syscall.Mount(src, m.Target, m.Type, flags, m.Data); err != nil {
		return fail(err)
	}
	return nil
}

// switchUser makes every thread of the process run as u.
func switchUser(u *User) error {
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return errorf("switch to user %q: setgroups %v: %w", u.Name, u.Groups, err)
	}
	if err := syscall.Setgid(int(u.GID)); err != nil {
		return errorf("switch to user %q: setgid %d: %w", u.Name, u.GID, err)
	}
	if err := syscall.Setuid(int(u.UID)); err != nil {
		return errorf("switch to user %q: setuid %d: %w", u.Name, u.UID, err)
	}
	return nil
}

// runInit starts the command as the only child of the pid namespace's
// init (this process), passes the forwarded signals on to its process
// group, reaps every process that ends here, and when the command ends
// sends its wait status to the parent and returns; the kernel then kills
// whatever is left in the namespace.
func runInit(req *Request, path string, sigs chan os.Signal, errw, statusw *os.File) int {
	proc, err := os.StartProcess(path, req.Argv, &os.ProcAttr{
		Env:   req.Env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		io.WriteString(errw, "start "+path+": "+err.Error())
		return 1
	}
	errw.Close()
	pid := proc.Pid
	go func() {
		for sig := range sigs {
			s := sig.(syscall.Signal)
			if err := syscall.Kill(-pid, s); errors.Is(err, syscall.ESRCH) {
				syscall.Kill(pid, s)
			}
		}
	}()
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			os.Stderr.WriteString("mezzo launch: wait: " + err.Error() + "\n")
			return 1
		}
		if wpid != pid {
			continue // an orphan of the namespace
		}
		var b [4]byte
		putBigEndianUint32(b[:], uint32(ws))
		statusw.Write(b[:])
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
		return 1
	}
}

// envValue returns NAME's value in a NAME=value list.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := cutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// setEnv sets NAME in a NAME=value list.
func setEnv(env []string, name, value string) []string {
	for i, kv := range env {
		if hasPrefix(kv, name+"=") {
			env[i] = name + "=" + value
			return env
		}
	}
	return append(env, name+"="+value)
}

// ---- capabilities ----

// capSets are the capability numbers of Capabilities.
type capSets struct {
	bounding  []int
	effective []int // nil: left as the user switch makes them
}

// parseCapabilities maps capability names (CAP_NET_RAW, or NET_RAW as
// Mesos' CapabilityInfo spells them) to their numbers.
func parseCapabilities(c *Capabilities) (*capSets, error) {
	last, err := lastCap()
	if err != nil {
		return nil, err
	}
	parse := func(names []string) ([]int, error) {
		out := []int{}
		for _, name := range names {
			n := slices.Index(capabilityNames, trimPrefix(toUpperASCII(name), "CAP_"))
			if n < 0 {
				return nil, errorf("unknown capability %q", name)
			}
			if n > last {
				return nil, errorf("capability %q is not supported by this kernel (last is %d)", name, last)
			}
			out = append(out, n)
		}
		return out, nil
	}
	var s capSets
	if s.bounding, err = parse(c.Bounding); err != nil {
		return nil, err
	}
	if c.Effective != nil {
		if s.effective, err = parse(c.Effective); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// lastCap is the highest capability number the kernel knows.
func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, errorf("capabilities: %w", err)
	}
	n, err := strconv.Atoi(trimSpace(string(b)))
	if err != nil {
		return 0, errorf("capabilities: /proc/sys/kernel/cap_last_cap: %w", err)
	}
	return n, nil
}

// dropBounding drops every capability outside the bounding set from this
// thread's bounding set.
func (s *capSets) dropBounding() error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	keep := map[int]bool{}
	for _, c := range s.bounding {
		keep[c] = true
	}
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := prctl(prCapbsetDrop, uintptr(c), 0, 0, 0); err != nil {
			return errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	return nil
}

// grant makes the effective set this thread's permitted, effective,
// inheritable and ambient capabilities, so that the command holds them
// after exec whoever it runs as.
func (s *capSets) grant() error {
	var data [2]capUserData
	for _, c := range s.effective {
		data[c/32].permitted |= 1 << (c % 32)
	}
	for i := range data {
		data[i].effective = data[i].permitted
		data[i].inheritable = data[i].permitted
	}
	hdr := capUserHeader{version: linuxCapabilityVersion3}
	if err := capset(&hdr, &data); err != nil {
		return errorf("set capabilities %v: %w", capNames(s.effective), err)
	}
	if err := prctl(prCapAmbient, prCapAmbientClearAll, 0, 0, 0); err != nil {
		return errorf("clear ambient capabilities: %w", err)
	}
	for _, c := range s.effective {
		if err := prctl(prCapAmbient, prCapAmbientRaise, uintptr(c), 0, 0); err != nil {
			return errorf("raise ambient capability %s: %w", capNames([]int{c})[0], err)
		}
	}
	return nil
}

// capNames words capability numbers as CAP_ names.
func capNames(cs []int) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = "capability " + strconv.Itoa(c)
		if c >= 0 && c < len(capabilityNames) {
			out[i] = "CAP_" + capabilityNames[c]
		}
	}
	return out
}

// ---- rlimits ----

// rlimitName words a RLIMIT_ number.
func rlimitName(r int) string {
	for name, v := range RlimitResources {
		if v == r {
			return name
		}
	}
	return "RLIMIT(" + strconv.Itoa(r) + ")"
}

func rlimValue(v uint64) string {
	if v == RlimInfinity {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// RlimitResources maps Mesos' RLimitInfo types (RLMT_NOFILE, ...) to
// setrlimit(2) resources.
var RlimitResources = map[string]int{
	"RLMT_AS":         syscall.RLIMIT_AS,
	"RLMT_CORE":       syscall.RLIMIT_CORE,
	"RLMT_CPU":        syscall.RLIMIT_CPU,
	"RLMT_DATA":       syscall.RLIMIT_DATA,
	"RLMT_FSIZE":      syscall.RLIMIT_FSIZE,
	"RLMT_LOCKS":      rlimitLOCKS,
	"RLMT_MEMLOCK":    rlimitMEMLOCK,
	"RLMT_MSGQUEUE":   rlimitMSGQUEUE,
	"RLMT_NICE":       rlimitNICE,
	"RLMT_NOFILE":     syscall.RLIMIT_NOFILE,
	"RLMT_NPROC":      rlimitNPROC,
	"RLMT_RSS":        rlimitRSS,
	"RLMT_RTPRIO":     rlimitRTPRIO,
	"RLMT_RTTIME":     rlimitRTTIME,
	"RLMT_SIGPENDING": rlimitSIGPENDING,
	"RLMT_STACK":      syscall.RLIMIT_STACK,
}

// capabilityNames are Linux's capabilities by number (linux/capability.h),
// as Mesos' CapabilityInfo names them (without CAP_).
var capabilityNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// ErrNotFound is LookPath's error for an executable in no directory of
// the PATH.
var ErrNotFound = errors.New("executable file not found in $PATH")

// LookPath finds an executable file in a PATH list, as the shell does.
// (It and parentDir do without path/filepath and os/exec: see init.)
func LookPath(file, path string) (string, error) {
	for _, dir := range split(path, ':') {
		if dir == "" {
			dir = "."
		}
		p := trimRightByte(dir, '/') + "/" + file
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// parentDir is the directory holding path ("/" for a top-level one).
func parentDir(path string) string {
	path = trimRightByte(path, '/')
	i := lastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}
