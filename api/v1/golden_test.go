package v1_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/api/v1/scheduler"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/roundtrip")

const samples = "testdata/mesos-1.11"

// TestSchedulerStreamJSONByteForByte decodes every record of the JSON event
// stream recorded from Mesos 1.11.1 and re-encodes it: the re-framed stream
// must equal the recording byte for byte.
func TestSchedulerStreamJSONByteForByte(t *testing.T) {
	raw := readFile(t, samples+"/scheduler_stream_json.recordio")
	r := recordio.NewReader(bytes.NewReader(raw), 0)
	var out bytes.Buffer
	w := recordio.NewWriter(&out)
	n := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", n, err)
		}
		var ev scheduler.Event
		if err := codec.UnmarshalJSON(rec, &ev); err != nil {
			t.Fatalf("record %d: decode: %v", n, err)
		}
		got, err := codec.MarshalJSON(&ev)
		if err != nil {
			t.Fatalf("record %d: encode: %v", n, err)
		}
		if !bytes.Equal(got, rec) {
			t.Errorf("record %d (%s) differs:\n got %s\nwant %s\n%s", n, ev.GetType(), got, rec, jsonDiff(t, got, rec))
		}
		if err := w.Write(got); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 4 {
		t.Fatalf("only %d records in the recording", n)
	}
	if !bytes.Equal(out.Bytes(), raw) {
		t.Errorf("re-framed stream differs from the recording")
	}
}

// TestEventLogsJSON checks the per-event JSON logs (scheduler and executor
// streams) the same way.
func TestEventLogsJSON(t *testing.T) {
	cases := []struct {
		file string
		new  func() proto.Message
	}{
		{samples + "/scheduler_events_json.jsonl", func() proto.Message { return &scheduler.Event{} }},
		{samples + "/custom-executor/scheduler_events_json.jsonl", func() proto.Message { return &scheduler.Event{} }},
		{samples + "/custom-executor/executor_events_json.jsonl", func() proto.Message { return &executor.Event{} }},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(filepath.Dir(tc.file))+"/"+filepath.Base(tc.file), func(t *testing.T) {
			sc := bufio.NewScanner(bytes.NewReader(readFile(t, tc.file)))
			sc.Buffer(nil, 16<<20)
			n := 0
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				m := tc.new()
				if err := codec.UnmarshalJSON(line, m); err != nil {
					t.Fatalf("line %d: %v", n+1, err)
				}
				got, err := codec.MarshalJSON(m)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, line) {
					t.Errorf("line %d differs:\n got %s\nwant %s\n%s", n+1, got, line, jsonDiff(t, got, line))
				}
				n++
			}
			if n == 0 {
				t.Fatal("no events")
			}
		})
	}
}

// TestProtobufRecordings decodes the protobuf recordings: nothing may be
// left as an unknown field, and re-encoding gives the same bytes.
func TestProtobufRecordings(t *testing.T) {
	check := func(t *testing.T, name string, b []byte, m proto.Message) {
		t.Helper()
		if err := codec.UnmarshalProto(b, m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if path := unknownFields(m.ProtoReflect(), ""); path != "" {
			t.Errorf("%s: unknown fields at %s", name, path)
		}
		got, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s: re-encoded protobuf differs (%d vs %d bytes)", name, len(got), len(b))
		}
	}
	check(t, "scheduler_call_subscribe.pb", readFile(t, samples+"/scheduler_call_subscribe.pb"), &scheduler.Call{})
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("scheduler_event_%d.pb", i)
		check(t, name, readFile(t, samples+"/"+name), &scheduler.Event{})
	}
	check(t, "operator_GET_STATE_response.pb", readFile(t, samples+"/operator_GET_STATE_response.pb"), &master.Response{})

	var call scheduler.Call
	_ = codec.UnmarshalProto(readFile(t, samples+"/scheduler_call_subscribe.pb"), &call)
	if call.GetType() != scheduler.Call_SUBSCRIBE || call.GetSubscribe().GetFrameworkInfo().GetName() == "" {
		t.Errorf("SUBSCRIBE call decoded as %v", &call)
	}

	r := recordio.NewReader(bytes.NewReader(readFile(t, samples+"/scheduler_stream_protobuf.recordio")), 0)
	var types []string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev scheduler.Event
		check(t, "protobuf stream record", rec, &ev)
		types = append(types, ev.GetType().String())
	}
	if len(types) < 3 || types[0] != "SUBSCRIBED" {
		t.Errorf("protobuf stream events: %v", types)
	}
}

