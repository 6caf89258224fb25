package legacy_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/api/legacy"
)

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := legacy.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestResourcesAlwaysHaveTheFourScalars(t *testing.T) {
	var r legacy.Resources
	eq(t, "zero", mustMarshal(t, r), `{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0}`)

	r.Set("cpus", legacy.ScalarValue(0.5))
	r.Set("ports", legacy.RangesValue(legacy.Range{Begin: 31000, End: 31004}, legacy.Range{Begin: 31010, End: 31010}))
	r.Set("zones", legacy.SetValue("a", "b"))
	r.Set("cpus", legacy.ScalarValue(1.5)) // replaces in place
	eq(t, "built", mustMarshal(t, r),
		`{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":1.5,"ports":"[31000-31004, 31010-31010]","zones":"{a, b}"}`)

	var back legacy.Resources
	if err := json.Unmarshal([]byte(mustMarshal(t, r)), &back); err != nil {
		t.Fatal(err)
	}
	eq(t, "cpus", back.Scalar("cpus"), 1.5)
	eq(t, "disk", back.Scalar("disk"), 0.0)
	eq(t, "ports (not a scalar)", back.Scalar("ports"), 0.0)
	ports, _ := back.Get("ports")
	rs, err := ports.Ranges()
	eq(t, "ranges err", err, error(nil))
	eq(t, "ranges", rs, []legacy.Range{{Begin: 31000, End: 31004}, {Begin: 31010, End: 31010}})
	zones, _ := back.Get("zones")
	items, err := zones.Set()
	eq(t, "set err", err, error(nil))
	eq(t, "set", items, []string{"a", "b"})
}

func TestValueParsing(t *testing.T) {
	empty, err := legacy.TextValue("[]").Ranges()
	if err != nil || len(empty) != 0 {
		t.Errorf(`"[]".Ranges() = %v, %v`, empty, err)
	}
	none, err := legacy.TextValue("{}").Set()
	if err != nil || len(none) != 0 {
		t.Errorf(`"{}".Set() = %v, %v`, none, err)
	}
	for _, v := range []legacy.Value{
		legacy.ScalarValue(3), legacy.TextValue("31000-32000"), legacy.TextValue("[a-b]"), legacy.TextValue("[1-2,3-4]"),
	} {
		if _, err := v.Ranges(); !errors.Is(err, legacy.ErrNotRanges) {
			t.Errorf("%s.Ranges() error = %v, want ErrNotRanges", v, err)
		}
	}
	for _, v := range []legacy.Value{legacy.ScalarValue(3), legacy.TextValue("a, b")} {
		if _, err := v.Set(); !errors.Is(err, legacy.ErrNotSet) {
			t.Errorf("%s.Set() error = %v, want ErrNotSet", v, err)
		}
	}
	var v legacy.Value
	if err := json.Unmarshal([]byte(`{"a":1}`), &v); err == nil {
		t.Error("an object decoded as a Value")
	}
	var r legacy.Resources
	if err := json.Unmarshal([]byte(`{"cpus":[1]}`), &r); err == nil {
		t.Error("an array decoded as a resource value")
	}
}

func TestAttributesKeepOrder(t *testing.T) {
	in := `{"rack":"r1","level":2.0,"ports":"[1-2]","zone":"{a}"}`
	var a legacy.Attributes
	if err := json.Unmarshal([]byte(in), &a); err != nil {
		t.Fatal(err)
	}
	eq(t, "re-encoded", mustMarshal(t, a), in)
	level, ok := a.Get("level")
	eq(t, "level", level, legacy.ScalarValue(2))
	eq(t, "has level", ok, true)
	eq(t, "nil", mustMarshal(t, legacy.Attributes(nil)), `{}`)
}

func TestFloatForm(t *testing.T) {
	eq(t, "whole", mustMarshal(t, legacy.Float(1)), "1.0")
	eq(t, "time", mustMarshal(t, legacy.Float(1795326125.585411)), "1795326125.585411")
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := legacy.Marshal(legacy.Float(f)); err == nil {
			t.Errorf("Marshal(Float(%v)) succeeded", f)
		}
	}
}

func TestProtoJSON(t *testing.T) {
	var m legacy.ProtoJSON
	eq(t, "nil", mustMarshal(t, m), "{}")
	if err := json.Unmarshal([]byte(`[1]`), &m); err == nil {
		t.Error("an array decoded as a protobuf message")
	}
	in := `{"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"}`
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	eq(t, "verbatim", mustMarshal(t, m), in)
}

