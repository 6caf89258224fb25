package executor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/launcher"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// This file holds the I/O half of checks and health checks: a probe looks
// at a task once (runs a command, sends an HTTP GET, opens a TCP
// connection), and a checker runs a probe on a schedule and hands each
// result to the engine. What the results mean is decided in checks.go.

// probe is one way of looking at a task, in the form of Mesos' CheckInfo
// (a health check is converted to one first, as Mesos does), plus where
// and how to run it.
type probe struct {
	// kind is COMMAND, HTTP or TCP.
	kind mesos.CheckInfo_Type
	// timeout bounds one attempt; 0 means none (Mesos reads a zero
	// timeout_seconds as an infinite one).
	timeout time.Duration

	// COMMAND: the command, the task's environment with the command's own
	// on top, the task's sandbox as working directory, and the file that
	// receives the command's stdout and stderr (the task's stderr, as the
	// command executor's check commands share its stderr in Mesos).
	command *mesos.CommandInfo
	env     map[string]string
	dir     string
	output  string
	// session and dieWithParent mirror Config.TaskSession and
	// Config.DieWithAgent for the check's own process.
	session, dieWithParent bool

	// HTTP and TCP: the port on the loopback address (::1 when ipv6).
	// HTTP also has a scheme ("http" unless a health check says "https")
	// and a path (empty or starting with '/').
	port   uint32
	ipv6   bool
	scheme string
	path   string
	client *http.Client

	// container is the task's container when it runs in one: COMMAND
	// checks run inside it and HTTP and TCP checks reach it at its
	// address.
	container Container
}

// errProbeStopped is what a probe returns when its checker is stopped
// mid-attempt; its result is never looked at.
var errProbeStopped = errors.New("check stopped")

// run performs one attempt. It returns the result as Mesos'
// CheckStatusInfo, or an error when no result could be had (the attempt
// timed out, the command could not start or was killed by a signal, the
// HTTP request failed) — a health check counts an error as a failure; a
// check reports it as an empty result.
func (p *probe) run(ctx context.Context) (*mesos.CheckStatusInfo, error) {
	attempt := ctx
	if p.timeout > 0 {
		var cancel context.CancelFunc
		attempt, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	var res *mesos.CheckStatusInfo
	var err error
	switch p.kind {
	case mesos.CheckInfo_COMMAND:
		res, err = p.runCommand(attempt)
	case mesos.CheckInfo_HTTP:
		res, err = p.runHTTP(attempt)
	case mesos.CheckInfo_TCP:
		res, err = p.runTCP(attempt)
	default:
		return nil, fmt.Errorf("unsupported check type %v", p.kind)
	}
	if ctx.Err() != nil {
		return nil, errProbeStopped
	}
	if err != nil && attempt.Err() != nil {
		return nil, fmt.Errorf("timed out after %s: %w", p.timeout, err)
	}
	return res, err
}

// runCommand runs the check command like the task (its own process group,
// or session), waits for it within ctx, and SIGKILLs whatever the command
// left behind, whether it ended, timed out or was stopped.
func (p *probe) runCommand(ctx context.Context) (*mesos.CheckStatusInfo, error) {
	if p.container != nil {
		code, err := p.container.Exec(ctx, p.command, p.env, p.output)
		if err != nil {
			return nil, fmt.Errorf("check command in the container: %w", err)
		}
		return &mesos.CheckStatusInfo{
			Type:    mesos.CheckInfo_COMMAND.Enum(),
			Command: &mesos.CheckStatusInfo_Command{ExitCode: proto.Int32(int32(code))},
		}, nil
	}
	proc, err := launcher.Start(launcher.Spec{
		Command: p.command, Env: p.env, Dir: p.dir,
		Stdout: p.output, Stderr: p.output,
		NewSession: p.session, DieWithParent: p.dieWithParent,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the check command: %w", err)
	}
	cleanup := func() {
		if p.session {
			proc.Destroy()
		} else {
			proc.Signal(syscall.SIGKILL)
		}
	}
	select {
	case <-proc.Done():
		cleanup()
	case <-ctx.Done():
		cleanup()
		<-proc.Done()
		return nil, fmt.Errorf("check command (pid %d) killed: %w", proc.Pid(), ctx.Err())
	}
	ws := proc.Status()
	if !ws.Exited() {
		return nil, fmt.Errorf("check command %s", launcher.DescribeStatus(ws))
	}
	return &mesos.CheckStatusInfo{
		Type:    mesos.CheckInfo_COMMAND.Enum(),
		Command: &mesos.CheckStatusInfo_Command{ExitCode: proto.Int32(int32(ws.ExitStatus()))},
	}, nil
}

// host is the loopback address probes connect to, ready for a URL or
// net.Dial.
func (p *probe) host() string {
	if p.container != nil {
		return p.container.Address(p.port, p.ipv6)
	}
	if p.ipv6 {
		return net.JoinHostPort("::1", strconv.FormatUint(uint64(p.port), 10))
	}
	return net.JoinHostPort("127.0.0.1", strconv.FormatUint(uint64(p.port), 10))
}

// runHTTP sends GET scheme://127.0.0.1:port/path, following redirects,
// and returns the final response's status code.
func (p *probe) runHTTP(ctx context.Context) (*mesos.CheckStatusInfo, error) {
	url := p.scheme + "://" + p.host() + p.path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("HTTP check request: %w", err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("HTTP check: %w", err)
	}
	resp.Body.Close()
	return &mesos.CheckStatusInfo{
		Type: mesos.CheckInfo_HTTP.Enum(),
		Http: &mesos.CheckStatusInfo_Http{StatusCode: proto.Uint32(uint32(resp.StatusCode))},
	}, nil
}

// runTCP tries to open a TCP connection to 127.0.0.1:port. A refused or
// failed connection is a result (succeeded=false); running out of time
// is an error, as in Mesos.
func (p *probe) runTCP(ctx context.Context) (*mesos.CheckStatusInfo, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.host())
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("TCP check: %w", err)
	}
	if conn != nil {
		conn.Close()
	}
	return &mesos.CheckStatusInfo{
		Type: mesos.CheckInfo_TCP.Enum(),
		Tcp:  &mesos.CheckStatusInfo_Tcp{Succeeded: proto.Bool(err == nil)},
	}, nil
}

