package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Master is a `mezzo master` process the harness started.
type Master struct {
	// Addr is its host:port.
	Addr string
	// Log is the file its output goes to.
	Log string

	bin     string
	args    []string
	standby bool
	cmd     *exec.Cmd
	exited  chan struct{}
	started time.Time
	client  *http.Client
}

// MasterOptions say how to start the master.
type MasterOptions struct {
	// Binary is the mezzo binary (default: this process' executable).
	Binary string
	// Dir holds the master's work directory and log.
	Dir string
	// Flags are extra `mezzo master` flags, e.g. --agent_ping_timeout=1secs.
	Flags []string
	// Name names its work directory and log under Dir (default "master").
	Name string
	// Standby: the master may answer as a standby (with --zk, until it is
	// elected), so any answer to /health means it is up.
	Standby bool
}

// StartMaster starts a master on a free loopback port and waits until
// it answers /health.
func StartMaster(ctx context.Context, o MasterOptions) (*Master, error) {
	bin := o.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: finding the mezzo binary: %w", err)
		}
		bin = exe
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		name = "master"
	}
	work := filepath.Join(o.Dir, name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	m := &Master{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Log:     filepath.Join(o.Dir, name+".log"),
		bin:     bin,
		standby: o.Standby,
		args: append([]string{"master", "--ip=127.0.0.1", "--port=" + strconv.Itoa(port),
			"--work_dir=" + work, "--logging_level=WARNING"}, o.Flags...),
		client: &http.Client{Timeout: 60 * time.Second},
	}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Master) start(ctx context.Context) error {
	logf, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("bench: master log: %w", err)
	}
	cmd := exec.Command(m.bin, m.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("bench: starting %s master: %w", m.bin, err)
	}
	m.cmd, m.exited, m.started = cmd, make(chan struct{}), time.Now()
	go func() {
		cmd.Wait()
		logf.Close()
		close(m.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-m.exited:
			return fmt.Errorf("bench: the master exited at start (%s); see %s", cmd.ProcessState, m.Log)
		case <-ctx.Done():
			m.Kill()
			return ctx.Err()
		default:
		}
		if resp, err := m.client.Get("http://" + m.Addr + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || m.standby {
				return nil
			}
		}
		if time.Now().After(deadline) {
			m.Kill()
			return fmt.Errorf("bench: the master did not answer /health within 30s; see %s", m.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart kills the master with SIGKILL and starts it again on the same
// address and work directory; it returns when the new one answers
// /health.
func (m *Master) Restart(ctx context.Context) error {
	m.Kill()
	return m.start(ctx)
}

// Kill ends the master with SIGKILL and waits for it.
func (m *Master) Kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
}

// Elected reports whether the master says it leads (master/elected).
func (m *Master) Elected(ctx context.Context) bool {
	ms, err := m.Metrics(ctx)
	return err == nil && ms["master/elected"] == 1
}

// Exited is closed when the master process has ended.
func (m *Master) Exited() <-chan struct{} { return m.exited }

// Pid is the master process' id.
func (m *Master) Pid() int { return m.cmd.Process.Pid }

// Metrics reads /metrics/snapshot.
func (m *Master) Metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.Addr+"/metrics/snapshot", nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("bench: metrics: %w", err)
	}
	return out, nil
}

// WaitMetric polls the metrics until ok(value of name) or ctx ends; it
// returns the last value seen.
func (m *Master) WaitMetric(ctx context.Context, name string, ok func(float64) bool) (float64, error) {
	last := -1.0
	for {
		if ms, err := m.Metrics(ctx); err == nil {
			last = ms[name]
			if ok(last) {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("bench: waiting for %s (last %v): %w", name, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// get times one GET of path; the body is read and discarded.
func (m *Master) get(ctx context.Context, path string) (time.Duration, int64, error) {
	return m.do(ctx, http.MethodGet, path, "", nil)
}

// do times one request and reads its whole answer.
func (m *Master) do(ctx context.Context, method, path, contentType string, body []byte) (time.Duration, int64, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+m.Addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", contentType)
	}
	start := time.Now()
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return d, n, err
	}
	if resp.StatusCode != http.StatusOK {
		return d, n, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return d, n, nil
}

// Usage is a process' CPU time and memory.
type Usage struct {
	CPU time.Duration // user + system
	RSS int64         // resident set size, bytes
	HWM int64         // peak resident set size, bytes
}

// ProcUsage reads pid's CPU time and memory from /proc.
func ProcUsage(pid int) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("bench: %w", err)
	}
	// The command name may hold spaces: fields start after its ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return u, errors.New("bench: unreadable /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return u, errors.New("bench: short /proc stat")
	}
	// Fields 14 and 15 of stat (utime, stime), in clock ticks of 1/100 s
	// (USER_HZ, 100 on Linux).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	u.CPU = time.Duration(ut+st) * 10 * time.Millisecond
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("bench: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			u.RSS = kb << 10
		case "VmHWM":
			u.HWM = kb << 10
		}
	}
	return u, nil
}

// window measures a process over a span of time.
type window struct {
	pid   int
	start time.Time
	u0    Usage
}

func startWindow(pid int) (*window, error) {
	u, err := ProcUsage(pid)
	if err != nil {
		return nil, err
	}
	return &window{pid: pid, start: time.Now(), u0: u}, nil
}

// end returns the CPU used over the window as a fraction of one core,
// and the usage at its end.
func (w *window) end() (float64, Usage, error) {
	u, err := ProcUsage(w.pid)
	if err != nil {
		return 0, u, err
	}
	el := time.Since(w.start)
	return float64(u.CPU-w.u0.CPU) / float64(el), u, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// isExit reports whether err is the ESRCH of a process that is gone.
func isExit(err error) bool { return errors.Is(err, syscall.ESRCH) || errors.Is(err, os.ErrNotExist) }
