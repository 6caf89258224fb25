package v1_test

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// recordedEvents returns the scheduler events recorded from Mesos.
func recordedEvents(b *testing.B) []*scheduler.Event {
	raw := readFileB(b, samples+"/scheduler_events_json.jsonl")
	var out []*scheduler.Event
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var ev scheduler.Event
		if err := codec.UnmarshalJSON(sc.Bytes(), &ev); err != nil {
			b.Fatal(err)
		}
		out = append(out, &ev)
	}
	return out
}

func readFileB(b *testing.B, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkEncodeEventsJSON(b *testing.B) {
	evs := recordedEvents(b)
	b.ReportAllocs()
	var n int
	for i := 0; i < b.N; i++ {
		for _, ev := range evs {
			out, err := codec.MarshalJSON(ev)
			if err != nil {
				b.Fatal(err)
			}
			n += len(out)
		}
	}
	b.SetBytes(int64(n / b.N))
}

func BenchmarkDecodeEventsJSON(b *testing.B) {
	evs := recordedEvents(b)
	var docs [][]byte
	for _, ev := range evs {
		out, _ := codec.MarshalJSON(ev)
		docs = append(docs, out)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			var ev scheduler.Event
			if err := codec.UnmarshalJSON(d, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEncodeEventsProtobuf(b *testing.B) {
	evs := recordedEvents(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, ev := range evs {
			if _, err := proto.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
}
