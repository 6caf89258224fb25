package v0test

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestRecordedBodiesRoundTrip decodes every message to or from a scheduler of
// the recorded sessions with Mezzo's v0 types and checks that nothing is
// left unknown and that encoding it again gives the recorded bytes: the
// field numbers and types Mezzo declares are Mesos'.
func TestRecordedBodiesRoundTrip(t *testing.T) {
	files := []string{"scheduler-test-framework.txt", "scheduler-test-framework-explicit-acks.txt",
		"command-tasks.txt", "v0-exerciser.txt", "scheduler-executor-launch-failure.txt", "master-failover.txt"}
	checked := 0
	for _, file := range files {
		entries, err := ReadTranscript("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			t.Fatalf("%s: no messages parsed", file)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.From, "scheduler-") && !strings.HasPrefix(e.To, "scheduler-") {
				continue // agents and executors: Mezzo's agents speak their own protocol
			}
			m := NewMessage(e.Name)
			if m == nil {
				t.Fatalf("%s #%d: no type for %s", file, e.Seq, e.Name)
			}
			if err := proto.Unmarshal(e.Body, m); err != nil {
				t.Fatalf("%s #%d %s: %v", file, e.Seq, e.Name, err)
			}
			if u := unknownFields(m.ProtoReflect()); u != "" {
				t.Errorf("%s #%d %s: unknown fields in %s", file, e.Seq, e.Name, u)
			}
			again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatalf("%s #%d: marshal: %v", file, e.Seq, err)
			}
			if !bytes.Equal(again, e.Body) {
				t.Errorf("%s #%d %s: re-encoded bytes differ from the recording", file, e.Seq, e.Name)
			}
			checked++
		}
	}
	if checked < 60 {
		t.Fatalf("only %d messages checked", checked)
	}
	t.Logf("%d recorded messages round-trip", checked)
}