// newCheckHTTPClient returns the client of one task's HTTP probes: no
// proxy, no connection reuse (nothing is left open between attempts), and
// no verification of the task's certificate for https, as Mesos' `curl
// -k`.
func newCheckHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		// The task's certificate is whatever it serves on the loopback
		// interface; Mesos does not verify it either.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}}
}

// checker runs one probe on its own goroutine: first after delay, then
// interval after each attempt ends (Mesos schedules the next attempt when
// the previous one is done, so attempts never overlap). The engine owns
// it: it starts it with a task's checks and stops it, waiting for the
// goroutine and any check process to end, before the task is reported
// terminal or the executor exits.
type checker struct {
	cancel context.CancelFunc
	done   chan struct{}
	// stopped is set by stop on the engine goroutine; results already
	// queued for the engine are dropped once it is set.
	stopped bool
}

// startChecker starts running p. deliver hands a result to the engine; it
// returns false when the checker is being stopped.
func startChecker(p *probe, delay, interval time.Duration, deliver func(ctx context.Context, res *mesos.CheckStatusInfo, err error) bool) *checker {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if p.client != nil {
			defer p.client.CloseIdleConnections()
		}
		wait := delay
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			res, err := p.run(ctx)
			if errors.Is(err, errProbeStopped) || !deliver(ctx, res, err) {
				return
			}
			wait = interval
		}
	}()
	return c
}

// stop ends the checker and waits until its goroutine (and any check
// process it runs) is gone. Only the engine goroutine calls it.
func (c *checker) stop() {
	if c == nil {
		return
	}
	c.stopped = true
	c.cancel()
	<-c.done
}

// seconds converts one of the protos' double-seconds fields to a
// Duration; NaN and negative values count as 0, huge ones as the longest
// Duration.
func seconds(s float64) time.Duration {
	switch {
	case !(s > 0):
		return 0
	case s >= float64(1<<63-1)/float64(time.Second):
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(s * float64(time.Second))
}
