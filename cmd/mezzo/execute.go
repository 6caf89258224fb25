package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/resources"
	"github.com/mezzo-project/mezzo/sdk/offers"
	"github.com/mezzo-project/mezzo/sdk/scheduler"
)

func init() {
	register(command{
		name:    "execute",
		summary: "run one task (or task group) on a cluster, like mesos-execute",
		run:     runExecute,
	})
}

// uriList is a repeatable --uri flag.
type uriList []string

func (u *uriList) String() string     { return strings.Join(*u, ",") }
func (u *uriList) Set(v string) error { *u = append(*u, v); return nil }

type executeFlags struct {
	master, name, command, env, resources, role, dockerImage, containerizer string
	taskJSON, taskGroupJSON, capabilities, principal, contentType           string
	secret                                                                  string
	frameworkName                                                           string
	shell, checkpoint, partitionAware                                       bool
	killAfter, subscribeTimeout                                             time.Duration
	uris                                                                    uriList
	// tls are the --ssl_* flags, over the LIBPROCESS_SSL_* variables.
	tls tlsutil.Flags
}

func (f *executeFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.master, "master", "", "Mesos or Mezzo master (e.g., IP:PORT), or zk://host1:port1,.../path where several elect their leader. Required.")
	fs.StringVar(&f.name, "name", "", "Name (and id) of the task. Required unless --task or --task_group.")
	fs.StringVar(&f.command, "command", "", "Command to launch.")
	fs.BoolVar(&f.shell, "shell", true, "Run --command through /bin/sh -c; if false, it is the executable to run.")
	fs.StringVar(&f.env, "env", "", `Environment variables for the command, as a JSON object ({"NAME":"value"}) or file:///path to one.`)
	fs.StringVar(&f.resources, "resources", "cpus:1;mem:128", "Resources for the command.")
	fs.BoolVar(&f.checkpoint, "checkpoint", false, "Enable checkpointing for the framework.")
	fs.StringVar(&f.dockerImage, "docker_image", "", "Docker image to run the command in (<image>:<tag>).")
	fs.StringVar(&f.containerizer, "containerizer", "mesos", "Containerizer for --docker_image: docker or mesos.")
	fs.StringVar(&f.role, "role", "*", "Role to use when registering.")
	flags.DurationVar(fs, &f.killAfter, "kill_after", 0, "Kill the task after this long (e.g., 10secs, 2mins); 0 means never.")
	fs.StringVar(&f.taskJSON, "task", "", "A TaskInfo as JSON, or file:///path to one; replaces --name/--command/--resources.")
	fs.StringVar(&f.taskGroupJSON, "task_group", "", "A TaskGroupInfo as JSON, or file:///path to one; run under the default executor.")
	fs.StringVar(&f.capabilities, "framework_capabilities", "", "Comma-separated extra framework capabilities to enable.")
	fs.StringVar(&f.principal, "principal", "", "Principal of the framework.")
	fs.StringVar(&f.secret, "secret", "", "Secret of --principal, sent with HTTP Basic to a master that authenticates frameworks.")
	fs.StringVar(&f.contentType, "content_type", "protobuf", "Encoding of scheduler API messages: json or protobuf.")
	fs.BoolVar(&f.partitionAware, "partition_aware", true, "Enable partition-awareness for the framework.")
	fs.StringVar(&f.frameworkName, "framework_name", "mezzo-execute instance", "Name of the framework.")
	fs.Var(&f.uris, "uri", "A URI to fetch into the sandbox before the command runs (repeatable).")
	f.tls.AddFlags(fs)
	flags.DurationVar(fs, &f.subscribeTimeout, "subscribe_timeout", time.Minute,
		"Give up (exit 1) when no master accepted the framework within this long (Mezzo; mesos-execute waits forever, as 0 does). "+
			"Once subscribed, a lost master is waited for without limit.")
}

