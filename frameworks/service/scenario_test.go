package service

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/resources"
)

var update = flag.Bool("update", false, "rewrite the golden output of testdata/*.txt scenarios")

// TestScenarios runs the scheduler's logic through the scripts in
// testdata/*.txt, with scripted offers and status updates, a recording
// master and a fake clock: no cluster, no goroutines, no real time. A
// script is a list of commands, each followed by "----" and what it must
// produce (the calls the scheduler made of the master and its log lines),
// then a blank line; '#' lines are comments. Run with -update to rewrite
// the expected output. Commands:
//
//	spec FILE                     start a scheduler on testdata/FILE (YAML)
//	subscribe                     the master's SUBSCRIBED event
//	offer AGENT RESOURCES [ATTR=VALUE...]   an offer of AGENT (also its hostname)
//	status TASK STATE [healthy=BOOL] [agent=AGENT]   a status update
//	advance DURATION              move the clock, then tick
//	tick                          what Run's one-second tick does
//	scale ROLE N                  the API's scale
//	respec FILE                   the API's update with testdata/FILE
//	show                          the instances and why roles wait
//	command TASK                  the command a launched task runs
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScenario(t, file)
		})
	}
}

// recorder is the master of a scenario: it writes each call the
// scheduler makes to out, and keeps the tasks launched.
type recorder struct {
	t        *testing.T
	out      *strings.Builder
	launched map[string]*mesos.TaskInfo
}

func (r *recorder) Accept(_ context.Context, offerIDs []*mesos.OfferID, ops []*mesos.Offer_Operation, _ *mesos.Filters) error {
	for _, op := range ops {
		for _, t := range op.GetLaunch().GetTaskInfos() {
			if _, ok := r.launched[t.GetTaskId().GetValue()]; ok {
				r.t.Errorf("task id %s launched twice", t.GetTaskId().GetValue())
			}
			r.launched[t.GetTaskId().GetValue()] = t
			rs, err := resources.FromProto(t.GetResources())
			text := resources.Format(rs)
			if err != nil {
				text = err.Error()
			}
			fmt.Fprintf(r.out, "master: launch %s on %s (%s) with offer %s\n", t.GetTaskId().GetValue(), t.GetAgentId().GetValue(),
				text, offerIDs[0].GetValue())
		}
	}
	return nil
}

func (r *recorder) Decline(_ context.Context, offerIDs []*mesos.OfferID, _ *mesos.Filters) error {
	fmt.Fprintf(r.out, "master: decline %s\n", offerIDs[0].GetValue())
	return nil
}

func (r *recorder) Acknowledge(context.Context, *mesos.TaskStatus) error { return nil }

func (r *recorder) Kill(_ context.Context, taskID *mesos.TaskID, agentID *mesos.AgentID) error {
	fmt.Fprintf(r.out, "master: kill %s on %s\n", taskID.GetValue(), agentID.GetValue())
	return nil
}

func (r *recorder) Reconcile(_ context.Context, tasks ...*schedpb.Call_Reconcile_Task) error {
	var ids []string
	for _, t := range tasks {
		ids = append(ids, t.GetTaskId().GetValue())
	}
	fmt.Fprintf(r.out, "master: reconcile %s\n", strings.Join(ids, ","))
	return nil
}

func (r *recorder) Revive(context.Context, ...string) error {
	r.out.WriteString("master: revive\n")
	return nil
}

func (r *recorder) Suppress(context.Context, ...string) error {
	r.out.WriteString("master: suppress\n")
	return nil
}

func (r *recorder) Teardown(context.Context) error {
	r.out.WriteString("master: teardown\n")
	return nil
}

// logLines writes the scheduler's log records to out, one line each,
// without the service attribute every line has.
type logLines struct{ out *strings.Builder }

func (h logLines) Enabled(context.Context, slog.Level) bool { return true }
func (h logLines) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logLines) WithGroup(string) slog.Handler            { return h }
func (h logLines) Handle(_ context.Context, r slog.Record) error {
	fmt.Fprintf(h.out, "log: %s", r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(h.out, " %s=%v", a.Key, a.Value)
		return true
	})
	h.out.WriteString("\n")
	return nil
}

type scenario struct {
	t      *testing.T
	dir    string
	now    time.Time
	s      *Scheduler
	master *recorder
	out    strings.Builder
	offers int
}

