package legacy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/api/legacy"
)

// The documents under testdata/ were recorded from Mesos 1.11.1 (see
// testdata/README.md). Each golden test decodes one strictly, so that a key
// the types do not model fails the test, re-encodes it, and requires the
// result to equal the recording as JSON and byte for byte.

func TestMasterState(t *testing.T) {
	s := roundTrip[legacy.MasterState](t, "master_state.json")
	eq(t, "version", s.Version, "1.11.1")
	eq(t, "leader", s.Leader, "master@127.0.0.1:5050")
	eq(t, "leader_info.port", s.LeaderInfo.Port, int32(5050))
	eq(t, "activated_slaves", s.ActivatedSlaves, legacy.Float(1))
	eq(t, "flags.port", s.Flags["port"], "5050")
	eq(t, "len(slaves)", len(s.Slaves), 1)
	sl := s.Slaves[0]
	eq(t, "slaves[0].pid", sl.PID, "slave(1)@127.0.0.1:5051")
	eq(t, "slaves[0].port", sl.Port, int32(5051))
	eq(t, "slaves[0].resources.mem", sl.Resources.Scalar("mem"), 23081.0)
	ports, _ := sl.Resources.Get("ports")
	rs, err := ports.Ranges()
	if err != nil || !reflect.DeepEqual(rs, []legacy.Range{{Begin: 31000, End: 32000}}) {
		t.Errorf("slaves[0].resources.ports = %v, %v; want [31000-32000]", rs, err)
	}
	eq(t, "len(frameworks)", len(s.Frameworks), 1)
	fw := s.Frameworks[0]
	eq(t, "frameworks[0].name", fw.Name, "capture")
	eq(t, "frameworks[0].role", fw.Role, "*")
	eq(t, "frameworks[0].offers[1].resources.cpus", fw.Offers[1].Resources.Scalar("cpus"), 1.9)
	task := fw.CompletedTasks[0]
	eq(t, "completed_tasks[0].state", task.State, "TASK_FINISHED")
	st := task.Statuses[1]
	eq(t, "statuses[1].state", st.State, "TASK_RUNNING")
	eq(t, "statuses[1].timestamp", st.Timestamp, legacy.Float(1795326125.590152))
	eq(t, "statuses[1].container_status.network_infos[0].ip_addresses[0].ip_address",
		st.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress, "127.0.0.1")
	eq(t, "completed_frameworks[0].unregistered_time", s.CompletedFrameworks[0].UnregisteredTime, legacy.Float(1795326119.53027))
}

func TestMasterStateSummary(t *testing.T) {
	s := roundTrip[legacy.StateSummary](t, "master_state-summary.json")
	eq(t, "hostname", s.Hostname, "localhost")
	eq(t, "slaves[0].TASK_FINISHED", s.Slaves[0].Finished, int64(1))
	eq(t, "slaves[0].framework_ids", []string(s.Slaves[0].FrameworkIDs), []string{"87461166-a4bf-42a1-8d49-f3fb623a911b-0001"})
	eq(t, "slaves[0].capabilities[7]", s.Slaves[0].Capabilities[7], "TASK_RESOURCE_LIMITS")
	eq(t, "frameworks[0].slave_ids", []string(s.Frameworks[0].SlaveIDs), []string{"87461166-a4bf-42a1-8d49-f3fb623a911b-S0"})
	eq(t, "frameworks[0].connected", s.Frameworks[0].Connected, true)
}

func TestMasterFrameworks(t *testing.T) {
	s := roundTrip[legacy.Frameworks](t, "master_frameworks.json")
	eq(t, "len(frameworks)", len(s.Frameworks), 1)
	eq(t, "len(frameworks[0].offers)", len(s.Frameworks[0].Offers), 2)
	eq(t, "frameworks[0].offers[0].allocation_info.role", s.Frameworks[0].Offers[0].AllocationInfo.Role, "*")
	eq(t, "frameworks[0].capabilities", []string(s.Frameworks[0].Capabilities), []string{"PARTITION_AWARE"})
	eq(t, "completed_frameworks[0].id", s.CompletedFrameworks[0].ID, "87461166-a4bf-42a1-8d49-f3fb623a911b-0000")
	eq(t, "completed_frameworks[0].active", s.CompletedFrameworks[0].Active, false)
}