// TestOperatorAnswers decodes the master operator API answers recorded as
// JSON. Mesos writes these with its own writer, which emits empty arrays
// and leaves out fields whose value is the default, so they are compared
// as JSON values: every value of the recording must come back, and
// nothing may be added but default values.
func TestOperatorAnswers(t *testing.T) {
	files, err := filepath.Glob(samples + "/operator_*.json")
	if err != nil || len(files) < 8 {
		t.Fatalf("operator samples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw := readFile(t, f)
			var resp master.Response
			if err := codec.UnmarshalJSON(raw, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.GetType() == master.Response_UNKNOWN {
				t.Fatal("type not decoded")
			}
			full, err := codec.MarshalJSON(&resp)
			if err != nil {
				t.Fatal(err)
			}
			// Everything in the recording is in our encoding.
			if d := contains(decodeAny(t, full), decodeAny(t, raw), "$"); d != "" {
				t.Errorf("lost from the recording: %s", d)
			}
			// Everything in our encoding, defaults aside, was in the recording.
			lean, err := codec.JSONOptions{OmitDefaults: true}.Marshal(&resp)
			if err != nil {
				t.Fatal(err)
			}
			if d := contains(decodeAny(t, raw), decodeAny(t, lean), "$"); d != "" {
				t.Errorf("added to the recording: %s", d)
			}
		})
	}
}

func TestZooKeeperMasterInfo(t *testing.T) {
	raw := readFile(t, samples+"/zookeeper_json.info_0000000001.json")
	var mi mesos.MasterInfo
	if err := codec.UnmarshalJSON(raw, &mi); err != nil {
		t.Fatal(err)
	}
	if mi.GetIp() != 16777343 || mi.GetAddress().GetIp() != "127.0.0.1" || mi.GetPort() != 15050 {
		t.Fatalf("decoded %v", &mi)
	}
	got, err := codec.MarshalJSON(&mi)
	if err != nil {
		t.Fatal(err)
	}
	if d := contains(decodeAny(t, got), decodeAny(t, raw), "$"); d != "" {
		t.Errorf("lost: %s", d)
	}
}

// unknownFields returns the path of the first message holding unknown
// fields, or "".
func unknownFields(m protoreflect.Message, path string) string {
	if len(m.GetUnknown()) > 0 {
		return path + "<" + string(m.Descriptor().FullName()) + ">"
	}
	found := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					found = unknownFields(mv.Message(), p+"["+k.String()+"]")
					return found == ""
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len() && found == ""; i++ {
					found = unknownFields(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))
				}
			}
		case fd.Message() != nil:
			found = unknownFields(v.Message(), p)
		}
		return found == ""
	})
	return found
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	return v
}

