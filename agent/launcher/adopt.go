package launcher

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// ErrNotRunning is returned by Adopt when no live session leader has the
// pid.
var ErrNotRunning = errors.New("process is not running")

// sysPidfdOpen is pidfd_open(2)'s number on every Linux architecture.
const sysPidfdOpen = 434

// Adopt returns a handle to a running process that this process did not
// start — an executor started by a previous run of the agent, which
// NewSession made the leader of its own session. Its Done channel is
// closed when it exits (watched through a pidfd, so a recycled pid is
// never mistaken for it); its wait status is unknown. Signal and Destroy
// work as for a started process. Release stops the watch without touching
// the process.
func Adopt(pid int) (*Process, error) {
	if pid <= 0 || !sessionLeader(pid) {
		return nil, ErrNotRunning
	}
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if errno != 0 {
		if errno == syscall.ESRCH {
			return nil, ErrNotRunning
		}
		return nil, os.NewSyscallError("pidfd_open", errno)
	}
	// The pidfd names the process that had pid when it was opened: check
	// again that it is the session leader we expect.
	if !sessionLeader(pid) {
		syscall.Close(int(fd))
		return nil, ErrNotRunning
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		syscall.Close(int(fd))
		return nil, err
	}
	// A non-blocking pidfd joins the runtime's poller: it becomes readable
	// when the process exits.
	f := os.NewFile(fd, "pidfd:"+strconv.Itoa(pid))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &Process{pid: pid, done: make(chan struct{}), adopted: true}
	released := make(chan struct{})
	var once bool
	p.release = func() {
		if !once {
			once = true
			close(released)
			f.SetReadDeadline(time.Now())
		}
	}
	go func() {
		defer f.Close()
		for {
			// The pidfd wakes the poller when the process exits. The
			// kernel may signal the exit of a thread-group leader before
			// its last thread is gone, when the pidfd is not yet
			// readable; the deadline makes the check come back.
			f.SetReadDeadline(time.Now().Add(adoptRecheck))
			err := rc.Read(func(fd uintptr) bool { return pidfdReadable(fd) })
			select {
			case <-released:
				return
			default:
			}
			if err == nil {
				close(p.done)
				return
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return // the watch failed: leave done open
			}
		}
	}()
	return p, nil
}

// Release stops watching an adopted process (its Done channel then never
// closes); the process keeps running. A no-op for started processes.
// Call it from one goroutine only.
func (p *Process) Release() {
	if p.release != nil {
		p.release()
	}
}

// adoptRecheck bounds how late the exit of an adopted process may be
// noticed when the kernel's wakeup came too early.
const adoptRecheck = 500 * time.Millisecond

// pidfdReadable polls a pidfd without blocking: readable means the
// process has exited.
func pidfdReadable(fd uintptr) bool {
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(fd), events: 0x1} // POLLIN
	var ts syscall.Timespec
	n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return errno == 0 && n == 1 && pfd.revents&0x1 != 0
}

// sessionLeader reports whether pid is a live (not zombie) process that
// leads its own session.
func sessionLeader(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	sid, _ := strconv.Atoi(f[3])
	return sid == pid
}
