package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// driverConfig is what the driver runs.
type driverConfig struct {
	master    string
	listen    string // the address of the binary and data server
	input     string // the input directory (wordcount)
	parts     []Partition
	taskCpus  float64
	taskMem   float64
	delay     time.Duration // passed to the executors
	resultTTL time.Duration // how long a finished task's result may lag
	log       *slog.Logger
}

// executorState is the driver's executor on one agent.
type executorState struct {
	info  *mesos.ExecutorInfo
	agent string
	host  string
}

// driver runs the partitions on executors it starts one per agent, and
// reuses for every later task on that agent.
type driver struct {
	cfg    driverConfig
	client *scheduler.Client
	binURL string
	data   string // base URL of the input files

	state     []string // per partition: pending, running, done
	current   []string // per partition: the task id running it
	finished  map[int]time.Time
	pending   []int
	taskPart  map[string]int
	taskExec  map[string]string // task id -> executor id
	executors map[string]*executorState
	execSeq   int
	taskSeq   int
	done      int
	reruns    int
	total     *Result
	stats     map[string]int // executor id -> tasks run
}

// runDriver serves the binary and the input, runs every partition on the
// cluster and returns the merged result.
func runDriver(ctx context.Context, cfg driverConfig) (*Result, map[string]int, int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("own binary: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("listen on %s: %w", cfg.listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/bin/wordcount", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, self) })
	if cfg.input != "" {
		mux.Handle("/data/", http.StripPrefix("/data/", http.FileServer(http.Dir(cfg.input))))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	d := &driver{cfg: cfg, binURL: base + "/bin/wordcount", data: base + "/data/",
		state: make([]string, len(cfg.parts)), current: make([]string, len(cfg.parts)), finished: map[int]time.Time{},
		taskPart: map[string]int{}, taskExec: map[string]string{}, executors: map[string]*executorState{},
		total: &Result{Counts: map[string]int64{}}, stats: map[string]int{}}
	for i := range cfg.parts {
		d.state[i] = "pending"
		d.pending = append(d.pending, i)
	}
	d.client = scheduler.New(scheduler.Config{Master: cfg.master, AutoAcknowledge: true, Log: cfg.log,
		Framework: &mesos.FrameworkInfo{Name: proto.String("wordcount")}})
	cfg.log.Info("driver serving its binary", "url", d.binURL, "partitions", len(cfg.parts))
	// The framework has no failover timeout: when Run ends, the master
	// removes it and its executors.
	if err := d.client.Run(ctx, d.handle); err != nil {
		return nil, nil, 0, fmt.Errorf("scheduler API: %w", err)
	}
	return d.total, d.stats, d.reruns, nil
}

func (d *driver) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_OFFERS:
		d.offers(ctx, ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		d.update(ev.GetUpdate().GetStatus())
	case schedpb.Event_MESSAGE:
		r, err := decode(ev.GetMessage().GetData())
		if err != nil {
			d.cfg.log.Warn("bad message", "err", err)
			return nil
		}
		d.result(r, ev.GetMessage().GetExecutorId().GetValue())
	case schedpb.Event_FAILURE:
		f := ev.GetFailure()
		if ex := f.GetExecutorId().GetValue(); ex != "" {
			d.cfg.log.Warn("executor lost", "executor", ex, "agent", f.GetAgentId().GetValue(), "status", f.GetStatus())
			d.executorGone(ex)
		}
	case schedpb.Event_ERROR:
		return fmt.Errorf("master: %s", ev.GetError().GetMessage())
	}
	// A task that finished must have sent its result before; one that did
	// not within resultTTL is run again.
	for p, at := range d.finished {
		if d.state[p] != "done" && time.Since(at) > d.cfg.resultTTL {
			d.cfg.log.Warn("finished task sent no result; running its partition again", "partition", p)
			delete(d.finished, p)
			d.requeue(p)
		}
	}
	if d.done == len(d.state) {
		// Shut the executors down now rather than when the master
		// notices the driver gone.
		if err := d.client.Teardown(ctx); err != nil {
			d.cfg.log.Warn("teardown failed", "err", err)
		}
		return scheduler.ErrDone
	}
	return nil
}