// contains reports where big lacks something of small ("" if it lacks
// nothing). Numbers compare by value; an empty array in small matches an
// absent key in big.
func contains(big, small any, path string) string {
	switch s := small.(type) {
	case map[string]any:
		b, ok := big.(map[string]any)
		if !ok {
			return path + ": not an object"
		}
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			bv, ok := b[k]
			if !ok {
				if arr, isArr := s[k].([]any); isArr && len(arr) == 0 {
					continue
				}
				return path + "." + k + ": missing"
			}
			if d := contains(bv, s[k], path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		b, ok := big.([]any)
		if !ok || len(b) != len(s) {
			return fmt.Sprintf("%s: array of %d, want %d", path, len(b), len(s))
		}
		for i := range s {
			if d := contains(b[i], s[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case json.Number:
		bn, ok := big.(json.Number)
		if !ok {
			return path + ": not a number"
		}
		sf, _ := s.Float64()
		bf, _ := bn.Float64()
		if sf != bf {
			return fmt.Sprintf("%s: %s, want %s", path, bn, s)
		}
		return ""
	default:
		if !reflect.DeepEqual(big, small) {
			return fmt.Sprintf("%s: %v, want %v", path, big, small)
		}
		return ""
	}
}

func jsonDiff(t *testing.T, got, want []byte) string {
	if d := contains(decodeAny(t, got), decodeAny(t, want), "$"); d != "" {
		return "missing: " + d
	}
	if d := contains(decodeAny(t, want), decodeAny(t, got), "$"); d != "" {
		return "extra: " + d
	}
	return "same JSON value, different bytes (key order or number form)"
}

// roundTrip encodes m in both encodings, checks the result against the
// golden files testdata/roundtrip/<name>.{json,pb} and decodes it back.
func roundTrip(t *testing.T, name string, m proto.Message) {
	t.Helper()
	for _, f := range []codec.Format{codec.JSON, codec.Protobuf} {
		b, err := codec.Marshal(f, m)
		if err != nil {
			t.Fatal(err)
		}
		if f == codec.Protobuf {
			b, _ = proto.MarshalOptions{Deterministic: true}.Marshal(m)
		}
		ext := map[codec.Format]string{codec.JSON: ".json", codec.Protobuf: ".pb"}[f]
		golden := filepath.Join("testdata", "roundtrip", name+ext)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want := readFile(t, golden)
		if !bytes.Equal(b, want) {
			t.Errorf("%s: encoding differs from %s:\n got %q\nwant %q", name, golden, b, want)
		}
		back := m.ProtoReflect().New().Interface()
		if err := codec.Unmarshal(f, want, back); err != nil {
			t.Fatalf("%s %s: decode: %v", name, f, err)
		}
		if !proto.Equal(withDefaults(m), withDefaults(back)) {
			t.Errorf("%s %s: round trip changed the message:\n got %v\nwant %v", name, f, back, m)
		}
	}
}

// withDefaults returns m as JSON would carry it: the JSON form writes
// explicit defaults, so after a JSON round trip they are set.
func withDefaults(m proto.Message) proto.Message {
	b, err := codec.MarshalJSON(m)
	if err != nil {
		panic(err)
	}
	out := m.ProtoReflect().New().Interface()
	if err := codec.UnmarshalJSON(b, out); err != nil {
		panic(err)
	}
	return out
}

func TestRoundTripSchedulerMessages(t *testing.T) {
	fwID := &mesos.FrameworkID{Value: proto.String("0d6b0d59-8d4b-4ad5-b2b5-8b6f3e0c1a22-0000")}
	agentID := &mesos.AgentID{Value: proto.String("0d6b0d59-8d4b-4ad5-b2b5-8b6f3e0c1a22-S0")}
	offerID := &mesos.OfferID{Value: proto.String("0d6b0d59-8d4b-4ad5-b2b5-8b6f3e0c1a22-O7")}
	scalar := func(name string, v float64) *mesos.Resource {
		return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
			Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}, Role: proto.String("*")}
	}
	ports := &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(31000), End: proto.Uint64(32000)}}},
		Role:   proto.String("*")}

	roundTrip(t, "subscribe_call", &scheduler.Call{
		Type: scheduler.Call_SUBSCRIBE.Enum(),
		Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			User: proto.String("root"), Name: proto.String("demo"), FailoverTimeout: proto.Float64(604800),
			Checkpoint: proto.Bool(true), Roles: []string{"web", "batch"},
			Capabilities: []*mesos.FrameworkInfo_Capability{
				{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()},
				{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()},
			},
			Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("team"), Value: proto.String("infra")}}},
		}},
	})
	roundTrip(t, "offers_event", &scheduler.Event{
		Type: scheduler.Event_OFFERS.Enum(),
		Offers: &scheduler.Event_Offers{Offers: []*mesos.Offer{{
			Id: offerID, FrameworkId: fwID, AgentId: agentID, Hostname: proto.String("node1"),
			Url: &mesos.URL{Scheme: proto.String("http"), Address: &mesos.Address{
				Hostname: proto.String("node1"), Ip: proto.String("10.0.0.5"), Port: proto.Int32(5051)}, Path: proto.String("/slave(1)")},
			Resources:  []*mesos.Resource{scalar("cpus", 4), scalar("mem", 15360), scalar("disk", 100000), ports},
			Attributes: []*mesos.Attribute{{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}}},
		}}},
	})
	roundTrip(t, "accept_launch_call", &scheduler.Call{
		FrameworkId: fwID,
		Type:        scheduler.Call_ACCEPT.Enum(),
		Accept: &scheduler.Call_Accept{
			OfferIds: []*mesos.OfferID{offerID},
			Operations: []*mesos.Offer_Operation{{
				Type: mesos.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{{
					Name: proto.String("web-1"), TaskId: &mesos.TaskID{Value: proto.String("web-1")}, AgentId: agentID,
					Resources: []*mesos.Resource{scalar("cpus", 0.5), scalar("mem", 128)},
					Command: &mesos.CommandInfo{
						Value: proto.String("python3 -m http.server $PORT0"),
						Uris:  []*mesos.CommandInfo_URI{{Value: proto.String("http://example.invalid/site.tgz"), Extract: proto.Bool(true)}},
						Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
							{Name: proto.String("PORT0"), Value: proto.String("31000")}}},
					},
					Data: []byte{0, 1, 2, 0xff},
				}}},
			}},
			Filters: &mesos.Filters{RefuseSeconds: proto.Float64(30)},
		},
	})
	roundTrip(t, "update_event", &scheduler.Event{
		Type: scheduler.Event_UPDATE.Enum(),
		Update: &scheduler.Event_Update{Status: &mesos.TaskStatus{
			TaskId: &mesos.TaskID{Value: proto.String("web-1")}, State: mesos.TaskState_TASK_FAILED.Enum(),
			Message: proto.String("Command exited with status 3"), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
			Reason: mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum(), AgentId: agentID,
			ExecutorId: &mesos.ExecutorID{Value: proto.String("web-1")}, Timestamp: proto.Float64(1795326125.585411),
			Uuid: []byte("0123456789abcdef"),
		}},
	})
}

