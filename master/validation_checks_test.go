package master

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// TestValidateHealthCheck checks Mesos' HealthCheck rules, messages
// included.
func TestValidateHealthCheck(t *testing.T) {
	cmd := func(v string) *mesos.CommandInfo { return &mesos.CommandInfo{Value: proto.String(v)} }
	cases := []struct {
		name string
		hc   *mesos.HealthCheck
		want string // "" for valid
	}{
		{"command", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: cmd("true")}, ""},
		{"http", &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Http: &mesos.HealthCheck_HTTPCheckInfo{
			Port: proto.Uint32(80), Path: proto.String("/health"), Scheme: proto.String("https")}}, ""},
		{"http without path or scheme", &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(80)}}, ""},
		{"tcp", &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(), Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(80)}}, ""},
		{"zero durations", &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(), Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(80)},
			DelaySeconds: proto.Float64(0), IntervalSeconds: proto.Float64(0), TimeoutSeconds: proto.Float64(0), GracePeriodSeconds: proto.Float64(0)}, ""},

		{"no type", &mesos.HealthCheck{Command: cmd("true")}, "HealthCheck must specify 'type'"},
		{"unknown type", &mesos.HealthCheck{Type: mesos.HealthCheck_UNKNOWN.Enum()}, "'UNKNOWN' is not a valid health check type"},
		{"command missing", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum()}, "Expecting 'command' to be set for COMMAND health check"},
		{"shell command without value", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: &mesos.CommandInfo{}},
			"Command health check must contain 'shell command'"},
		{"executable without value", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: &mesos.CommandInfo{Shell: proto.Bool(false)}},
			"Command health check must contain 'executable path'"},
		{"bad environment", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: &mesos.CommandInfo{
			Value: proto.String("true"),
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
				{Name: proto.String("X")},
			}},
		}}, "Health check's `CommandInfo` is invalid: Environment variable 'X' of type 'VALUE' must have a value set"},
		{"http missing", &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(80)}},
			"Expecting 'http' to be set for HTTP health check"},
		{"bad scheme", &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Http: &mesos.HealthCheck_HTTPCheckInfo{
			Port: proto.Uint32(80), Scheme: proto.String("ftp")}}, "Unsupported HTTP health check scheme: 'ftp'"},
		{"relative path", &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Http: &mesos.HealthCheck_HTTPCheckInfo{
			Port: proto.Uint32(80), Path: proto.String("health")}}, "The path 'health' of HTTP health check must start with '/'"},
		{"tcp missing", &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum()}, "Expecting 'tcp' to be set for TCP health check"},
		{"negative delay", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: cmd("true"), DelaySeconds: proto.Float64(-1)},
			"Expecting 'delay_seconds' to be non-negative"},
		{"negative grace period", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: cmd("true"), GracePeriodSeconds: proto.Float64(-1)},
			"Expecting 'grace_period_seconds' to be non-negative"},
		{"negative interval", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: cmd("true"), IntervalSeconds: proto.Float64(-0.5)},
			"Expecting 'interval_seconds' to be non-negative"},
		{"negative timeout", &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum(), Command: cmd("true"), TimeoutSeconds: proto.Float64(-1)},
			"Expecting 'timeout_seconds' to be non-negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, validateHealthCheck(tc.hc), tc.want)
		})
	}
}

