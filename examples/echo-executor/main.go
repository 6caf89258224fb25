// Command echo-executor is a custom executor written with Mezzo's Go SDK
// (package sdk/executor): it runs each task's command, answers every
// framework message with "echo: " and the message, and exits once its
// tasks have ended and their updates were acknowledged.
//
// A framework launches it with a CUSTOM ExecutorInfo whose command fetches
// the binary by URI and runs it (./echo-executor).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/sdk/executor"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	e, err := executor.New(executor.Config{Log: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo-executor: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var mu sync.Mutex
	procs := map[string]*executor.Process{}
	killAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range procs {
			p.Kill(3 * time.Second)
		}
	}
	err = e.Run(ctx, func(ctx context.Context, ev *execpb.Event) error {
		switch ev.GetType() {
		case execpb.Event_LAUNCH:
			t := ev.GetLaunch().GetTask()
			p, err := e.Start(ctx, t)
			if err != nil {
				log.Warn("task not started", "task", t.GetTaskId().GetValue(), "err", err)
				return nil
			}
			mu.Lock()
			procs[t.GetTaskId().GetValue()] = p
			mu.Unlock()
		case execpb.Event_KILL:
			mu.Lock()
			p := procs[ev.GetKill().GetTaskId().GetValue()]
			mu.Unlock()
			if p != nil {
				go p.Kill(3 * time.Second)
			}
		case execpb.Event_MESSAGE:
			reply := append([]byte("echo: "), ev.GetMessage().GetData()...)
			if err := e.Message(ctx, reply); err != nil {
				log.Warn("reply not sent", "err", err)
			}
		case execpb.Event_ACKNOWLEDGED:
			if e.Idle() {
				return executor.ErrDone
			}
		case execpb.Event_SHUTDOWN:
			killAll()
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo-executor: %v\n", err)
		os.Exit(1)
	}
}
