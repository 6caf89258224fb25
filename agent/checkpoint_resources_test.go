package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// withVolume returns the agent's flag resources with cpus reserved for
// role db and disk:100 of the disk turned into volume v1 of db, as the
// master's total after RESERVE and CREATE.
func withVolume(flags []*mesos.Resource, volume bool) []*mesos.Resource {
	db := []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String("db"), Principal: proto.String("ops")}}
	var out []*mesos.Resource
	for _, r := range flags {
		r = proto.Clone(r).(*mesos.Resource)
		switch r.GetName() {
		case "cpus":
			r.Reservations = db
		case "disk":
			r.Scalar.Value = proto.Float64(r.GetScalar().GetValue() - 100)
			v := &mesos.Resource{Name: proto.String("disk"), Type: mesos.Value_SCALAR.Enum(),
				Scalar: &mesos.Value_Scalar{Value: proto.Float64(100)}, Reservations: db}
			if volume {
				v.Disk = &mesos.Resource_DiskInfo{
					Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String("v1"), Principal: proto.String("ops")},
					Volume:      &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()},
				}
			}
			out = append(out, v)
		}
		out = append(out, r)
	}
	return out
}

// TestCheckpointResourcesSurviveRestart: the total the master sends in
// CHECKPOINT_RESOURCES is checkpointed, survives a restart (the agent
// with unchanged flags is still compatible) and is reported in REGISTER;
// when a later total drops a volume the agent deletes its data.
func TestCheckpointResourcesSurviveRestart(t *testing.T) {
	m := newFakeMaster(t)
	work := t.TempDir()
	cfg := recoveryConfig(m, work)
	a1 := serveAt(t, cfg, "127.0.0.1:0")
	reg := waitRegistered(t, m, 1)
	if len(reg.GetCheckpointedResources()) != 0 {
		t.Fatalf("new agent reports checkpointed resources %v", reg.GetCheckpointedResources())
	}
	total := withVolume(reg.GetAgentInfo().GetResources(), true)
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_CHECKPOINT_RESOURCES.Enum(),
		CheckpointResources: &agentproto.AgentEvent_CheckpointResources{Resources: total}})
	path := filepath.Join(work, "meta", "slaves", "M1-S0", "resources", "resources.info")
	waitFor(t, 10*time.Second, "resources.info", func() error {
		_, err := os.Stat(path)
		return err
	})
	data := volumePath(work, "db", "v1")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	a1.Close()

	a2 := serveAt(t, cfg, "127.0.0.1:0")
	reg = waitRegistered(t, m, 2)
	if reg.GetAgentInfo().GetId().GetValue() != "M1-S0" {
		t.Fatalf("restarted agent registered as %v", reg.GetAgentInfo().GetId())
	}
	if !equalResources(reg.GetCheckpointedResources(), total) {
		t.Fatalf("restarted agent reports %v, want %v", reg.GetCheckpointedResources(), total)
	}
	if b, err := os.ReadFile(filepath.Join(data, "f")); err != nil || string(b) != "kept" {
		t.Fatalf("volume data after restart: %q, %v", b, err)
	}

	// DESTROY: the volume's data goes.
	m.send(&agentproto.AgentEvent{Type: agentproto.AgentEvent_CHECKPOINT_RESOURCES.Enum(),
		CheckpointResources: &agentproto.AgentEvent_CheckpointResources{Resources: withVolume(reg.GetAgentInfo().GetResources(), false)}})
	waitFor(t, 10*time.Second, "volume data deleted", func() error {
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			return errors.New("still there")
		}
		return nil
	})
	a2.Close()

	// Changed flags are still incompatible with the checkpoint.
	cfg.Resources = "cpus:3;mem:1024;disk:1024;ports:[31000-32000]"
	if _, err := New(cfg, nil); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("New with changed resources: %v", err)
	}
}

func equalResources(a, b []*mesos.Resource) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestCompatibleResources: the checkpointed total matches the flags once
// reservations and volumes are removed.
func TestCompatibleResources(t *testing.T) {
	flags := []*mesos.Resource{
		{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(2)}},
		{Name: proto.String("disk"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1024)}},
	}
	if err := compatibleResources(withVolume(flags, true), flags); err != nil {
		t.Fatal(err)
	}
	more := withVolume(flags, true)
	more[0].Scalar.Value = proto.Float64(3)
	if err := compatibleResources(more, flags); err == nil {
		t.Fatal("a total with more cpus than the flags is compatible")
	}
}