// TestZeroDocumentsHaveNoNulls: Mesos never writes null; keys it always
// writes come out as [], {} or zero values from zero Go values.
func TestZeroDocumentsHaveNoNulls(t *testing.T) {
	docs := []any{
		legacy.MasterState{Slaves: legacy.List[legacy.Slave]{{}}, Frameworks: legacy.List[legacy.Framework]{{
			Tasks:     legacy.List[legacy.Task]{{Statuses: legacy.List[legacy.TaskStatus]{{}}}},
			Executors: legacy.List[legacy.Executor]{{}},
			Offers:    legacy.List[legacy.Offer]{{}},
		}}},
		legacy.StateSummary{Slaves: legacy.List[legacy.StateSummarySlave]{{}}, Frameworks: legacy.List[legacy.StateSummaryFramework]{{}}},
		legacy.Frameworks{}, legacy.Slaves{Slaves: legacy.List[legacy.SlaveWithFullResources]{{}}}, legacy.Tasks{},
		legacy.Roles{Roles: legacy.List[legacy.Role]{{}}}, legacy.FlagsDocument{}, legacy.Version{}, legacy.Metrics(nil),
		legacy.AgentState{CompletedFrameworks: legacy.List[legacy.AgentFramework]{{
			Executors: legacy.List[legacy.AgentExecutor]{{QueuedTasks: legacy.List[legacy.QueuedTask]{{}}}},
		}}},
		legacy.MonitorStatistics(nil), legacy.MonitorStatistics{{}}, legacy.FileListing(nil), legacy.FileData{},
	}
	for _, d := range docs {
		out := mustMarshal(t, d)
		if strings.Contains(out, "null") {
			t.Errorf("%T encodes a null: %s", d, out)
		}
	}
	eq(t, "empty flags document", mustMarshal(t, legacy.FlagsDocument{}), `{"flags":{}}`)
	eq(t, "empty master state has no flags key", strings.Contains(mustMarshal(t, legacy.MasterState{}), `"flags"`), false)
	eq(t, "zero slave in /master/slaves", mustMarshal(t, legacy.SlaveWithFullResources{}),
		`{"id":"","hostname":"","port":0,"attributes":{},"pid":"","registered_time":0.0,`+
			`"resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"used_resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},`+
			`"offered_resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"reserved_resources":{},`+
			`"unreserved_resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"active":false,"deactivated":false,"version":"",`+
			`"capabilities":[],"reserved_resources_full":{},"unreserved_resources_full":[],"used_resources_full":[],"offered_resources_full":[]}`)
}

