package executor_test

import (
	"context"
	"log"
	"time"

	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/sdk/executor"
)

// A custom executor that runs command tasks, kills them on KILL, answers
// framework messages and exits once everything was acknowledged. It runs
// under an agent, which sets the MESOS_* environment New reads.
func Example() {
	e, err := executor.New(executor.Config{})
	if err != nil {
		log.Fatal(err) // not started by an agent
	}
	procs := map[string]*executor.Process{}
	err = e.Run(context.Background(), func(ctx context.Context, ev *execpb.Event) error {
		switch ev.GetType() {
		case execpb.Event_LAUNCH:
			if p, err := e.Start(ctx, ev.GetLaunch().GetTask()); err == nil {
				procs[p.Task().GetTaskId().GetValue()] = p
			}
		case execpb.Event_KILL:
			if p := procs[ev.GetKill().GetTaskId().GetValue()]; p != nil {
				go p.Kill(5 * time.Second)
			}
		case execpb.Event_MESSAGE:
			return e.Message(ctx, []byte("got "+string(ev.GetMessage().GetData())))
		case execpb.Event_ACKNOWLEDGED:
			if e.Idle() {
				return executor.ErrDone
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