func runExecute(args []string, stdout, stderr io.Writer) int {
	var f executeFlags
	fs := flag.NewFlagSet("execute", flag.ContinueOnError)
	f.add(fs)
	if err := flags.Parse(fs, args, "task", "task_group", "env"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: mezzo execute --master=HOST:PORT --name=NAME --command=CMD [flags]\n\n%s", flags.Usage(fs))
			return 0
		}
		fmt.Fprintf(stderr, "mezzo execute: %v\n", err)
		return 2
	}
	ex, err := newExecution(&f, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mezzo execute: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	interrupted := make(chan syscall.Signal, 1)
	go func() {
		select {
		case sig := <-sigc:
			interrupted <- sig.(syscall.Signal)
			cancel()
		case <-ctx.Done():
		}
	}()
	code, err := ex.run(ctx)
	select {
	case sig := <-interrupted:
		// Like a shell's child killed by the signal, after ending the
		// framework so that its task does not outlive it.
		ex.teardown(stderr)
		fmt.Fprintf(stderr, "mezzo execute: interrupted (%v)\n", sig)
		return 128 + int(sig)
	default:
	}
	if err != nil {
		fmt.Fprintf(stderr, "mezzo execute: %v\n", err)
	}
	return code
}

// teardownTimeout bounds the TEARDOWN call of an interrupted execution.
const teardownTimeout = 5 * time.Second