// TestTaskOptionalKeys builds a task with every optional key Mesos may
// write and checks the keys' order and forms against Mesos' Task writer.
func TestTaskOptionalKeys(t *testing.T) {
	healthy := false
	empty := ""
	ip := "10.0.0.5"
	task := legacy.Task{
		ID: "t1", Name: "web", FrameworkID: "f1", ExecutorID: "e1", SlaveID: "s1", State: "TASK_RUNNING",
		Resources: legacy.Resources{{Name: "cpus", Value: legacy.ScalarValue(1)}},
		Limits:    legacy.Quantities{"mem": 64, "cpus": 2},
		Role:      "web",
		Statuses: legacy.List[legacy.TaskStatus]{{
			State: "TASK_RUNNING", Timestamp: 1795326125.5,
			Labels: []legacy.Label{{Key: "MesosContainerizer.NetworkSettings.IPAddress", Value: &ip}},
			ContainerStatus: &legacy.ContainerStatus{
				ContainerID: &legacy.ContainerID{Value: "child", Parent: &legacy.ContainerID{Value: "parent"}},
				NetworkInfos: []legacy.NetworkInfo{{
					Labels:       []legacy.Label{},
					IPAddresses:  []legacy.IPAddress{{Protocol: "IPv4", IPAddress: ip}},
					Name:         "cni0",
					PortMappings: []legacy.PortMapping{{HostPort: 31000, ContainerPort: 80, Protocol: "tcp"}},
				}},
			},
			Healthy: &healthy,
		}},
		User:   "nobody",
		Labels: []legacy.Label{{Key: "empty", Value: &empty}, {Key: "unset"}},
		Discovery: &legacy.DiscoveryInfo{
			Visibility: "FRAMEWORK", Name: "web",
			Ports: &legacy.DiscoveryPorts{Ports: []legacy.DiscoveryPort{{Number: 31000, Name: "http", Protocol: "tcp"}}},
		},
		Container: legacy.ProtoJSON(`{"type":"MESOS"}`),
	}
	want := `{"id":"t1","name":"web","framework_id":"f1","executor_id":"e1","slave_id":"s1","state":"TASK_RUNNING",` +
		`"resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":1.0},"limits":{"cpus":2.0,"mem":64.0},"role":"web",` +
		`"statuses":[{"state":"TASK_RUNNING","timestamp":1795326125.5,` +
		`"labels":[{"key":"MesosContainerizer.NetworkSettings.IPAddress","value":"10.0.0.5"}],` +
		`"container_status":{"container_id":{"value":"child","parent":{"value":"parent"}},` +
		`"network_infos":[{"labels":[],"ip_addresses":[{"protocol":"IPv4","ip_address":"10.0.0.5"}],"name":"cni0",` +
		`"port_mappings":[{"host_port":31000,"container_port":80,"protocol":"tcp"}]}]},"healthy":false}],` +
		`"user":"nobody","labels":[{"key":"empty","value":""},{"key":"unset"}],` +
		`"discovery":{"visibility":"FRAMEWORK","name":"web","ports":{"ports":[{"number":31000,"name":"http","protocol":"tcp"}]}},` +
		`"container":{"type":"MESOS"}}`
	got := mustMarshal(t, task)
	eq(t, "task", got, want)

	back, err := decodeStrict[legacy.Task]([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "round trip", mustMarshal(t, back), want)
}

// TestFrameworkRoles: a MULTI_ROLE framework writes "roles" (even empty)
// and no "role"; others write "role" only.
func TestFrameworkRoles(t *testing.T) {
	multi := mustMarshal(t, legacy.AgentFramework{Roles: []string{}})
	single := mustMarshal(t, legacy.AgentFramework{Role: "*"})
	eq(t, "multi-role has roles", strings.Contains(multi, `"roles":[]`), true)
	eq(t, "multi-role has no role", strings.Contains(multi, `"role":`), false)
	eq(t, "single role has no roles", strings.Contains(single, `"roles"`), false)
	eq(t, "single role has role", strings.Contains(single, `"role":"*"`), true)
}

// TestMonitorEntry covers /monitor/statistics entries, which the recording
// has none of: keys sorted as Mesos writes them, and a measured zero kept.
func TestMonitorEntry(t *testing.T) {
	zero := uint32(0)
	user := legacy.Float(0.25)
	rss := uint64(1 << 20)
	limit := legacy.Float(0.2)
	e := legacy.MonitorStatistics{{
		ExecutorID: "cap-task-1", ExecutorName: "Command Executor", FrameworkID: "f1", Source: "cap-task-1",
		Statistics: legacy.ResourceStatistics{
			CPUsLimit: &limit, CPUsNrThrottled: &zero, CPUsUserTimeSecs: &user, MemRSSBytes: &rss,
			Perf:      legacy.ProtoJSON(`{"timestamp":1.0,"duration":0.5}`),
			Timestamp: 1795326126.5,
		},
	}}
	want := `[{"executor_id":"cap-task-1","executor_name":"Command Executor","framework_id":"f1","source":"cap-task-1",` +
		`"statistics":{"cpus_limit":0.2,"cpus_nr_throttled":0,"cpus_user_time_secs":0.25,"mem_rss_bytes":1048576,` +
		`"perf":{"timestamp":1.0,"duration":0.5},"timestamp":1795326126.5}}]`
	got := mustMarshal(t, e)
	eq(t, "entry", got, want)
	back, err := decodeStrict[legacy.MonitorStatistics]([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "round trip", mustMarshal(t, back), want)

	// The fields are declared in sorted key order, as Mesos writes them.
	typ := reflect.TypeFor[legacy.ResourceStatistics]()
	prev := ""
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name <= prev {
			t.Errorf("ResourceStatistics: %q is declared after %q", name, prev)
		}
		prev = name
	}
}

// TestNoHTMLEscaping: Marshal writes <, > and & as they are, at every
// depth, as Mesos does; control characters and invalid UTF-8 are escaped
// as encoding/json escapes them.
func TestNoHTMLEscaping(t *testing.T) {
	odd := "a<b>&c\"d\\e\n\t\x01\x7f\xff\u2028é"
	doc := legacy.Tasks{Tasks: legacy.List[legacy.Task]{{
		Name:      odd,
		Resources: legacy.Resources{{Name: odd, Value: legacy.TextValue(odd)}},
	}}}
	got := mustMarshal(t, doc)
	if !strings.Contains(got, "a<b>&c") || strings.Contains(got, `\u003c`) {
		t.Errorf("HTML-escaped: %s", got)
	}
	var want strings.Builder
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(odd); err != nil {
		t.Fatal(err)
	}
	quoted := strings.TrimSuffix(want.String(), "\n")
	if n := strings.Count(got, quoted); n != 3 {
		t.Errorf("want %s three times (name, resource name and value), found %d in %s", quoted, n, got)
	}
}