func TestMasterSlaves(t *testing.T) {
	s := roundTrip[legacy.Slaves](t, "master_slaves.json")
	sl := s.Slaves[0]
	eq(t, "slaves[0].hostname", sl.Hostname, "localhost")
	eq(t, "slaves[0].registered_time", sl.RegisteredTime, legacy.Float(1795326114.206433))
	eq(t, "len(unreserved_resources_full)", len(sl.UnreservedResourcesFull), 4)
	eq(t, "len(used_resources_full)", len(sl.UsedResourcesFull), 0)
	var ports struct {
		Name           string
		AllocationInfo struct{ Role string } `json:"allocation_info"`
	}
	if err := json.Unmarshal(sl.OfferedResourcesFull[0], &ports); err != nil {
		t.Fatal(err)
	}
	eq(t, "offered_resources_full[0].name", ports.Name, "ports")
	eq(t, "offered_resources_full[0].allocation_info.role", ports.AllocationInfo.Role, "*")
}

func TestMasterTasks(t *testing.T) {
	s := roundTrip[legacy.Tasks](t, "master_tasks.json")
	eq(t, "len(tasks)", len(s.Tasks), 1)
	task := s.Tasks[0]
	eq(t, "tasks[0].id", task.ID, "cap-task-1")
	eq(t, "tasks[0].executor_id", task.ExecutorID, "")
	eq(t, "tasks[0].resources.mem", task.Resources.Scalar("mem"), 32.0)
	eq(t, "tasks[0].resources.cpus", task.Resources.Scalar("cpus"), 0.1)
	eq(t, "tasks[0].statuses[0].container_status.container_id.value",
		task.Statuses[0].ContainerStatus.ContainerID.Value, "34afed98-56f6-4285-89a2-3839335dd084")
}

func TestMasterRoles(t *testing.T) {
	s := roundTrip[legacy.Roles](t, "master_roles.json")
	r := s.Roles[0]
	eq(t, "roles[0].name", r.Name, "*")
	eq(t, "roles[0].weight", r.Weight, legacy.Float(1))
	eq(t, "roles[0].quota.role", r.Quota.Role, "*")
	eq(t, "roles[0].resources.ports", r.Resources["ports"], legacy.Float(1001))
	eq(t, "roles[0].offered.mem", r.Offered["mem"], legacy.Float(23081))
	eq(t, "len(roles[0].allocated)", len(r.Allocated), 0)
}

func TestMasterFlags(t *testing.T) {
	s := roundTrip[legacy.FlagsDocument](t, "master_flags.json")
	eq(t, "flags.work_dir", s.Flags["work_dir"], "/tmp/mm")
	eq(t, "flags.min_allocatable_resources", s.Flags["min_allocatable_resources"], "cpus:0.01|mem:32")
}

func TestMasterVersion(t *testing.T) {
	s := roundTrip[legacy.Version](t, "master_version.json")
	eq(t, "version", s.Version, "1.11.1")
	eq(t, "build_time", s.BuildTime, legacy.Float(1795323047))
}

func TestMasterMetrics(t *testing.T) {
	s := roundTrip[legacy.Metrics](t, "master_metrics_snapshot.json")
	if len(s) < 100 {
		t.Errorf("len = %d, want the whole snapshot", len(s))
	}
	eq(t, "master/elected", s["master/elected"], legacy.Float(1))
	eq(t, "allocator/mesos/allocation_run_ms/p9999", s["allocator/mesos/allocation_run_ms/p9999"], legacy.Float(0.2936883200000001))
}

