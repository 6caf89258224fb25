package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mezzo-project/mezzo/api/legacy"
	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// readChunk is how much one /files/read asks for; agents answer at most
// 64 KiB.
const readChunk = 64 << 10

// followInterval is how often `mezzo logs --follow` polls for new bytes.
const followInterval = 250 * time.Millisecond

// sandbox is where a task's files are: on the master's files proxy under
// /agents/<agent>, or, where the master has no proxy, on the agent itself.
type sandbox struct {
	agentID string
	// agentAddr is the agent's host:port ("" when the master does not
	// know the agent any more).
	agentAddr string
	// agentPath is the sandbox's virtual path on its agent:
	// /frameworks/<fw>/executors/<ex>/runs/latest[/tasks/<task>].
	agentPath string
	// path is the sandbox's path on the master's files proxy.
	path string
	// direct is set once the master turned out to have no proxy for it.
	direct bool
}

// sandboxOf finds a task's sandbox. A task of a task group (one with an
// executor id) has its own directory under its executor's, tasks/<id>.
func (o *options) sandboxOf(c *client, cl *cluster, t *mesos.Task) (*sandbox, error) {
	agentID := t.GetAgentId().GetValue()
	ex := t.GetExecutorId().GetValue()
	if ex == "" {
		ex = t.GetTaskId().GetValue()
	}
	sb := &sandbox{
		agentID:   agentID,
		agentPath: fmt.Sprintf("/frameworks/%s/executors/%s/runs/latest", t.GetFrameworkId().GetValue(), ex),
	}
	if a := cl.agents[agentID]; a != nil {
		sb.agentAddr = agentAddress(a)
	}
	sb.path = "/agents/" + agentID + sb.agentPath
	if t.GetExecutorId().GetValue() != "" {
		nested := *sb
		nested.agentPath += "/tasks/" + t.GetTaskId().GetValue()
		nested.path += "/tasks/" + t.GetTaskId().GetValue()
		ctx, cancel := o.request()
		defer cancel()
		var list legacy.FileListing
		if err := o.files(ctx, c, &nested, "browse", "", nil, &list); err == nil {
			sb.direct = nested.direct
			return &nested, nil
		}
	}
	return sb, nil
}

// files GETs /files/<op> for rel (a path inside the sandbox) from the
// master's proxy, or from the agent when the master has no such path, and
// decodes the JSON answer into v.
func (o *options) files(ctx context.Context, c *client, sb *sandbox, op, rel string, q url.Values, v any) error {
	if q == nil {
		q = url.Values{}
	}
	if !sb.direct {
		q.Set("path", joinPath(sb.path, rel))
		err := c.getJSON(ctx, "", "/files/"+op, q, v)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return err
		}
		if sb.agentAddr == "" {
			return notFoundf("%s is not in the sandbox, or its agent is gone", displayPath(rel))
		}
	}
	q.Set("path", joinPath(sb.agentPath, rel))
	err := c.getJSON(ctx, sb.agentAddr, "/files/"+op, q, v)
	if errors.Is(err, ErrNotFound) {
		return notFoundf("%s is not in the sandbox %s", displayPath(rel), sb.path)
	}
	if err != nil && !sb.direct {
		return fmt.Errorf("the master does not serve the sandbox and its agent could not: %w", err)
	}
	if err != nil {
		return err
	}
	sb.direct = true
	return nil
}

func joinPath(base, rel string) string {
	if rel == "" || rel == "." || rel == "/" {
		return base
	}
	return path.Join(base, path.Clean("/"+rel))
}

func displayPath(rel string) string {
	if rel == "" {
		return "the sandbox"
	}
	return strconv.Quote(rel)
}

// readAt reads up to readChunk bytes of a sandbox file from offset; an
// offset of -1 asks for the file's size only (answered in Offset).
func (o *options) readAt(ctx context.Context, c *client, sb *sandbox, rel string, offset int64) (legacy.FileData, error) {
	var d legacy.FileData
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}, "length": {strconv.Itoa(readChunk)}}
	err := o.files(ctx, c, sb, "read", rel, q, &d)
	return d, err
}

// taskSandbox resolves a task id argument to its task and sandbox.
func (o *options) taskSandbox(arg string) (*client, *mesos.Task, *sandbox, error) {
	c, cl, err := o.loadCluster()
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := cl.findTask(arg)
	if err != nil {
		return nil, nil, nil, err
	}
	sb, err := o.sandboxOf(c, cl, t)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, t, sb, nil
}

// copyFile writes a sandbox file from offset to its current end to w and
// returns the offset reached.
func (o *options) copyFile(ctx context.Context, c *client, sb *sandbox, rel string, offset int64, w io.Writer) (int64, error) {
	for {
		d, err := o.readAt(ctx, c, sb, rel, offset)
		if err != nil {
			return offset, err
		}
		if d.Data == "" {
			return offset, nil
		}
		if _, err := io.WriteString(w, d.Data); err != nil {
			return offset, fmt.Errorf("writing: %w", err)
		}
		offset = d.Offset + int64(len(d.Data))
	}
}

func lsCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:               "ls TASK [PATH]",
		Short:             "list a directory of a task's sandbox",
		Args:              rangeArgs(1, 2, "a task id and an optional path in its sandbox"),
		ValidArgsFunction: o.completeTasks,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, sb, err := o.taskSandbox(args[0])
			if err != nil {
				return err
			}
			rel := ""
			if len(args) == 2 {
				rel = args[1]
			}
			ctx, cancel := o.request()
			defer cancel()
			var list legacy.FileListing
			if err := o.files(ctx, c, sb, "browse", rel, nil, &list); err != nil {
				return err
			}
			if o.json {
				b, err := json.MarshalIndent(list, "", "  ")
				if err != nil {
					return fmt.Errorf("encoding JSON: %w", err)
				}
				_, err = fmt.Fprintf(o.stdout, "%s\n", b)
				return err
			}
			t := newTable(o.stdout, "MODE", "LINKS", "UID", "GID", "SIZE", "MODIFIED", "NAME")
			for _, f := range list {
				name := path.Base(f.Path)
				if strings.HasPrefix(f.Mode, "d") {
					name += "/"
				}
				t.row(f.Mode, strconv.Itoa(int(f.NLink)), f.UID, f.GID, strconv.FormatUint(f.Size, 10),
					time.Unix(int64(f.MTime), 0).Local().Format("Jan _2 15:04"), name)
			}
			return t.flush()
		},
	}
}

func catCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:               "cat TASK PATH",
		Short:             "print a file of a task's sandbox",
		Args:              exactArgs(2, "a task id and a path in its sandbox"),
		ValidArgsFunction: o.completeTasks,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, sb, err := o.taskSandbox(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := o.request()
			defer cancel()
			_, err = o.copyFile(ctx, c, sb, args[1], 0, o.stdout)
			return err
		},
	}
}

func logsCmd(o *options) *cobra.Command {
	var stderr, follow bool
	c := &cobra.Command{
		Use:   "logs TASK",
		Short: "print a task's stdout (or --stderr); --follow keeps printing what it writes",
		Long: strings.TrimSpace(`
Print a task's stdout, or its stderr with --stderr, from its sandbox. With --follow, keep printing
what the task writes, as tail -f does, until the task has ended and everything it wrote is printed,
or Ctrl-C (exit 130). A file that gets shorter (recreated when the task restarts) is read again from
its start.`),
		Args:              exactArgs(1, "one task id (or a unique prefix of it)"),
		ValidArgsFunction: o.completeTasks,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, sb, err := o.taskSandbox(args[0])
			if err != nil {
				return err
			}
			file := "stdout"
			if stderr {
				file = "stderr"
			}
			if !follow {
				ctx, cancel := o.request()
				defer cancel()
				_, err := o.copyFile(ctx, c, sb, file, 0, o.stdout)
				return err
			}
			return o.follow(c, t, sb, file)
		},
	}
	c.Flags().BoolVar(&stderr, "stderr", false, "print the task's stderr instead of its stdout")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the task writes until it ends")
	return c
}

// follow prints a sandbox file as it grows, until the task is terminal
// and the file drained, or the command is interrupted.
func (o *options) follow(c *client, t *mesos.Task, sb *sandbox, file string) error {
	var offset int64
	ended := mesos.IsTerminalState(t.GetState())
	lastCheck := time.Now()
	for {
		ctx, cancel := o.request()
		next, err := o.copyFile(ctx, c, sb, file, offset, o.stdout)
		if err == nil && next == offset && offset > 0 {
			// Nothing new: has the file been recreated shorter?
			var d legacy.FileData
			if d, err = o.readAt(ctx, c, sb, file, -1); err == nil && d.Offset < offset {
				next = 0
				fmt.Fprintf(o.stderr, "mezzo logs: %s was recreated; reading it from its start\n", file)
			}
		}
		cancel()
		switch {
		case err == nil:
			offset = next
		case errors.Is(err, ErrNotFound) && !ended:
			// Not written yet, or being recreated: wait.
		case o.ctx.Err() != nil:
			return ErrInterrupted
		default:
			return err
		}
		if ended && err == nil {
			return nil
		}
		select {
		case <-o.ctx.Done():
			return ErrInterrupted
		case <-time.After(followInterval):
		}
		if time.Since(lastCheck) >= time.Second {
			lastCheck = time.Now()
			if state, err := o.taskState(c, t); err == nil && mesos.IsTerminalState(state) {
				// One more pass drains what was written before it ended.
				ended = true
			}
		}
	}
}

// taskState asks the master for a task's current state.
func (o *options) taskState(c *client, t *mesos.Task) (mesos.TaskState, error) {
	ctx, cancel := o.request()
	defer cancel()
	resp, err := c.call(ctx, &masterpb.Call{Type: masterpb.Call_GET_TASKS.Enum()})
	if err != nil {
		return 0, err
	}
	ts := resp.GetGetTasks()
	for _, list := range [][]*mesos.Task{ts.GetTasks(), ts.GetUnreachableTasks(), ts.GetCompletedTasks()} {
		for _, x := range list {
			if x.GetTaskId().GetValue() == t.GetTaskId().GetValue() && x.GetFrameworkId().GetValue() == t.GetFrameworkId().GetValue() {
				return x.GetState(), nil
			}
		}
	}
	// The master forgot it: it ended long ago.
	return mesos.TaskState_TASK_GONE, nil
}