// TestValidateCheckInfo checks Mesos' CheckInfo rules, messages included.
func TestValidateCheckInfo(t *testing.T) {
	command := func(c *mesos.CommandInfo) *mesos.CheckInfo_Command { return &mesos.CheckInfo_Command{Command: c} }
	cases := []struct {
		name string
		ci   *mesos.CheckInfo
		want string
	}{
		{"command", &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum(), Command: command(&mesos.CommandInfo{Value: proto.String("true")})}, ""},
		{"http", &mesos.CheckInfo{Type: mesos.CheckInfo_HTTP.Enum(), Http: &mesos.CheckInfo_Http{Port: proto.Uint32(80), Path: proto.String("/")}}, ""},
		{"tcp", &mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckInfo_Tcp{Port: proto.Uint32(80)}}, ""},

		{"no type", &mesos.CheckInfo{}, "CheckInfo must specify 'type'"},
		{"unknown type", &mesos.CheckInfo{Type: mesos.CheckInfo_UNKNOWN.Enum()}, "'UNKNOWN' is not a valid check type"},
		{"command missing", &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum()}, "Expecting 'command' to be set for COMMAND check"},
		{"command without value", &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum(), Command: command(&mesos.CommandInfo{})},
			"Command check must contain 'shell command'"},
		{"secret variable with a value", &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum(), Command: command(&mesos.CommandInfo{
			Value: proto.String("true"),
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{
				Name: proto.String("S"), Type: mesos.Environment_Variable_SECRET.Enum(), Value: proto.String("v"),
				Secret: &mesos.Secret{Type: mesos.Secret_VALUE.Enum(), Value: &mesos.Secret_Value{Data: []byte("x")}},
			}}},
		})}, "Check's `CommandInfo` is invalid: Environment variable 'S' of type 'SECRET' must not have a value set"},
		{"http missing", &mesos.CheckInfo{Type: mesos.CheckInfo_HTTP.Enum()}, "Expecting 'http' to be set for HTTP check"},
		{"relative path", &mesos.CheckInfo{Type: mesos.CheckInfo_HTTP.Enum(), Http: &mesos.CheckInfo_Http{Port: proto.Uint32(80), Path: proto.String("x")}},
			"The path 'x' of HTTP check must start with '/'"},
		{"tcp missing", &mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum()}, "Expecting 'tcp' to be set for TCP check"},
		{"negative delay", &mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckInfo_Tcp{Port: proto.Uint32(80)}, DelaySeconds: proto.Float64(-1)},
			"Expecting 'delay_seconds' to be non-negative"},
		{"negative interval", &mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckInfo_Tcp{Port: proto.Uint32(80)}, IntervalSeconds: proto.Float64(-1)},
			"Expecting 'interval_seconds' to be non-negative"},
		{"negative timeout", &mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckInfo_Tcp{Port: proto.Uint32(80)}, TimeoutSeconds: proto.Float64(-1)},
			"Expecting 'timeout_seconds' to be non-negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, validateCheckInfo(tc.ci), tc.want)
		})
	}
}

// checkError compares err with the message want ("" for no error).
func checkError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("rejected: %v", err)
	case want != "" && err == nil:
		t.Fatalf("accepted, want %q", want)
	case want != "" && err.Error() != want:
		t.Fatalf("error %q, want %q", err, want)
	}
}

