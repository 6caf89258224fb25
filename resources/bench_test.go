package resources

import (
	"fmt"
	"testing"
)

const (
	benchAgent = "cpus:16;mem:65536;disk:1000000;ports:[31000-31099,31200-31299,31500-32000];cpus(web):4;mem(web):8192"
	benchTask  = "cpus:0.5;mem:512;disk:100;ports:[31050-31050,31600-31601]"
)

var sink Resources

func BenchmarkAdd(b *testing.B) {
	agent, task := mustParse(b, benchAgent), mustParse(b, benchTask)
	for b.Loop() {
		sink = agent.Add(task)
	}
	if sink.ScalarOf("cpus") != 20500 {
		b.Fatalf("sum = %v", sink)
	}
}

func BenchmarkSubtract(b *testing.B) {
	agent, task := mustParse(b, benchAgent), mustParse(b, benchTask)
	for b.Loop() {
		sink = agent.Subtract(task)
	}
	if sink.ScalarOf("cpus") != 19500 {
		b.Fatalf("difference = %v", sink)
	}
}

func BenchmarkContains(b *testing.B) {
	agent, task := mustParse(b, benchAgent), mustParse(b, benchTask)
	ok := false
	for b.Loop() {
		ok = agent.Contains(task)
	}
	if !ok {
		b.Fatal("agent does not contain task")
	}
}

func BenchmarkAllocatableTo(b *testing.B) {
	agent := mustParse(b, benchAgent)
	for b.Loop() {
		sink = agent.AllocatableTo("web")
	}
	if sink.Len() != agent.Len() {
		b.Fatalf("allocatable = %v", sink)
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		sink, _ = Parse(benchAgent, "*")
	}
	if sink.Len() != 6 {
		b.Fatalf("parsed %v", sink)
	}
}

// BenchmarkCluster is one allocation pass's resource work over a cluster:
// per agent, free = total − used, whether a task fits, and the cluster's
// scalar totals for DRF.
func BenchmarkCluster(b *testing.B) {
	task := mustParse(b, benchTask)
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			totals := make([]Resources, n)
			used := make([]Resources, n)
			for i := range n {
				totals[i] = mustParse(b, benchAgent)
				used[i] = mustParse(b, fmt.Sprintf("cpus:%d;mem:%d;ports:[%d-%d]", i%8, 1024*(i%16), 31000+i%50, 31000+i%50))
			}
			fits := 0
			var cluster Quantities
			for b.Loop() {
				fits = 0
				cluster = Quantities{}
				for i := range n {
					free := totals[i].Subtract(used[i])
					if free.Contains(task) {
						fits++
					}
					cluster = cluster.Add(totals[i].ScalarQuantities())
				}
			}
			if fits != n || cluster.Get("cpus") != ScalarFromInt(int64(20*n)) {
				b.Fatalf("fits %d of %d, cluster %v", fits, n, cluster)
			}
		})
	}
}
