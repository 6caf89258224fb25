// Command v0executor is the driver-based executor of the end-to-end
// tests: it registers with its agent through the libprocess executor
// driver of package v0test, as an executor linked with libmesos does.
// Each task it gets reports TASK_RUNNING, then TASK_FINISHED at once
// when its data is "finish", else it runs until killed (TASK_KILLED). A
// framework message "x" is answered with the message "echo: x". On
// ShutdownExecutorMessage it kills its tasks and exits; it exits too when
// its agent goes away and the framework does not checkpoint.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/mezzo-project/mezzo/api/v0/messages"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/v0test"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "v0executor:", err)
		os.Exit(1)
	}
}

func run() error {
	d, err := v0test.NewExecutorFromEnv()
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Println("registering as", d.PID, "with", d.Agent)
	running := map[string]bool{}
	for {
		r, err := d.Next(time.Hour)
		if err != nil {
			return err
		}
		fmt.Println("received", r.Name)
		switch m := r.Msg.(type) {
		case *messages.RunTaskMessage:
			id := m.GetTask().GetTaskId().GetValue()
			if err := d.Update(id, mesos.TaskState_TASK_RUNNING, ""); err != nil {
				return err
			}
			if string(m.GetTask().GetData()) == "finish" {
				err = d.Update(id, mesos.TaskState_TASK_FINISHED, "")
			} else {
				running[id] = true
			}
			if err != nil {
				return err
			}
		case *messages.KillTaskMessage:
			id := m.GetTaskId().GetValue()
			if running[id] {
				delete(running, id)
				if err := d.Update(id, mesos.TaskState_TASK_KILLED, "killed by the scheduler"); err != nil {
					return err
				}
			}
		case *messages.FrameworkToExecutorMessage:
			if err := d.SendFrameworkMessage([]byte("echo: " + string(m.GetData()))); err != nil {
				return err
			}
		case *messages.ShutdownExecutorMessage:
			for id := range running {
				_ = d.Update(id, mesos.TaskState_TASK_KILLED, "executor shut down")
			}
			// Give the agent a moment to take the last updates.
			for deadline := time.Now().Add(2 * time.Second); d.Unacknowledged() > 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			return nil
		default:
			if r.Name == v0test.AgentExited {
				return fmt.Errorf("the agent %s went away", d.Agent)
			}
		}
	}
}