// teardown ends the framework (the master kills its tasks) when it was
// subscribed and has tasks still running.
func (ex *execution) teardown(stderr io.Writer) {
	select {
	case <-ex.client.Subscribed():
	default:
		return
	}
	if len(ex.pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	for id := range ex.pending {
		fmt.Fprintf(ex.out, "Killing task '%s': the framework is torn down\n", id)
	}
	if err := ex.client.Teardown(ctx); err != nil {
		fmt.Fprintf(stderr, "mezzo execute: teardown: %v\n", err)
	}
}

// errNotSubscribed: no master accepted the framework within
// --subscribe_timeout.
var errNotSubscribed = errors.New("not subscribed")

// execution is one run of `mezzo execute`: a framework that launches one
// task or task group and follows it to the end.
type execution struct {
	f      *executeFlags
	out    io.Writer
	client *scheduler.Client
	log    *slog.Logger
	// needs are what the task needs, or the group's executor and then
	// each of its tasks; want is their sum, for the user.
	needs    []offers.Need
	want     resources.Resources
	task     *mesos.TaskInfo
	group    *mesos.TaskGroupInfo
	launched bool
	pending  map[string]*mesos.AgentID // tasks not yet terminal, by id, with their agent
	exitCode int
	// toldWaiting: the user was told that offers are too small.
	toldWaiting bool
}

func newExecution(f *executeFlags, out, stderr io.Writer) (*execution, error) {
	if f.master == "" {
		return nil, errors.New("missing required flag --master")
	}
	format := codec.Protobuf
	switch f.contentType {
	case "json":
		format = codec.JSON
	case "protobuf":
	default:
		return nil, fmt.Errorf("invalid --content_type %q: use json or protobuf", f.contentType)
	}
	ex := &execution{f: f, out: out, pending: map[string]*mesos.AgentID{}}
	switch {
	case f.taskGroupJSON != "":
		ex.group = &mesos.TaskGroupInfo{}
		if err := codec.UnmarshalJSON([]byte(f.taskGroupJSON), ex.group); err != nil {
			return nil, fmt.Errorf("--task_group: %w", err)
		}
		if len(ex.group.GetTasks()) == 0 {
			return nil, errors.New("--task_group: the group has no tasks")
		}
		ex.needs = append(ex.needs, groupExecutorNeed)
		for _, t := range ex.group.GetTasks() {
			n, err := offers.NeedOf(t.GetResources())
			if err != nil {
				return nil, fmt.Errorf("--task_group: task %q: %w", t.GetTaskId().GetValue(), err)
			}
			ex.needs = append(ex.needs, n)
		}
	case f.taskJSON != "":
		ex.task = &mesos.TaskInfo{}
		if err := codec.UnmarshalJSON([]byte(f.taskJSON), ex.task); err != nil {
			return nil, fmt.Errorf("--task: %w", err)
		}
		n, err := offers.NeedOf(ex.task.GetResources())
		if err != nil {
			return nil, fmt.Errorf("--task: %w", err)
		}
		ex.needs = []offers.Need{n}
	default:
		if f.name == "" {
			return nil, errors.New("missing required flag --name")
		}
		if f.command == "" && f.dockerImage == "" {
			return nil, errors.New("missing required flag --command")
		}
		n, err := offers.ParseNeed(f.resources)
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		ex.needs = []offers.Need{n}
		task, err := f.commandTask()
		if err != nil {
			return nil, err
		}
		ex.task = task
	}
	for _, n := range ex.needs {
		r, err := n.Resolve()
		if err != nil {
			return nil, err
		}
		ex.want = ex.want.Add(r)
	}

	fw := &mesos.FrameworkInfo{
		User:       proto.String(currentUser()),
		Name:       proto.String(f.frameworkName),
		Checkpoint: proto.Bool(f.checkpoint),
		Roles:      []string{f.role},
	}
	if f.principal != "" {
		fw.Principal = proto.String(f.principal)
	}
	caps := []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_MULTI_ROLE,
		mesos.FrameworkInfo_Capability_TASK_KILLING_STATE}
	if f.partitionAware {
		caps = append(caps, mesos.FrameworkInfo_Capability_PARTITION_AWARE)
	}
	for _, name := range strings.Split(f.capabilities, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		v, ok := mesos.FrameworkInfo_Capability_Type_value[name]
		if !ok {
			return nil, fmt.Errorf("--framework_capabilities: unknown capability %q", name)
		}
		caps = append(caps, mesos.FrameworkInfo_Capability_Type(v))
	}
	for _, c := range caps {
		fw.Capabilities = append(fw.Capabilities, &mesos.FrameworkInfo_Capability{Type: c.Enum()})
	}
	// Like mesos-execute, it outlives a lost connection: it subscribes
	// again with its framework id (a restarted master knows it from its
	// registry) and goes on reporting the task.
	if f.secret != "" && f.principal == "" {
		return nil, errors.New("--secret requires --principal")
	}
	// The --ssl_* flags given replace what the scheduler client takes
	// from the LIBPROCESS_SSL_* variables.
	var hc *http.Client
	master := f.master
	if f.tls.Given() {
		if detector.Detected(master) {
			// The scheduler client dials the masters it detects with the
			// environment's TLS settings only.
			return nil, fmt.Errorf("--ssl_* flags with --master=%s: a master found through ZooKeeper or a file is dialled with the LIBPROCESS_SSL_* variables; set those instead", master)
		}
		setup, err := f.tls.Setup(os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		hc = setup.Client(30 * time.Second)
		if !strings.Contains(master, "://") {
			master = setup.Scheme() + "://" + master
		}
	}
	ex.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ex.client = scheduler.New(scheduler.Config{Master: master, Framework: fw, Format: format, Reconnect: true, HTTPClient: hc,
		Credential: scheduler.Credential{Principal: f.principal, Secret: f.secret},
		Log:        ex.log})
	return ex, nil
}

// commandTask builds the TaskInfo for --name/--command.
func (f *executeFlags) commandTask() (*mesos.TaskInfo, error) {
	cmd := &mesos.CommandInfo{Shell: proto.Bool(f.shell)}
	if f.command != "" {
		cmd.Value = proto.String(f.command)
		if !f.shell {
			cmd.Arguments = strings.Fields(f.command)
			if len(cmd.Arguments) > 0 {
				cmd.Value = proto.String(cmd.Arguments[0])
			}
		}
	}
	for _, u := range f.uris {
		cmd.Uris = append(cmd.Uris, &mesos.CommandInfo_URI{Value: proto.String(u)})
	}
	if f.env != "" {
		vars := map[string]any{}
		if err := jsonUnmarshal(f.env, &vars); err != nil {
			return nil, fmt.Errorf("--env: %w", err)
		}
		env := &mesos.Environment{}
		for _, k := range sortedKeys(vars) {
			s, ok := vars[k].(string)
			if !ok {
				return nil, fmt.Errorf("--env: value of %q must be a string", k)
			}
			env.Variables = append(env.Variables, &mesos.Environment_Variable{Name: proto.String(k), Value: proto.String(s)})
		}
		cmd.Environment = env
	}
	task := &mesos.TaskInfo{
		Name:    proto.String(f.name),
		TaskId:  &mesos.TaskID{Value: proto.String(f.name)},
		Command: cmd,
	}
	if f.dockerImage != "" {
		switch f.containerizer {
		case "docker":
			task.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
				Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String(f.dockerImage)}}
			if f.command == "" {
				cmd.Shell = proto.Bool(false)
			}
		case "mesos":
			task.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(),
				Mesos: &mesos.ContainerInfo_MesosInfo{Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(),
					Docker: &mesos.Image_Docker{Name: proto.String(f.dockerImage)}}}}
		default:
			return nil, fmt.Errorf("invalid --containerizer %q: use docker or mesos", f.containerizer)
		}
	}
	return task, nil
}