func TestBadCallsAreRejectedWithThePath(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}`, "missing required field"},
		{`{"type":"ACCEPT","accept":{"offer_ids":[{"value":7}]}}`, "accept.offer_ids[0].value: expected a string"},
		{`{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"soon"}}}`, "decline.filters.refuse_seconds: expected a number"},
		{`"SUBSCRIBE"`, "expected a JSON object"},
	}
	for _, tc := range cases {
		var c scheduler.Call
		err := codec.UnmarshalJSON([]byte(tc.body), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("%s: got %v, want %q", tc.body, err, tc.want)
		}
	}
	// A protobuf body that is not a Call.
	var c scheduler.Call
	if err := codec.UnmarshalProto([]byte{0xff, 0xff, 0xff}, &c); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("garbage protobuf: %v", err)
	}
}

func FuzzSchedulerCallJSON(f *testing.F) {
	f.Add([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`))
	f.Add([]byte(`{"framework_id":{"value":"x"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[]}}]}}`))
	f.Add([]byte(`{"type":"REVIVE","revive":{"roles":["a"]},"framework_id":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c scheduler.Call
		if err := codec.UnmarshalJSON(data, &c); err != nil {
			if !errors.Is(err, codec.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		b, err := codec.MarshalJSON(&c)
		if err != nil {
			// NaN and infinities decode but have no JSON form.
			return
		}
		var back scheduler.Call
		if err := codec.UnmarshalJSON(b, &back); err != nil {
			t.Fatalf("re-decoding our own output %s: %v", b, err)
		}
	})
}