func runScenario(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sc := &scenario{t: t, dir: t.TempDir(), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var b strings.Builder
	for _, bl := range parseScript(t, string(data)) {
		sc.out.Reset()
		sc.run(bl.cmd)
		got := strings.TrimRight(sc.out.String(), "\n")
		if got == "" {
			got = "ok"
		}
		for _, c := range bl.comments {
			b.WriteString(c + "\n")
		}
		fmt.Fprintf(&b, "%s\n----\n%s\n\n", bl.cmd, got)
		if !*update && got != bl.want {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", file, bl.cmd, got, bl.want)
		}
		if sc.s != nil {
			sc.checkInvariants()
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type block struct {
	comments []string
	cmd      string
	want     string
}

func parseScript(t *testing.T, text string) []block {
	var blocks []block
	lines := strings.Split(text, "\n")
	var cur block
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "#"):
			cur.comments = append(cur.comments, l)
		case strings.TrimSpace(l) == "":
		default:
			cur.cmd = l
			i++
			if i >= len(lines) || lines[i] != "----" {
				t.Fatalf("line %d: command %q without ----", i+1, l)
			}
			var out []string
			for i+1 < len(lines) && lines[i+1] != "" {
				i++
				out = append(out, lines[i])
			}
			cur.want = strings.Join(out, "\n")
			blocks = append(blocks, cur)
			cur = block{}
		}
	}
	return blocks
}

func (sc *scenario) spec(file string) *Spec {
	spec, err := ReadSpec(filepath.Join("testdata", file))
	if err != nil {
		sc.t.Fatal(err)
	}
	spec.StateDir = sc.dir
	return spec
}

// step does what Run does after an event or request: converge and save.
func (sc *scenario) step() {
	sc.s.converge(context.Background())
	sc.s.saveIfDirty()
}

func (sc *scenario) event(ev *schedpb.Event) {
	if err := sc.s.handle(context.Background(), ev); err != nil {
		fmt.Fprintf(&sc.out, "error: %v\n", err)
	}
	sc.step()
}

func (sc *scenario) run(cmd string) {
	t := sc.t
	f := strings.Fields(cmd)
	args := map[string]string{}
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		}
	}
	switch f[0] {
	case "spec":
		s, err := New(Config{Master: "unused", Spec: sc.spec(f[1]), Now: func() time.Time { return sc.now },
			Log: slog.New(logLines{&sc.out})})
		if err != nil {
			t.Fatal(err)
		}
		sc.master = &recorder{t: t, out: &sc.out, launched: map[string]*mesos.TaskInfo{}}
		s.client = sc.master
		sc.s = s
		sc.step()
	case "subscribe":
		sc.event(&schedpb.Event{Type: schedpb.Event_SUBSCRIBED.Enum(), Subscribed: &schedpb.Event_Subscribed{
			FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}}})
	case "offer":
		rs, err := resources.Parse(f[2], "*")
		if err != nil {
			t.Fatal(err)
		}
		sc.offers++
		o := &mesos.Offer{Id: &mesos.OfferID{Value: proto.String(fmt.Sprintf("O%d", sc.offers))},
			FrameworkId: &mesos.FrameworkID{Value: proto.String("F1")}, AgentId: &mesos.AgentID{Value: proto.String(f[1])},
			Hostname: proto.String(f[1]), Resources: resources.ToProto(rs, resources.FormatPostRefinement)}
		for _, a := range f[3:] {
			k, v, _ := strings.Cut(a, "=")
			o.Attributes = append(o.Attributes, &mesos.Attribute{Name: proto.String(k), Type: mesos.Value_TEXT.Enum(),
				Text: &mesos.Value_Text{Value: proto.String(v)}})
		}
		sc.event(&schedpb.Event{Type: schedpb.Event_OFFERS.Enum(), Offers: &schedpb.Event_Offers{Offers: []*mesos.Offer{o}}})
	case "status":
		state, ok := mesos.TaskState_value[f[2]]
		if !ok {
			t.Fatalf("%s: no task state %s", cmd, f[2])
		}
		st := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(f[1])}, State: mesos.TaskState(state).Enum()}
		if in := sc.s.instance(f[1]); in != nil {
			st.AgentId = &mesos.AgentID{Value: proto.String(in.AgentID)}
		}
		if a, ok := args["agent"]; ok {
			st.AgentId = &mesos.AgentID{Value: proto.String(a)}
		}
		if h, ok := args["healthy"]; ok {
			st.Healthy = proto.Bool(h == "true")
		}
		sc.event(&schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: st}})
	case "advance":
		d, err := time.ParseDuration(f[1])
		if err != nil {
			t.Fatal(err)
		}
		sc.now = sc.now.Add(d)
		sc.step()
	case "tick":
		sc.step()
	case "scale":
		n, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.s.setScale(f[1], n); err != nil {
			fmt.Fprintf(&sc.out, "error: %v\n", err)
		}
		sc.step()
	case "respec":
		if err := sc.s.setSpec(sc.spec(f[1])); err != nil {
			fmt.Fprintf(&sc.out, "error: %v\n", err)
		}
		sc.step()
	case "show":
		sc.show()
	case "command":
		task, ok := sc.master.launched[f[1]]
		if !ok {
			t.Fatalf("%s: no task %s was launched", cmd, f[1])
		}
		sc.out.WriteString(task.GetCommand().GetValue() + "\n")
	default:
		t.Fatalf("unknown command %q", cmd)
	}
}

