package offers_test

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
	"github.com/mezzo-project/mezzo/sdk/offers"
)

// Place a Redis master on port 19998 and see why a second one does not fit.
func ExamplePool_Take() {
	offer := &mesos.Offer{
		Hostname: proto.String("agent1"),
		Resources: []*mesos.Resource{
			offers.Scalar("cpus", 2), offers.Scalar("mem", 1024),
			{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{
				Range: []*mesos.Value_Range{{Begin: proto.Uint64(19998), End: proto.Uint64(19998)}}}},
		},
	}
	pool := offers.NewPool(offer, "*")
	need := offers.Need{Cpus: 0.5, Mem: 128, Ports: []offers.PortSpec{{Name: "redis", Port: 19998}}}
	if m, _, ok := pool.Take(need); ok {
		fmt.Println("placed on port", m.Ports[0], "with", len(m.Resources), "resources")
	}
	if _, why, ok := pool.Take(need); !ok {
		fmt.Println("waiting:", why.Reason)
	}
	// Output:
	// placed on port 19998 with 3 resources
	// waiting: no port 19998
}

// One instance per host.
func ExampleConstraint_Allows() {
	c, _ := offers.ParseConstraint([]string{"hostname", "UNIQUE"})
	running := []offers.Host{{Hostname: "agent1"}}
	ok, why := c.Allows(offers.Host{Hostname: "agent1"}, running)
	fmt.Println(ok, why.Reason)
	ok, _ = c.Allows(offers.Host{Hostname: "agent2"}, running)
	fmt.Println(ok)
	// Output:
	// false an instance runs on hostname "agent1" already (hostname:UNIQUE)
	// true
}

// Build the ACCEPT operations of a task group under the default executor.
func ExampleLaunchGroup() {
	exec := &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("group-1")},
		Resources: []*mesos.Resource{offers.Scalar("cpus", 0.1), offers.Scalar("mem", 32)}}
	task := &mesos.TaskInfo{Name: proto.String("web"), TaskId: &mesos.TaskID{Value: proto.String("web-1")}}
	op := offers.LaunchGroup(exec, task)
	fmt.Println(op.GetType(), op.GetLaunchGroup().GetExecutor().GetType(), len(op.GetLaunchGroup().GetTaskGroup().GetTasks()))
	// Output: LAUNCH_GROUP DEFAULT 1
}

// Place a request given as a resource string, with a GPU and a named set,
// for a framework in role "web": the offer's unreserved cpus are too few,
// so the whole request comes from the role's reservation.
func ExampleParseNeed() {
	need, err := offers.ParseNeed("cpus:1;mem:256;gpus:1;zones:{eu-1}")
	if err != nil {
		fmt.Println(err)
		return
	}
	offered, _ := resources.Parse("cpus:0.5;mem:4096;cpus(web):2;mem(web):512;gpus(web):1;zones(web):{eu-1,eu-2}", "*")
	offer := &mesos.Offer{Hostname: proto.String("agent1"),
		Resources: resources.ToProto(offered.Allocate("web"), resources.FormatPostRefinement)}
	pool := offers.NewPool(offer, "web")
	m, _, ok := pool.Take(need)
	taken, _ := resources.FromProto(m.Resources)
	fmt.Println(ok, resources.Format(taken.Unallocate()))
	_, why, _ := pool.Take(need)
	fmt.Println("then:", why)
	// Output:
	// true cpus(web):1;gpus(web):1;mem(web):256;zones(web):{eu-1}
	// then: gpus: gpus offers 0, 1 needed
}

// Place a task group and its executor on one offer, all or nothing.
func ExamplePool_TakeAll() {
	offered, _ := resources.Parse("cpus:1;mem:256;disk:100", "*")
	pool := offers.NewPool(&mesos.Offer{Resources: resources.ToProto(offered, resources.FormatPostRefinement)}, "*")
	executor := offers.Need{Cpus: 0.1, Mem: 32, Disk: 10}
	task := offers.Need{Cpus: 0.4, Mem: 64}
	if _, why, ok := pool.TakeAll(executor, task, task, task); !ok {
		fmt.Println("three tasks:", why)
	}
	ms, _, ok := pool.TakeAll(executor, task, task)
	fmt.Println("two tasks:", ok, len(ms), "matches,", pool.Scalar("cpus"), "cpus left")
	// Output:
	// three tasks: cpus: cpus offers 0.1, 0.4 needed
	// two tasks: true 3 matches, 0.1 cpus left
}
