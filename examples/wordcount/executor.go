package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/sdk/executor"
)

// runExecutor is the executor the agents start (./wordcount executor): it
// stays up for the whole run and works each task launched on it — one
// partition — in a goroutine of its own, sending the partial result as a
// framework message before TASK_FINISHED.
func runExecutor(delay time.Duration) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	e, err := executor.New(executor.Config{Log: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "wordcount executor: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 10 * time.Minute}
	err = e.Run(ctx, func(ctx context.Context, ev *execpb.Event) error {
		switch ev.GetType() {
		case execpb.Event_LAUNCH:
			t := ev.GetLaunch().GetTask()
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(ctx, e, hc, t, delay, log)
			}()
		case execpb.Event_SHUTDOWN:
			return executor.ErrDone
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "wordcount executor: %v\n", err)
		return 1
	}
	return 0
}

// work runs one task: its data is the Partition.
func work(ctx context.Context, e *executor.Executor, hc *http.Client, t *mesos.TaskInfo, delay time.Duration, log *slog.Logger) {
	id := t.GetTaskId()
	fail := func(err error) {
		log.Warn("task failed", "task", id.GetValue(), "err", err)
		_ = e.Status(ctx, id, mesos.TaskState_TASK_FAILED, err.Error())
	}
	var p Partition
	if err := json.Unmarshal(t.GetData(), &p); err != nil {
		fail(fmt.Errorf("task data: %w", err))
		return
	}
	if err := e.Status(ctx, id, mesos.TaskState_TASK_RUNNING, ""); err != nil {
		log.Warn("update not sent", "err", err)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
	}
	res := &Result{Partition: p.ID, TaskID: id.GetValue()}
	switch p.Kind {
	case "pi":
		res.Inside, res.Samples = piInside(p), p.Samples
	case "wordcount":
		counts, err := fetchCount(ctx, hc, p)
		if err != nil {
			fail(err)
			return
		}
		res.Counts = counts
	default:
		fail(fmt.Errorf("unknown kind %q", p.Kind))
		return
	}
	data, err := encode(res)
	if err != nil {
		fail(err)
		return
	}
	if err := e.Message(ctx, data); err != nil {
		fail(err)
		return
	}
	if err := e.Status(ctx, id, mesos.TaskState_TASK_FINISHED, ""); err != nil {
		log.Warn("update not sent", "err", err)
	}
}

// fetchCount reads the partition's range from the driver's data server
// (from the byte before its start, to see where its first line begins)
// and counts its words.
func fetchCount(ctx context.Context, hc *http.Client, p Partition) (map[string]int64, error) {
	from := max(p.Start-1, 0)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", p.URL, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent && !(from == 0 && resp.StatusCode == http.StatusOK) {
		return nil, fmt.Errorf("input %s: %s", p.URL, resp.Status)
	}
	counts := map[string]int64{}
	if err := countRange(resp.Body, from, p.Start, p.End, counts); err != nil {
		return nil, fmt.Errorf("input %s: %w", p.URL, err)
	}
	return counts, nil
}