// show prints each instance and each role's waiting reason.
func (sc *scenario) show() {
	for _, in := range sc.s.st.Instances {
		fmt.Fprintf(&sc.out, "%s.%d gen=%d", in.Role, in.Index, in.Gen)
		if in.TaskID != "" {
			fmt.Fprintf(&sc.out, " task=%s agent=%s state=%s healthy=%v", in.TaskID, in.AgentID, in.State, sc.s.healthy(in))
		} else {
			sc.out.WriteString(" pending")
		}
		if in.Failures > 0 {
			fmt.Fprintf(&sc.out, " failures=%d", in.Failures)
		}
		if in.NotBefore.After(sc.now) {
			fmt.Fprintf(&sc.out, " next-launch-in=%v", in.NotBefore.Sub(sc.now))
		}
		for _, flag := range []struct {
			set  bool
			name string
		}{{in.Restarting, "restarting"}, {in.Removing, "removing"}} {
			if flag.set {
				sc.out.WriteString(" " + flag.name)
			}
		}
		if len(in.Avoid) > 0 {
			fmt.Fprintf(&sc.out, " avoid=%s", strings.Join(in.Avoid, ","))
		}
		sc.out.WriteString("\n")
	}
	for _, r := range sc.s.spec.Roles {
		if why := sc.s.waiting[r.Name]; why != "" {
			fmt.Fprintf(&sc.out, "role %s waits: %s\n", r.Name, why)
		}
	}
}

// checkInvariants checks what holds after every step: one instance per
// (role, index), no task counted by two instances, no launch (in this
// step's calls) of a role whose dependencies are not healthy, and at most
// one instance of a role restarting for an update.
func (sc *scenario) checkInvariants() {
	t := sc.t
	seen := map[string]bool{}
	tasks := map[string]bool{}
	for _, in := range sc.s.st.Instances {
		key := fmt.Sprintf("%s.%d", in.Role, in.Index)
		if seen[key] {
			t.Errorf("two instances %s", key)
		}
		seen[key] = true
		if in.TaskID != "" {
			if tasks[in.TaskID] {
				t.Errorf("two instances run task %s", in.TaskID)
			}
			tasks[in.TaskID] = true
		}
	}
	// Launches of this step respect depends_on.
	for _, line := range strings.Split(sc.out.String(), "\n") {
		rest, ok := strings.CutPrefix(line, "master: launch ")
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, " ")
		in := sc.s.instance(id)
		if in == nil {
			continue
		}
		r := sc.s.spec.role(in.Role)
		if dep := sc.s.blockedBy(r); dep != "" {
			t.Errorf("%s launched while role %s is not healthy", id, dep)
		}
	}
	// At most one instance of a role restarts for an update at a time.
	for _, r := range sc.s.spec.Roles {
		if n := len(slices.DeleteFunc(slices.Clone(sc.s.st.Instances), func(in *Instance) bool {
			return in.Role != r.Name || !in.Restarting
		})); n > 1 {
			t.Errorf("role %s: %d instances restart at once", r.Name, n)
		}
	}
}
