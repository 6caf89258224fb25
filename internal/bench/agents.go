package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mezzo-project/mezzo/internal/emuagent"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// FleetOptions describe the emulated agents of a scenario.
type FleetOptions struct {
	// Master is the master's host:port (or a zk:// URL).
	Master string
	// Count is how many agents to emulate.
	Count int
	// Procs is how many processes run them (0 or 1: this process); more
	// processes spread the agents' own CPU over cores.
	Procs int
	// Resources and Attributes describe each agent (emuagent.Config).
	Resources, Attributes string
	// TaskDuration and TaskDurationSpread: how long tasks "run".
	TaskDuration       time.Duration
	TaskDurationSpread float64
	// SourceAddrs are the local addresses connections leave from; empty
	// chooses one loopback address per 20,000 agents (127.0.0.2, ...).
	SourceAddrs []string
	// RegistrationBackoffFactor is the agents' --registration_backoff_factor.
	RegistrationBackoffFactor time.Duration
	// HTTP2 multiplexes the agents over HTTP/2 connections
	// (emuagent.Config.HTTP2) instead of one connection per agent.
	HTTP2 bool
	// Binary runs the agent processes (default: this executable).
	Binary string
	// Log receives the in-process agents' log lines.
	Log *slog.Logger
}

// agentsPerAddress is how many agents share one source address: a
// loopback address has about 28,000 ephemeral ports towards one master
// port, and each agent holds one connection and sometimes a second.
const agentsPerAddress = 12000

// Mode describes how the agents run, for a result's notes.
func (o FleetOptions) Mode() string {
	procs := max(o.Procs, 1)
	mode := fmt.Sprintf("%d emulated agents in %d process(es), connecting from %s", o.Count, procs, strings.Join(o.sources(), ","))
	if o.HTTP2 {
		mode += fmt.Sprintf(", over HTTP/2 (up to %d agents per connection)", tlsutil.MaxHTTP2Streams)
	} else {
		mode += ", one connection per agent"
	}
	return mode
}

func (o FleetOptions) sources() []string {
	if len(o.SourceAddrs) > 0 {
		return o.SourceAddrs
	}
	n := (o.Count + agentsPerAddress - 1) / agentsPerAddress
	var out []string
	for i := range max(n, 1) {
		out = append(out, fmt.Sprintf("127.0.%d.%d", (i+2)/256, (i+2)%256))
	}
	return out
}

func (o FleetOptions) config(count, first int, sources []string) emuagent.Config {
	return emuagent.Config{
		Master: o.Master, Count: count, FirstIndex: first,
		Resources: o.Resources, Attributes: o.Attributes,
		TaskDuration: o.TaskDuration, TaskDurationSpread: o.TaskDurationSpread,
		SourceAddrs: sources, RegistrationBackoffFactor: o.RegistrationBackoffFactor,
		HTTP2: o.HTTP2, Log: o.Log,
	}
}

// Fleet is a running set of emulated agents.
type Fleet struct {
	opts  FleetOptions
	pool  *emuagent.Pool // in this process
	procs []*agentProc
}

// StartFleet starts the agents; they register on their own (wait with
// the master's master/slaves_connected metric).
func StartFleet(ctx context.Context, o FleetOptions) (*Fleet, error) {
	f := &Fleet{opts: o}
	sources := o.sources()
	if o.Procs <= 1 {
		p, err := emuagent.Start(ctx, o.config(o.Count, 0, sources))
		if err != nil {
			return nil, err
		}
		f.pool = p
		return f, nil
	}
	bin := o.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: finding the mezzo binary: %w", err)
		}
		bin = exe
	}
	per := (o.Count + o.Procs - 1) / o.Procs
	for k := range o.Procs {
		first := k * per
		n := min(per, o.Count-first)
		if n <= 0 {
			break
		}
		// Each process takes its share of the source addresses (all of
		// them when there are fewer addresses than processes).
		src := sources
		if len(sources) >= o.Procs {
			src = nil
			for i := k; i < len(sources); i += o.Procs {
				src = append(src, sources[i])
			}
		}
		p, err := startAgentProc(bin, o, n, first, src)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.procs = append(f.procs, p)
	}
	return f, nil
}