func TestAgentState(t *testing.T) {
	s := roundTrip[legacy.AgentState](t, "agent_state.json")
	eq(t, "id", s.ID, "87461166-a4bf-42a1-8d49-f3fb623a911b-S0")
	eq(t, "pid", s.PID, "slave(1)@127.0.0.1:5051")
	eq(t, "master_hostname", s.MasterHostname, "localhost")
	eq(t, "flags.launcher_dir", s.Flags["launcher_dir"], "<launcher_dir>")
	eq(t, "unreserved_resources_allocated.cpus", s.UnreservedResourcesAllocated.Scalar("cpus"), 0.0)
	eq(t, "len(unreserved_resources_full)", len(s.UnreservedResourcesFull), 4)
	eq(t, "len(frameworks)", len(s.Frameworks), 0)
	fw := s.CompletedFrameworks[0]
	eq(t, "completed_frameworks[0].checkpoint", fw.Checkpoint, true)
	ex := fw.CompletedExecutors[0]
	eq(t, "completed_executors[0].container", ex.Container, "34afed98-56f6-4285-89a2-3839335dd084")
	eq(t, "completed_executors[0].source", ex.Source, "cap-task-1")
	eq(t, "completed_executors[0].role", ex.Role, "*")
	eq(t, "completed_executors[0].completed_tasks[0].state", ex.CompletedTasks[0].State, "TASK_FINISHED")
}

func TestAgentFlags(t *testing.T) {
	s := roundTrip[legacy.FlagsDocument](t, "agent_flags.json")
	eq(t, "flags.port", s.Flags["port"], "5051")
	eq(t, "flags.isolation", s.Flags["isolation"], "posix/cpu,posix/mem")
}

func TestAgentMetrics(t *testing.T) {
	s := roundTrip[legacy.Metrics](t, "agent_metrics_snapshot.json")
	eq(t, "slave/tasks_finished", s["slave/tasks_finished"], legacy.Float(1))
	eq(t, "system/mem_total_bytes", s["system/mem_total_bytes"], legacy.Float(25276502016))
}

func TestAgentMonitorStatistics(t *testing.T) {
	// The recording was taken after the only task finished, so it is
	// empty; TestMonitorEntry covers the entries.
	s := roundTrip[legacy.MonitorStatistics](t, "agent_monitor_statistics.json")
	if s == nil || len(s) != 0 {
		t.Errorf("got %#v, want an empty, non-nil list", s)
	}
}

func TestAgentFilesBrowse(t *testing.T) {
	s := roundTrip[legacy.FileListing](t, "agent_files_browse.json")
	eq(t, "len", len(s), 3)
	eq(t, "[1].path", filepath.Base(s[1].Path), "stdout")
	eq(t, "[1].size", s[1].Size, uint64(4))
	eq(t, "[1].mode", s[1].Mode, "-rw-r--r--")
	eq(t, "[0].mtime", s[0].MTime, legacy.Float(1795326127))
	eq(t, "[0].nlink", s[0].NLink, int32(1))
}

func TestAgentFilesRead(t *testing.T) {
	s := roundTrip[legacy.FileData](t, "agent_files_read_stdout.json")
	eq(t, "data", s.Data, "out\n")
	eq(t, "offset", s.Offset, int64(0))
}

// TestNoKeyDropped adds an unknown key, once with a number and once with a
// string value, to every object of every recorded document. Each time the
// document must either fail to decode (a struct that does not model the
// key) or come back with the key in place (an open map such as flags or
// resources, or a verbatim protobuf message): no key may be dropped
// silently. The golden tests rely on this strictness.
func TestNoKeyDropped(t *testing.T) {
	check := func(t *testing.T, file string, decode func([]byte) ([]byte, error)) {
		doc := parseAny(t, readSample(t, file))
		paths := objectPaths(doc, "")
		if len(paths) == 0 {
			return
		}
		for _, path := range paths {
			for _, val := range []any{json.Number("7"), "seven"} {
				mutated := deepCopy(doc)
				lookup(mutated, path).(map[string]any)["zz_injected"] = val
				in, err := json.Marshal(mutated)
				if err != nil {
					t.Fatal(err)
				}
				out, err := decode(in)
				if err != nil {
					continue // rejected: fine
				}
				obj, ok := lookup(parseAny(t, out), path).(map[string]any)
				if !ok || !reflect.DeepEqual(normalize(obj["zz_injected"]), normalize(val)) {
					t.Errorf("%s: key injected at %s was dropped", file, pathOrRoot(path))
				}
			}
		}
	}
	for _, c := range documents {
		t.Run(c.file, func(t *testing.T) { check(t, c.file, c.decode) })
	}
}

