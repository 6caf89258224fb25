package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// operatorCall POSTs a JSON operator call to the master's /api/v1 and
// checks that it was accepted.
func operatorCall(t *testing.T, master, body string) {
	t.Helper()
	resp, err := http.Post("http://"+master+"/api/v1", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		t.Fatalf("operator call %s: %s: %s", body, resp.Status, b[:n])
	}
}

// volumeFramework runs its tasks one after the other, each on the first
// offer carrying the persistent volume volID, with the volume in the
// task's resources; other offers are declined briefly.
type volumeFramework struct {
	t      *testing.T
	client *scheduler.Client
	volID  string
	cmds   []string // one task per command, in order

	mu      sync.Mutex
	next    int  // index of the next task to launch
	running bool // a task was launched and has not ended
	states  map[string][]string
	final   map[string]*mesos.TaskStatus
}

func (f *volumeFramework) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			task := f.taskFor(o)
			if task == nil {
				_ = f.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(0.2)})
				continue
			}
			if err := f.client.Launch(ctx, o.GetId(), task); err != nil {
				return err
			}
		}
	case schedpb.Event_UPDATE:
		s := ev.GetUpdate().GetStatus()
		id := s.GetTaskId().GetValue()
		f.mu.Lock()
		f.states[id] = append(f.states[id], s.GetState().String())
		if scheduler.IsTerminal(s.GetState()) {
			f.final[id] = s
			f.running = false
		}
		f.mu.Unlock()
	}
	return nil
}

// taskFor returns the next task to launch on offer o, or nil.
func (f *volumeFramework) taskFor(o *mesos.Offer) *mesos.TaskInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running || f.next >= len(f.cmds) {
		return nil
	}
	var vol, cpus, mem *mesos.Resource
	for _, r := range o.GetResources() {
		switch {
		case r.GetDisk().GetPersistence().GetId() == f.volID:
			vol = r
		case r.GetName() == "cpus" && len(r.GetReservations()) == 0 && r.GetScalar().GetValue() >= 0.1:
			cpus = proto.Clone(r).(*mesos.Resource)
			cpus.Scalar.Value = proto.Float64(0.1)
		case r.GetName() == "mem" && len(r.GetReservations()) == 0 && r.GetScalar().GetValue() >= 32:
			mem = proto.Clone(r).(*mesos.Resource)
			mem.Scalar.Value = proto.Float64(32)
		}
	}
	if vol == nil || cpus == nil || mem == nil {
		return nil
	}
	id := fmt.Sprintf("vol-task-%d", f.next)
	task := &mesos.TaskInfo{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: o.GetAgentId(),
		Command:   &mesos.CommandInfo{Value: proto.String(f.cmds[f.next])},
		Resources: []*mesos.Resource{cpus, mem, vol}}
	f.next++
	f.running = true
	return task
}

func (f *volumeFramework) waitFinal(id string, limit time.Duration) *mesos.TaskStatus {
	f.t.Helper()
	var s *mesos.TaskStatus
	waitFor(f.t, limit, id+" to end", func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if s = f.final[id]; s == nil {
			return fmt.Errorf("updates so far: %v", f.states)
		}
		return nil
	})
	return s
}

// An operator reserves disk for role eng and creates a persistent volume
// on it; a framework of role eng runs a task that writes to the volume,
// then a second task on the re-offered volume that reads the data back.
// The data lives in the agent's work dir, under Mesos' volume layout.
func TestAgentPersistentVolume(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024")
	var st struct {
		Slaves []struct {
			ID string `json:"id"`
		} `json:"slaves"`
	}
	if err := getJSON("http://"+c.master+"/master/state", &st); err != nil || len(st.Slaves) != 1 {
		t.Fatalf("state: %v %+v", err, st)
	}
	agentID := st.Slaves[0].ID
	reserved := `{"name":"disk","type":"SCALAR","scalar":{"value":64},"reservations":[{"type":"DYNAMIC","role":"eng","principal":"ops"}]`
	operatorCall(t, c.master, `{"type":"RESERVE_RESOURCES","reserve_resources":{"agent_id":{"value":"`+agentID+`"},"resources":[`+reserved+`}]}}`)
	operatorCall(t, c.master, `{"type":"CREATE_VOLUMES","create_volumes":{"agent_id":{"value":"`+agentID+`"},"volumes":[`+reserved+
		`,"disk":{"persistence":{"id":"vol-e2e","principal":"ops"},"volume":{"container_path":"data","mode":"RW"}}}]}}`)

	fw := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("volumes"), Roles: []string{"eng"},
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}}}
	f := &volumeFramework{t: t, volID: "vol-e2e", states: map[string][]string{}, final: map[string]*mesos.TaskStatus{},
		cmds: []string{
			"test -L data && echo written-by-task-0 > data/msg",
			"grep -qx written-by-task-0 data/msg && echo read-by-task-1 >> data/msg",
		}}
	f.client = scheduler.New(scheduler.Config{Master: c.master, Framework: fw, AutoAcknowledge: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.client.Run(ctx, f.handle)
	}()
	t.Cleanup(func() { cancel(); <-done })

	for _, id := range []string{"vol-task-0", "vol-task-1"} {
		s := f.waitFinal(id, 60*time.Second)
		if s.GetState() != mesos.TaskState_TASK_FINISHED {
			t.Fatalf("%s ended %v: %q (updates %v)", id, s.GetState(), s.GetMessage(), f.states)
		}
	}
	path := filepath.Join(c.work, "agent0", "volumes", "roles", "eng", "vol-e2e", "msg")
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "written-by-task-0\nread-by-task-1\n" {
		t.Fatalf("%s: %q, %v", path, b, err)
	}
}

// A task asking for a Docker container fails at the agent without
// running anything.
func TestAgentRefusesDockerTask(t *testing.T) {
	c := startCluster(t, 1, "cpus:2;mem:1024;disk:1024")
	marker := filepath.Join(t.TempDir(), "ran")
	fw := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("docker")}
	var mu sync.Mutex
	var final *mesos.TaskStatus
	launched := false
	var client *scheduler.Client
	client = scheduler.New(scheduler.Config{Master: c.master, Framework: fw, AutoAcknowledge: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
			mu.Lock()
			defer mu.Unlock()
			switch ev.GetType() {
			case schedpb.Event_OFFERS:
				for _, o := range ev.GetOffers().GetOffers() {
					if launched {
						_ = client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
						continue
					}
					launched = true
					task := &mesos.TaskInfo{Name: proto.String("d"), TaskId: &mesos.TaskID{Value: proto.String("d")}, AgentId: o.GetAgentId(),
						Command:   &mesos.CommandInfo{Value: proto.String("touch " + marker)},
						Resources: []*mesos.Resource{benchScalar("cpus", 0.1), benchScalar("mem", 32)},
						Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
							Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("busybox")}}}
					if err := client.Launch(ctx, o.GetId(), task); err != nil {
						return err
					}
				}
			case schedpb.Event_UPDATE:
				if s := ev.GetUpdate().GetStatus(); scheduler.IsTerminal(s.GetState()) {
					final = s
				}
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 60*time.Second, "terminal update", func() error {
		mu.Lock()
		defer mu.Unlock()
		if final == nil {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	mu.Lock()
	s := final
	mu.Unlock()
	if s.GetState() != mesos.TaskState_TASK_FAILED || s.GetSource() != mesos.TaskStatus_SOURCE_AGENT ||
		s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED ||
		!strings.Contains(s.GetMessage(), "Docker containers are not supported by this agent (--containerizers=mesos)") {
		t.Fatalf("status %v", s)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the Docker task ran on the host")
	}
}
