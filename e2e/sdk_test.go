package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// TestSDKCustomExecutorMessages runs a framework written with the SDK
// (sdk/scheduler, sdk/offers) against a real master and agent, launching
// a task under examples/echo-executor (sdk/executor), fetched by URI: the
// executor runs the task, re-subscribes when its agent is restarted,
// answers a framework message through the scheduler API's MESSAGE, and
// reports TASK_KILLED after a KILL.
func TestSDKCustomExecutorMessages(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024;ports:[31000-31100]")
	execBin := filepath.Join(t.TempDir(), "echo-executor")
	build := exec.Command("go", "build", "-o", execBin, "../examples/echo-executor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build echo-executor: %v\n%s", err, out)
	}
	client := scheduler.New(scheduler.Config{
		Master:               c.master,
		Framework:            &mesos.FrameworkInfo{Name: proto.String("sdk-test"), Checkpoint: proto.Bool(true)},
		AutoAcknowledge:      true,
		ReconcileOnSubscribe: true,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		launched bool
		agent    *mesos.AgentID
		reply    string
		states   []mesos.TaskState
	)
	execID := &mesos.ExecutorID{Value: proto.String("echo")}
	taskID := &mesos.TaskID{Value: proto.String("sleeper")}
	err := client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
		switch ev.GetType() {
		case schedpb.Event_OFFERS:
			for _, o := range ev.GetOffers().GetOffers() {
				pool := offers.NewPool(o, "*")
				m, why, ok := pool.Take(offers.Need{Cpus: 0.1, Mem: 32, Ports: []offers.PortSpec{{Port: 31050}}})
				if launched || !ok {
					if !launched {
						t.Logf("offer does not fit: %v", why)
					}
					_ = client.Decline(ctx, []*mesos.OfferID{o.GetId()}, nil)
					continue
				}
				em, _, _ := pool.Take(offers.Need{Cpus: 0.1, Mem: 32})
				task := &mesos.TaskInfo{Name: proto.String("sleeper"), TaskId: taskID, AgentId: o.GetAgentId(),
					Resources: m.Resources, Data: []byte("sleep 60"),
					Executor: &mesos.ExecutorInfo{Type: mesos.ExecutorInfo_CUSTOM.Enum(), ExecutorId: execID,
						Resources: em.Resources,
						Command: &mesos.CommandInfo{Value: proto.String("./echo-executor"),
							Uris: []*mesos.CommandInfo_URI{{Value: proto.String(execBin), Executable: proto.Bool(true)}}}}}
				if err := client.Accept(ctx, []*mesos.OfferID{o.GetId()}, []*mesos.Offer_Operation{offers.Launch(task)}, nil); err != nil {
					return err
				}
				launched, agent = true, o.GetAgentId()
			}
		case schedpb.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			if st.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION {
				return nil
			}
			states = append(states, st.GetState())
			switch st.GetState() {
			case mesos.TaskState_TASK_RUNNING:
				// Restart the agent under the executor: the executor
				// re-subscribes to the new agent process, and answers
				// through it.
				old := c.agents[0]
				args := old.cmd.Args[1:]
				if err := old.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					return err
				}
				<-old.done
				restarted := start(t, "agent0-restarted", args...)
				// The message goes through the master: wait until it has
				// the agent back too, or it drops the message.
				waitFor(t, 30*time.Second, "executor re-subscribed and agent re-registered", func() error {
					if out := restarted.out.String(); !strings.Contains(out, `msg="executor subscribed"`) || !strings.Contains(out, "recovered=true") ||
						!strings.Contains(out, `msg="registered with master"`) {
						return errors.New("not yet")
					}
					return nil
				})
				return client.Message(ctx, agent, execID, []byte("ping"))
			case mesos.TaskState_TASK_KILLED:
				return scheduler.ErrDone
			default:
				if scheduler.IsTerminal(st.GetState()) {
					return errors.New("task ended " + st.GetState().String() + ": " + st.GetMessage())
				}
			}
		case schedpb.Event_MESSAGE:
			reply = string(ev.GetMessage().GetData())
			return client.Kill(ctx, taskID, agent)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("framework: %v (states %v)", err, states)
	}
	if reply != "echo: ping" {
		t.Errorf("executor's reply = %q, want %q", reply, "echo: ping")
	}
	if len(states) < 2 || states[0] != mesos.TaskState_TASK_RUNNING || states[len(states)-1] != mesos.TaskState_TASK_KILLED {
		t.Errorf("states = %v, want TASK_RUNNING ... TASK_KILLED", states)
	}
	_ = client.Teardown(context.Background())
}