// documents lists every recorded document with a strict decode and
// re-encode of its type.
var documents = []struct {
	file   string
	decode func([]byte) ([]byte, error)
}{
	{"master_state.json", reencode[legacy.MasterState]},
	{"master_state-summary.json", reencode[legacy.StateSummary]},
	{"master_frameworks.json", reencode[legacy.Frameworks]},
	{"master_slaves.json", reencode[legacy.Slaves]},
	{"master_tasks.json", reencode[legacy.Tasks]},
	{"master_roles.json", reencode[legacy.Roles]},
	{"master_flags.json", reencode[legacy.FlagsDocument]},
	{"master_version.json", reencode[legacy.Version]},
	{"master_metrics_snapshot.json", reencode[legacy.Metrics]},
	{"agent_state.json", reencode[legacy.AgentState]},
	{"agent_flags.json", reencode[legacy.FlagsDocument]},
	{"agent_metrics_snapshot.json", reencode[legacy.Metrics]},
	{"agent_monitor_statistics.json", reencode[legacy.MonitorStatistics]},
	{"agent_files_browse.json", reencode[legacy.FileListing]},
	{"agent_files_read_stdout.json", reencode[legacy.FileData]},
}

// TestEveryDocumentCovered keeps the list above and the golden files in
// step: each file in testdata/ is exercised.
func TestEveryDocumentCovered(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range documents {
		listed[c.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in documents", f)
		}
	}
}

// roundTrip decodes testdata/file strictly into a T, re-encodes it with
// legacy.Marshal and with json.Marshal, and requires both to equal the
// recording as JSON values, and legacy.Marshal's output to equal it byte
// for byte.
func roundTrip[T any](t *testing.T, file string) T {
	t.Helper()
	raw := readSample(t, file)
	v, err := decodeStrict[T](raw)
	if err != nil {
		t.Fatalf("%s: decode: %v", file, err)
	}
	got, err := legacy.Marshal(v)
	if err != nil {
		t.Fatalf("%s: encode: %v", file, err)
	}
	if path, diff := jsonDiff(parseAny(t, got), parseAny(t, raw), ""); diff != "" {
		t.Errorf("%s: re-encoded document differs at %s: %s", file, pathOrRoot(path), diff)
	} else if i, alt := bytesDiff(got, raw); i >= 0 {
		t.Errorf("%s: same JSON but not the same bytes; from byte %d:\n got %s\nwant %s",
			file, i, excerpt(got, i), excerpt(raw, i))
	} else {
		for _, a := range alt {
			t.Logf("%s: %s", file, a)
		}
	}
	std, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: json.Marshal: %v", file, err)
	}
	if path, diff := jsonDiff(parseAny(t, std), parseAny(t, raw), ""); diff != "" {
		t.Errorf("%s: json.Marshal output differs at %s: %s", file, pathOrRoot(path), diff)
	}
	return v
}

func reencode[T any](data []byte) ([]byte, error) {
	v, err := decodeStrict[T](data)
	if err != nil {
		return nil, err
	}
	return legacy.Marshal(v)
}

func decodeStrict[T any](data []byte) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, fmt.Errorf("data after the document (%v)", err)
	}
	return v, nil
}

func readSample(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func eq[V any](t *testing.T, what string, got, want V) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// parseAny decodes data into maps, slices and json.Numbers.
func parseAny(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, data)
	}
	return v
}

// normalize turns json.Numbers into float64, so that 1 and 1.0 compare
// equal (the byte comparison checks the number form).
func normalize(v any) any {
	if n, ok := v.(json.Number); ok {
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return string(n)
		}
		return f
	}
	return v
}