// Messages returns the calls the agents sent and the events they read.
func (f *Fleet) Messages() (sent, received int64) {
	if f.pool != nil {
		return f.pool.Messages()
	}
	for _, p := range f.procs {
		sent += p.sent.Load()
		received += p.received.Load()
	}
	return sent, received
}

// Silence makes agent i stop answering pings; it returns its id.
func (f *Fleet) Silence(i int) (string, error) {
	if f.pool != nil {
		return f.pool.Silence(i)
	}
	per := (f.opts.Count + len(f.procs) - 1) / len(f.procs)
	k := i / per
	if i < 0 || k >= len(f.procs) {
		return "", fmt.Errorf("bench: no agent %d", i)
	}
	return f.procs[k].silence(i - k*per)
}

// Close stops every agent.
func (f *Fleet) Close() {
	if f.pool != nil {
		f.pool.Close()
	}
	for _, p := range f.procs {
		p.close()
	}
}

// agentProc is a `mezzo bench agents` process.
type agentProc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	sent, received atomic.Int64
	mu             sync.Mutex
	replies        chan string
	done           chan struct{}
}

func startAgentProc(bin string, o FleetOptions, n, first int, sources []string) (*agentProc, error) {
	args := []string{"bench", "agents",
		"--master=" + o.Master, "--count=" + strconv.Itoa(n), "--first=" + strconv.Itoa(first),
		"--resources=" + o.Resources, "--attributes=" + o.Attributes,
		"--task_duration=" + flags.FormatDuration(o.TaskDuration),
		"--task_duration_spread=" + strconv.FormatFloat(o.TaskDurationSpread, 'g', -1, 64),
		"--source_addrs=" + strings.Join(sources, ","),
	}
	if o.RegistrationBackoffFactor > 0 {
		args = append(args, "--registration_backoff_factor="+flags.FormatDuration(o.RegistrationBackoffFactor))
	}
	if o.HTTP2 {
		args = append(args, "--http2")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting an agent process: %w", err)
	}
	p := &agentProc{cmd: cmd, stdin: stdin, replies: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if s, r, ok := parseCounts(line); ok {
				p.sent.Store(s)
				p.received.Store(r)
				continue
			}
			if id, ok := strings.CutPrefix(line, "silenced "); ok {
				p.replies <- id
			}
		}
	}()
	return p, nil
}

func (p *agentProc) silence(i int) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.stdin, "silence %d\n", i); err != nil {
		return "", fmt.Errorf("bench: agent process: %w", err)
	}
	select {
	case id := <-p.replies:
		return id, nil
	case <-time.After(10 * time.Second):
		return "", fmt.Errorf("bench: agent process did not answer")
	}
}

func (p *agentProc) close() {
	p.stdin.Close() // the process exits when its input ends
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
	}
	p.cmd.Wait()
}

// countsLine is what an agent process prints every half second.
func countsLine(sent, received int64) string {
	return fmt.Sprintf("counts sent=%d received=%d", sent, received)
}

func parseCounts(line string) (sent, received int64, ok bool) {
	n, err := fmt.Sscanf(line, "counts sent=%d received=%d", &sent, &received)
	return sent, received, err == nil && n == 2
}

// RunAgents is `mezzo bench agents`: it runs a pool of emulated agents
// until in ends, printing its message counts to out every half second
// and answering "silence <i>" lines with "silenced <agent id>".
func RunAgents(ctx context.Context, cfg emuagent.Config, in io.Reader, out io.Writer) error {
	pool, err := emuagent.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	var mu sync.Mutex
	print := func(s string) {
		mu.Lock()
		fmt.Fprintln(out, s)
		mu.Unlock()
	}
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			var i int
			if _, err := fmt.Sscanf(sc.Text(), "silence %d", &i); err == nil {
				id, err := pool.Silence(i)
				if err != nil {
					id = "error: " + err.Error()
				}
				print("silenced " + id)
			}
		}
	}()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case <-t.C:
			print(countsLine(pool.Messages()))
		}
	}
}
