package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

// runVolumeTask runs one task of a new framework of role eng on the
// offered volume vol-e2e and checks that it finishes.
func runVolumeTask(t *testing.T, master, name, cmd string) {
	t.Helper()
	fw := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String(name), Roles: []string{"eng"},
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}}}
	f := &volumeFramework{t: t, volID: "vol-e2e", states: map[string][]string{}, final: map[string]*mesos.TaskStatus{}, cmds: []string{cmd}}
	f.client = scheduler.New(scheduler.Config{Master: master, Framework: fw, AutoAcknowledge: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.client.Run(ctx, f.handle)
	}()
	defer func() { cancel(); <-done }()
	s := f.waitFinal("vol-task-0", 60*time.Second)
	if s.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("%s: task ended %v: %q (updates %v)", name, s.GetState(), s.GetMessage(), f.states)
	}
}

// A reserved persistent volume survives agent restarts: the master sends
// the agent its total after RESERVE and CREATE, the agent checkpoints it
// (meta/slaves/<id>/resources/resources.info) and reports it when it
// registers again. After a SIGKILL of the agent, and then of both the
// agent and the master (which then knows the volume only from the
// agent's report), the volume is offered to its role with the same
// persistence id and a new task reads the data written before.
func TestAgentPersistentVolumeSurvivesRestart(t *testing.T) {
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	port := freePort(t)
	master := fmt.Sprintf("127.0.0.1:%d", port)
	masterArgs := []string{"master", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--work_dir=" + filepath.Join(work, "master"),
		"--allocation_interval=100ms", "--agent_ping_timeout=1secs", "--max_agent_ping_timeouts=3", "--agent_reregister_timeout=30secs"}
	m := start(t, "master", masterArgs...)
	waitFor(t, 20*time.Second, "master", func() error { return httpOK("http://" + master + "/health") })
	agentWork := filepath.Join(work, "agent")
	agentArgs := []string{"agent", "--master=" + master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir=" + agentWork, "--resources=cpus:2;mem:1024;disk:1024", "--registration_backoff_factor=100ms"}
	ag := start(t, "agent", agentArgs...)

	agentID := ""
	waitAgent := func(what string) {
		t.Helper()
		waitFor(t, 30*time.Second, what, func() error {
			var st struct {
				Activated float64 `json:"activated_slaves"`
				Slaves    []struct {
					ID string `json:"id"`
				} `json:"slaves"`
			}
			if err := getJSON("http://"+master+"/master/state", &st); err != nil {
				return err
			}
			if st.Activated != 1 || len(st.Slaves) != 1 {
				return fmt.Errorf("%v agents active", st.Activated)
			}
			if agentID != "" && st.Slaves[0].ID != agentID {
				return fmt.Errorf("agent %s registered, want %s", st.Slaves[0].ID, agentID)
			}
			agentID = st.Slaves[0].ID
			return nil
		})
	}
	waitAgent("agent registered")

	reserved := `{"name":"disk","type":"SCALAR","scalar":{"value":64},"reservations":[{"type":"DYNAMIC","role":"eng","principal":"ops"}]`
	operatorCall(t, master, `{"type":"RESERVE_RESOURCES","reserve_resources":{"agent_id":{"value":"`+agentID+`"},"resources":[`+reserved+`}]}}`)
	operatorCall(t, master, `{"type":"CREATE_VOLUMES","create_volumes":{"agent_id":{"value":"`+agentID+`"},"volumes":[`+reserved+
		`,"disk":{"persistence":{"id":"vol-e2e","principal":"ops"},"volume":{"container_path":"data","mode":"RW"}}}]}}`)
	runVolumeTask(t, master, "writer", "test -L data && echo written > data/msg")

	checkpointed := filepath.Join(agentWork, "meta", "slaves", agentID, "resources", "resources.info")
	waitFor(t, 10*time.Second, "checkpointed resources", func() error {
		b, err := os.ReadFile(checkpointed)
		if err == nil && !strings.Contains(string(b), "vol-e2e") {
			err = errors.New("no vol-e2e in resources.info")
		}
		return err
	})

	kill := func(p *proc) {
		t.Helper()
		if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
	}

	// The agent dies and comes back on the same work dir.
	kill(ag)
	ag = start(t, "agent-2", agentArgs...)
	waitFor(t, 30*time.Second, "agent-2 registered", func() error {
		if !strings.Contains(ag.out.String(), `msg="registered with master"`) {
			return errors.New("not yet")
		}
		return nil
	})
	waitAgent("agent-2 active")
	runVolumeTask(t, master, "reader-1", "grep -qx written data/msg && echo read-1 >> data/msg")

	// Both die; the restarted master learns the volume from the agent.
	kill(ag)
	kill(m)
	start(t, "master-2", masterArgs...)
	waitFor(t, 20*time.Second, "master-2", func() error { return httpOK("http://" + master + "/health") })
	ag = start(t, "agent-3", agentArgs...)
	waitAgent("agent-3 re-registered with master-2")
	runVolumeTask(t, master, "reader-2", "grep -qx read-1 data/msg && echo read-2 >> data/msg")

	path := filepath.Join(agentWork, "volumes", "roles", "eng", "vol-e2e", "msg")
	if b, err := os.ReadFile(path); err != nil || string(b) != "written\nread-1\nread-2\n" {
		t.Fatalf("%s: %q, %v", path, b, err)
	}
}