func (ex *execution) run(ctx context.Context) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if d := ex.f.subscribeTimeout; d > 0 {
		go func() {
			select {
			case <-ex.client.Subscribed():
			case <-ctx.Done():
			case <-time.After(d):
				cancel(fmt.Errorf("%w: no master at %s accepted the framework within %s (--subscribe_timeout)",
					errNotSubscribed, ex.f.master, flags.FormatDuration(d)))
			}
		}()
	}
	kill := make(chan struct{})
	if ex.f.killAfter > 0 {
		go func() {
			select {
			case <-time.After(ex.f.killAfter):
				close(kill)
			case <-ctx.Done():
			}
		}()
	}
	err := ex.client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
		select {
		case <-kill:
			kill = nil
			for id, agent := range ex.pending {
				fmt.Fprintf(ex.out, "Asked to kill task '%s'\n", id)
				_ = ex.client.Kill(ctx, &mesos.TaskID{Value: proto.String(id)}, agent)
			}
		default:
		}
		return ex.handle(ctx, ev)
	})
	if cause := context.Cause(ctx); errors.Is(cause, errNotSubscribed) {
		return 1, cause
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return 1, err
	}
	return ex.exitCode, nil
}

func (ex *execution) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		fmt.Fprintf(ex.out, "Subscribed with ID %s\n", ev.GetSubscribed().GetFrameworkId().GetValue())
		if len(ex.pending) > 0 {
			// Subscribed again after a master failover.
			return ex.reconcile(ctx)
		}
	case schedpb.Event_OFFERS:
		return ex.offers(ctx, ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		return ex.update(ctx, ev.GetUpdate().GetStatus())
	case schedpb.Event_ERROR:
		ex.exitCode = 1
		return fmt.Errorf("the master sent an error: %s", ev.GetError().GetMessage())
	case schedpb.Event_FAILURE:
		if f := ev.GetFailure(); f.GetExecutorId() != nil {
			fmt.Fprintf(ex.out, "Executor '%s' on agent '%s' terminated with status %d\n",
				f.GetExecutorId().GetValue(), f.GetAgentId().GetValue(), f.GetStatus())
		}
	}
	return nil
}

func (ex *execution) offers(ctx context.Context, batch []*mesos.Offer) error {
	var decline []*mesos.OfferID
	unconfirmed := false
	for _, o := range batch {
		if ex.launched {
			decline = append(decline, o.GetId())
			continue
		}
		offered, err := resources.FromProto(o.GetResources())
		if err != nil {
			return fmt.Errorf("offer %s: %w", o.GetId().GetValue(), err)
		}
		op, ids, ok := ex.operation(offers.NewPool(o, ex.f.role), o)
		if !ok {
			if !ex.toldWaiting {
				ex.toldWaiting = true
				fmt.Fprintf(ex.out, "Waiting for an offer with %s (agent '%s' offered %s)\n",
					resources.Format(ex.want), o.GetAgentId().GetValue(), resources.Format(offered.Unallocate()))
			}
			decline = append(decline, o.GetId())
			continue
		}
		if err := ex.client.Accept(ctx, []*mesos.OfferID{o.GetId()}, []*mesos.Offer_Operation{op}, nil); err != nil {
			var ce *scheduler.CallError
			if errors.As(err, &ce) {
				return err // the master answered: it refused the call
			}
			// No answer: the master may or may not have taken the launch.
			// The task counts as launched; once subscribed again, the
			// next master is asked about it by name.
			fmt.Fprintf(ex.out, "Could not confirm the launch with the master (%v); will ask the master about it\n", err)
			unconfirmed = true
		}
		ex.launched = true
		for _, id := range ids {
			ex.pending[id] = o.GetAgentId()
		}
		if ex.group != nil {
			fmt.Fprintf(ex.out, "Submitted task group with tasks [ %s ] to agent '%s'\n", strings.Join(ids, ", "), o.GetAgentId().GetValue())
		} else {
			fmt.Fprintf(ex.out, "Submitted task '%s' to agent '%s'\n", ex.task.GetName(), o.GetAgentId().GetValue())
		}
	}
	if unconfirmed {
		// Answered now if the master is up; otherwise asked again once
		// subscribed to the next one.
		_ = ex.reconcile(ctx)
	}
	if len(decline) > 0 {
		err := ex.client.Decline(ctx, decline, nil)
		var ce *scheduler.CallError
		if errors.As(err, &ce) {
			return err
		}
		// Without an answer the offers are void anyway: a master that
		// went away rescinds nothing, the next one offers afresh.
	}
	return nil
}

