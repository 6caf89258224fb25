package cli

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func teardownCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "teardown FRAMEWORK",
		Short: "tear a framework down: kill all its tasks and forget it (operator TEARDOWN)",
		Long: "Tear a framework down with the operator API's TEARDOWN: the master kills all its tasks and\n" +
			"removes it. FRAMEWORK is its id, a unique prefix of it, or its name.",
		Args:              exactArgs(1, "one framework id (or a unique prefix of it, or its name)"),
		ValidArgsFunction: o.completeFrameworks,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			// Only frameworks that are still there can be torn down.
			for _, f := range cl.state.GetGetFrameworks().GetCompletedFrameworks() {
				delete(cl.frameworks, f.GetFrameworkInfo().GetId().GetValue())
			}
			id, err := cl.findFramework(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := o.request()
			defer cancel()
			if _, err := c.call(ctx, &masterpb.Call{
				Type:     masterpb.Call_TEARDOWN.Enum(),
				Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String(id)}},
			}); err != nil {
				return err
			}
			if !o.json {
				fmt.Fprintf(o.stdout, "tore down framework %s (%s)\n", id, cl.frameworkName(id))
			}
			return nil
		},
	}
}

func killCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "kill TASK",
		Short: "kill a task, as its framework's KILL would (Mezzo's /master/kill)",
		Long: "Ask the master to have a task killed, with the task's kill policy, as if its framework's\n" +
			"scheduler had sent KILL; the framework hears TASK_KILLED as usual. Mesos 1.11 has no operator\n" +
			"call for this, so this uses Mezzo's POST /master/kill and does not work against a Mesos master.\n" +
			"The command returns once the master sent the kill; follow it with 'mezzo task TASK'.",
		Args:              exactArgs(1, "one task id (or a unique prefix of it)"),
		ValidArgsFunction: o.completeTasks,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			t, err := cl.findTask(args[0])
			if err != nil {
				return err
			}
			if mesos.IsTerminalState(t.GetState()) {
				return fmt.Errorf("task %s has already ended (%s)", t.GetTaskId().GetValue(), stateName(t.GetState()))
			}
			ctx, cancel := o.request()
			defer cancel()
			err = c.postForm(ctx, "/master/kill", url.Values{
				"frameworkId": {t.GetFrameworkId().GetValue()},
				"taskId":      {t.GetTaskId().GetValue()},
			})
			var he *httpError
			if errors.As(err, &he) && he.status == 404 && !strings.Contains(he.body, "No ") {
				return fmt.Errorf("the master at %s has no /master/kill (a Mesos master has no operator call to kill one task): %w", c.what, err)
			}
			if err != nil {
				return err
			}
			if !o.json {
				fmt.Fprintf(o.stdout, "killing task %s (framework %s)\n", t.GetTaskId().GetValue(), cl.frameworkName(t.GetFrameworkId().GetValue()))
			}
			return nil
		},
	}
}
