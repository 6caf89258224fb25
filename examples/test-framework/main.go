// Command test-framework is Mezzo's version of Mesos' classic example
// framework: it subscribes to a master, launches a fixed number of short
// command tasks on the offers it receives, and exits 0 once every task has
// finished (1 if any ended otherwise).
//
//	go run ./examples/test-framework 127.0.0.1:5050
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

func main() {
	fs := flag.NewFlagSet("test-framework", flag.ExitOnError)
	total := fs.Int("tasks", 5, "number of tasks to run")
	cpus := fs.Float64("task_cpus", 0.1, "cpus per task")
	mem := fs.Float64("task_mem", 32, "memory per task (MB)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: test-framework [flags] HOST:PORT")
		fs.PrintDefaults()
	}
	fs.Parse(os.Args[1:])
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	fw := &framework{total: *total, cpus: *cpus, mem: *mem}
	fw.client = scheduler.New(scheduler.Config{
		Master: fs.Arg(0),
		Framework: &mesos.FrameworkInfo{
			User: proto.String("root"),
			Name: proto.String("Test Framework (Go)"),
		},
		AutoAcknowledge: true,
	})
	err := fw.client.Run(ctx, fw.handle)
	if err != nil {
		fmt.Fprintf(os.Stderr, "test-framework: %v\n", err)
		os.Exit(1)
	}
	if fw.failed > 0 {
		fmt.Fprintf(os.Stderr, "test-framework: %d of %d tasks did not finish\n", fw.failed, fw.total)
		os.Exit(1)
	}
	fmt.Printf("All %d tasks finished\n", fw.total)
}

type framework struct {
	client               *scheduler.Client
	total                int
	cpus, mem            float64
	launched, terminated int
	failed               int
}

func (f *framework) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		fmt.Printf("Registered with framework ID %s\n", ev.GetSubscribed().GetFrameworkId().GetValue())
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			if err := f.offer(ctx, o); err != nil {
				return err
			}
		}
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		fmt.Printf("Task %s is in state %s", st.GetTaskId().GetValue(), st.GetState())
		if st.GetMessage() != "" {
			fmt.Printf(" (%s)", st.GetMessage())
		}
		fmt.Println()
		if scheduler.IsTerminal(st.GetState()) {
			f.terminated++
			if st.GetState() != mesos.TaskState_TASK_FINISHED {
				f.failed++
			}
			if f.terminated == f.total {
				// Acknowledge before leaving; Run would do it only after return.
				_ = f.client.Acknowledge(ctx, st)
				_ = f.client.Teardown(ctx)
				return scheduler.ErrDone
			}
		}
	case schedpb.Event_ERROR:
		return errors.New(ev.GetError().GetMessage())
	}
	return nil
}

// offer launches as many of the remaining tasks as fit in o and declines
// the rest of it.
func (f *framework) offer(ctx context.Context, o *mesos.Offer) error {
	pool := offers.NewPool(o, "*")
	var tasks []*mesos.TaskInfo
	for f.launched < f.total {
		m, _, ok := pool.Take(offers.Need{Cpus: f.cpus, Mem: f.mem})
		if !ok {
			break
		}
		id := fmt.Sprint(f.launched)
		tasks = append(tasks, &mesos.TaskInfo{
			Name:      proto.String("Task " + id),
			TaskId:    &mesos.TaskID{Value: proto.String(id)},
			AgentId:   o.GetAgentId(),
			Command:   &mesos.CommandInfo{Value: proto.String("echo 'Hello from task " + id + "'")},
			Resources: m.Resources,
		})
		fmt.Printf("Launching task %s using offer %s\n", id, o.GetId().GetValue())
		f.launched++
	}
	if len(tasks) == 0 {
		return f.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, nil)
	}
	return f.client.Launch(ctx, o.GetId(), tasks...)
}