// reconcile asks the master about the launched tasks by name: a launch
// the master never passed on is answered (TASK_GONE) only when asked.
func (ex *execution) reconcile(ctx context.Context) error {
	var tasks []*schedpb.Call_Reconcile_Task
	for id, agent := range ex.pending {
		tasks = append(tasks, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: agent})
	}
	return ex.client.Reconcile(ctx, tasks...)
}

// groupExecutorNeed is what the default executor of a --task_group
// takes from the offer beside its tasks.
var groupExecutorNeed = offers.Need{Cpus: 0.1, Mem: 32, Disk: 10}

// operation builds the LAUNCH (or LAUNCH_GROUP) of the task on the offer
// of pool; ok is false when the offer cannot hold it (and its executor).
func (ex *execution) operation(pool *offers.Pool, o *mesos.Offer) (op *mesos.Offer_Operation, ids []string, ok bool) {
	ms, _, ok := pool.TakeAll(ex.needs...)
	if !ok {
		return nil, nil, false
	}
	if ex.group != nil {
		group := proto.Clone(ex.group).(*mesos.TaskGroupInfo)
		for i, t := range group.GetTasks() {
			t.AgentId = o.GetAgentId()
			t.Resources = ms[i+1].Resources
			ids = append(ids, t.GetTaskId().GetValue())
		}
		execID := "default-executor-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		exec := &mesos.ExecutorInfo{
			ExecutorId:  &mesos.ExecutorID{Value: proto.String(execID)},
			FrameworkId: o.GetFrameworkId(),
			Resources:   ms[0].Resources,
		}
		return offers.LaunchGroup(exec, group.GetTasks()...), ids, true
	}
	task := proto.Clone(ex.task).(*mesos.TaskInfo)
	task.AgentId = o.GetAgentId()
	task.Resources = ms[0].Resources
	return offers.Launch(task), []string{task.GetTaskId().GetValue()}, true
}

var exitStatusRE = regexp.MustCompile(`exited with status (\d+)`)

func (ex *execution) update(ctx context.Context, st *mesos.TaskStatus) error {
	fmt.Fprintf(ex.out, "Received status update %s for task '%s'\n", st.GetState(), st.GetTaskId().GetValue())
	if st.Message != nil {
		fmt.Fprintf(ex.out, "  message: '%s'\n", st.GetMessage())
	}
	if st.Source != nil {
		fmt.Fprintf(ex.out, "  source: %s\n", st.GetSource())
	}
	if st.Reason != nil {
		fmt.Fprintf(ex.out, "  reason: %s\n", st.GetReason())
	}
	if st.Healthy != nil {
		fmt.Fprintf(ex.out, "  healthy?: %v\n", st.GetHealthy())
	}
	if err := ex.client.Acknowledge(ctx, st); err != nil {
		// The master may be failing over: an update not acknowledged
		// is delivered again once the scheduler has re-subscribed.
		ex.log.Warn("acknowledgement not taken; the update will come again", "task", st.GetTaskId().GetValue(),
			"state", st.GetState(), "err", err)
	}
	if !scheduler.IsTerminal(st.GetState()) {
		return nil
	}
	id := st.GetTaskId().GetValue()
	if _, ok := ex.pending[id]; !ok {
		return nil
	}
	delete(ex.pending, id)
	code := 1
	switch st.GetState() {
	case mesos.TaskState_TASK_FINISHED:
		code = 0
	case mesos.TaskState_TASK_FAILED:
		if m := exitStatusRE.FindStringSubmatch(st.GetMessage()); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n != 0 {
				code = n
			}
		}
	}
	// A group's exit code is its first failure's.
	if code != 0 && ex.exitCode == 0 {
		ex.exitCode = code
	}
	if len(ex.pending) == 0 {
		_ = ex.client.Teardown(ctx)
		return scheduler.ErrDone
	}
	return nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "root"
}

// jsonUnmarshal decodes a flag's JSON value.
func jsonUnmarshal(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