// TestLaunchValidatesChecks: the master answers a task with an invalid
// check or health check with TASK_ERROR (REASON_TASK_INVALID, or
// REASON_TASK_GROUP_INVALID for a task group) and does not launch it;
// valid ones go to the agent untouched.
func TestLaunchValidatesChecks(t *testing.T) {
	badHealth := &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Http: &mesos.HealthCheck_HTTPCheckInfo{
		Port: proto.Uint32(8080), Path: proto.String("health")}}
	badCheck := &mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum()}
	goodHealth := &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(), Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(8080)}}
	goodCheck := &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum(), Command: &mesos.CheckInfo_Command{
		Command: &mesos.CommandInfo{Value: proto.String("true")}}}

	groupOp := func(t *testing.T, f *recFramework, task *mesos.TaskInfo) *mesos.Offer_Operation {
		e := &mesos.ExecutorInfo{
			ExecutorId:  &mesos.ExecutorID{Value: proto.String("default")},
			Type:        mesos.ExecutorInfo_DEFAULT.Enum(),
			FrameworkId: frameworkID(f.id),
			Resources:   mustResources(t, "cpus:0.1;mem:32;disk:10"),
		}
		task.Command, task.Executor = nil, e
		return &mesos.Offer_Operation{
			Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(),
			LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
				Executor: e, TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{task}},
			},
		}
	}
	single := func(t *testing.T, f *recFramework, task *mesos.TaskInfo) *mesos.Offer_Operation {
		return launch(task)
	}
	cases := []struct {
		name    string
		op      func(*testing.T, *recFramework, *mesos.TaskInfo) *mesos.Offer_Operation
		mutate  func(*mesos.TaskInfo)
		reason  mesos.TaskStatus_Reason
		message string // "" for a launch
	}{
		{
			name: "invalid health check", op: single,
			mutate:  func(ti *mesos.TaskInfo) { ti.HealthCheck = badHealth },
			reason:  mesos.TaskStatus_REASON_TASK_INVALID,
			message: "Task uses invalid health check: The path 'health' of HTTP health check must start with '/'",
		},
		{
			name: "invalid check", op: single,
			mutate:  func(ti *mesos.TaskInfo) { ti.Check = badCheck },
			reason:  mesos.TaskStatus_REASON_TASK_INVALID,
			message: "Task uses invalid check: Expecting 'tcp' to be set for TCP check",
		},
		{
			name: "invalid check in a task group", op: groupOp,
			mutate:  func(ti *mesos.TaskInfo) { ti.Check = badCheck },
			reason:  mesos.TaskStatus_REASON_TASK_GROUP_INVALID,
			message: "Task 't' is invalid: Task uses invalid check: Expecting 'tcp' to be set for TCP check",
		},
		{
			name: "TCP health check of a task group task with its own network", op: groupOp,
			mutate: func(ti *mesos.TaskInfo) {
				ti.HealthCheck = goodHealth
				ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), NetworkInfos: []*mesos.NetworkInfo{{Name: proto.String("net")}}}
			},
			reason:  mesos.TaskStatus_REASON_TASK_GROUP_INVALID,
			message: "HTTP and TCP health checks are not supported for nested containers not joining parent's network",
		},
		{
			name: "valid checks", op: single,
			mutate: func(ti *mesos.TaskInfo) { ti.HealthCheck, ti.Check = goodHealth, goodCheck },
		},
		{
			name: "valid checks in a task group", op: groupOp,
			mutate: func(ti *mesos.TaskInfo) { ti.HealthCheck, ti.Check = goodHealth, goodCheck },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			a := h.addAgent("a", "cpus:1;mem:512;disk:100")
			f := h.subscribe(nil)
			offers := f.offers()
			if len(offers) != 1 {
				t.Fatalf("%d offers", len(offers))
			}
			task := commandTask(t, "t", a.id, "cpus:0.1;mem:32")
			tc.mutate(task)
			h.mustCall(f, acceptCall([]string{offers[0].GetId().GetValue()}, tc.op(t, f, task)))
			ups := f.updates()
			runs := a.take(agentproto.AgentEvent_RUN_TASK)
			if tc.message == "" {
				if len(ups) != 0 || len(runs) != 1 {
					t.Fatalf("want a launch: updates %v, %d RUN_TASK", ups, len(runs))
				}
				sent := runs[0].GetRunTask().GetTask()
				if g := runs[0].GetRunTask().GetTaskGroup(); g != nil {
					sent = g.GetTasks()[0]
				}
				if !proto.Equal(sent.GetHealthCheck(), goodHealth) || !proto.Equal(sent.GetCheck(), goodCheck) {
					t.Errorf("the agent got health check %v and check %v", sent.GetHealthCheck(), sent.GetCheck())
				}
				return
			}
			if len(ups) != 1 {
				t.Fatalf("got %d updates, want 1: %v", len(ups), ups)
			}
			u := ups[0]
			if u.GetState() != mesos.TaskState_TASK_ERROR || u.GetReason() != tc.reason {
				t.Errorf("update %v %v, want TASK_ERROR %v", u.GetState(), u.GetReason(), tc.reason)
			}
			if !strings.Contains(u.GetMessage(), tc.message) {
				t.Errorf("message %q does not contain %q", u.GetMessage(), tc.message)
			}
			if len(runs) != 0 {
				t.Errorf("an invalid task was launched")
			}
		})
	}
}
