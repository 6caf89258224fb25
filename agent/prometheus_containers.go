package agent

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// The agent's /metrics also carries every live executor's container
// statistics, measured at scrape time as /monitor/statistics measures
// them: one gauge per numeric ResourceStatistics field the container's
// isolators report, named mezzo_container_<field> (mezzo_container_
// cpus_user_time_secs, mezzo_container_mem_rss_bytes,
// mezzo_container_cpus_nr_throttled, mezzo_container_processes, ...),
// and with cgroups/blkio the bytes and operations the block devices
// served (mezzo_container_blkio_io_service_bytes and
// mezzo_container_blkio_io_serviced: the Total of every device), labelled with the framework, executor
// and container ids.

// containerLabels label each container's figures.
var containerLabels = []string{"framework_id", "executor_id", "container_id"}

// containerCollector collects the live containers' statistics.
type containerCollector struct {
	a     *Agent
	descs map[string]*prometheus.Desc // by field name
}

func newContainerCollector(a *Agent) *containerCollector {
	c := &containerCollector{a: a, descs: map[string]*prometheus.Desc{}}
	fields := (&mesos.ResourceStatistics{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if !numericField(f) || f.Name() == "timestamp" {
			continue
		}
		name := string(f.Name())
		c.descs[name] = prometheus.NewDesc("mezzo_container_"+name,
			"The container's "+name+", as /monitor/statistics reports it.", containerLabels, nil)
	}
	for _, name := range []string{"blkio_io_service_bytes", "blkio_io_serviced"} {
		c.descs[name] = prometheus.NewDesc("mezzo_container_"+name,
			"What the container's block devices served (cgroups/blkio, every device's Total).", containerLabels, nil)
	}
	return c
}

func numericField(f protoreflect.FieldDescriptor) bool {
	if f.IsList() || f.IsMap() {
		return false
	}
	switch f.Kind() {
	case protoreflect.DoubleKind, protoreflect.FloatKind, protoreflect.Int32Kind, protoreflect.Int64Kind,
		protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return true
	}
	return false
}

// Describe sends every descriptor.
func (c *containerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect measures every live container.
func (c *containerCollector) Collect(ch chan<- prometheus.Metric) {
	var list []monitored
	if err := c.a.do(func() { list = c.a.monitoredExecutors() }); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = containerizer.ShareProcessTable(ctx)
	for _, m := range list {
		s, err := c.a.containers.Usage(ctx, m.container)
		if err != nil {
			continue
		}
		labels := []string{m.entry.FrameworkID, m.entry.ExecutorID, m.container.GetValue()}
		r := s.ProtoReflect()
		r.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			d, ok := c.descs[string(f.Name())]
			if !ok {
				return true
			}
			var x float64
			switch f.Kind() {
			case protoreflect.DoubleKind, protoreflect.FloatKind:
				x = v.Float()
			case protoreflect.Int32Kind, protoreflect.Int64Kind:
				x = float64(v.Int())
			default:
				x = float64(v.Uint())
			}
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, x, labels...)
			return true
		})
		if b := s.GetBlkioStatistics(); b != nil {
			var bytes, ops float64
			// One of the two, by the cgroup's I/O source.
			for _, t := range b.GetThrottling() {
				bytes += totalOf(t.GetIoServiceBytes())
				ops += totalOf(t.GetIoServiced())
			}
			for _, t := range b.GetCfqRecursive() {
				bytes += totalOf(t.GetIoServiceBytes())
				ops += totalOf(t.GetIoServiced())
			}
			ch <- prometheus.MustNewConstMetric(c.descs["blkio_io_service_bytes"], prometheus.GaugeValue, bytes, labels...)
			ch <- prometheus.MustNewConstMetric(c.descs["blkio_io_serviced"], prometheus.GaugeValue, ops, labels...)
		}
	}
}

// totalOf is the Total operation's value of a blkio list.
func totalOf(vs []*mesos.CgroupInfo_Blkio_Value) float64 {
	for _, v := range vs {
		if v.GetOp() == mesos.CgroupInfo_Blkio_TOTAL {
			return float64(v.GetValue())
		}
	}
	return 0
}