func (d *driver) offers(ctx context.Context, list []*mesos.Offer) {
	var decline []*mesos.OfferID
	for _, o := range list {
		pool := offers.NewPool(o, "*")
		agent := o.GetAgentId().GetValue()
		ex := d.executors[agent]
		var tasks []*mesos.TaskInfo
		if ex == nil && len(d.pending) > 0 {
			m, _, ok := pool.Take(offers.Need{Cpus: 0.1, Mem: 64})
			if ok {
				d.execSeq++
				id := fmt.Sprintf("wordcount-executor-%d", d.execSeq)
				ex = &executorState{agent: agent, host: o.GetHostname(), info: &mesos.ExecutorInfo{
					Type:       mesos.ExecutorInfo_CUSTOM.Enum(),
					ExecutorId: &mesos.ExecutorID{Value: proto.String(id)},
					Name:       proto.String("wordcount executor"),
					Resources:  m.Resources,
					Command: &mesos.CommandInfo{
						Value: proto.String("./wordcount executor --delay=" + d.cfg.delay.String()),
						Uris: []*mesos.CommandInfo_URI{{Value: proto.String(d.binURL), Executable: proto.Bool(true),
							Cache: proto.Bool(true), OutputFile: proto.String("wordcount")}},
					}}}
			}
		}
		for ex != nil && len(d.pending) > 0 {
			m, _, ok := pool.Take(offers.Need{Cpus: d.cfg.taskCpus, Mem: d.cfg.taskMem})
			if !ok {
				break
			}
			p := d.pending[0]
			d.pending = d.pending[1:]
			part := d.cfg.parts[p]
			if part.Kind == "wordcount" {
				part.URL = d.data + (&url.URL{Path: part.File}).EscapedPath()
			}
			data, _ := json.Marshal(part)
			d.taskSeq++
			tid := fmt.Sprintf("wordcount-%d-%d", p, d.taskSeq)
			tasks = append(tasks, &mesos.TaskInfo{Name: proto.String(fmt.Sprintf("partition %d", p)),
				TaskId: &mesos.TaskID{Value: proto.String(tid)}, AgentId: o.GetAgentId(), Resources: m.Resources,
				Executor: ex.info, Data: data})
			d.state[p], d.current[p] = "running", tid
			d.taskPart[tid], d.taskExec[tid] = p, ex.info.GetExecutorId().GetValue()
		}
		if len(tasks) == 0 {
			decline = append(decline, o.GetId())
			continue
		}
		if d.executors[agent] == nil {
			d.executors[agent] = ex
			d.cfg.log.Info("starting an executor", "executor", ex.info.GetExecutorId().GetValue(), "host", ex.host)
		}
		if err := d.client.Launch(ctx, o.GetId(), tasks...); err != nil {
			d.cfg.log.Warn("launch failed", "err", err)
			for _, t := range tasks {
				d.requeue(d.taskPart[t.GetTaskId().GetValue()])
			}
		}
	}
	if len(decline) > 0 {
		_ = d.client.Decline(ctx, decline, &mesos.Filters{RefuseSeconds: proto.Float64(1)})
	}
}

func (d *driver) update(st *mesos.TaskStatus) {
	tid := st.GetTaskId().GetValue()
	p, ok := d.taskPart[tid]
	if !ok || !scheduler.IsTerminal(st.GetState()) {
		return
	}
	delete(d.taskPart, tid)
	ex := d.taskExec[tid]
	delete(d.taskExec, tid)
	if d.state[p] == "done" || d.current[p] != tid {
		return
	}
	if st.GetState() == mesos.TaskState_TASK_FINISHED {
		d.finished[p] = time.Now()
		return
	}
	d.cfg.log.Warn("task ended without a result; running its partition again", "task", tid, "partition", p,
		"state", st.GetState().String(), "reason", st.GetReason().String(), "message", st.GetMessage())
	switch st.GetReason() {
	case mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, mesos.TaskStatus_REASON_AGENT_REMOVED,
		mesos.TaskStatus_REASON_AGENT_DISCONNECTED, mesos.TaskStatus_REASON_EXECUTOR_UNREGISTERED:
		d.executorGone(ex)
	}
	d.requeue(p)
}

// executorGone forgets an executor: the next offer of its agent starts a
// new one, and its partitions without a result run again.
func (d *driver) executorGone(id string) {
	for agent, ex := range d.executors {
		if ex.info.GetExecutorId().GetValue() == id {
			delete(d.executors, agent)
		}
	}
	for tid, e := range d.taskExec {
		if e == id {
			p := d.taskPart[tid]
			delete(d.taskPart, tid)
			delete(d.taskExec, tid)
			if d.current[p] == tid {
				d.requeue(p)
			}
		}
	}
}

func (d *driver) requeue(p int) {
	if d.state[p] != "running" {
		return
	}
	d.state[p], d.current[p] = "pending", ""
	d.pending = append(d.pending, p)
	d.reruns++
}

func (d *driver) result(r *Result, executorID string) {
	p := r.Partition
	if p < 0 || p >= len(d.state) || d.state[p] == "done" {
		return
	}
	if d.current[p] != r.TaskID {
		// A result of an attempt the driver gave up on is as good as
		// any: the work is deterministic. Take it once.
		d.pending = removeInt(d.pending, p)
	}
	d.state[p] = "done"
	delete(d.finished, p)
	merge(d.total, r)
	d.done++
	d.stats[executorID]++
	d.cfg.log.Info("partition done", "partition", p, "executor", executorID, "done", d.done, "of", len(d.state))
}

func removeInt(s []int, v int) []int {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// runLocal is the single-process run: every file counted whole, in order.
func runLocal(input string, kind string, parts []Partition) (*Result, error) {
	total := &Result{Counts: map[string]int64{}}
	if kind == "pi" {
		for _, p := range parts {
			merge(total, &Result{Inside: piInside(p), Samples: p.Samples})
		}
		return total, nil
	}
	err := filepath.WalkDir(input, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(input, p)
		counts, err := countFile(input, Partition{File: filepath.ToSlash(rel), End: st.Size()})
		if err != nil {
			return err
		}
		merge(total, &Result{Counts: counts})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", input, err)
	}
	return total, nil
}