// jsonDiff returns the path of the first difference between two decoded
// JSON values, and what differs there; "" when they are equal.
func jsonDiff(got, want any, path string) (string, string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, fmt.Sprintf("got %s, want an object", short(got))
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				return path + "." + k, "missing"
			case !wok:
				return path + "." + k, fmt.Sprintf("unexpected key (%s)", short(gv))
			}
			if p, d := jsonDiff(gv, wv, path+"."+k); d != "" {
				return p, d
			}
		}
		return "", ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return path, fmt.Sprintf("got %s, want an array", short(got))
		}
		for i := 0; i < len(w) && i < len(g); i++ {
			if p, d := jsonDiff(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return p, d
			}
		}
		if len(g) != len(w) {
			return path, fmt.Sprintf("got %d elements, want %d", len(g), len(w))
		}
		return "", ""
	default:
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			return path, fmt.Sprintf("got %s, want %s", short(got), short(want))
		}
		return "", ""
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

func pathOrRoot(p string) string {
	if p == "" {
		return "the root"
	}
	return p
}

// bytesDiff returns the offset of the first difference between got and
// want, or -1 if they are the same bytes but for doubles written with other
// digits for the same value (listed in alt).
//
// Mesos formats doubles with rapidjson's Grisu2, which now and then ends
// the shortest form one unit off in the last digit (0.017149440000000003
// for the double nearest 0.017149440000000002); codec.AppendFloat writes
// the closest shortest digits. Such a pair is the same number, of the same
// length, differing in its last digit only.
func bytesDiff(got, want []byte) (int, []string) {
	var alt []string
	i := 0
	for {
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		if i == len(got) && i == len(want) {
			return -1, alt
		}
		gs, ge := numberAround(got, i)
		ws, we := numberAround(want, i)
		if gs < 0 || ws < 0 || gs != ws || ge != we || ge-i != 1 {
			return i, nil
		}
		g, err1 := strconv.ParseFloat(string(got[gs:ge]), 64)
		w, err2 := strconv.ParseFloat(string(want[ws:we]), 64)
		if err1 != nil || err2 != nil || g != w {
			return i, nil
		}
		alt = append(alt, fmt.Sprintf("Mesos wrote %s where we write %s (the same double)", want[ws:we], got[gs:ge]))
		i = ge
	}
}

// numberAround returns the bounds of the JSON number (without exponent)
// around offset i of b, or -1, -1 if b[i] is not a digit in one.
func numberAround(b []byte, i int) (int, int) {
	isNum := func(c byte) bool { return c >= '0' && c <= '9' || c == '.' || c == '-' }
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return -1, -1
	}
	s, e := i, i
	for s > 0 && isNum(b[s-1]) {
		s--
	}
	for e < len(b) && isNum(b[e]) {
		e++
	}
	if s == 0 || b[s-1] != ':' && b[s-1] != ',' && b[s-1] != '[' {
		return -1, -1
	}
	return s, e
}

func excerpt(b []byte, i int) string {
	lo, hi := max(0, i-40), min(len(b), i+40)
	return strconv.Quote(string(b[lo:hi]))
}

// objectPaths lists the paths of every object in v, in jsonDiff's notation.
func objectPaths(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		out = append(out, path)
		for k, e := range x {
			out = append(out, objectPaths(e, path+"."+k)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, objectPaths(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	sort.Strings(out)
	return out
}

// lookup follows a path from objectPaths.
func lookup(v any, path string) any {
	for path != "" {
		switch {
		case path[0] == '.':
			end := strings.IndexAny(path[1:], ".[")
			if end < 0 {
				end = len(path) - 1
			}
			m, _ := v.(map[string]any)
			v, path = m[path[1:end+1]], path[end+1:]
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			i, _ := strconv.Atoi(path[1:end])
			a, _ := v.([]any)
			if i >= len(a) {
				return nil
			}
			v, path = a[i], path[end+1:]
		default:
			return nil
		}
	}
	return v
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	default:
		return v
	}
}
