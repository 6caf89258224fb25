package scheduler_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// A framework that runs one task needing port 8080, suppresses offers once
// it is launched, and reconciles after every (re-)subscription. It needs a
// running master.
func Example() {
	c := scheduler.New(scheduler.Config{
		Master: "127.0.0.1:5050", // or zk://host:2181/mezzo
		Framework: &mesos.FrameworkInfo{Name: proto.String("web"),
			FailoverTimeout: proto.Float64(3600), Checkpoint: proto.Bool(true)},
		AutoAcknowledge:      true,
		Reconnect:            true,
		ReconcileOnSubscribe: true,
	})
	need := offers.Need{Cpus: 0.5, Mem: 128, Ports: []offers.PortSpec{{Name: "http", Port: 8080}}}
	launched := false
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
		switch ev.GetType() {
		case schedpb.Event_OFFERS:
			for _, o := range ev.GetOffers().GetOffers() {
				m, why, ok := offers.NewPool(o, "*").Take(need)
				if launched || !ok {
					if !launched {
						fmt.Println("waiting:", why)
					}
					_ = c.Decline(ctx, []*mesos.OfferID{o.GetId()}, nil)
					continue
				}
				task := &mesos.TaskInfo{Name: proto.String("web"), TaskId: &mesos.TaskID{Value: proto.String("web-1")},
					AgentId: o.GetAgentId(), Resources: m.Resources,
					Command: &mesos.CommandInfo{Value: proto.String(fmt.Sprintf("python3 -m http.server %d", m.Ports[0]))}}
				if err := c.Accept(ctx, []*mesos.OfferID{o.GetId()}, []*mesos.Offer_Operation{offers.Launch(task)}, nil); err != nil {
					return err
				}
				launched = true
				_ = c.Suppress(ctx)
			}
		case schedpb.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			fmt.Println(st.GetTaskId().GetValue(), st.GetState())
			if scheduler.IsTerminal(st.GetState()) {
				launched = false
				return c.Revive(ctx)
			}
		case schedpb.Event_MESSAGE:
			fmt.Printf("from executor %s: %s\n", ev.GetMessage().GetExecutorId().GetValue(), ev.GetMessage().GetData())
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
